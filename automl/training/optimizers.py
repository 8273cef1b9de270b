"""Optimizers and learning-rate schedules by name.

The tables at the top are the vocabulary of the space language (``config.py`` validates against
them before anything trains); the functions below turn sampled params into Keras objects.

Example:
    >>> opt = build_optimizer({"name": "sgd", "learning_rate": 0.05, "momentum": 0.9},
    ...                       schedule={"name": "cosine"}, total_steps=1000)
"""

from __future__ import annotations

import math
from typing import Any

# name -> (Keras class, the arguments a space may set besides learning_rate)
OPTIMIZERS: dict[str, tuple[str, set[str]]] = {
    "adam": ("Adam", {"beta_1", "beta_2", "epsilon", "amsgrad"}),
    "adamw": ("AdamW", {"weight_decay", "beta_1", "beta_2", "epsilon"}),
    "sgd": ("SGD", {"momentum", "nesterov"}),
    "rmsprop": ("RMSprop", {"rho", "momentum", "epsilon", "centered"}),
    "nadam": ("Nadam", {"beta_1", "beta_2", "epsilon"}),
    "adamax": ("Adamax", {"beta_1", "beta_2", "epsilon"}),
    "adagrad": ("Adagrad", {"initial_accumulator_value", "epsilon"}),
    "lion": ("Lion", {"beta_1", "beta_2"}),
}
COMMON_OPTIMIZER_ARGS = {"learning_rate", "clipnorm", "clipvalue"}
DEFAULT_LEARNING_RATE = 1e-3

# name -> the arguments a schedule option may set
SCHEDULES: dict[str, set[str]] = {
    "constant": set(),
    "cosine": {"alpha"},
    "step": {"drop", "every_epochs"},
    "exponential": {"decay_rate"},
    "warmup_cosine": {"warmup_epochs", "alpha"},
}


def as_named(value: Any) -> dict[str, Any]:
    """A sampled option is either a bare name (``"adam"``) or a branch (``{"name": "adam", ...}``)."""
    return dict(value) if isinstance(value, dict) else {"name": value}


def build_schedule(schedule: Any, learning_rate: float, total_steps: int, steps_per_epoch: int):
    """A Keras LearningRateSchedule (or the float itself for ``constant``)."""
    import keras

    spec = as_named(schedule or "constant")
    name = spec.pop("name")
    total_steps = max(int(total_steps), 1)
    if name == "constant":
        return learning_rate
    if name == "cosine":
        return keras.optimizers.schedules.CosineDecay(learning_rate, total_steps,
                                                      alpha=spec.get("alpha", 0.0))
    if name == "step":
        every = max(int(spec.get("every_epochs", 10)) * steps_per_epoch, 1)
        drop = float(spec.get("drop", 0.5))
        n = max(total_steps // every, 1)
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            [every * (i + 1) for i in range(n)], [learning_rate * drop**i for i in range(n + 1)])
    if name == "exponential":
        # decay_rate per epoch; by default the rate falls 100x over the whole run
        rate = spec.get("decay_rate", math.exp(math.log(0.01) * steps_per_epoch / total_steps))
        return keras.optimizers.schedules.ExponentialDecay(learning_rate, steps_per_epoch, rate)
    if name == "warmup_cosine":
        warmup = min(int(spec.get("warmup_epochs", 2)) * steps_per_epoch, total_steps - 1)
        return keras.optimizers.schedules.CosineDecay(
            0.0, max(total_steps - warmup, 1), alpha=spec.get("alpha", 0.0),
            warmup_target=learning_rate, warmup_steps=warmup)
    raise ValueError(f"unknown schedule {name!r}")  # config.py rejects it earlier


def build_optimizer(optimizer: Any, schedule: Any = None, *, learning_rate: float | None = None,
                    total_steps: int = 1, steps_per_epoch: int = 1):
    """A Keras optimizer from sampled params.

    Args:
        optimizer: ``"adam"`` or ``{"name": "adam", "learning_rate": ..., **arguments}``.
        schedule: ``"cosine"`` or ``{"name": "step", "drop": 0.5, "every_epochs": 10}``.
        learning_rate: used when the optimizer option does not set its own.
        total_steps, steps_per_epoch: the length of training, for the schedule.
    """
    import keras

    spec = as_named(optimizer)
    name = spec.pop("name")
    class_name, _ = OPTIMIZERS[name]
    lr = float(spec.pop("learning_rate", learning_rate or DEFAULT_LEARNING_RATE))
    lr_value = build_schedule(schedule, lr, total_steps, steps_per_epoch)
    return getattr(keras.optimizers, class_name)(learning_rate=lr_value, **spec)

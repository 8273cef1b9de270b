"""Optimizers and learning-rate schedules by name.

The names a space may use, with their arguments, are :data:`automl.registry.OPTIMIZERS` and
:data:`automl.registry.SCHEDULES`; the functions here turn sampled params into Keras objects.

Example:
    >>> opt = build_optimizer({"name": "sgd", "learning_rate": 0.05, "momentum": 0.9},
    ...                       schedule={"name": "cosine"}, total_steps=1000)
"""

from __future__ import annotations

import math
from typing import Any

DEFAULT_LEARNING_RATE = 1e-3


def as_named(value: Any) -> dict[str, Any]:
    """A sampled option is either a bare name (``"adam"``) or a branch (``{"name": "adam", ...}``)."""
    return dict(value) if isinstance(value, dict) else {"name": value}


def build_schedule(schedule: Any, learning_rate: float, total_steps: int, steps_per_epoch: int):
    """A Keras LearningRateSchedule (or the float itself for ``constant``/``reduce_on_plateau``).

    ``warmup_epochs`` on any schedule ramps the rate linearly from 0 over those epochs first.
    """
    import keras

    spec = as_named(schedule or "constant")
    name = spec.pop("name")
    total_steps = max(int(total_steps), 2)
    epoch = max(int(steps_per_epoch), 1)
    warmup = min(
        int(spec.pop("warmup_epochs", 2 if name == "warmup_cosine" else 0)) * epoch, total_steps - 1
    )
    S = keras.optimizers.schedules
    decay_steps = max(total_steps - warmup, 1)
    if name in ("constant", "reduce_on_plateau"):  # the plateau callback changes it
        base: Any = learning_rate
    elif name in ("cosine", "warmup_cosine"):
        base = S.CosineDecay(learning_rate, decay_steps, alpha=spec.get("alpha", 0.0))
    elif name == "cosine_restarts":
        first = max(int(spec.get("first_decay_epochs", 5)) * epoch, 1)
        base = S.CosineDecayRestarts(
            learning_rate,
            first,
            t_mul=spec.get("t_mul", 2.0),
            m_mul=spec.get("m_mul", 1.0),
            alpha=spec.get("alpha", 0.0),
        )
    elif name == "step":
        every = max(int(spec.get("every_epochs", 10)) * epoch, 1)
        drop = float(spec.get("drop", 0.5))
        n = max(decay_steps // every, 1)
        base = S.PiecewiseConstantDecay(
            [every * (i + 1) for i in range(n)], [learning_rate * drop**i for i in range(n + 1)]
        )
    elif name == "piecewise":  # factors[i] x the rate until epochs[i], the last factor after
        bounds = [int(e) * epoch for e in spec.get("epochs", [10, 20])]
        factors = spec.get("factors", [1.0, 0.1, 0.01][: len(bounds) + 1])
        if len(factors) != len(bounds) + 1:
            raise ValueError("piecewise needs one more factor than epochs")
        base = S.PiecewiseConstantDecay(bounds, [learning_rate * f for f in factors])
    elif name == "exponential":
        # decay_rate per epoch; by default the rate falls 100x over the whole run
        rate = spec.get("decay_rate", math.exp(math.log(0.01) * epoch / decay_steps))
        base = S.ExponentialDecay(learning_rate, epoch, rate)
    elif name == "inverse_time":  # lr / (1 + rate * epoch)
        base = S.InverseTimeDecay(learning_rate, epoch, spec.get("decay_rate", 0.5))
    elif name == "polynomial":
        base = S.PolynomialDecay(
            learning_rate,
            decay_steps,
            learning_rate * spec.get("end_factor", 0.01),
            power=spec.get("power", 1.0),
        )
    elif name == "one_cycle":  # up from lr*start_factor to lr, then cosine down to ~0
        peak = max(int(total_steps * spec.get("peak_epoch_fraction", 0.3)), 1)
        return S.CosineDecay(
            learning_rate * spec.get("start_factor", 0.04),
            max(total_steps - peak, 1),
            alpha=1e-4,
            warmup_target=learning_rate,
            warmup_steps=peak,
        )
    else:
        raise ValueError(f"unknown schedule {name!r}")  # config.py rejects it earlier
    if not warmup:
        return base
    if isinstance(base, float):  # constant: warm up, then hold (alpha=1 keeps the rate flat)
        return S.CosineDecay(
            0.0, decay_steps, alpha=1.0, warmup_target=learning_rate, warmup_steps=warmup
        )
    if name in ("cosine", "warmup_cosine"):  # CosineDecay has a linear warmup of its own
        return S.CosineDecay(
            0.0,
            decay_steps,
            alpha=spec.get("alpha", 0.0),
            warmup_target=learning_rate,
            warmup_steps=warmup,
        )
    from automl.training.schedules import WarmupThen

    return WarmupThen(base, learning_rate, warmup)


def build_optimizer(
    optimizer: Any,
    schedule: Any = None,
    *,
    learning_rate: float | None = None,
    total_steps: int = 1,
    steps_per_epoch: int = 1,
    lr_scale: float = 1.0,
):
    """A Keras optimizer from sampled params.

    Args:
        optimizer: ``"adam"`` or ``{"name": "adam", "learning_rate": ..., **arguments}``.
        schedule: ``"cosine"`` or ``{"name": "step", "drop": 0.5, "every_epochs": 10}``.
        learning_rate: used when the optimizer option does not set its own.
        total_steps, steps_per_epoch: the length of training, for the schedule.
        lr_scale: multiplies the learning rate (fine-tuning a pretrained base uses 0.1 or so).
    """
    from automl.registry import OPTIMIZERS

    spec = as_named(optimizer)
    name = spec.pop("name")
    lr = float(spec.pop("learning_rate", learning_rate or DEFAULT_LEARNING_RATE)) * lr_scale
    lr_value = build_schedule(schedule, lr, total_steps, steps_per_epoch)
    return OPTIMIZERS.create(name, learning_rate=lr_value, **spec)

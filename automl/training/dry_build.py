"""Build every kind of model a space can make, once, before the study starts.

A structural mistake (a custom builder that raises, a kernel larger than the signal, an enqueued
configuration Keras cannot build) would otherwise fail every trial of its kind, each with a
traceback. :func:`dry_build` builds and compiles one configuration per architecture branch, and
every enqueued configuration, and trains each on one batch; the first that breaks becomes one
clear :class:`~automl.errors.ConfigError` naming the key, before anything is written.

Example:
    >>> dry_build(cfg, splits)   # returns None, or raises ConfigError naming the key
"""

from __future__ import annotations

import re
from typing import Any

from automl.config import SpaceConfig
from automl.data.splits import Splits
from automl.errors import UsageError
from automl.space import Branch

MAX_REASON = 160  # of the library's words, so the whole message fits one 300-character line


class FirstValues:
    """Stands in for an Optuna trial: the values in ``forced``, else each parameter's first.

    The first value is a choice's first option and a range's low bound, so the configuration a
    branch gets is the one a space file lists first.
    """

    def __init__(self, forced: dict[str, Any] | None = None) -> None:
        self.forced = dict(forced or {})

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
        return self.forced.get(name, choices[0])

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False) -> int:
        return self.forced.get(name, low)

    def suggest_float(
        self, name: str, low: float, high: float, step: float | None = None, log: bool = False
    ) -> float:
        return self.forced.get(name, low)


def configurations(cfg: SpaceConfig) -> list[tuple[str, str, dict[str, Any]]]:
    """``(key, label, forced params)``: one per architecture branch, one per enqueued entry."""
    arch = cfg.space.group("model").get("architecture")
    out = []
    if isinstance(arch, Branch):
        for name in arch.options:
            out.append((f"{arch.path}.{name}", f"the {name} architecture", {arch.path: name}))
    else:
        out.append(("model.architecture", "the model", {}))
    for i, forced in enumerate(cfg.search.enqueue):
        out.append((f"search.enqueue[{i}]", f"enqueued configuration {i}", forced))
    return out


def dry_build(cfg: SpaceConfig, splits: Splits) -> None:
    """Build, compile and train on one batch each configuration of :func:`configurations`.

    The caller's precision policy and op determinism are as they were afterwards.

    Raises:
        ConfigError: naming the key of the first configuration that cannot be built or trained.
    """
    from automl.training.fit import process_settings_kept

    with process_settings_kept():
        for key, label, forced in configurations(cfg):
            _build_and_step(cfg, splits, key, label, forced)


def _build_and_step(
    cfg: SpaceConfig, splits: Splits, key: str, label: str, forced: dict[str, Any]
) -> None:
    import keras
    import tensorflow as tf

    from automl.training.fit import compiled_model, training_batches

    params = cfg.space.sample(FirstValues(forced))
    # TensorFlow's seed set, as a trial's is: with deterministic ops on (this process may have
    # run a `deterministic: true` search before) an unseeded random op refuses to run. Only
    # TensorFlow's: the caller's own `random` and NumPy streams are left alone.
    tf.random.set_seed(cfg.search.seed or 0)
    try:
        model, _ = compiled_model(params, splits, steps_per_epoch=1)
        # one eager step: what a wrong model breaks shows the same, without the seconds of
        # tracing a graph that only this one batch would use
        model.run_eagerly = True
        batch = training_batches(params, splits, seed=0).take(1)
        model.fit(batch, epochs=1, verbose=0, shuffle=False)  # the dataset shuffles
    except UsageError:
        raise
    except Exception as error:
        raise cfg.error(
            key,
            f"building and training {label} on one batch fails ({_reason(error)}); fix this option",
        ) from None
    finally:
        keras.backend.clear_session()


NESTED_ERROR = re.compile(r"^[A-Z]\w*(Error|Exception): ")
BOILERPLATE = ("Exception encountered when calling", "Arguments received by", "•")


def _reason(error: BaseException) -> str:
    """The error's own words: its first line that is not Keras's framing around them."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # Keras's bold on a terminal
    lines = [line.strip().strip("*") for line in text.splitlines() if line.strip()]
    if lines and lines[0].startswith("in user code:"):  # tf.function's frame: the cause is last
        nested = [line for line in lines if NESTED_ERROR.match(line)]
        if nested:
            return _clip(nested[-1])
    meaningful = [line for line in lines if not line.startswith(BOILERPLATE)]
    first = (meaningful or lines or [""])[0]
    return _clip(f"{type(error).__name__}: {first}" if first else type(error).__name__)


def _clip(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."

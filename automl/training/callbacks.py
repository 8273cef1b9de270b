"""Keras callbacks of one trial: stop on divergence, report each epoch to the tracker."""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import keras


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training the moment the loss becomes NaN or infinite, and remembers why."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            self.reason = (f"diverged: the training loss became {loss} at epoch "
                           f"{self._epoch + 1}, batch {batch + 1}; a lower learning rate, "
                           f"gradient clipping or batch norm usually helps")
            self.model.stop_training = True


class EpochReporter(keras.callbacks.Callback):
    """Hands every epoch's metrics (plus learning rate, duration and train/val gap) to ``report``."""

    def __init__(self, report: Callable[[int, dict[str, float]], None],
                 metric: str = "accuracy") -> None:
        super().__init__()
        self.report = report
        self.metric = metric
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        metrics["epoch_seconds"] = time.perf_counter() - self._start
        metrics["learning_rate"] = float(keras.ops.convert_to_numpy(
            self.model.optimizer.learning_rate))
        if self.metric in metrics and f"val_{self.metric}" in metrics:
            metrics["train_val_gap"] = metrics[self.metric] - metrics[f"val_{self.metric}"]
        self.report(epoch, metrics)

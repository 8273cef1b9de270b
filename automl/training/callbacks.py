"""Keras callbacks of one trial: stop on divergence, report each epoch to the tracker, stop early
keeping the best epoch (ties on the objective go to the lower validation loss)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

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
            self.reason = (
                f"diverged: the training loss became {loss} at epoch "
                f"{self._epoch + 1}, batch {batch + 1}; a lower learning rate, "
                f"gradient clipping or batch norm usually helps"
            )
            self.model.stop_training = True


class GradientHealth(keras.callbacks.Callback):
    """Measures gradients once per epoch on a fixed training batch, and stops unhealthy training.

    Logs ``grad_norm`` (the global gradient norm) and ``grad_ratio_first_last`` (the first
    layer's kernel gradient norm over the last one's: far below 1 means the first layers barely
    learn). Training stops, with the reason kept in ``self.reason``, when for ``patience`` epochs
    in a row the gradients explode (norm above ``explode``, or not finite) or vanish (norm below
    ``vanish``, or the first/last ratio below ``vanish_ratio``).
    """

    def __init__(
        self,
        batch,
        patience: int = 3,
        explode: float = 1e4,
        vanish: float = 1e-7,
        vanish_ratio: float = 1e-5,
    ) -> None:
        super().__init__()
        self.batch = batch
        self.patience = patience
        self.explode, self.vanish, self.vanish_ratio = explode, vanish, vanish_ratio
        self.reason: str | None = None
        self._streak: list[str] = []

    def measure(self) -> tuple[float, float]:
        import tensorflow as tf

        x, y = self.batch
        kernels = [v for v in self.model.trainable_variables if "kernel" in v.path]
        with tf.GradientTape() as tape:
            y_pred = self.model(x, training=False)
            loss = self.model.compute_loss(x=x, y=y, y_pred=y_pred)
        grads = tape.gradient(loss, kernels)
        norms = [float(tf.norm(g)) if g is not None else 0.0 for g in grads]
        total = math.sqrt(sum(n * n for n in norms))
        ratio = norms[0] / norms[-1] if norms and norms[-1] > 0 else math.inf
        return total, ratio

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        norm, ratio = self.measure()
        if logs is not None:
            logs["grad_norm"] = norm
            logs["grad_ratio_first_last"] = ratio
        if not math.isfinite(norm) or norm > self.explode:
            problem = f"exploding gradients (norm {norm:.3g})"
        elif norm < self.vanish or ratio < self.vanish_ratio:
            problem = f"vanishing gradients (norm {norm:.3g}, first/last layer ratio {ratio:.3g})"
        else:
            problem = ""
        self._streak = self._streak + [problem] if problem else []
        if len(self._streak) >= self.patience:
            self.reason = (
                f"{problem.split(' (')[0]} for {self.patience} epochs in a row, last "
                f"at epoch {epoch + 1}: {problem}; try batch norm, another "
                f"initializer or a different learning rate"
            )
            self.model.stop_training = True


class EpochReporter(keras.callbacks.Callback):
    """Hands every epoch's metrics (plus learning rate, duration and train/val gap) to ``report``."""

    def __init__(
        self, report: Callable[[int, dict[str, float]], None], metric: str = "accuracy"
    ) -> None:
        super().__init__()
        self.report = report
        self.metric = metric
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        metrics["epoch_seconds"] = time.perf_counter() - self._start
        metrics["learning_rate"] = float(
            keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        )
        if self.metric in metrics and f"val_{self.metric}" in metrics:
            metrics["train_val_gap"] = metrics[self.metric] - metrics[f"val_{self.metric}"]
        self.report(epoch, metrics)


class TieBreakingEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras's ``EarlyStopping`` where an epoch that ties the best on the monitored metric but
    has a lower ``tie_breaker`` (the validation loss) counts as an improvement.

    An accuracy on a few hundred validation examples moves in steps (0.25 points on 400), so
    epochs often tie on it, and plain ``EarlyStopping`` keeps the first of them: often an early,
    less trained one. The tied epoch with the lower loss generalizes better (single models
    scored 0.15-0.3 points higher on fresh MNIST-1D signals, ``benchmarks/README.md``), and
    patience counts from it. Trials are ranked by the same rule (:mod:`automl.ranking`).

    Example:
        >>> stopper = TieBreakingEarlyStopping(monitor="val_accuracy", mode="max", patience=8,
        ...                                    restore_best_weights=True)
        >>> model.fit(..., validation_data=val, callbacks=[stopper])
    """

    def __init__(self, *, tie_breaker: str = "val_loss", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tie_breaker = tie_breaker
        self._best_tie = math.inf
        self._current_tie = math.inf

    def on_train_begin(self, logs: Any = None) -> None:
        super().on_train_begin(logs)  # Keras forgets the best value: its tie-breaker too
        self._best_tie = math.inf

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        tie = (logs or {}).get(self.tie_breaker)
        self._current_tie = float(tie) if tie is not None and math.isfinite(tie) else math.inf
        super().on_epoch_end(epoch, logs)
        if self.best_epoch == epoch:
            self._best_tie = self._current_tie

    def _is_improvement(self, monitor_value: float, reference_value: float) -> bool:
        if super()._is_improvement(monitor_value, reference_value):
            return True
        return monitor_value == reference_value and self._current_tie < self._best_tie


class StopAt(keras.callbacks.Callback):
    """Stop training at the first epoch boundary after ``ends_at`` (``time.time()``): a search's
    budget is spent, and the trial counts as complete with the epochs it trained."""

    def __init__(self, ends_at: float) -> None:
        super().__init__()
        self.ends_at = ends_at
        self.stopped_after: int | None = None  # the epoch after which it stopped

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        import time

        if time.time() >= self.ends_at:
            self.model.stop_training = True
            self.stopped_after = epoch

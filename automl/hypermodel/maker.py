"""How a hypermodel's trial makes and trains its model: :class:`HypermodelMaker`, the
:class:`~automl.tuner.trial.ModelMaker` of :func:`~automl.hypermodel.search_hypermodel`."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.errors import TrialFailed, UsageError
from automl.hypermodel.data import HypermodelData
from automl.hypermodel.vocabulary import DEFAULT_OBJECTIVE, HyperParameters
from automl.ranking import rank_key

if TYPE_CHECKING:
    import optuna

    from automl.tuner.trial import Trained, TrialRun

HP_VALUES_ATTR = "hp_values"  # a trial's values as its build and fit saw them


# ---- one trial -------------------------------------------------------------------------------


def _best_epoch_callback(monitor: str, maximize: bool) -> Any:
    """A Keras callback that keeps the weights of the best epoch by ``monitor`` and puts them
    back when training ends: KerasTuner saves a trial's model at its best epoch too. Of epochs
    tied on ``monitor`` it keeps the one with the lower ``val_loss``, as automl's own trials do
    (:mod:`automl.ranking`); without a ``val_loss``, the first, as KerasTuner does."""
    import keras

    class BestEpoch(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.best: float | None = None
            self.best_loss: float | None = None  # val_loss at the best epoch, where logged
            self.weights: list | None = None

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = logs or {}
            value = logs.get(monitor)
            if value is None or not math.isfinite(float(value)):
                return
            loss = float(logs["val_loss"]) if logs.get("val_loss") is not None else None
            if self.best is None or (
                rank_key(float(value), loss, 0, maximize=maximize)
                < rank_key(self.best, self.best_loss, 0, maximize=maximize)
            ):
                self.best, self.best_loss = float(value), loss
                self.weights = self.model.get_weights()

        def on_train_end(self, logs: Any = None) -> None:
            if self.weights is not None:
                self.model.set_weights(self.weights)

    return BestEpoch()


class HypermodelMaker:
    """Make a trial's model with a KerasTuner hypermodel: ``build(hp)``, then its ``fit``
    (``executions`` times), the :class:`~automl.tuner.trial.ModelMaker` of
    :func:`search_hypermodel`.

    The child MLflow run opens at the first epoch, when the values that ``build`` and ``fit``
    declared are known, so they become the run's params; the pruner sees the objective after
    every epoch of the first execution; the trial's value is the mean over executions of each
    one's best epoch; the best execution's model is the one kept.
    """

    def __init__(
        self,
        hypermodel: Any,
        data: HypermodelData,
        fit_kwargs: dict[str, Any],
        *,
        objective: str,
        direction: str,
        executions: int,
        seed: int | None,
    ) -> None:
        self.hypermodel = hypermodel
        self.data = data
        self.fit_kwargs = fit_kwargs
        self.objective = objective
        self.maximize = direction == "maximize"
        self.executions = executions
        self.seed = seed
        self.hp = HyperParameters()

    def begin(self, trial: "optuna.Trial", run: "TrialRun") -> None:
        self.hp = HyperParameters(trial)

    def run_params(self) -> dict[str, Any]:
        return _jsonable(self.hp.values)

    def train(self, trial: "optuna.Trial", run: "TrialRun", prune: bool) -> "Trained":
        from automl.tuner.trial import Trained

        values: list[float] = []
        losses: list[float | None] = []
        best: tuple[tuple, Any] | None = None
        epochs_run = 0
        for execution in range(self.executions):
            value, loss, model, epochs = self._execute(trial, run, execution, prune)
            values.append(value)
            losses.append(loss)
            epochs_run += epochs
            key = rank_key(value, loss, execution, maximize=self.maximize)
            if best is None or key < best[0]:
                best = (key, model)
        assert best is not None  # executions >= 1
        best_model = best[1]
        mean = float(np.mean(values))
        # the tie-breaker of trials with the same value (automl.ranking), where every
        # execution's value is a best epoch with a val_loss logged
        known = [loss for loss in losses if loss is not None]
        val_loss = float(np.mean(known)) if len(known) == len(losses) else None
        return Trained(
            values=mean,
            value=mean,
            val_loss=val_loss,
            model=best_model,
            epochs_run=epochs_run,
            params_count=int(best_model.count_params()),
            metrics={f"best_{self.objective}": mean},
            attrs={"execution_values": values},
        )

    def _execute(
        self, trial: "optuna.Trial", run: "TrialRun", execution: int, prune: bool
    ) -> tuple[float, float | None, Any, int]:
        """Build and fit one model; return its objective value, its val_loss at the best epoch
        (None where ``fit`` returned the value itself, or logged no val_loss), the model and its
        epochs."""
        import keras
        from optuna_integration import KerasPruningCallback

        from automl.training.callbacks import DivergenceGuard, EpochReporter

        if self.seed is not None:
            keras.utils.set_random_seed(self.seed + trial.number * self.executions + execution)
        model = built_model(self.hypermodel, self.hp)
        guard = DivergenceGuard()
        best = _best_epoch_callback(self.objective, self.maximize)
        offset = run.epochs  # the epochs of earlier executions: MLflow steps run on

        def report(epoch: int, metrics: dict[str, float]) -> None:
            run.epoch(offset + epoch, metrics, epoch if execution == 0 else None)

        metric = self.objective.removeprefix("val_")
        callbacks = [guard, best, EpochReporter(report, metric)]
        if prune and execution == 0 and self.objective != DEFAULT_OBJECTIVE:  # one report a step
            callbacks.append(KerasPruningCallback(trial, self.objective))
        kwargs = dict(self.fit_kwargs)
        callbacks += _copies(kwargs.pop("callbacks", None) or [])
        results = self.hypermodel.fit(
            self.hp,
            model,
            self.data.x_train,
            self.data.y_train,
            validation_data=(self.data.x_val, self.data.y_val),
            callbacks=callbacks,
            **kwargs,
        )
        if guard.reason:
            raise TrialFailed(guard.reason)
        value = _objective_value(results, self.objective, best.best, self.maximize)
        if not math.isfinite(value):
            raise TrialFailed(f"the objective {self.objective} is {value}")
        loss = best.best_loss if value == best.best else None  # the value is that epoch's
        return value, loss, model, run.epochs - offset

    def save(self, model: Any, path: Path) -> None:
        """The model as the user compiled it: the selection evaluates it with their metrics."""
        try:
            model.save(path)
        except Exception as error:
            raise TrialFailed(
                f"the model cannot be saved as a .keras file ({error}); "
                f"custom layers need @keras.saving.register_keras_serializable()"
            ) from error

    def closing(self, trial: "optuna.Trial", run: "TrialRun") -> None:
        trial.set_user_attr(HP_VALUES_ATTR, _jsonable(self.hp.values))
        run.log_text(json.dumps(_jsonable(self.hp.values), indent=2), "hyperparameters.json")


def built_model(hypermodel: Any, hp: HyperParameters) -> Any:
    """``hypermodel.build(hp)``, checked to be a compiled Keras model (KerasTuner style)."""
    import keras

    model = hypermodel.build(hp)
    if not isinstance(model, keras.Model):
        raise UsageError(f"build(hp) must return a keras.Model; it returned {type(model).__name__}")
    if not getattr(model, "compiled", False) and getattr(model, "optimizer", None) is None:
        raise UsageError(
            "build(hp) must compile the model it returns (model.compile(optimizer="
            "..., loss=..., metrics=[...])), as KerasTuner requires"
        )
    return model


def _copies(callbacks: list) -> list:
    """Fresh copies of the user's callbacks for each execution (KerasTuner copies them too)."""
    copies = []
    for callback in callbacks:
        try:
            copies.append(copy.deepcopy(callback))
        except Exception:
            copies.append(callback)
    return copies


def _objective_value(
    results: Any, objective: str, best_epoch: float | None, maximize: bool
) -> float:
    """The objective of one execution from what ``fit`` returned, as KerasTuner reads it: a
    number is the value; a dict holds it; a History (or nothing) gives its best epoch."""
    if isinstance(results, dict):
        if objective not in results:
            raise TrialFailed(
                f"fit returned metrics {sorted(results)} without the objective {objective!r}"
            )
        return float(results[objective])
    if isinstance(results, (int, float, np.integer, np.floating)) and not isinstance(results, bool):
        return float(results)
    if best_epoch is not None:
        return best_epoch
    history = getattr(results, "history", None)
    if isinstance(history, dict) and history.get(objective):
        values = [float(v) for v in history[objective]]
        return max(values) if maximize else min(values)
    if objective == DEFAULT_OBJECTIVE:
        raise TrialFailed(
            "with no objective given, fit must return the value to minimize (a "
            "float); or pass objective='val_accuracy' (or another logged metric)"
        )
    logged = sorted(history) if isinstance(history, dict) else []
    raise TrialFailed(
        f"the objective {objective!r} was not logged"
        + (
            f"; logged metrics: {', '.join(logged)}"
            if logged
            else "; fit must return the History of model.fit, a dict or a float"
        )
    )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """Values as plain Python (numpy scalars to numbers), for Optuna's and MLflow's records."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in values.items()}

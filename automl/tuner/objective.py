"""A trial of a YAML space: sample its params, train them with :func:`~automl.training.fit.fit_trial`.

:class:`SpaceMaker` is the :class:`~automl.tuner.trial.ModelMaker` of ``automl search``; the
trial's lifecycle (MLflow run, pruning, outcome, kept models) is :mod:`automl.tuner.trial`'s.
:class:`Objective` puts the two together: the callable that ``worker.run_one`` trains.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from automl.config import SpaceConfig
from automl.data.splits import Splits
from automl.tracking.tracker import Tracker
from automl.tuner.events import EpochEnded
from automl.tuner.study import WorkerId
from automl.tuner.trial import Trained, TrialLifecycle, TrialRun


class SpaceMaker:
    """Make a trial's model from the space: sample it, train it on the splits."""

    def __init__(self, cfg: SpaceConfig, splits: Splits) -> None:
        self.cfg = cfg
        self.splits = splits
        self.params: dict[str, Any] = {}

    def begin(self, trial: optuna.Trial, run: TrialRun) -> None:
        self.params = self.cfg.space.sample(trial)
        run_id = run.open(trial.params, config=self.params)
        run.tracker.log_splits(run_id, self.splits, test=False)  # the Dataset column

    def run_params(self) -> dict[str, Any]:
        return self.params

    def train(self, trial: optuna.Trial, run: TrialRun, prune: bool) -> Trained:
        from optuna_integration import KerasPruningCallback

        from automl.training.callbacks import EpochReporter
        from automl.training.fit import fit_trial

        search = self.cfg.search
        started = time.perf_counter()
        callbacks = [
            EpochReporter(
                lambda epoch, metrics: run.epoch(epoch, metrics, epoch), self.cfg.test_metric
            )
        ]
        if prune:
            callbacks.append(KerasPruningCallback(trial, search.objective))
        from automl.training.callbacks import StopAt
        from automl.tuner.record import training_end

        ends_at = training_end(trial.study)
        stop = StopAt(ends_at) if ends_at is not None else None
        if stop is not None:
            callbacks.append(stop)
        outcome = fit_trial(
            self.params,
            self.splits,
            objective=search.objective,
            direction=search.direction,
            seed=(search.seed or 0) + trial.number,
            callbacks=callbacks,
        )
        if stop is not None and stop.stopped_after is not None:  # complete, with its epochs
            trial.set_user_attr(
                "cut", f"the budget ran out: stopped after epoch {stop.stopped_after + 1}"
            )
        losses = outcome.history.get("val_loss")  # at the epoch whose weights were kept
        more = {
            "params_count": float(outcome.params_count),
            "trial_seconds": time.perf_counter() - started,
        }
        values = [outcome.best_value] + [
            more[name] if name in more else outcome.best_of(name, direction)
            for name, direction in search.more_objectives
        ]
        from automl.modalities.text import tokenizer_facts

        tokens = tokenizer_facts(outcome.model)  # text trials: vocabulary size, sequence length
        return Trained(
            values=values[0] if len(values) == 1 else tuple(values),
            value=outcome.best_value,
            val_loss=float(losses[outcome.best_epoch]) if losses else None,
            model=outcome.model,
            epochs_run=outcome.epochs_run,
            params_count=outcome.params_count,
            metrics={
                "best_" + search.objective: outcome.best_value,
                "best_epoch": outcome.best_epoch + 1,
                **{name: float(value) for name, value in tokens.items()},
            },
            attrs=dict(tokens),
        )

    def save(self, model: Any, path: Path) -> None:
        from automl.training.fit import portable_copy, save_loadable

        save_loadable(portable_copy(model, self.splits), path)

    def closing(self, trial: optuna.Trial, run: TrialRun) -> None:
        pass


class Objective(TrialLifecycle):
    """The trial callable (``worker.run_one`` calls it); one call trains one trial of the space."""

    def __init__(
        self,
        cfg: SpaceConfig,
        splits: Splits,
        tracker: Tracker,
        candidates: Path,
        worker: WorkerId | None = None,
        on_epoch: Callable[[EpochEnded], None] | None = None,
        upload_candidates: bool = False,
    ) -> None:
        self.cfg = cfg
        self.splits = splits
        super().__init__(
            SpaceMaker(cfg, splits),
            tracker,
            candidates,
            objective=cfg.search.objective,
            direction=cfg.search.direction,
            top_k=cfg.select.top_k,
            more_objectives=cfg.search.more_objectives,
            worker=worker,
            on_epoch=on_epoch,
            upload_candidates=upload_candidates,
        )

"""The Optuna objective: sample params, train one trial, record it, keep the top-K models."""

from __future__ import annotations

import gc
import os
import resource
import time
from pathlib import Path
from typing import Callable

import optuna
from optuna.trial import TrialState

from automl.config import SpaceConfig
from automl.data.splits import Splits
from automl.errors import TrialFailed, UnhealthyTraining
from automl.tuner.study import INTERRUPTED
from automl.tracking import Tracker

# Stop the search when the first trials all fail for reasons other than divergence: the space
# (or the code) is broken, and a study full of failed trials helps nobody.
MAX_EARLY_ERRORS = 3


def candidate_path(folder: Path, number: int) -> Path:
    return folder / f"trial-{number}.keras"


def rss_mb() -> float:
    """Resident memory of this process now, in MB (peak memory where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fatal_error(study: optuna.Study) -> str | None:
    """A message when the first trials all failed with errors (not divergence): the space or the
    code is broken, and a study full of failed trials helps nobody."""
    trials = study.get_trials(deepcopy=False)
    if any(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials):
        return None
    errors = [t.user_attrs.get("fail_reason", "") for t in trials if t.state == TrialState.FAIL]
    errors = [e for e in errors if not e.startswith(("diverged", "interrupted"))]
    if len(errors) < MAX_EARLY_ERRORS:
        return None
    return (f"the first {len(errors)} trials all failed, so the search stopped; the last error "
            f"was: {errors[-1]}")


class Objective:
    """Callable handed to ``study.optimize``; one call trains one trial."""

    def __init__(self, cfg: SpaceConfig, splits: Splits, tracker: Tracker, candidates: Path,
                 on_epoch: Callable[[int, int, dict], None] | None = None) -> None:
        self.cfg = cfg
        self.splits = splits
        self.tracker = tracker
        self.candidates = candidates
        self.on_epoch = on_epoch

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        import keras
        from optuna_integration import KerasPruningCallback

        from automl.training.callbacks import EpochReporter
        from automl.training.fit import fit_trial

        search = self.cfg.search
        params = self.cfg.space.sample(trial)
        run_id = self.tracker.start_trial(trial.number, trial.params)
        trial.set_user_attr("mlflow_run_id", run_id)
        trial.set_user_attr("worker_pid", os.getpid())
        started = time.perf_counter()

        def report(epoch: int, metrics: dict[str, float]) -> None:
            self.tracker.log_metrics(run_id, metrics, step=epoch)
            if self.on_epoch:
                self.on_epoch(trial.number, epoch, metrics)

        callbacks = [EpochReporter(report, self.cfg.test_metric)]
        if not search.more_objectives:  # Optuna prunes single-objective studies only
            callbacks.append(KerasPruningCallback(trial, search.objective))
        try:
            outcome = fit_trial(params, self.splits, objective=search.objective,
                                direction=search.direction, seed=(search.seed or 0) + trial.number,
                                callbacks=callbacks)
            summary = {"best_" + search.objective: outcome.best_value,
                       "best_epoch": outcome.best_epoch + 1, "epochs_run": outcome.epochs_run,
                       "params_count": outcome.params_count}
            self._keep_if_candidate(trial, outcome.best_value, outcome.model)
            trial.set_user_attr("params_count", outcome.params_count)
            trial.set_user_attr("epochs_run", outcome.epochs_run)
            more = {"params_count": float(outcome.params_count),
                    "trial_seconds": time.perf_counter() - started}
            values = [outcome.best_value] + [
                more[name] if name in more else outcome.best_of(name, direction)
                for name, direction in search.more_objectives]
            self._end(trial, run_id, "COMPLETE", started, summary)
            return values[0] if len(values) == 1 else tuple(values)
        except KeyboardInterrupt:  # Ctrl-C: the trial is retried when the study resumes
            trial.set_user_attr("fail_reason", INTERRUPTED)
            self._end(trial, run_id, "FAIL", started, reason=INTERRUPTED)
            raise
        except UnhealthyTraining as unhealthy:  # pruned, with the reason on record
            trial.set_user_attr("prune_reason", unhealthy.reason)
            self._end(trial, run_id, "PRUNED", started, reason=f"pruned: {unhealthy.reason}")
            raise optuna.TrialPruned(unhealthy.reason) from None
        except optuna.TrialPruned as pruned:
            self._end(trial, run_id, "PRUNED", started, reason=f"pruned: {pruned}")
            raise
        except TrialFailed as failed:
            trial.set_user_attr("fail_reason", failed.reason)
            self._end(trial, run_id, "FAIL", started, reason=failed.reason)
            raise
        except Exception as error:  # a config Keras cannot train: record it, go on
            reason = f"{type(error).__name__}: {error}".strip()[:2000]
            trial.set_user_attr("fail_reason", reason)
            self._end(trial, run_id, "FAIL", started, reason=reason)
            raise TrialFailed(reason) from error
        finally:
            keras.backend.clear_session()  # no graphs or layers leak into the next trial
            gc.collect()

    def _end(self, trial: optuna.Trial, run_id: str, state: str, started: float,
             metrics: dict[str, float] | None = None, reason: str | None = None) -> None:
        seconds = time.perf_counter() - started
        trial.set_user_attr("seconds", round(seconds, 2))
        self.tracker.end_trial(run_id, state, reason,
                               {**(metrics or {}), "trial_seconds": seconds, "rss_mb": rss_mb()})

    def _keep_if_candidate(self, trial: optuna.Trial, value: float, model) -> None:
        """Save the model when it ranks in the top K so far; delete those pushed out."""
        top_k = self.cfg.select.top_k
        maximize = self.cfg.search.direction == "maximize"
        scored = [(t.values[0], t.number) for t in trial.study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE,))] + [(value, trial.number)]
        # best first; earlier trials win ties
        scored.sort(key=lambda vn: (-vn[0] if maximize else vn[0], vn[1]))
        keep = {number for _, number in scored[:top_k]}
        self.candidates.mkdir(parents=True, exist_ok=True)
        if trial.number in keep:
            from automl.training.fit import portable_copy

            portable_copy(model, self.splits.task).save(
                candidate_path(self.candidates, trial.number))
        for path in self.candidates.glob("trial-*.keras"):
            if int(path.stem.split("-")[1]) not in keep:
                path.unlink()

"""The Optuna objective: sample params, train one trial, record it, keep the top-K models."""

from __future__ import annotations

import math
import resource
import time
import traceback
from pathlib import Path
from typing import Callable

import optuna
from optuna.trial import TrialState

from automl.config import SpaceConfig
from automl.data.splits import Splits
from automl.errors import TrialFailed, UnhealthyTraining
from automl.ranking import VAL_LOSS_ATTR, rank_key, trial_rank
from automl.tracking.tracker import Tracker
from automl.tuner.events import EpochEnded
from automl.tuner.study import INTERRUPTED, WorkerId

MAX_REASON = 300  # a failed trial's reason is one line; its traceback is kept apart
OUT_OF_MEMORY = ("out of memory while training ({error}); lower training.batch_size or the "
                 "model's size, or run fewer workers (per GPU)")

def short_reason(error: BaseException) -> str:
    """One line that says why a trial failed; GPU memory exhaustion says what to do."""
    if type(error).__name__ == "ResourceExhaustedError" or "OOM when allocating" in str(error):
        return OUT_OF_MEMORY.format(error=type(error).__name__)
    first = (str(error).strip().splitlines() or [""])[0]
    reason = f"{type(error).__name__}: {first}".strip().rstrip(":")
    return reason if len(reason) <= MAX_REASON else reason[:MAX_REASON - 3] + "..."


def candidate_path(folder: Path, number: int) -> Path:
    return folder / f"trial-{number}.keras"


def rss_mb() -> float:
    """Resident memory of this process now, in MB (peak memory where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Objective:
    """Callable handed to ``study.optimize``; one call trains one trial."""

    def __init__(self, cfg: SpaceConfig, splits: Splits, tracker: Tracker, candidates: Path,
                 worker: WorkerId | None = None,
                 on_epoch: Callable[[EpochEnded], None] | None = None,
                 upload_candidates: bool = False) -> None:
        self.cfg = cfg
        self.splits = splits
        self.tracker = tracker
        self.candidates = candidates
        self.worker = worker or WorkerId.this_process()
        self.on_epoch = on_epoch
        self.upload_candidates = upload_candidates  # workers on other machines: via MLflow

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        import keras
        from optuna_integration import KerasPruningCallback

        from automl.training.callbacks import EpochReporter
        from automl.training.fit import fit_trial

        search = self.cfg.search
        params = self.cfg.space.sample(trial)
        run_id = self.tracker.start_trial(
            trial.number, trial.params, config=params,
            worker=f"{self.worker.host}:{self.worker.pid}", worker_host=self.worker.host,
            retry_of=trial.user_attrs.get("retry_of"))
        self.tracker.log_splits(run_id, self.splits, test=False)  # the Dataset column
        trial.set_user_attr("mlflow_run_id", run_id)
        trial.set_user_attr("worker", self.worker.as_attr())
        started = time.perf_counter()

        epochs_done = [0]

        def report(epoch: int, metrics: dict[str, float]) -> None:
            epochs_done[0] = epoch + 1
            self.tracker.log_metrics(run_id, metrics, step=epoch, wait=False)  # queued
            if self.on_epoch:
                self.on_epoch(EpochEnded(trial.number, epoch, dict(metrics)))

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
            losses = outcome.history.get("val_loss")  # at the epoch whose weights were kept
            val_loss = float(losses[outcome.best_epoch]) if losses else None
            if val_loss is not None and math.isfinite(val_loss):  # breaks ties (automl.ranking)
                trial.set_user_attr(VAL_LOSS_ATTR, val_loss)
            self._keep_if_candidate(trial, outcome.best_value, val_loss, outcome.model, run_id)
            trial.set_user_attr("params_count", outcome.params_count)
            trial.set_user_attr("epochs_run", outcome.epochs_run)
            more = {"params_count": float(outcome.params_count),
                    "trial_seconds": time.perf_counter() - started}
            values = [outcome.best_value] + [
                more[name] if name in more else outcome.best_of(name, direction)
                for name, direction in search.more_objectives]
            self._end(trial, run_id, "COMPLETE", started, summary,
                      outcome=f"{search.objective}={outcome.best_value:.4f}")
            return values[0] if len(values) == 1 else tuple(values)
        except KeyboardInterrupt:  # Ctrl-C: the trial is retried when the study resumes
            trial.set_user_attr("fail_reason", INTERRUPTED)
            self._end(trial, run_id, "FAIL", started, reason=INTERRUPTED)
            raise
        except UnhealthyTraining as unhealthy:  # pruned, with the reason on record
            trial.set_user_attr("prune_reason", unhealthy.reason)
            self.tracker.tag_trial(run_id, pruned_at_epoch=epochs_done[0])
            self._end(trial, run_id, "PRUNED", started, reason=f"pruned: {unhealthy.reason}",
                      outcome=f"pruned at epoch {epochs_done[0]}")
            raise optuna.TrialPruned(unhealthy.reason) from None
        except optuna.TrialPruned as pruned:
            self.tracker.tag_trial(run_id, pruned_at_epoch=epochs_done[0])
            self._end(trial, run_id, "PRUNED", started, reason=f"pruned: {pruned}",
                      outcome=f"pruned at epoch {epochs_done[0]}")
            raise
        except TrialFailed as failed:
            trial.set_user_attr("fail_reason", failed.reason)
            self._end(trial, run_id, "FAIL", started, reason=failed.reason, outcome="failed")
            raise
        except Exception as error:  # a config Keras cannot train: record it, go on
            reason = short_reason(error)
            trace = traceback.format_exc()
            trial.set_user_attr("fail_reason", reason)
            trial.set_user_attr("traceback", trace)
            self.tracker.log_text(run_id, trace, "traceback.txt")
            self._end(trial, run_id, "FAIL", started, reason=reason, outcome="failed")
            raise TrialFailed(reason) from error
        finally:
            keras.backend.clear_session()  # no graphs or layers leak into the next trial

    def _end(self, trial: optuna.Trial, run_id: str, state: str, started: float,
             metrics: dict[str, float] | None = None, reason: str | None = None,
             outcome: str | None = None) -> None:
        seconds = time.perf_counter() - started
        trial.set_user_attr("seconds", round(seconds, 2))
        self.tracker.end_trial(run_id, state, reason,
                               {**(metrics or {}), "trial_seconds": seconds, "rss_mb": rss_mb()},
                               outcome)

    def _keep_if_candidate(self, trial: optuna.Trial, value: float, val_loss: float | None,
                           model, run_id: str) -> None:
        """Save the model when it ranks in the top K so far; delete those pushed out.

        Other workers may be saving their own trials meanwhile: only the files of trials that
        have ended (COMPLETE in the study, so their rank is known) are ever deleted.
        """
        top_k = self.cfg.select.top_k
        maximize = self.cfg.search.direction == "maximize"
        complete = trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        ranked = sorted([trial_rank(t, maximize=maximize) for t in complete]
                        + [rank_key(value, val_loss, trial.number, maximize=maximize)])
        keep = {number for *_, number in ranked[:top_k]}  # the order selection ranks them in
        ended = {t.number for t in complete}
        self.candidates.mkdir(parents=True, exist_ok=True)
        if trial.number in keep:
            from automl.training.fit import portable_copy, save_loadable

            path = candidate_path(self.candidates, trial.number)
            save_loadable(portable_copy(model, self.splits), path)
            if self.upload_candidates:  # for a selection that runs on another machine
                self.tracker.log_artifact(run_id, path, "candidate")
        for path in self.candidates.glob("trial-*.keras"):
            number = int(path.stem.split("-")[1])
            if number in ended and number not in keep:
                path.unlink(missing_ok=True)

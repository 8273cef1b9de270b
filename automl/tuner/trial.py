"""One trial's life, the same for every search: start, train, report, prune, keep, record.

:class:`TrialLifecycle` is the callable that trains one trial (``worker.run_one`` calls it). It owns what
every trial does whatever makes its model: the worker's mark on the trial (a resumed search
knows which process died), the child MLflow run, per-epoch metrics and the progress bar, the
outcome recorded in the study and in MLflow (complete, pruned with its epoch, failed with its
reason and traceback, interrupted and queued for a retry), keeping the model when it ranks in
the top K so far (uploaded too when the selection may run on another machine), and clearing
Keras between trials.

How a trial's model is made is a :class:`ModelMaker`, the one strategy that differs:

* :class:`automl.tuner.objective.SpaceMaker`: sample a YAML space and train it with
  :func:`automl.training.fit.fit_trial`;
* :class:`automl.hypermodel.HypermodelMaker`: a KerasTuner ``build_model(hp)`` and its ``fit``.

Example:
    >>> lifecycle = TrialLifecycle(maker, tracker, Path("runs/s/candidates"),
    ...                            objective="val_accuracy", direction="maximize", top_k=5)
    >>> run_one(study, storage, lifecycle)  # automl.tuner.worker
"""

from __future__ import annotations

import math
import resource
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from automl.errors import TrialFailed, UnhealthyTraining
from automl.ranking import VAL_LOSS_ATTR, rank_key, trial_rank

if TYPE_CHECKING:
    import optuna

    from automl.tracking.tracker import Tracker
    from automl.tuner.events import EpochEnded
    from automl.tuner.study import WorkerId

MAX_REASON = 300  # a failed trial's reason is one line; its traceback is kept apart
OUT_OF_MEMORY = (
    "out of memory while training ({error}); lower training.batch_size or the "
    "model's size, or run fewer workers (per GPU)"
)


def short_reason(error: BaseException) -> str:
    """One line that says why a trial failed; GPU memory exhaustion says what to do."""
    if type(error).__name__ == "ResourceExhaustedError" or "OOM when allocating" in str(error):
        return OUT_OF_MEMORY.format(error=type(error).__name__)
    first = (str(error).strip().splitlines() or [""])[0]
    reason = f"{type(error).__name__}: {first}".strip().rstrip(":")
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."


def candidate_path(folder: Path, number: int) -> Path:
    return folder / f"trial-{number}.keras"


def rss_mb() -> float:
    """Resident memory of this process now, in MB (peak memory where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Trained:
    """What a :class:`ModelMaker` hands back for a trial that trained to its end.

    Args:
        values: what Optuna is told (one value, or one per objective of a Pareto search).
        value: the primary objective's value (ranks the trial for the top K).
        val_loss: the validation loss at the kept epoch (breaks ties, :mod:`automl.ranking`).
        model: the trained model, saved by the maker's :meth:`ModelMaker.save` if it is kept.
        epochs_run: the epochs trained (all executions together).
        params_count: the kept model's parameters.
        metrics: more metrics for the trial's run as it ends (``best_val_accuracy`` ...).
        attrs: more user attrs for the trial (``execution_values`` ...).
    """

    values: float | tuple[float, ...]
    value: float
    val_loss: float | None
    model: Any
    epochs_run: int
    params_count: int
    metrics: dict[str, float] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)


class ModelMaker(Protocol):
    """How a trial's model is made and trained: the one part that differs between searches."""

    def begin(self, trial: "optuna.Trial", run: "TrialRun") -> None:
        """Before training: what the trial will train is known here or not yet (then the run
        opens at the first epoch, with :meth:`run_params`)."""

    def run_params(self) -> dict[str, Any]:
        """The trial's params for its MLflow run, when it opens."""

    def train(self, trial: "optuna.Trial", run: "TrialRun", prune: bool) -> Trained:
        """Train the trial, reporting every epoch with ``run.epoch``; ``prune``: let Optuna's
        pruner stop it (single-objective studies only)."""

    def save(self, model: Any, path: Path) -> None:
        """Write a kept model as the ``.keras`` file that the selection loads."""

    def closing(self, trial: "optuna.Trial", run: "TrialRun") -> None:
        """Just before the trial's run is closed, whatever its outcome."""


class TrialRun:
    """A trial's child MLflow run: opened when the maker knows its params (at the start, or at
    the first epoch), its epochs reported to MLflow and the progress bar, closed with the
    trial's outcome."""

    def __init__(
        self,
        tracker: "Tracker",
        trial: "optuna.Trial",
        worker: "WorkerId",
        maker: ModelMaker,
        on_epoch: Callable[["EpochEnded"], None] | None,
    ) -> None:
        self.tracker, self.trial, self.worker = tracker, trial, worker
        self._maker, self._on_epoch = maker, on_epoch
        self.run_id: str | None = None
        self.epochs = 0  # epochs reported so far (MLflow steps run on across executions)

    def open(
        self, params: dict[str, Any] | None = None, config: dict[str, Any] | None = None
    ) -> str:
        if self.run_id is None:
            self.run_id = self.tracker.start_trial(
                self.trial.number,
                self._maker.run_params() if params is None else params,
                config=config,
                worker=f"{self.worker.host}:{self.worker.pid}",
                worker_host=self.worker.host,
                retry_of=self.trial.user_attrs.get("retry_of"),
            )
            self.trial.set_user_attr("mlflow_run_id", self.run_id)
        return self.run_id

    def epoch(self, step: int, metrics: dict[str, float], shown: int | None = None) -> None:
        """One epoch's metrics: to MLflow at ``step`` (queued), and to the progress bar as
        epoch ``shown`` (None: not shown, e.g. a second execution of the same trial)."""
        self.epochs = max(self.epochs, step + 1)
        self.tracker.log_metrics(self.open(), metrics, step=step, wait=False)
        if self._on_epoch is not None and shown is not None:
            from automl.tuner.events import EpochEnded

            self._on_epoch(EpochEnded(self.trial.number, shown, dict(metrics)))

    def tag(self, **tags: object) -> None:
        self.tracker.tag_trial(self.open(), **tags)

    def log_text(self, text: str, name: str) -> None:
        self.tracker.log_text(self.open(), text, name)

    def end(
        self,
        state: str,
        started: float,
        metrics: dict[str, float] | None = None,
        reason: str | None = None,
        outcome: str | None = None,
    ) -> None:
        self._maker.closing(self.trial, self)
        seconds = time.perf_counter() - started
        self.trial.set_user_attr("seconds", round(seconds, 2))
        self.tracker.end_trial(
            self.open(),
            state,
            reason,
            {**(metrics or {}), "trial_seconds": seconds, "rss_mb": rss_mb()},
            outcome,
        )


class TrialLifecycle:
    """The trial callable (``worker.run_one`` calls it); one call trains one trial.

    Args:
        maker: how the trial's model is made (:class:`ModelMaker`).
        tracker: MLflow.
        candidates: the folder of kept models (``trial-N.keras``).
        objective, direction: the primary objective and whether it is maximized.
        top_k: how many models are kept for the selection.
        more_objectives: the other objectives of a Pareto search (Optuna prunes only
            single-objective studies).
        worker: this process (default: as it is now).
        on_epoch: the progress bar's hook.
        upload_candidates: also send kept models to MLflow, for a selection on another machine.
    """

    def __init__(
        self,
        maker: ModelMaker,
        tracker: "Tracker",
        candidates: Path,
        *,
        objective: str,
        direction: str,
        top_k: int,
        more_objectives: tuple = (),
        worker: "WorkerId | None" = None,
        on_epoch: Callable[["EpochEnded"], None] | None = None,
        upload_candidates: bool = False,
    ) -> None:
        from automl.tuner.study import WorkerId

        self.maker = maker
        self.tracker = tracker
        self.candidates = candidates
        self.objective = objective
        self.maximize = direction == "maximize"
        self.top_k = top_k
        self.more_objectives = more_objectives
        self.worker = worker or WorkerId.this_process()
        self.on_epoch = on_epoch
        self.upload_candidates = upload_candidates

    def __call__(self, trial: "optuna.Trial") -> float | tuple[float, ...]:
        import keras
        import optuna

        from automl.tuner.patient import StorageUnavailable
        from automl.tuner.study import INTERRUPTED

        trial.set_user_attr("worker", self.worker.as_attr())  # a resumed search knows it died
        run = TrialRun(self.tracker, trial, self.worker, self.maker, self.on_epoch)
        started = time.perf_counter()
        try:
            self.maker.begin(trial, run)
            trained = self.maker.train(trial, run, prune=not self.more_objectives)
            if trained.val_loss is not None and math.isfinite(trained.val_loss):
                trial.set_user_attr(VAL_LOSS_ATTR, trained.val_loss)
            counts = {"params_count": trained.params_count, "epochs_run": trained.epochs_run}
            for name, value in {**counts, **trained.attrs}.items():
                trial.set_user_attr(name, value)
            self._keep_if_candidate(
                trial, trained.value, trained.val_loss, trained.model, run.open()
            )
            run.end(
                "COMPLETE",
                started,
                {**trained.metrics, **counts},
                outcome=f"{self.objective}={trained.value:.4f}",
            )
            return trained.values
        except KeyboardInterrupt:  # Ctrl-C or kill: the trial is retried when the study resumes
            trial.set_user_attr("fail_reason", INTERRUPTED)
            run.end("FAIL", started, reason=INTERRUPTED)
            raise
        except UnhealthyTraining as unhealthy:  # pruned, with the reason on record
            trial.set_user_attr("prune_reason", unhealthy.reason)
            self._pruned(run, started, unhealthy.reason)
            raise optuna.TrialPruned(unhealthy.reason) from None
        except optuna.TrialPruned as pruned:
            self._pruned(run, started, str(pruned))
            raise
        except TrialFailed as failed:
            trial.set_user_attr("fail_reason", failed.reason)
            run.end("FAIL", started, reason=failed.reason, outcome="failed")
            raise
        except StorageUnavailable:  # the database, not the trial: the worker stops, it is retried
            raise
        except Exception as error:  # a configuration Keras cannot train: recorded, search goes on
            reason = short_reason(error)
            trace = traceback.format_exc()
            trial.set_user_attr("fail_reason", reason)
            trial.set_user_attr("traceback", trace)
            run.log_text(trace, "traceback.txt")
            run.end("FAIL", started, reason=reason, outcome="failed")
            raise TrialFailed(reason) from error
        finally:
            keras.backend.clear_session()  # no graphs or layers leak into the next trial

    @staticmethod
    def _pruned(run: TrialRun, started: float, why: str) -> None:
        run.tag(pruned_at_epoch=run.epochs)
        run.end("PRUNED", started, reason=f"pruned: {why}", outcome=f"pruned at epoch {run.epochs}")

    def _keep_if_candidate(
        self, trial: "optuna.Trial", value: float, val_loss: float | None, model: Any, run_id: str
    ) -> None:
        """Save the model when it ranks in the top K so far; delete those pushed out.

        Other workers may be saving their own trials meanwhile: only the files of trials that
        have ended (COMPLETE in the study, so their rank is known) are ever deleted.
        """
        from optuna.trial import TrialState

        complete = trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        ranked = sorted(
            [trial_rank(t, maximize=self.maximize) for t in complete]
            + [rank_key(value, val_loss, trial.number, maximize=self.maximize)]
        )
        keep = {number for *_, number in ranked[: self.top_k]}  # as the selection ranks them
        ended = {t.number for t in complete}
        self.candidates.mkdir(parents=True, exist_ok=True)
        if trial.number in keep:
            path = candidate_path(self.candidates, trial.number)
            self.maker.save(model, path)
            if self.upload_candidates:  # for a selection that runs on another machine
                self.tracker.log_artifact(run_id, path, "candidate")
        for path in self.candidates.glob("trial-*.keras"):
            number = int(path.stem.split("-")[1])
            if number in ended and number not in keep:
                path.unlink(missing_ok=True)

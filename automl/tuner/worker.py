"""A worker: a process of its own that joins a study and runs trials until the budget is spent.

It is always started as a module (``python -m automl worker ...``, which ``automl worker`` is),
never by re-importing the caller's main module, so a search launched from a script without a
main guard, from stdin, from ``python -c`` or from a notebook starts its workers the same way.
Everything it needs comes from the study (see ``handoff.py``): the very same command joins a
study from another machine.

A worker runs at most ``--trials`` trials and exits: a coordinator replaces it with a fresh
process, which keeps memory flat (TensorFlow keeps a few MB per trained model even after
``keras.backend.clear_session()``: about 5 MB a trial for tiny models, 13 MB for the MNIST-1D
CNNs). It reports what happens as typed records (``events.py``) on a pipe its coordinator
gave it, or on its own console when started by hand. What the libraries print (Optuna's own
lines, tracebacks, TensorFlow's warnings) goes to its log in ``<run dir>/<study>/logs/``
(see ``quiet.py``); each trial's slice of that log is attached to the trial's MLflow run as
``worker.log``.

Exit codes: 0 done, 1 error, 2 usage error (wrong study, data that does not match), 3 the study
was stopped because its trials keep failing, 4 the study's database stayed unreachable past
``AUTOML_STORAGE_WAIT`` (its trial is retried as after a kill; see ``patient.py``).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.defaults import DEFAULT_RUN_DIR
from automl.tuner.events import Event, TrialEnded, WorkerReady, WorkerStopped, encode

if TYPE_CHECKING:
    import optuna

    from automl.config import SearchConfig
    from automl.tracking.tracker import Tracker
    from automl.tuner.progress import SearchProgress

STOPPED_EXIT_CODE = 3
STORAGE_LOST_EXIT_CODE = 4


@dataclass(frozen=True)
class WorkerOptions:
    """How ``automl worker`` was called."""

    study: str
    storage: str
    tracking_uri: str | None = None
    run_dir: Path = Path(DEFAULT_RUN_DIR)
    trials: int | None = None  # at most this many trials, then exit (None: until the budget)
    timeout: float | None = None  # seconds: start no trial after this
    seed: int | None = None  # the sampler's seed (None: the space's seed, offset by pid)
    threads: int | None = None  # TensorFlow threads (None: all cores)
    events_fd: int | None = None  # a pipe to the coordinator; None: show progress here


def limit_threads(threads: int | None) -> None:
    """Give TensorFlow (and the BLAS/OpenMP below it) ``threads`` cores; call before importing
    TensorFlow. Several workers on one machine then share the cores instead of fighting."""
    if not threads:
        return
    for name in (
        "TF_NUM_INTRAOP_THREADS",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
    ):
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1" if threads == 1 else "2"


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker when its coordinator dies (even by SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _emitter(
    options: WorkerOptions, total: int, done: int, objective: str, epochs: int, maximize: bool
) -> tuple[Callable[[Event], None], SearchProgress | None]:
    """Where events go: the coordinator's pipe, or a progress display on this console."""
    if options.events_fd is not None:
        pipe = os.fdopen(options.events_fd, "w", buffering=1)

        def send(event: Event) -> None:
            try:
                pipe.write(encode(event) + "\n")
            except (BrokenPipeError, OSError):  # the coordinator is gone: nobody to tell
                pass

        return send, None
    from automl.tuner.progress import SearchProgress

    display = SearchProgress(total, done, objective, epochs, maximize, enabled=True)
    return display.on_event, display


def _attach_log(
    tracker: "Tracker", trial: "optuna.trial.FrozenTrial", log: Path | None, start: int
) -> None:
    """Attach the trial's slice of this worker's log (from ``start`` on) to its MLflow run as
    ``worker.log``: Optuna's lines about it, its traceback, TensorFlow's warnings."""
    from automl.tuner import quiet

    run_id = trial.user_attrs.get("mlflow_run_id")
    if log is None or run_id is None:
        return
    text = quiet.read_log_from(log, start)
    if not text.strip():
        return
    try:
        tracker.log_text(run_id, text, "worker.log")
    except Exception as error:  # a copy for convenience: never worth losing the worker over
        print(f"could not attach the log to MLflow run {run_id}: {error}", file=sys.__stderr__)


def settle_memory() -> None:
    """Move what lives as long as this worker (TensorFlow, Keras, the splits) out of the
    garbage collector's way: the collection after each trial then takes milliseconds, not the
    0.4-0.7 s a full pass over TensorFlow's objects costs (measured in benchmarks/overhead.py)."""
    gc.collect()
    gc.freeze()


def run_worker(options: WorkerOptions) -> int:
    """Join the study and run trials; returns the exit code (see the module docstring)."""
    if options.events_fd is not None:
        _die_with_parent()
    if os.getcwd() not in sys.path:  # custom builders in the current folder, as in `python`
        sys.path.insert(0, os.getcwd())
    limit_threads(options.threads)
    from automl.tuner import quiet

    quiet.quiet_libraries()
    from automl.tracking.tracker import Tracker
    from automl.training import device
    from automl.tuner.handoff import join_study
    from automl.tuner.objective import Objective
    from automl.tuner.patient import StorageUnavailable
    from automl.tuner.study import WorkerId, finished_trials, max_epochs

    started = time.monotonic()
    seed = options.seed
    if seed is None:  # joined by hand: a stream of samples of its own
        seed = os.getpid()
    joined = join_study(
        options.study, options.storage, options.tracking_uri, options.run_dir, seed=seed
    )
    cfg, study, search = joined.cfg, joined.study, joined.cfg.search
    tracker = Tracker(joined.tracking_uri, cfg.name)
    tracker.parent_run_id = joined.spec.parent_run_id
    me = WorkerId.this_process()
    # started by hand: the log moves into the run folder now that the study is known
    quiet.settle_log(options.run_dir / cfg.name / "logs" / f"worker-{me.host}-{me.pid}.log")
    info = device.configure(threads=options.threads)

    emit, display = _emitter(
        options,
        search.trials,
        finished_trials(study),
        search.objective,
        max_epochs(cfg),
        search.direction == "maximize",
    )
    objective = Objective(
        cfg,
        joined.splits,
        tracker,
        options.run_dir / cfg.name / "candidates",
        worker=me,
        on_epoch=emit,
        upload_candidates=tracker.is_remote,
    )
    emit(WorkerReady(me.pid, me.host, me.started, str(info["device"])))
    settle_memory()
    deadline = None if options.timeout is None else started + options.timeout
    try:
        with display or contextlib.nullcontext():
            stopped = run_trials(
                study,
                joined.storage,
                search,
                objective,
                tracker,
                emit,
                quiet.log_path(),
                max_trials=options.trials,
                deadline=deadline,
            )
    except StorageUnavailable as lost:  # the database stayed away past AUTOML_STORAGE_WAIT
        print(f"automl worker: {lost}", file=sys.stderr)
        return STORAGE_LOST_EXIT_CODE
    except KeyboardInterrupt:  # Ctrl-C or kill: the trial was recorded as interrupted
        if display is not None:  # joined by hand: say so (a coordinator's worker has no console)
            print(
                "interrupted: the trial it was running, if any, is back in the study's "
                "queue for any worker to run again",
                file=sys.stderr,
            )
        return 130
    if stopped:
        emit(WorkerStopped(stopped))
        return STOPPED_EXIT_CODE
    return 0


def run_trials(
    study: "optuna.Study",
    storage: "optuna.storages.BaseStorage",
    search: "SearchConfig",
    objective: Callable,
    tracker: "Tracker",
    emit: Callable[[Event], None],
    log: Path | None,
    *,
    max_trials: int | None = None,
    deadline: float | None = None,
) -> str | None:
    """Run the study's trials in this process, one at a time, until its budget is spent.

    A worker process calls this; so does a search with ``workers: 0``, in its own process.

    Args:
        study, storage: the joined study and its storage (to fail trials of dead processes).
        objective: what trains one trial (``objective.Objective``).
        emit: receives a :class:`~automl.tuner.events.TrialEnded` after each trial.
        log: this process's log; each trial's slice of it goes to the trial's MLflow run.
        max_trials: stop after this many trials (None: until the budget).
        deadline: a ``time.monotonic()`` after which no trial starts.

    Returns:
        The message that stopped the study (its trials keep failing), else None.

    Raises:
        KeyboardInterrupt: Ctrl-C; the objective recorded its trial as interrupted and it is
            queued for a retry.
    """

    from automl.tuner import quiet
    from automl.tuner.study import (
        StartLock,
        consecutive_failures,
        fail_dead_trials,
        fail_reason,
        retry_interrupted,
        trials_to_start,
    )

    stopped: list[str] = []
    log_start = [quiet.log_size(log)]

    def on_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        emit(
            TrialEnded(
                trial.number,
                trial.state.name,
                trial.values[0] if trial.values else None,
                fail_reason(trial) or trial.user_attrs.get("prune_reason", ""),
                len(trial.intermediate_values),
                trial.user_attrs.get("seconds", 0.0),
            )
        )
        if trial.state.name == "FAIL":
            quiet.note_failed_trial(log)
        _attach_log(tracker, trial, log, log_start[0])
        message = consecutive_failures(study, search.max_consecutive_failures)
        if message:
            stopped.append(message)

    lock = StartLock(storage, study.study_name)  # the check and the start as one step
    ran = 0
    try:
        while not stopped and (max_trials is None or ran < max_trials):
            if deadline is not None and time.monotonic() > deadline:
                break
            fail_dead_trials(study, storage, search.max_retries)  # killed on this machine
            lock.acquire()
            if trials_to_start(study, search.trials) == 0:  # budget spent, no retry waiting
                break
            log_start[0] = quiet.log_size(log)
            on_trial(study, run_one(study, storage, objective, lock.release))
            gc.collect()
            ran += 1
    except KeyboardInterrupt:
        retry_interrupted(study, search.max_retries)
        raise
    finally:
        lock.release()
    return stopped[0] if stopped else None


def run_one(
    study: "optuna.Study",
    storage: "optuna.storages.BaseStorage",
    objective: Callable[["optuna.Trial"], Any],
    started: Callable[[], None] = lambda: None,
) -> "optuna.trial.FrozenTrial":
    """Ask for one trial, train it, tell its outcome: ``study.optimize(n_trials=1)`` made ours.

    On a database storage every call here waits out a lost connection
    (:class:`~automl.tuner.patient.PatientStorage`), the heartbeat beats through an outage
    (:class:`~automl.tuner.patient.Heartbeat`), and ``tell`` is safe to repeat. A failed trial
    (:class:`~automl.errors.TrialFailed`) or a pruned one is told and returned; another error is
    told as a failure and raised, as is Ctrl-C (the objective recorded it as interrupted).

    Args:
        started: called once the trial exists in the study (RUNNING), before it trains.
    """
    import warnings

    import optuna
    from optuna.trial import TrialState

    from automl.errors import TrialFailed
    from automl.tuner.patient import Heartbeat, StorageUnavailable

    with warnings.catch_warnings():  # Optuna warns of heartbeats outside optimize: ours beat
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)  # as optimize does: trials whose beats stopped
        trial = study.ask()
    started()
    values: Any = None
    state = TrialState.FAIL
    raised: BaseException | None = None
    with Heartbeat(storage, trial._trial_id):
        try:
            values = objective(trial)
            state = TrialState.COMPLETE
        except optuna.TrialPruned:
            state = TrialState.PRUNED
        except TrialFailed as failed:
            _say_failed(trial, failed)
        except StorageUnavailable:  # not the trial's fault: it stays RUNNING, retried as killed
            raise
        except (Exception, KeyboardInterrupt) as error:
            _say_failed(trial, error)
            raised = error
    with warnings.catch_warnings():  # a NaN value is told as a failure: said by the objective
        warnings.simplefilter("ignore")
        frozen = study.tell(trial, values, state=state, skip_if_finished=True)
    if raised is not None:
        raise raised
    return frozen


def _say_failed(trial: "optuna.Trial", error: BaseException) -> None:
    """Log a failed trial with its traceback, as ``study.optimize`` does: to the worker's log."""
    import optuna

    optuna.logging.get_logger("optuna.study._optimize").warning(
        f"Trial {trial.number} failed with parameters: {trial.params} "
        f"because of the following error: {error!r}.",
        exc_info=(type(error), error, error.__traceback__),
    )

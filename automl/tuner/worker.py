"""Trials run in worker processes, a batch of trials per process.

TensorFlow keeps a few MB per trained model even after ``keras.backend.clear_session()`` (measured:
about 5 MB per trial for a tiny model, 13 MB for the MNIST-1D CNNs), so a long search in one
process grows without bound. A fresh process every :data:`TRIALS_PER_WORKER` trials keeps memory
flat; the parent process never imports TensorFlow while trials run.

The worker reports what happens (epochs, finished trials, a fatal error) to the parent through a
queue; the parent shows it. A worker that dies (killed, out of memory) leaves its trial RUNNING: the
parent marks it interrupted and retries it, and gives up after a few crashes in a row.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

from automl.config import SpaceConfig
from automl.data.splits import Splits
from automl.errors import AutomlError

TRIALS_PER_WORKER = 10
MAX_CRASHES_IN_A_ROW = 3


@dataclass(frozen=True)
class WorkerJob:
    """Everything a worker process needs to run a batch of trials of one study."""

    cfg: SpaceConfig
    splits: Splits
    storage_url: str
    tracking_uri: str
    artifact_root: str
    parent_run_id: str
    candidates_dir: str
    n_trials: int
    timeout: float | None
    sampler_seed: int | None


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker when the parent dies (even by SIGKILL), so a
    killed search never leaves a worker writing to the study."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def run_worker(job: WorkerJob, events: Any) -> None:
    """Entry point of a worker process: run ``job.n_trials`` trials, report through ``events``."""
    _die_with_parent()
    from automl.tuner.runner import max_epochs, quiet_libraries

    quiet_libraries()
    import optuna

    from dataclasses import replace
    from pathlib import Path

    from automl.errors import TrialFailed
    from automl.tuner.objective import Objective, fatal_error
    from automl.tuner.study import make_pruner, make_sampler
    from automl.tracking import Tracker
    from automl.training import device

    try:
        device.configure()
        cfg, splits = job.cfg, job.splits

        search = replace(cfg.search, seed=job.sampler_seed)
        study = optuna.load_study(study_name=cfg.name, storage=job.storage_url,
                                  sampler=make_sampler(search, cfg.space),
                                  pruner=make_pruner(search, max_epochs(cfg)))
        tracker = Tracker(job.tracking_uri, cfg.name, Path(job.artifact_root))
        tracker.parent_run_id = job.parent_run_id
        objective = Objective(cfg, splits, tracker, Path(job.candidates_dir),
                              on_epoch=lambda n, e, m: events.put(("epoch", n, e, m)))

        def on_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            events.put(("trial", trial.number, trial.state.name,
                        trial.values[0] if trial.values else None,
                        trial.user_attrs.get("fail_reason", ""),
                        len(trial.intermediate_values), trial.user_attrs.get("seconds", 0.0)))
            if fatal_error(study):
                study.stop()

        study.optimize(objective, n_trials=job.n_trials, timeout=job.timeout,
                       catch=(TrialFailed,), callbacks=[on_trial], gc_after_trial=True)
        message = fatal_error(study)
        if message:
            events.put(("fatal", message))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # reported to the parent, which stops the search
        events.put(("fatal", f"{type(error).__name__}: {error}"))
        sys.exit(1)


def run_in_workers(make_job: Callable[[int, float | None], WorkerJob | None],
                   on_event: Callable[[tuple], None], recover: Callable[[], None],
                   timeout: float | None) -> bool:
    """Start worker processes one after another until ``make_job`` says the budget is spent.

    Args:
        make_job: (trials per worker, seconds left) -> the next job, or None when done.
        on_event: called in this process for every event a worker reports.
        recover: marks the trials of a crashed worker as interrupted (and queues them again).
        timeout: seconds for the whole search, or None.

    Returns:
        False when the user interrupted the search (Ctrl-C), True otherwise.

    Raises:
        AutomlError: a worker reported a fatal error, or workers kept crashing.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # never fork a process that holds TF state
    deadline = time.monotonic() + timeout if timeout else None
    crashes = 0
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return True
        job = make_job(TRIALS_PER_WORKER, left)
        if job is None:
            return True
        events = context.Queue()
        process = context.Process(target=run_worker, args=(job, events), daemon=True)
        process.start()
        try:
            fatal = _pump(process, events, on_event)
        except KeyboardInterrupt:
            if process.is_alive():
                os.kill(process.pid, signal.SIGINT)  # let it record its trial as interrupted
            process.join(timeout=60)
            _drain(events, on_event)
            return False
        if fatal:
            raise AutomlError(fatal)
        if process.exitcode != 0:
            crashes += 1
            recover()
            if crashes >= MAX_CRASHES_IN_A_ROW:
                raise AutomlError(f"the trial worker died {crashes} times in a row (exit code "
                                  f"{process.exitcode}; -9 means killed, often out of memory); "
                                  f"try smaller models or batch sizes")
        else:
            crashes = 0


def _pump(process: Any, events: Any, on_event: Callable[[tuple], None]) -> str | None:
    """Forward events until the worker exits; return a fatal error message, if one came."""
    fatal = None
    while True:
        try:
            event = events.get(timeout=0.25)
        except queue.Empty:
            if not process.is_alive():
                break
            continue
        if event[0] == "fatal":
            fatal = event[1]
        else:
            on_event(event)
    process.join()
    return _drain(events, on_event) or fatal


def _drain(events: Any, on_event: Callable[[tuple], None]) -> str | None:
    fatal = None
    while True:
        try:
            event = events.get_nowait()
        except (queue.Empty, OSError, ValueError):
            return fatal
        if event[0] == "fatal":
            fatal = event[1]
        else:
            on_event(event)

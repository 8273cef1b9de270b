"""Create, join and repair the Optuna study of a space: storage, sampler and pruner by name
(the factories are in :mod:`automl.tuner.samplers`).

Storages, by what the URL (or path) names:

* the embedded default, ``<run dir>/optuna.journal``: Optuna's journal file, safe for several
  worker processes on one machine (SQLite is not: Optuna never recommends it for parallel work);
* ``postgresql://...`` (or any SQLAlchemy URL): many machines; trials send heartbeats, and a trial
  whose worker went silent is failed and retried by the next worker that asks for a trial.

A trial knows which process runs it (``worker`` user attr: host, pid, process start time), so a
search or worker on the same machine can tell a live trial from one whose process was killed,
and fail and retry only the dead one. A retry follows Optuna's own convention (the
``failed_trial`` and ``retry_history`` system attrs of ``RetryHeartbeatStaleTrialCallback``).
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from automl.config import SearchConfig, SpaceConfig
from automl.errors import UsageError
from automl.space import Group, Range
from automl.urls import redact

INTERRUPTED = "interrupted: the process running this trial stopped before it finished"
KILLED = "killed: the worker running this trial died ({why})"
STALE = "lost: the worker running this trial stopped sending heartbeats (killed or cut off)"
# run-specific user attrs that a retry must not inherit from the trial it repeats
_NOT_INHERITED = ("fail_reason", "mlflow_run_id", "worker", "seconds", "traceback")


def max_epochs(cfg: SpaceConfig) -> int:
    """The most epochs any trial can run (the pruners' resource budget)."""
    from automl.space import Choice, Fixed
    from automl.training.fit import DEFAULT_EPOCHS

    node = cfg.space.group("training").get("epochs")
    if isinstance(node, Range):
        return int(node.high)
    if isinstance(node, (Fixed, Choice)):
        return int(max(node.possible_values()))
    return DEFAULT_EPOCHS


def default_storage_url(run_dir: Path) -> str:
    """The embedded storage: a journal file in the run folder (an older ``optuna.db`` is kept)."""
    legacy = run_dir / "optuna.db"
    if legacy.is_file() and not (run_dir / "optuna.journal").exists():
        return f"sqlite:///{legacy.resolve()}"
    return str((run_dir / "optuna.journal").resolve())


def is_journal(url: str) -> bool:
    return "://" not in url


def open_storage(
    url: str, max_retries: int | None = None, *, create: bool = False
) -> optuna.storages.BaseStorage:
    """The storage a URL names: a journal file path, or a database URL (with heartbeats).

    Args:
        url: ``path/optuna.journal`` or a SQLAlchemy URL such as ``postgresql://u:p@host/db``.
        max_retries: how often a trial lost with its worker is retried (None: never).
        create: start a new journal file where there is none (a search does; a worker joins).
    """
    if is_journal(url) and not create and not Path(url).is_file():
        raise UsageError(
            f"there is no Optuna storage at {url}; give the --storage (or the "
            f"--run-dir) that the search used"
        )
    from optuna.storages import _CachedStorage

    from automl.tuner.patient import Patience, PatientStorage

    if is_journal(url):  # one machine's file: no connection to lose, no heartbeats
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        try:
            Path(url).parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(url))
        except Exception as exc:
            raise UsageError(
                f"cannot open the Optuna storage {url} ({type(exc).__name__}: {exc}); "
                f"check the path"
            ) from None
    patience = Patience.from_environment()  # AUTOML_STORAGE_WAIT, AUTOML_HEARTBEAT, AUTOML_GRACE
    try:
        with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            database = optuna.storages.RDBStorage(
                url,
                heartbeat_interval=max(1, round(patience.heartbeat)),
                grace_period=max(2, round(patience.grace)),
                heartbeat_stale_trial_callback=_RetryLost(max_retries),
                engine_kwargs={"pool_pre_ping": True} if not url.startswith("sqlite") else None,
            )
        # every later call waits out a lost connection (opening it above does not: a wrong
        # URL or a server that is not there at all is a usage error, said at once)
        return PatientStorage(_CachedStorage(database), patience, url)  # type: ignore[abstract]
    except Exception as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip()  # the driver's own words
        detail = detail.splitlines()[0] if detail else type(exc).__name__
        raise UsageError(
            f"cannot open the Optuna storage {redact(url)} ({redact(detail)}); "
            f"check the path or URL, and that the database server runs"
        ) from None


class _RetryLost:
    """Heartbeat callback: a trial whose worker went silent is retried (at most N times)."""

    def __init__(self, max_retries: int | None) -> None:
        self.max_retries = max_retries

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        retry_trial(study, trial, self.max_retries)


def make_sampler(
    search: SearchConfig, space: Group | None = None, seed: int | None = None
) -> optuna.samplers.BaseSampler:
    """The sampler named in the space (:data:`automl.registry.SAMPLERS`); ``space`` is needed by
    the grid sampler."""
    from automl.registry import SAMPLERS

    return SAMPLERS.create(search.sampler, search, space, search.seed if seed is None else seed)


def make_pruner(search: SearchConfig, max_epochs: int) -> optuna.pruners.BasePruner:
    """The pruner named in the space (:data:`automl.registry.PRUNERS`); none in a Pareto search:
    Optuna cannot prune those."""
    from automl.registry import PRUNERS

    warmup = max(max_epochs // 5, 1)
    return PRUNERS.create("none" if search.more_objectives else search.pruner, warmup, max_epochs)


def open_study(
    name: str,
    storage: optuna.storages.BaseStorage,
    storage_url: str,
    search: SearchConfig,
    max_epochs: int,
    space: Group | None = None,
    *,
    create: bool = True,
    seed: int | None = None,
) -> optuna.Study:
    """Load the study called ``name`` if the storage has it (resume or join), else create it.

    Args:
        storage: from :func:`open_storage`; ``storage_url`` only names it in messages.
        create: False for a worker, which joins a study and never starts one.
        seed: the sampler's seed, when it differs from the space's (each worker has its own).
    """
    sampler = make_sampler(search, space, seed)
    pruner = make_pruner(search, max_epochs)
    if not create:
        try:
            return optuna.load_study(
                study_name=name, storage=storage, sampler=sampler, pruner=pruner
            )
        except KeyError:
            raise UsageError(
                f"the storage {redact(storage_url)} has no study {name!r}; start "
                f"it with automl search, or check --study and --storage"
            ) from None
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        load_if_exists=True,
        directions=[StudyDirection[d.upper()] for d in search.directions],
        sampler=sampler,
        pruner=pruner,
    )
    found = [d.name.lower() for d in study.directions]
    if found != search.directions:
        raise UsageError(
            f"the study {name!r} in {redact(storage_url)} was created to "
            f"{' and '.join(found)} its objectives, the space now says "
            f"{' and '.join(search.directions)}; give the space another name "
            f"(name: in the file) or delete the run folder"
        )
    return study


# ---- who runs a trial ----------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerId:
    """A process on a host; ``started`` (clock ticks since boot) tells a reused pid apart."""

    host: str
    pid: int
    started: int

    @classmethod
    def this_process(cls) -> "WorkerId":
        return cls(this_host(), os.getpid(), _start_time(os.getpid()))

    @classmethod
    def of(cls, trial: FrozenTrial) -> "WorkerId | None":
        value = trial.user_attrs.get("worker")
        if not isinstance(value, dict):
            return None
        try:
            return cls(value["host"], int(value["pid"]), int(value["started"]))
        except (TypeError, KeyError, ValueError):
            return None

    def as_attr(self) -> dict:
        return {"host": self.host, "pid": self.pid, "started": self.started}

    def is_dead(self) -> bool:
        """True only when this host can prove the process is gone (never for other hosts)."""
        if self.host != this_host():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # someone else's live process
            return False
        return _start_time(self.pid) != self.started  # the pid now belongs to another process


def this_host() -> str:
    """The name this process gives its machine on its trials: ``AUTOML_HOST``, else the host
    name. Set it where machines (or containers with their own process ids) share a host name,
    so that a worker never judges another machine's process by a process id of its own."""
    return os.environ.get("AUTOML_HOST", "").strip() or socket.gethostname()


def _start_time(pid: int) -> int:
    """The process start time in clock ticks after boot (Linux); 0 where /proc is missing."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rpartition(")")[2].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


# ---- failing and retrying trials -----------------------------------------------------------


def fail_trial(
    study: optuna.Study,
    storage: optuna.storages.BaseStorage,
    trial: FrozenTrial,
    reason: str,
    max_retries: int | None,
) -> bool:
    """Mark a RUNNING trial failed with ``reason`` and queue a retry; False if it had ended.

    ``storage`` is the storage object the study was opened with (:func:`open_storage`): its API
    is public, unlike the study's own reference to it.
    """
    trial_id = storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name(study.study_name), trial.number
    )
    try:
        storage.set_trial_user_attr(trial_id, "fail_reason", reason)
        if not storage.set_trial_state_values(trial_id, TrialState.FAIL):
            return False
    except optuna.exceptions.UpdateFinishedTrialError:  # its worker or a heartbeat got there first
        return False
    retry_trial(study, storage.get_trial(trial_id), max_retries)
    return True


def retry_trial(study: optuna.Study, trial: FrozenTrial, max_retries: int | None) -> bool:
    """Queue ``trial``'s parameters again, as Optuna's retry callback does; False past the limit."""
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    if max_retries is not None and len(history) > max_retries:
        return False
    study.add_trial(
        optuna.create_trial(
            state=TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            user_attrs={
                **{k: v for k, v in trial.user_attrs.items() if k not in _NOT_INHERITED},
                "retry_of": history[0],
            },
            system_attrs={
                **trial.system_attrs,
                "failed_trial": history[0],
                "retry_history": history,
            },
        )
    )
    return True


def fail_dead_trials(
    study: optuna.Study,
    storage: optuna.storages.BaseStorage,
    max_retries: int | None,
    dead: WorkerId | None = None,
    why: str = "its process is gone",
) -> list[int]:
    """Fail and retry the RUNNING trials whose worker process is gone.

    Args:
        dead: a worker known to be dead (a coordinator knows its own children); without it,
            only trials of this host whose process no longer exists are touched, so a second
            search or worker joining a live study never fails another process's trials.
        why: how the worker died, for the reason on record.
    """
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = WorkerId.of(trial)
        if owner is None:
            continue
        if (dead is not None and owner == dead) or (dead is None and owner.is_dead()):
            if fail_trial(study, storage, trial, KILLED.format(why=why), max_retries):
                failed.append(trial.number)
    return failed


def retry_interrupted(study: optuna.Study, max_retries: int | None) -> list[int]:
    """Queue again the trials that Ctrl-C interrupted (each once), for a resumed search."""
    trials = study.get_trials(deepcopy=False)
    retried = retried_numbers(trials)
    return [
        t.number
        for t in trials
        if t.state == TrialState.FAIL
        and t.user_attrs.get("fail_reason") == INTERRUPTED
        and t.number not in retried
        and retry_trial(study, t, max_retries)
    ]


# ---- the budget ------------------------------------------------------------------------------


def retried_numbers(trials: list[FrozenTrial]) -> set[int]:
    """Trials that were retried: each retry's history ends with the trial it repeats."""
    return {
        t.system_attrs["retry_history"][-1] for t in trials if t.system_attrs.get("retry_history")
    }


def finished_trials(study: optuna.Study) -> int:
    """Trials that count against the budget: every ended trial except those retried, and those
    Ctrl-C interrupted (queued again as soon as their worker can, or at the next resume: until
    then they must not look like spent budget to the other workers)."""
    trials = study.get_trials(deepcopy=False)
    retried = retried_numbers(trials)
    return sum(
        1
        for t in trials
        if t.state.is_finished()
        and t.number not in retried
        and t.user_attrs.get("fail_reason") != INTERRUPTED
    )


def trials_to_start(study: optuna.Study, target: int) -> int:
    """How many more trials may start now: the budget less the finished and running ones (a
    retry waiting in the queue always may: it replaces a trial that does not count; an enqueued
    configuration is an ordinary trial, within the budget)."""
    trials = study.get_trials(deepcopy=False)
    waiting = sum(
        1 for t in trials if t.state == TrialState.WAITING and t.system_attrs.get("retry_history")
    )
    running = sum(1 for t in trials if t.state == TrialState.RUNNING)
    return max(target - finished_trials(study) - running, waiting, 0)


class StartLock:
    """Makes "is a trial left to start?" and starting it one step for every worker of a study.

    Without it, two workers can both see one trial left and both start one: a study of 6
    trials ends with 7. Held from the check until the new trial exists (``study.ask`` has
    committed it as RUNNING, so the next worker's check counts it): a PostgreSQL advisory lock
    (keyed by the study's name) for a database several machines share, an exclusive ``flock``
    on a file beside a SQLite database, nothing for other storages (one process).

    Example:
        >>> lock = StartLock(storage, "wine")
        >>> lock.acquire(); ...; lock.release()  # release is safe to call twice
    """

    def __init__(self, storage: Any, study_name: str) -> None:
        import zlib

        # the RDBStorage below tuner.patient's wrapper, or below Optuna's cache
        database = getattr(storage, "database", None) or getattr(storage, "_backend", storage)
        self.engine = getattr(database, "engine", None)
        self.outage = getattr(storage, "outage", None)  # waits out a lost connection
        self.key = zlib.crc32(f"automl:{study_name}".encode()) & 0x7FFFFFFF
        self.held: Any = None

    def acquire(self) -> None:
        if self.engine is None or self.held is not None:
            return
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy import text

            engine = self.engine

            def lock() -> Any:
                connection = engine.connect()
                try:
                    connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": self.key})
                except BaseException:
                    connection.close()
                    raise
                return connection

            self.held = lock() if self.outage is None else self.outage.retry(lock)
        elif self.engine.dialect.name == "sqlite" and self.engine.url.database:
            import fcntl

            handle = open(f"{self.engine.url.database}.start-lock", "a")  # noqa: SIM115
            fcntl.flock(handle, fcntl.LOCK_EX)
            self.held = handle

    def release(self) -> None:
        held, self.held = self.held, None
        if held is None:
            return
        if hasattr(held, "execute"):  # a database connection
            from sqlalchemy import text

            try:
                held.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                held.close()
            except Exception:  # the connection was lost, and the lock with it
                held.invalidate()
        else:
            import fcntl

            fcntl.flock(held, fcntl.LOCK_UN)
            held.close()


def fail_reason(trial: FrozenTrial) -> str:
    """Why a trial failed: its recorded reason, or lost with its worker (heartbeats)."""
    if trial.state != TrialState.FAIL:
        return ""
    return trial.user_attrs.get("fail_reason") or STALE


def consecutive_failures(study: optuna.Study, limit: int) -> str | None:
    """A message when the last ``limit`` trials to end all failed with errors (not divergence,
    not a killed worker): the space, the data or the code is broken for every configuration."""
    completed = [
        (t.datetime_complete, t)
        for t in study.get_trials(deepcopy=False)
        if t.state.is_finished() and t.datetime_complete is not None
    ]
    ended = [t for _, t in sorted(completed, key=lambda pair: pair[0])]
    last = [
        t
        for t in ended
        if not fail_reason(t).startswith(("diverged", "interrupted", "killed", "lost"))
    ][-limit:]
    if len(last) < limit or any(t.state != TrialState.FAIL for t in last):
        return None
    reasons = Counter(fail_reason(t) for t in last)
    common, count = reasons.most_common(1)[0]
    return (
        f"the last {limit} trials all failed, so the search stopped; "
        f"{'each' if count == limit else f'{count} of them'} failed with: {common}"
    )


def wait_for_running(
    study: optuna.Study,
    storage: optuna.storages.BaseStorage,
    max_retries: int | None,
    say=print,
    poll: float = 2.0,
) -> None:
    """Wait until no trial of the study runs (workers elsewhere may still be training).

    Trials whose worker died are failed meanwhile: on this machine by their process id, on
    others by their heartbeats (database storages).
    """
    import warnings

    announced = False
    while True:
        fail_dead_trials(study, storage, max_retries)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if not running:
            return
        if not announced:
            say(
                f"waiting for {len(running)} trial(s) that other workers are running "
                f"({', '.join(str(t.number) for t in running)})"
            )
            announced = True
        time.sleep(poll)

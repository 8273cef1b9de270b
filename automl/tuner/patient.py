"""Storage calls that wait out an outage of the study's database, and heartbeats that outlast it.

A worker on a shared database makes storage calls all through a trial: ``ask``, a report per
epoch, user attrs, ``tell``, a heartbeat every few seconds. Optuna gives up at the first failed
call: a database restart fails ``tell`` ("An exception is raised during the commit"), its
``_run_trial`` then ends with ``UnboundLocalError: updated_state`` (optuna/optuna#5280), and its
heartbeat thread stops at the first failed write, so another worker fails the trial as stale
while its own worker still trains it. Here:

* :class:`PatientStorage` wraps the database storage: every call that fails because the
  connection is lost is retried with backoff until it succeeds or the wait limit passes (then
  :class:`StorageUnavailable`, which is never recorded as a failed trial: the worker stops with
  one sentence, and its trial is retried as after a kill). Other errors pass through at once.
* ``tell`` is safe to repeat: a commit can succeed while its answer is lost, so a retry that
  finds the trial already finished re-reads it and accepts it when it holds what was told.
* :class:`Heartbeat` beats through an outage (a failed beat is retried at the next interval).

The limits are settings, read from the environment by :meth:`Patience.from_environment`:
``AUTOML_STORAGE_WAIT`` (default 10m), ``AUTOML_HEARTBEAT`` (10s) and ``AUTOML_GRACE`` (60s,
the silence after which another worker counts a trial as lost; keep it above the heartbeat and
above the outages you want survived). Short values make the fault tests fast.

Example:
    >>> storage = PatientStorage(optuna.storages.RDBStorage(url), Patience(), url)
    >>> study = optuna.load_study(study_name="s", storage=storage)  # calls now wait out outages
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from optuna.storages import BaseStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import TrialState

from automl import domains
from automl.errors import AutomlError, UsageError
from automl.urls import redact

SETTINGS = {  # environment variable -> (field, default seconds)
    "AUTOML_STORAGE_WAIT": ("wait", 600.0),
    "AUTOML_HEARTBEAT": ("heartbeat", 10.0),
    "AUTOML_GRACE": ("grace", 60.0),
}


class StorageUnavailable(AutomlError):
    """The study's database stayed unreachable past the wait limit; the worker stops."""


@dataclass(frozen=True)
class Patience:
    """How long a lost connection is waited out, and the heartbeat's timing (seconds).

    Args:
        wait: a storage call is retried for this long before the worker gives up.
        heartbeat: seconds between a running trial's heartbeats.
        grace: seconds without a heartbeat after which a trial counts as lost.
    """

    wait: float = 600.0
    heartbeat: float = 10.0
    grace: float = 60.0

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = os.environ) -> "Patience":
        """The settings from ``AUTOML_STORAGE_WAIT``, ``AUTOML_HEARTBEAT``, ``AUTOML_GRACE``."""
        values = {}
        for variable, (field, default) in SETTINGS.items():
            text = env.get(variable, "").strip()
            values[field] = _seconds(variable, text) if text else default
        patience = cls(**values)
        if patience.grace <= patience.heartbeat:
            raise UsageError(
                f"AUTOML_GRACE ({patience.grace:g}s) must be longer than AUTOML_HEARTBEAT "
                f"({patience.heartbeat:g}s), or every running trial looks lost; raise AUTOML_GRACE"
            )
        return patience


def _seconds(variable: str, text: str) -> float:
    match = re.fullmatch(domains.DURATION, text)
    if not match or float(match.group(1)) <= 0:
        raise UsageError(
            f"{variable} expects a duration like 90s, 10m or 1h; found {text!r}; fix or unset it"
        )
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def is_connection_error(error: BaseException) -> bool:
    """True when ``error`` (or what caused it) says the database connection is lost or refused,
    not that the request was wrong: those are worth waiting out."""
    import sqlalchemy.exc

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            (
                sqlalchemy.exc.OperationalError,
                sqlalchemy.exc.InterfaceError,
                sqlalchemy.exc.DisconnectionError,
            ),
        ):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        if type(current).__name__ in ("OperationalError", "InterfaceError") and (
            type(current).__module__.split(".")[0] in ("psycopg", "psycopg2", "sqlite3")
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


class Outage:
    """Waits out one lost connection: backoff between tries, one line when it starts and ends,
    :class:`StorageUnavailable` past the limit. Shared by every call of one storage, so an
    outage is announced once however many calls wait on it."""

    def __init__(self, url: str, wait: float, say: Callable[[str], None]) -> None:
        self.url, self.wait, self.say = redact(url), wait, say
        self.since: float | None = None
        self.lock = threading.Lock()

    def retry(self, call: Callable[[], Any], is_retry: Callable[[], None] | None = None) -> Any:
        tries = 0
        while True:
            try:
                result = call()
            except Exception as error:
                if not is_connection_error(error):
                    raise
                self._waiting(error)
                tries += 1
                time.sleep(min(0.25 * 2**tries, 5.0))
                if is_retry is not None:
                    is_retry()
                continue
            self._back()
            return result

    def _waiting(self, error: BaseException) -> None:
        now = time.monotonic()
        with self.lock:
            if self.since is None:
                self.since = now
                first = str(getattr(error, "orig", None) or error).strip().splitlines()
                self.say(
                    f"lost the connection to the Optuna storage {self.url} "
                    f"({redact(first[0]) if first else type(error).__name__}); "
                    f"waiting up to {self.wait:g}s for it to come back"
                )
            since = self.since
        if now - since > self.wait:
            raise StorageUnavailable(
                f"the Optuna storage {self.url} has been unreachable for {now - since:.0f}s "
                f"(AUTOML_STORAGE_WAIT is {self.wait:g}s), so this worker stops; its trial "
                f"is retried by another worker, or when this one is started again"
            ) from None

    def _back(self) -> None:
        if self.since is None:
            return
        with self.lock:
            since, self.since = self.since, None
        if since is not None:
            self.say(f"the Optuna storage {self.url} is back after {time.monotonic() - since:.0f}s")


def _stderr(line: str) -> None:
    print(line, file=sys.__stderr__, flush=True)


class PatientStorage(BaseStorage, BaseHeartbeat):
    """A database storage whose every call waits out a lost connection (see the module's
    docstring). ``inner`` is Optuna's storage (usually ``_CachedStorage(RDBStorage)``)."""

    def __init__(
        self,
        inner: BaseStorage,
        patience: Patience,
        url: str,
        say: Callable[[str], None] = _stderr,
    ) -> None:
        self.inner = inner
        self.patience = patience
        self.outage = Outage(url, patience.wait, say)

    @property
    def database(self) -> Any:
        """The RDBStorage below the caches (its ``engine`` takes the start lock)."""
        return getattr(self.inner, "_backend", self.inner)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.inner, name)
        return self.outage.retry(lambda: method(*args, **kwargs))

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Any = None) -> bool:
        """``tell``, safe to repeat: a retry that finds the trial finished accepts what it
        holds when that is what was told (the first commit landed, its answer was lost)."""
        import optuna

        retried = [False]

        def tell() -> bool:
            try:
                return self.inner.set_trial_state_values(trial_id, state, values)
            except optuna.exceptions.UpdateFinishedTrialError:
                if retried[0] and _holds(self.inner.get_trial(trial_id), state, values):
                    return True
                raise

        return self.outage.retry(tell, is_retry=lambda: retried.__setitem__(0, True))

    # -- the heartbeat: Optuna's own thread would stop at the first failed beat -----------------

    def record_heartbeat(self, trial_id: int) -> None:
        self._call("record_heartbeat", trial_id)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        return self._call("_get_stale_trial_ids", study_id)

    def get_heartbeat_interval(self) -> int | None:
        return self.inner.get_heartbeat_interval()  # type: ignore[attr-defined]

    def get_heartbeat_stale_trial_callback(self) -> Any:
        return self.inner.get_heartbeat_stale_trial_callback()  # type: ignore[attr-defined]

    def remove_session(self) -> None:
        self.inner.remove_session()

    def __getattr__(self, name: str) -> Any:  # anything not wrapped: the inner storage's own
        return getattr(self.__dict__["inner"], name)


def _holds(trial: Any, state: TrialState, values: Any) -> bool:
    if trial.state != state:
        return False
    if values is None:
        return True
    told = list(values)
    held = list(trial.values or [])
    return len(told) == len(held) and all(
        math.isclose(a, b, rel_tol=1e-9) or (math.isnan(a) and math.isnan(b))
        for a, b in zip(told, held)
    )


# every other storage call of Optuna's API: retried as it is (each is safe to repeat, or, for
# create_new_trial, a repeat after a lost answer at worst leaves one trial that never started)
_PASSED_ON = [
    name
    for name in sorted(BaseStorage.__abstractmethods__ | set(vars(BaseStorage)))
    if not name.startswith("_")
    and callable(getattr(BaseStorage, name))
    and name not in vars(PatientStorage)
]


def _passed_on(name: str) -> Callable[..., Any]:
    def method(self: PatientStorage, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"Optuna's ``{name}``, waiting out a lost connection."
    return method


for _name in _PASSED_ON:
    setattr(PatientStorage, _name, _passed_on(_name))
PatientStorage.__abstractmethods__ = frozenset()


class Heartbeat:
    """Beats for one running trial every ``interval`` seconds, in a thread, through outages: a
    beat that fails is tried again at the next interval (Optuna's thread would stop).

    Example:
        >>> with Heartbeat(storage, trial._trial_id):
        ...     objective(trial)
    """

    def __init__(self, storage: BaseStorage, trial_id: int) -> None:
        self.storage, self.trial_id = storage, trial_id
        interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
        self.interval = interval
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> "Heartbeat":
        if self.interval:
            self.thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _beat(self) -> None:
        inner = getattr(self.storage, "inner", self.storage)  # no waiting: the next beat retries
        while True:
            try:
                inner.record_heartbeat(self.trial_id)  # type: ignore[union-attr]
            except Exception:  # lost connection: the next interval tries again
                pass
            if self.stop.wait(timeout=self.interval):
                return

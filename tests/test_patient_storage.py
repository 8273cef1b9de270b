"""Storage calls that wait out a database outage (automl.tuner.patient), on a real PostgreSQL that
is stopped as an operator would stop it (``pg_ctl stop -m fast``) and started again."""

from __future__ import annotations

import threading
import time
import warnings

import optuna
import pytest
import sqlalchemy.exc
from optuna.trial import TrialState
from servers import postgres_bin, start_postgres

from automl.errors import UsageError
from automl.tuner.patient import (
    Heartbeat,
    Patience,
    PatientStorage,
    StorageUnavailable,
    is_connection_error,
)
from automl.tuner.study import StartLock, open_storage


@pytest.fixture(scope="module")
def postgres():
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed here (.ci/run installs it with apt-get)")
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture
def patient(postgres, monkeypatch, request):
    monkeypatch.setenv("AUTOML_STORAGE_WAIT", "60s")
    monkeypatch.setenv("AUTOML_HEARTBEAT", "1")
    monkeypatch.setenv("AUTOML_GRACE", "5s")
    name = request.node.name.replace("test_", "")[:40]
    postgres.create_database(name)
    lines: list[str] = []
    storage = open_storage(postgres.url(name), create=True)
    storage.outage.say = lines.append
    return storage, lines


def restart_after(postgres, seconds: float) -> threading.Thread:
    postgres.halt()

    def start() -> None:
        time.sleep(seconds)
        postgres.start()

    thread = threading.Thread(target=start)
    thread.start()
    return thread


def test_a_trial_reports_and_is_told_across_a_database_restart(postgres, patient):
    storage, lines = patient
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    trial = study.ask()
    trial.report(0.1, 0)
    lock = StartLock(storage, "s")
    restarting = restart_after(postgres, 4)
    started = time.monotonic()
    trial.report(0.2, 1)  # each of these waits until the database is back
    trial.set_user_attr("seen", True)
    lock.acquire()  # the advisory lock too
    lock.release()
    study.tell(trial, 0.5)
    waited = time.monotonic() - started
    restarting.join()
    frozen = study.get_trials()[0]
    assert frozen.state == TrialState.COMPLETE and frozen.value == 0.5
    assert frozen.intermediate_values == {0: 0.1, 1: 0.2}
    assert frozen.user_attrs["seen"] is True
    assert waited >= 3.5
    assert len(lines) == 2 and "lost the connection" in lines[0] and "is back" in lines[1]
    assert "Sw0rdf1sh" not in " ".join(lines)  # the password is never said
    assert study.ask().number == 1  # and the study goes on


def test_a_tell_whose_answer_was_lost_is_not_told_twice(postgres, patient):
    """The commit lands, the answer does not: the retry finds the trial finished, re-reads it,
    and accepts it because it holds what was told."""
    storage, _ = patient

    class AnswerLost:  # the real storage, whose first tell commits and then loses its answer
        def __init__(self, inner):
            self.inner, self.lost = inner, False

        def set_trial_state_values(self, trial_id, state, values=None):
            done = self.inner.set_trial_state_values(trial_id, state, values)
            if not self.lost:
                self.lost = True
                raise sqlalchemy.exc.OperationalError("COMMIT", {}, Exception("connection lost"))
            return done

        def __getattr__(self, name):
            return getattr(self.inner, name)

    flaky = PatientStorage(AnswerLost(storage.inner), Patience(), "postgresql://db")
    flaky.outage.say = lambda line: None
    study = optuna.create_study(study_name="t", storage=flaky)
    trial = study.ask()
    frozen = study.tell(trial, 0.25)
    assert frozen.state == TrialState.COMPLETE
    assert study.get_trials()[0].value == 0.25
    # a retry that finds a different outcome on record is an error, not a success
    other = study.ask()
    storage.set_trial_state_values(other._trial_id, TrialState.FAIL)
    flaky.inner.lost = False
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        flaky.set_trial_state_values(other._trial_id, TrialState.COMPLETE, [1.0])


def test_the_heartbeat_beats_on_after_an_outage(postgres, patient):
    """Optuna's heartbeat thread stops at its first failed beat, and the trial then looks lost
    to every other worker; ours beats on once the database is back."""
    storage, _ = patient
    study = optuna.create_study(study_name="w", storage=storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trial = study.ask()
    study_id = storage.get_study_id_from_name("w")
    with Heartbeat(storage, trial._trial_id):
        time.sleep(1.5)
        restart_after(postgres, 4).join()
        time.sleep(3)  # 7 s since the last beat before the outage: past the 5 s grace
        assert storage._get_stale_trial_ids(study_id) == []
    time.sleep(6)  # no heartbeat any more: now it is stale, as a killed worker's trial is
    assert storage._get_stale_trial_ids(study_id) == [trial._trial_id]


def test_past_the_wait_limit_the_call_stops_with_one_sentence(postgres, patient, monkeypatch):
    storage, lines = patient
    study = optuna.create_study(study_name="u", storage=storage)
    storage.outage.wait = 2.0
    postgres.halt()
    try:
        started = time.monotonic()
        with pytest.raises(StorageUnavailable) as stopped:
            study.ask()
        assert time.monotonic() - started < 20
    finally:
        postgres.start()
    message = str(stopped.value)
    assert "unreachable" in message and "AUTOML_STORAGE_WAIT" in message
    assert "retried" in message and "Sw0rdf1sh" not in message
    assert len(lines) == 1


def test_only_lost_connections_are_waited_out(patient):
    storage, _ = patient
    study = optuna.create_study(study_name="v", storage=storage)
    with pytest.raises(KeyError):  # a wrong request fails at once
        storage.get_study_id_from_name("no-such-study")
    assert not is_connection_error(ValueError("x"))
    wrapped = optuna.exceptions.StorageInternalError("commit failed")
    wrapped.__cause__ = sqlalchemy.exc.OperationalError("COMMIT", {}, Exception("shutting down"))
    assert is_connection_error(wrapped)
    assert study.study_name == "v"


def test_the_settings_are_checked(monkeypatch):
    monkeypatch.setenv("AUTOML_STORAGE_WAIT", "soon")
    with pytest.raises(UsageError, match="AUTOML_STORAGE_WAIT expects a duration"):
        Patience.from_environment()
    monkeypatch.setenv("AUTOML_STORAGE_WAIT", "2m")
    monkeypatch.setenv("AUTOML_HEARTBEAT", "30s")
    monkeypatch.setenv("AUTOML_GRACE", "10s")
    with pytest.raises(UsageError, match="AUTOML_GRACE"):
        Patience.from_environment()
    monkeypatch.setenv("AUTOML_GRACE", "1m")
    assert Patience.from_environment() == Patience(wait=120.0, heartbeat=30.0, grace=60.0)

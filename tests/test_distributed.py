"""Many workers, as on many machines: one study in a real PostgreSQL, one real ``mlflow server``.

``automl search --workers 2`` coordinates and a third worker joins with ``automl worker`` from
another folder (standing in for another machine); ``automl select`` then runs from a third
folder that holds no model file. Every trial number once, one MLflow child run per trial, one
winner, and the database password nowhere in what anyone sees.
"""

from __future__ import annotations

import signal
from collections import Counter
from dataclasses import replace

import optuna
import pytest
from fault_scenario import TRIALS, outcome_facts, shared_search_with_faults
from optuna.trial import TrialState
from servers import PASSWORD, postgres_bin, start_mlflow_server, start_postgres

from automl.tuner.study import fail_reason


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    if postgres_bin() is None:
        pytest.skip(
            "PostgreSQL is not installed here, and could not be (.ci/run installs it "
            "with apt-get as root)"
        )
    folder = tmp_path_factory.mktemp("servers")
    postgres = start_postgres()
    try:
        postgres.create_database("optuna")
        postgres.create_database("mlflow")
        server = start_mlflow_server(
            postgres.url("mlflow"), folder / "artifacts", folder / "mlflow.log"
        )
    except Exception:
        postgres.stop()
        raise
    yield postgres, server
    server.stop()
    postgres.stop()


# the fault settings, short (tests/test_patient_storage.py and benchmarks/faults.py go longer)
FAULTS = {"AUTOML_HEARTBEAT": "1", "AUTOML_GRACE": "5s", "AUTOML_STORAGE_WAIT": "3m"}
DATABASE_DOWN, TRACKING_DOWN = 6.0, 8.0  # seconds


@pytest.fixture(scope="module")
def distributed(servers, tmp_path_factory):
    """The shared search of tests/fault_scenario.py, with its three faults: a remote worker
    SIGKILLed mid-trial, PostgreSQL and the MLflow server stopped and started again."""
    postgres, server = servers
    root = tmp_path_factory.mktemp("dist")
    return shared_search_with_faults(postgres, server, root, FAULTS, DATABASE_DOWN, TRACKING_DOWN)


def test_three_workers_share_one_study_through_three_faults(distributed):
    assert distributed["search"].returncode == 0, distributed["search_out"]
    assert distributed["worker"].returncode == -signal.SIGKILL, distributed["worker_out"]
    study = optuna.load_study(study_name="dist", storage=distributed["storage"])
    trials = study.trials
    assert len({t.number for t in trials}) == len(trials)
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) == TRIALS
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    workers = Counter(t.user_attrs["worker"]["pid"] for t in trials)
    joined = distributed["worker"].pid  # `automl worker` trains in its own process
    assert workers[joined] >= 2, (workers, distributed["worker_out"])  # its share, and the kill
    assert len(workers) >= 2
    # the killed trial: failed as lost (its heartbeats stopped), retried once by another worker
    killed = trials[distributed["killed"]]
    assert killed.state == TrialState.FAIL and fail_reason(killed).startswith("lost")
    retries = [t for t in trials if t.system_attrs.get("retry_history") == [killed.number]]
    assert len(retries) == 1 and retries[0].state != TrialState.FAIL
    assert retries[0].params == killed.params
    assert retries[0].user_attrs["worker"]["pid"] != joined
    # nobody else was failed by the outages: the only failure is the killed trial
    assert [t.number for t in trials if t.state == TrialState.FAIL] == [killed.number]
    assert outcome_facts(distributed)["waited_on_storage"]  # the outage was met, and waited out


def test_one_child_run_per_trial_and_one_winner(distributed):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(distributed["server"].url)
    experiment = client.get_experiment_by_name("dist")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("automl.kind") == "study"]
    children = [r for r in runs if r.data.tags.get("automl.kind") == "trial"]
    study = optuna.load_study(study_name="dist", storage=distributed["storage"])
    assert len(parents) == 1
    assert sorted(int(c.data.tags["optuna.trial_number"]) for c in children) == sorted(
        t.number for t in study.trials
    )
    status = {int(c.data.tags["optuna.trial_number"]): c.info.status for c in children}
    assert status.pop(distributed["killed"]) == "KILLED"  # closed by the search at its end
    assert set(status.values()) == {"FINISHED"}
    # every epoch of every complete trial reached MLflow, the outage's among them
    for trial in study.trials:
        if trial.state == TrialState.COMPLETE:
            run = next(
                c for c in children if c.data.tags["optuna.trial_number"] == str(trial.number)
            )
            history = client.get_metric_history(run.info.run_id, "val_loss")
            assert len(history) == trial.user_attrs["epochs_run"], trial.number
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    champion = client.get_model_version_by_alias("dist", "champion")
    assert champion.run_id == parents[0].info.run_id


def test_select_runs_where_no_model_file_is(distributed):
    """The chooser's folder holds nothing: candidates come from the MLflow artifact store."""
    select = distributed["select"]
    assert select.returncode == 0, select.stdout + select.stderr
    assert "winner: trial" in select.stdout
    chooser = distributed["root"] / "chooser"
    assert list((chooser / "automl-runs" / "dist" / "candidates").rglob("*.keras"))
    assert (chooser / "automl-runs" / "dist" / "winner.keras").is_file()


def test_a_worker_gets_the_splits_from_mlflow_and_refuses_others(distributed):
    from automl.errors import DataError
    from automl.tuner.handoff import load_splits
    from automl.tuner.record import read_spec

    study = optuna.load_study(study_name="dist", storage=distributed["storage"])
    spec = read_spec(study)
    elsewhere = replace(spec, snapshot="/nonexistent/splits.npz")  # another machine's view
    cache = distributed["root"] / "cache"
    splits, where = load_splits(elsewhere, elsewhere.config(), distributed["server"].url, cache)
    assert where.startswith("the artifact runs:/") and len(splits.y_train) > 0
    tampered = replace(elsewhere, splits_sha256="0" * 64)
    with pytest.raises(DataError, match="is not the study's"):
        load_splits(tampered, tampered.config(), distributed["server"].url, cache)


def test_no_password_anywhere(distributed):
    from mlflow.tracking import MlflowClient

    seen = [
        distributed["search_out"],
        distributed["worker_out"],
        distributed["select"].stdout,
        distributed["select"].stderr,
    ]
    for path in distributed["root"].rglob("*"):
        if path.is_file() and path.suffix in {
            ".log",
            ".md",
            ".csv",
            ".html",
            ".json",
            ".txt",
            ".yaml",
        }:
            seen.append(path.read_text(errors="replace"))
    client = MlflowClient(distributed["server"].url)
    experiment = client.get_experiment_by_name("dist")
    for run in client.search_runs([experiment.experiment_id]):
        seen += [str(run.data.params), str(run.data.tags)]
    study = optuna.load_study(study_name="dist", storage=distributed["storage"])
    seen.append(str(study.user_attrs))
    assert all(PASSWORD not in text for text in seen)
    assert any("dist" in text for text in seen)  # the scan did read what was written

"""Many workers, as on many machines: one study in a real PostgreSQL, one real ``mlflow server``.

``automl search --workers 2`` coordinates and a third worker joins with ``automl worker`` from
another folder (standing in for another machine); ``automl select`` then runs from a third
folder that holds no model file. Every trial number once, one MLflow child run per trial, one
winner, and the database password nowhere in what anyone sees.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
from conftest import wait_until
from optuna.trial import TrialState
from servers import PASSWORD, postgres_bin, start_mlflow_server, start_postgres

from automl.tuner.study import fail_reason

ROOT = Path(__file__).resolve().parent.parent
IMPORT_PATH = os.pathsep.join([str(ROOT), str(ROOT / "tests")])  # automl, and the gated builder
TRIALS = 6
# the coordinator's workers wait at a gate (tests/gated_models.py) in their first trials until
# the worker from "another machine" runs one: on a busy 2-core machine its start (TensorFlow's
# import, the split snapshot's download) can outlast the coordinator's whole budget otherwise
SPACE = f"""
name: dist
data: {{source: mnist1d, subsample: {{train: 600, test: 200}}}}
model:
  architecture:
    choice: {{custom: {{builder: "gated_models:build", units: {{int: [8, 64], log: true}}}}}}
training: {{optimizer: {{choice: {{adam: {{learning_rate: {{float: [1.0e-3, 1.0e-2]}}}}}}}},
           batch_size: 32, epochs: 4}}
search: {{trials: {TRIALS}, seed: 5}}
select: {{top_k: 2}}
"""


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


def automl_command(*args: str, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "automl", *args],
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": IMPORT_PATH, **(env or {})},
    )


# the fault settings, short (tests/test_patient_storage.py and benchmarks/faults.py go longer)
FAULTS = {"AUTOML_HEARTBEAT": "1", "AUTOML_GRACE": "5s", "AUTOML_STORAGE_WAIT": "3m"}
DATABASE_DOWN, TRACKING_DOWN = 6.0, 8.0  # seconds


@pytest.fixture(scope="module")
def distributed(servers, tmp_path_factory):
    """One shared search with all three faults in it, in this order:

    1. the worker from "another machine" (``AUTOML_HOST`` of its own, so no process id of ours
       can tell it is dead: only its heartbeats) trains one trial, waits in its second, and is
       SIGKILLed there: that trial must be failed as lost and retried once, by any worker;
    2. PostgreSQL is stopped (``pg_ctl stop -m fast``) while the coordinator's workers are in
       their trials, and started again: everyone waits and goes on;
    3. the MLflow server is stopped at the same time, a little longer, and started again on the
       same port: metrics and runs are written when it is back.

    The coordinator's workers are let out of their gate as both go away, so their trials' epoch
    reports, metrics and ends all meet the outage.
    """
    postgres, server = servers
    root = tmp_path_factory.mktemp("dist")
    coordinator, remote, chooser = root / "coordinator", root / "remote", root / "chooser"
    for folder in (coordinator, remote, chooser):
        folder.mkdir()
    (coordinator / "dist.yaml").write_text(SPACE)
    storage = postgres.url("optuna")
    gate, remote_gate = root / "gate", root / "remote-gate"
    gate.touch()
    remote_gate.touch()  # never opened: the remote worker's second trial waits until killed
    search = automl_command(
        "search",
        "dist.yaml",
        "--workers",
        "2",
        "--storage",
        storage,
        "--tracking-uri",
        server.url,
        "--quiet",
        cwd=coordinator,
        env={"AUTOML_TEST_GATE": str(gate), **FAULTS},
    )

    def study() -> optuna.Study:
        return optuna.load_study(study_name="dist", storage=storage)

    wait_until("the study is there", lambda: "automl" in study().user_attrs, search)
    # connection strings from the environment: no password on the command line (ps)
    worker = automl_command(
        "worker",
        "--study",
        "dist",
        cwd=remote,
        env={
            "AUTOML_STORAGE": storage,
            "AUTOML_TRACKING_URI": server.url,
            "AUTOML_HOST": "another-machine",
            "AUTOML_TEST_GATE": str(remote_gate),
            "AUTOML_TEST_GATE_AFTER": "1",
            **FAULTS,
        },
    )

    def remote_trials(state: TrialState) -> list:
        return [
            t
            for t in study().get_trials(deepcopy=False)
            if t.state == state and t.user_attrs.get("worker", {}).get("pid") == worker.pid
        ]

    wait_until(
        "the joined worker ends one trial and starts its second",
        lambda: (
            remote_trials(TrialState.RUNNING)
            and (remote_trials(TrialState.COMPLETE) or remote_trials(TrialState.PRUNED))
        ),
        search,
        worker,
    )
    killed = remote_trials(TrialState.RUNNING)[0].number
    worker.kill()  # 1. SIGKILL, mid-trial
    worker_out = worker.communicate(timeout=60)[0]
    postgres.halt()  # 2. the database goes away while two trials run
    server.stop()  # 3. and the tracking server
    gate.unlink()  # the two trials train on: their reports and metrics must wait
    time.sleep(DATABASE_DOWN)
    postgres.start()
    time.sleep(TRACKING_DOWN - DATABASE_DOWN)
    server.restart()
    search_out = search.communicate(timeout=400)[0]
    select = subprocess.run(
        [
            sys.executable,
            "-m",
            "automl",
            "select",
            "--study",
            "dist",
            "--storage",
            storage,
            "--tracking-uri",
            server.url,
        ],
        cwd=chooser,
        text=True,
        capture_output=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": IMPORT_PATH},
    )
    return {
        "root": root,
        "storage": storage,
        "server": server,
        "search": search,
        "search_out": search_out,
        "worker": worker,
        "worker_out": worker_out,
        "killed": killed,
        "select": select,
    }


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
    assert "lost the connection to the Optuna storage" in distributed["search_out"] or any(
        "lost the connection" in log.read_text(errors="replace")
        for log in (distributed["root"] / "coordinator").rglob("*.log")
    )


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

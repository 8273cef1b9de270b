"""One shared search with its faults, for tests/test_distributed.py (short settings) and
benchmarks/faults.py (full length): PostgreSQL and an MLflow server as ``tests/servers.py``
starts them, ``automl search --workers 2`` and ``automl worker`` from another folder standing
in for another machine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
from conftest import wait_until
from optuna.trial import TrialState
from servers import MlflowServer, Postgres

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


def automl_command(*args: str, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "automl", *args],
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": IMPORT_PATH, **(env or {})},
    )


def shared_search_with_faults(
    postgres: Postgres,
    server: MlflowServer,
    root: Path,
    faults: dict[str, str],
    database_down: float,
    tracking_down: float,
) -> dict:
    """One shared search with all three faults in it, in this order:

    1. the worker from "another machine" (``AUTOML_HOST`` of its own, so no process id of ours
       can tell it is dead: only its heartbeats) trains one trial, waits in its second, and is
       SIGKILLed there: that trial must be failed as lost and retried once, by any worker;
    2. PostgreSQL is stopped (``pg_ctl stop -m fast``) while the coordinator's workers are in
       their trials, and started again: everyone waits and goes on;
    3. the MLflow server is stopped at the same time (``tracking_down`` against the
       database's ``database_down`` seconds), and started again on the
       same port: metrics and runs are written when it is back.

    The coordinator's workers are let out of their gate as both go away, so their trials' epoch
    reports, metrics and ends all meet the outage.

    Args:
        faults: the settings every process gets (``AUTOML_HEARTBEAT``, ``AUTOML_GRACE``,
            ``AUTOML_STORAGE_WAIT``).

    Returns:
        The processes, their outputs, the killed trial's number, the storage URL, the seconds.
    """
    coordinator, remote, chooser = root / "coordinator", root / "remote", root / "chooser"
    for folder in (coordinator, remote, chooser):
        folder.mkdir()
    (coordinator / "dist.yaml").write_text(SPACE)
    started = time.monotonic()
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
        env={"AUTOML_TEST_GATE": str(gate), **faults},
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
            **faults,
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
    time.sleep(database_down)
    postgres.start()
    time.sleep(max(tracking_down - database_down, 0))
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
        "seconds": time.monotonic() - started,
    }


def outcome_facts(outcome: dict) -> dict:
    """What the shared search left, as numbers to check and tabulate: trials, their states,
    the killed trial's fate, MLflow's child runs."""
    from collections import Counter

    from mlflow.tracking import MlflowClient

    from automl.tuner.study import fail_reason

    trials = optuna.load_study(study_name="dist", storage=outcome["storage"]).trials
    states = Counter(t.state.name for t in trials)
    killed = trials[outcome["killed"]]
    retries = [t for t in trials if t.system_attrs.get("retry_history") == [killed.number]]
    client = MlflowClient(outcome["server"].url)
    experiment = client.get_experiment_by_name("dist")
    children = [
        r
        for r in client.search_runs([experiment.experiment_id])
        if r.data.tags.get("automl.kind") == "trial"
    ]
    return {
        "seconds": round(outcome["seconds"], 1),
        "search_exit": outcome["search"].returncode,
        "trials": len(trials),
        "numbers_once": len({t.number for t in trials}) == len(trials),
        "complete_or_pruned": states["COMPLETE"] + states["PRUNED"],
        "failed": states["FAIL"],
        "left_running_or_waiting": states["RUNNING"] + states["WAITING"],
        "killed_reason": fail_reason(killed),
        "killed_retries": len(retries),
        "retry_state": retries[0].state.name if retries else None,
        "child_runs": len(children),
        "child_runs_per_trial": sorted(int(c.data.tags["optuna.trial_number"]) for c in children)
        == sorted(t.number for t in trials),
        "run_states": dict(Counter(c.info.status for c in children)),
        "waited_on_storage": "lost the connection to the Optuna storage" in outcome["search_out"]
        or any(
            "lost the connection" in log.read_text(errors="replace")
            for log in (outcome["root"] / "coordinator").rglob("*.log")
        ),
    }

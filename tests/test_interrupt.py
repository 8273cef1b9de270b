"""A killed search loses nothing: rerunning it keeps the finished trials, retries the killed one
and closes its orphaned MLflow run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna

import automl

ROOT = Path(__file__).resolve().parent.parent
SPACE = """
name: killed
data: {source: mnist1d, subsample: {train: 500, test: 200}}
model: {architecture: {choice: {mlp: {layers: 1, units: {int: [8, 32]}}}}}
training: {optimizer: adam, batch_size: 32, epochs: 4}
search: {trials: 3, seed: 2}
select: {top_k: 2}
"""


def trial_states(db: Path) -> list[str]:
    """Each trial's state, with "+epochs" once it has reported an epoch (it is training)."""
    if not db.exists():
        return []
    query = ("select t.state, count(v.trial_intermediate_value_id) from trials t left join "
             "trial_intermediate_values v on v.trial_id = t.trial_id group by t.trial_id "
             "order by t.number")
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return [state + ("+epochs" if n else "") for state, n in con.execute(query)]
    except sqlite3.OperationalError:  # tables not created yet
        return []


def test_killed_search_resumes_without_losing_trials(tmp_path):
    space = tmp_path / "killed.yaml"
    space.write_text(SPACE)
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "automl.cli", "search", str(space), "--quiet",
                             "--run-dir", str(runs), "--reports-dir", str(tmp_path / "reports")],
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline:  # kill it while its second trial trains
        states = trial_states(runs / "optuna.db")
        if states[:1] == ["COMPLETE+epochs"] and states[1:2] == ["RUNNING+epochs"]:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        raise AssertionError(f"the search never reached its second trial: {states}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert trial_states(runs / "optuna.db")[1] == "RUNNING+epochs"  # what a killed process leaves

    result = automl.search(space, run_dir=runs, reports_dir=None, progress=False)

    study = optuna.load_study(study_name="killed", storage=f"sqlite:///{runs / 'optuna.db'}")
    killed = study.trials[1]
    assert killed.state == optuna.trial.TrialState.FAIL
    assert killed.user_attrs["fail_reason"].startswith("interrupted")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 3  # the first trial kept, the killed one retried, one more
    assert complete[1].params == killed.params  # the retry ran the same configuration
    assert complete[0].number == 0

    from mlflow.tracking import MlflowClient

    client = MlflowClient(result.mlflow["tracking_uri"])
    runs_by_trial = {}
    for run in client.search_runs([result.mlflow["experiment_id"]],
                                  filter_string="tags.`automl.kind` = 'trial'"):
        runs_by_trial.setdefault(run.data.tags["optuna.trial_number"], []).append(run)
    orphan = runs_by_trial["1"][0]
    assert orphan.info.status == "KILLED" and "interrupted" in orphan.data.tags["automl.fail_reason"]
    assert all(r.info.status != "RUNNING" for rs in runs_by_trial.values() for r in rs)

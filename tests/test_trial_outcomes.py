"""Trials that do not complete: divergence fails the trial with its reason, pruning stops it,
and in both cases the study goes on."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from conftest import study_in, tiny_space

import automl
from automl.config import load_space


def test_diverging_trial_fails_with_its_reason_and_the_study_goes_on(tmp_path):
    space = tiny_space("diverge", trials=2)
    space["model"] = {"architecture": {"choice": {"mlp": {"layers": 1, "units": 16}}}}
    space["training"]["optimizer"] = {
        "choice": {"sgd": {"learning_rate": {"choice": [1e12, 0.01]}}}
    }
    space["training"]["schedule"] = "constant"
    # the diverging configuration first, then a sane one
    space["search"]["enqueue"] = [
        {"training.optimizer.sgd.learning_rate": 1e12},
        {"training.optimizer.sgd.learning_rate": 0.01},
    ]
    result = automl.search(
        space, workers=0, run_dir=tmp_path / "runs", reports_dir=None, progress=False
    )

    states = dict(zip(result.trials["number"], result.trials["state"]))
    assert states == {0: "FAIL", 1: "COMPLETE"}
    reason = result.trials.set_index("number").loc[0, "fail_reason"]
    assert reason.startswith("diverged: the training loss became nan")
    assert result.winner_trial == 1

    from mlflow.tracking import MlflowClient

    client = MlflowClient(result.mlflow["tracking_uri"])
    runs = client.search_runs(
        [result.mlflow["experiment_id"]], filter_string="tags.`optuna.state` = 'FAIL'"
    )
    assert len(runs) == 1 and runs[0].info.status == "FAILED"
    assert runs[0].data.tags["automl.fail_reason"] == reason


def test_pruned_trial_stops_early_and_is_recorded(tmp_path):
    from automl.data import load_source, make_splits
    from automl.tracking.store import default_tracking_uri
    from automl.tracking.tracker import Tracker
    from automl.tuner.objective import Objective

    space = tiny_space("prune", trials=1)
    space["training"]["epochs"] = 3
    cfg = load_space(space)
    splits = make_splits(load_source("mnist1d"), cfg.data)
    tracker = Tracker(default_tracking_uri(tmp_path), "prune", tmp_path / "artifacts")
    tracker.start_study("prune", None, {}, None, splits.manifest())
    # a pruner that prunes any accuracy below 1.1 after the first epoch: always prunes
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.ThresholdPruner(upper=2.0, lower=1.1)
    )
    study.optimize(Objective(cfg, splits, tracker, tmp_path / "candidates"), n_trials=1)

    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [0]  # stopped after its first epoch
    run = tracker.client.get_run(trial.user_attrs["mlflow_run_id"])
    assert run.data.tags["optuna.state"] == "PRUNED" and run.info.status == "FINISHED"
    assert not list((tmp_path / "candidates").glob("*.keras"))  # pruned models are not kept


# builds in the search's dry build (its first call), then runs out of memory in every trial (as
# a model that only just fits may, once several workers share a GPU); the trials run in the
# search's own process (workers: 0), so the module and its count live on between them
GREEDY_BUILDER = """
import keras
import tensorflow as tf

calls = []

def build(params, spec):
    calls.append(1)
    if len(calls) > 1:
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
    inputs = keras.Input(spec.shape)
    return keras.Model(inputs, keras.layers.Dense(spec.num_classes, activation="softmax")(inputs))
"""


def test_a_space_whose_trials_all_break_stops_with_one_error(tmp_path):
    import yaml

    space = tiny_space("broken", trials=5)
    space["model"] = {"architecture": {"choice": {"custom": {"builder": "greedy:build"}}}}
    space["search"]["max_consecutive_failures"] = 2
    (tmp_path / "greedy.py").write_text(GREEDY_BUILDER)  # beside the space file
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(space))
    with pytest.raises(
        automl.AutomlError,
        match="the last 2 trials all failed, so the search stopped; each failed "
        "with: out of memory while training",
    ):
        automl.search(
            tmp_path / "broken.yaml",
            workers=0,
            run_dir=tmp_path / "runs",
            reports_dir=None,
            progress=False,
        )
    # each failure: a one-line reason; the whole traceback apart, in the study and in MLflow
    from mlflow.tracking import MlflowClient

    study = study_in(tmp_path / "runs", "broken")
    failed = study.trials[0]
    assert (
        len(failed.user_attrs["fail_reason"]) <= 300
        and "\n" not in failed.user_attrs["fail_reason"]
    )
    assert failed.user_attrs["traceback"].startswith("Traceback (most recent call last)")
    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    artifact = client.download_artifacts(
        failed.user_attrs["mlflow_run_id"], "traceback.txt", str(tmp_path)
    )
    assert "ResourceExhaustedError" in Path(artifact).read_text()


# builds in the search's dry build (its first call); Ctrl-C lands while the first trial builds
CTRL_C_BUILDER = """
import keras

calls = []

def build(params, spec):
    calls.append(1)
    if len(calls) > 1:
        raise KeyboardInterrupt
    inputs = keras.Input(spec.shape)
    return keras.Model(inputs, keras.layers.Dense(spec.num_classes, activation="softmax")(inputs))
"""


def test_interrupted_before_any_trial_completed_says_how_to_go_on(tmp_path, capsys):
    """Nothing to choose a winner from: not "no trial completed ... look at the failed trials'
    reasons" (seen after `kill` on a search in its first minute), but the interruption itself,
    with the parent run ended as KILLED and the trial queued to run first on resume."""
    import yaml
    from mlflow.tracking import MlflowClient

    space = tiny_space("stopped", trials=3)
    space["model"] = {"architecture": {"choice": {"custom": {"builder": "ctrl_c:build"}}}}
    (tmp_path / "ctrl_c.py").write_text(CTRL_C_BUILDER)
    (tmp_path / "stopped.yaml").write_text(yaml.safe_dump(space))
    with pytest.raises(KeyboardInterrupt):
        automl.search(
            tmp_path / "stopped.yaml",
            workers=0,
            run_dir=tmp_path / "runs",
            reports_dir=None,
            progress=False,
        )
    assert (
        "interrupted before any trial completed, so there is no winner yet; the same search "
        "again resumes the study" in capsys.readouterr().out
    )
    study = study_in(tmp_path / "runs", "stopped")
    first, retry = study.trials
    assert first.state == optuna.trial.TrialState.FAIL
    assert first.user_attrs["fail_reason"].startswith("interrupted")
    assert retry.state == optuna.trial.TrialState.WAITING and retry.params == first.params
    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    parent = client.get_run(study.user_attrs["automl"]["parent_run_id"])
    assert parent.info.status == "KILLED"

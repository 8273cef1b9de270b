"""A small real search end to end: Optuna study, MLflow runs, test-set winner, export, resume."""

from __future__ import annotations

import json
import re

import numpy as np
import optuna
import pytest
from conftest import study_in, tiny_space

import automl

TRIALS = 3


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """The search these tests read; its workers take 2 trials each (the default is 10), so its
    3 trials show a worker process recycled."""
    import automl.tuner.pool as pool

    root = tmp_path_factory.mktemp("search")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pool, "TRIALS_PER_WORKER", 2)
        result = automl.search(
            tiny_space("tiny", trials=TRIALS),
            run_dir=root / "runs",
            reports_dir=root / "reports",
            progress=False,
        )
    return root, result


def mlflow_runs(result):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(result.mlflow["tracking_uri"])
    runs = client.search_runs([result.mlflow["experiment_id"]])
    parents = [r for r in runs if r.data.tags.get("automl.kind") == "study"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
    return client, parents, children


def test_study_holds_every_trial(searched):
    root, result = searched
    study = study_in(root / "runs", "tiny")
    assert len(study.trials) == TRIALS
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert len(result.trials) == TRIALS
    assert {"number", "state", "val_accuracy", "test_accuracy", "seconds"} <= set(result.trials)
    assert any(c.startswith("params_model.") for c in result.trials.columns)


def test_mlflow_has_one_parent_and_a_child_per_trial(searched):
    _, result = searched
    client, parents, children = mlflow_runs(result)
    assert len(parents) == 1 and len(children) == TRIALS
    parent = parents[0]
    assert parent.info.run_id == result.mlflow["parent_run_id"]
    assert all(c.data.tags["mlflow.parentRunId"] == parent.info.run_id for c in children)
    assert parent.data.params["search.sampler"] == "tpe"
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"data_manifest.json", "selection.json", "report"} <= artifacts
    # the description holds the leaderboard; child runs read at a glance in a list
    assert parent.data.tags["mlflow.note.content"].startswith(
        f"Winner: trial {result.winner_trial}"
    )
    assert "| trial | validation | test | gap |" in parent.data.tags["mlflow.note.content"]
    for child in children:
        assert re.fullmatch(r"trial-\d+ (cnn|mlp) val_accuracy=\d\.\d{4}", child.info.run_name)
        assert "model.architecture" in child.data.params
        assert child.data.tags["optuna.state"] == "COMPLETE"
        history = client.get_metric_history(child.info.run_id, "val_accuracy")
        assert [m.step for m in history] == list(range(int(child.data.metrics["epochs_run"])))
        assert len(client.get_metric_history(child.info.run_id, "loss")) == len(history)
        assert "learning_rate" in child.data.metrics and "rss_mb" in child.data.metrics


def test_winner_is_the_best_test_score_among_the_top_k(searched):
    _, result = searched
    _, parents, children = mlflow_runs(result)
    assert len(result.candidates) == 2  # select.top_k
    assert result.test_metrics["accuracy"] == pytest.approx(result.candidates["test"].max())
    assert list(result.candidates["role"]) == ["winner", ""]  # best test score first
    assert result.candidates["trial"][0] == result.winner_trial
    assert set(result.test_metrics) >= {"accuracy", "loss"}
    metrics = parents[0].data.metrics
    assert metrics["winner_test_accuracy"] == pytest.approx(result.test_metrics["accuracy"])
    assert metrics["winner_val"] == pytest.approx(result.val_metrics["val_accuracy"])
    for trial in result.candidates["trial"]:
        assert f"candidate_{trial}_gap" in metrics
    winner_run = [
        c for c in children if c.data.tags["optuna.trial_number"] == str(result.winner_trial)
    ]
    assert winner_run[0].data.metrics["test_accuracy"] == pytest.approx(
        result.test_metrics["accuracy"]
    )


def test_each_trial_records_its_validation_loss_at_its_best_epoch(searched):
    root, result = searched
    client, _, children = mlflow_runs(result)
    study = study_in(root / "runs", "tiny")

    def history(run, name):
        return [
            m.value
            for m in sorted(client.get_metric_history(run.info.run_id, name), key=lambda m: m.step)
        ]

    for child in children:
        trial = study.trials[int(child.data.tags["optuna.trial_number"])]
        accuracy, loss = history(child, "val_accuracy"), history(child, "val_loss")
        # the epoch whose weights early stopping kept: best accuracy, ties to the lower loss
        best = min(range(len(accuracy)), key=lambda i: (-accuracy[i], loss[i], i))
        assert trial.value == pytest.approx(accuracy[best], rel=1e-6)
        assert trial.user_attrs["val_loss"] == pytest.approx(loss[best], rel=1e-5)
    assert "val_loss" in result.trials


def test_ties_on_the_objective_go_to_the_lower_validation_loss():
    """Small validation splits tie (a dozen trials at accuracy 1.0): the top K, the candidate
    files and the leaderboard rank the tied trials by validation loss, then by number."""
    from automl.selection import top_trials

    study = optuna.create_study(direction="maximize")
    for value, loss in [(0.98, 0.01), (1.0, 0.30), (1.0, 0.05), (1.0, None), (1.0, 0.05)]:
        study.add_trial(
            optuna.trial.create_trial(
                value=value, user_attrs={} if loss is None else {"val_loss": loss}
            )
        )
    assert [t.number for t in top_trials(study, 5)] == [2, 4, 1, 3, 0]


def test_only_candidate_models_are_kept(searched):
    root, result = searched
    kept = sorted(p.name for p in (root / "runs" / "tiny" / "candidates").glob("*.keras"))
    assert kept == sorted(f"trial-{n}.keras" for n in result.candidates["trial"])


def test_exported_model_reloads_and_predicts_the_same(searched, tmp_path):
    import keras

    from automl.data import load_source

    _, result = searched
    written = result.export(tmp_path / "out", quiet=True)
    assert written["model"] == tmp_path / "out" / "model.keras"
    raw = load_source("mnist1d").x_test[:32]  # raw inputs, exactly as the source gives them
    reloaded = keras.saving.load_model(written["model"])
    np.testing.assert_allclose(
        reloaded.predict(raw, verbose=0), result.model.predict(raw, verbose=0), rtol=1e-6, atol=1e-6
    )
    assert json.loads(written["params"].read_text()) == result.best_params


def test_registered_champion_loads_from_mlflow(searched):
    import mlflow

    from automl.data import load_source

    _, result = searched
    mlflow.set_tracking_uri(result.mlflow["tracking_uri"])
    assert result.mlflow["alias_uri"] == "models:/tiny@champion"
    model = mlflow.keras.load_model(result.mlflow["alias_uri"])
    raw = load_source("mnist1d").x_test[:16]
    np.testing.assert_allclose(
        model.predict(raw, verbose=0), result.model.predict(raw, verbose=0), rtol=1e-6, atol=1e-6
    )


def test_report_is_written(searched):
    _, result = searched
    summary = (result.report_dir / "summary.md").read_text()
    assert f"**Trial {result.winner_trial}**" in summary and "automl ui" in summary
    assert len((result.report_dir / "trials.csv").read_text().strip().splitlines()) == TRIALS + 1
    assert (result.report_dir / "index.html").stat().st_size > 10_000


def test_trials_run_in_recycled_worker_processes(searched):
    """TensorFlow keeps memory per trained model, so batches of trials run in fresh processes."""
    import os

    _, result = searched
    pids = [int(w.split(":")[1]) for w in result.trials.sort_values("number")["worker"]]
    assert pids[0] == pids[1] and pids[2] != pids[0]
    assert os.getpid() not in pids


def test_rerunning_resumes_the_same_study(searched):
    root, first = searched
    study_before = study_in(root / "runs", "tiny")
    again = automl.search(
        tiny_space("tiny", trials=TRIALS),
        workers=0,
        run_dir=root / "runs",
        reports_dir=root / "reports",
        progress=False,
    )
    assert len(again.trials) == TRIALS  # budget reached: no new trials, same winner
    assert again.winner_trial == first.winner_trial
    more = automl.search(
        tiny_space("tiny", trials=TRIALS + 1),
        workers=0,
        run_dir=root / "runs",
        reports_dir=root / "reports",
        progress=False,
    )
    study = study_in(root / "runs", "tiny")
    assert study._study_id == study_before._study_id
    assert [t.number for t in study.trials] == list(range(TRIALS + 1))
    assert more.mlflow["parent_run_id"] == first.mlflow["parent_run_id"]
    _, parents, children = mlflow_runs(more)
    assert len(parents) == 1 and len(children) == TRIALS + 1

"""What the Tracker writes to MLflow, read back the way the UI reads it, against the embedded
store (SQLite) and a real ``mlflow server`` over HTTP alike: names, tags, per-epoch metrics
(logged asynchronously, all there once a trial ends), datasets, artifacts, the leaderboard."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from servers import start_mlflow_server

from automl.data.splits import Splits
from automl.errors import UsageError
from automl.tracking.store import (
    TRAINING_KIND,
    VIEW_TAG,
    default_tracking_uri,
    find_study,
    ui_command,
    ui_url,
)
from automl.tracking.tracker import Tracker
from automl.tracking.ui import start_ui


@dataclass
class Store:
    kind: str
    uri: str
    folder: Path


@pytest.fixture(scope="module", params=["sqlite", "http"])
def store(request, tmp_path_factory):
    """The embedded store, then the same through a real tracking server."""
    folder = tmp_path_factory.mktemp(f"store-{request.param}")
    if request.param == "sqlite":
        yield Store("sqlite", default_tracking_uri(folder), folder)
        return
    server = start_mlflow_server(
        f"sqlite:///{folder / 'server.db'}", folder / "served", folder / "server.log"
    )
    try:
        yield Store("http", server.url, folder)
    finally:
        server.stop()


def tiny_splits() -> Splits:
    rng = np.random.default_rng(0)

    def part(n: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.normal(size=(n, 8)).astype("float32"), np.arange(n) % 2

    (xt, yt), (xv, yv), (xs, ys) = part(40), part(12), part(10)
    return Splits(
        xt, yt, xv, yv, xs, ys, task="classification", modality="table", class_names=("no", "yes")
    )


EPOCHS = [
    {"accuracy": 0.5, "val_accuracy": np.float32(0.3), "loss": 0.9, "val_loss": 1.0},
    {"accuracy": 0.7, "val_accuracy": np.float32(0.6), "loss": 0.6, "val_loss": 0.8},
    {"accuracy": 0.8, "val_accuracy": np.float32(0.7), "loss": 0.4, "val_loss": 0.7},
]


@pytest.fixture(scope="module")
def study(store):
    """A study of three trials, one of each ending, the first one the winner."""
    splits = tiny_splits()
    tracker = Tracker(store.uri, f"glance-{store.kind}", store.folder / "artifacts")
    parent = tracker.start_study(
        "glance", None, {"search.objective": "val_accuracy"}, None, {"task": "classification"}
    )
    tracker.log_splits(parent, splits)
    runs = {}
    for number, branch in enumerate(["cnn", "mlp", "mlp"]):
        run_id = tracker.start_trial(
            number,
            {"model.architecture": branch},
            config={"model": {"architecture": {"name": branch}}},
            worker="node-7:4242",
            worker_host="node-7",
        )
        tracker.log_splits(run_id, splits, test=False)
        for epoch, metrics in enumerate(EPOCHS[: 3 - number]):
            tracker.log_metrics(run_id, metrics, step=epoch, wait=False)
        runs[number] = run_id
    tracker.end_trial(
        runs[0], "COMPLETE", metrics={"best_val_accuracy": 0.7}, outcome="val_accuracy=0.7000"
    )
    tracker.tag_trial(runs[1], pruned_at_epoch=2)
    tracker.end_trial(
        runs[1], "PRUNED", reason="pruned: below the median", outcome="pruned at epoch 2"
    )
    tracker.end_trial(
        runs[2], "FAIL", reason="diverged: the training loss became nan", outcome="failed"
    )
    table = [
        {"trial": 0, "val_score": 0.7, "test_score": 0.68, "gap": 0.02, "test": {"accuracy": 0.68}},
        {"trial": 1, "val_score": 0.6, "test_score": 0.55, "gap": 0.05, "test": {"accuracy": 0.55}},
    ]
    tracker.log_selection(table, table[0], runs)
    tracker.end_study()
    return tracker, parent, runs


def test_child_runs_read_at_a_glance(study):
    tracker, _, runs = study
    got = {n: tracker.client.get_run(run_id) for n, run_id in runs.items()}
    assert [got[n].info.run_name for n in range(3)] == [
        "trial-0 cnn val_accuracy=0.7000",
        "trial-1 mlp pruned at epoch 2",
        "trial-2 mlp failed",
    ]
    assert [got[n].info.status for n in range(3)] == ["FINISHED", "FINISHED", "FAILED"]
    assert [got[n].data.tags["optuna.state"] for n in range(3)] == ["COMPLETE", "PRUNED", "FAIL"]
    assert got[1].data.tags["automl.pruned_at_epoch"] == "2"
    assert got[2].data.tags["automl.fail_reason"] == "diverged: the training loss became nan"
    assert {got[n].data.tags["automl.worker_host"] for n in range(3)} == {"node-7"}


def test_per_epoch_metrics_are_all_there_when_a_trial_ends(study):
    tracker, _, runs = study
    history = tracker.client.get_metric_history(runs[0], "val_accuracy")
    assert sorted((m.step, m.value) for m in history) == [(0, 0.3), (1, 0.6), (2, 0.7)]
    assert len(tracker.client.get_metric_history(runs[1], "loss")) == 2
    assert tracker.client.get_run(runs[0]).data.metrics["best_val_accuracy"] == 0.7


def test_splits_fill_the_dataset_column(study):
    tracker, parent, runs = study

    def datasets(run_id: str) -> dict[str, tuple[str, str]]:
        inputs = tracker.client.get_run(run_id).inputs.dataset_inputs
        return {
            i.dataset.name: (
                i.dataset.digest,
                {t.key: t.value for t in i.tags}["mlflow.data.context"],
            )
            for i in inputs
        }

    on_parent, on_trial = datasets(parent), datasets(runs[0])
    assert {name: context for name, (_, context) in on_parent.items()} == {
        "train": "training",
        "validation": "validation",
        "test": "testing",
    }
    assert set(on_trial) == {"train", "validation"}  # a trial never sees the test split
    assert on_trial["train"] == on_parent["train"]  # the same data, the same digest
    profile = [
        i.dataset.profile
        for i in tracker.client.get_run(parent).inputs.dataset_inputs
        if i.dataset.name == "train"
    ][0]
    assert "40" in profile  # the row count, shown in the dataset's details


def test_config_learning_curves_and_leaderboard_are_on_the_runs(study, tmp_path):
    tracker, parent, runs = study
    config = tracker.client.download_artifacts(runs[0], "config.json", str(tmp_path))
    assert json.loads(Path(config).read_text()) == {"model": {"architecture": {"name": "cnn"}}}
    on_parent = {a.path for a in tracker.client.list_artifacts(parent)}
    assert {"learning_curves.png", "selection.json"} <= on_parent
    for number in (0, 1):  # the candidates
        assert "learning_curve.png" in {a.path for a in tracker.client.list_artifacts(runs[number])}
    curves = Path(tracker.client.download_artifacts(parent, "learning_curves.png", str(tmp_path)))
    assert curves.read_bytes()[:4] == b"\x89PNG"
    note = tracker.client.get_run(parent).data.tags["mlflow.note.content"]
    assert note.startswith("Winner: trial 0, test 0.6800") and "| 0 **winner** |" in note


def test_experiment_opens_as_model_training_with_the_trial_columns(study, store):
    tracker, _, _ = study
    experiment = tracker.client.get_experiment(tracker.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == TRAINING_KIND
    view = json.loads(experiment.tags[VIEW_TAG])
    columns = json.loads(view["state"])["selectedColumns"]
    assert {
        "metrics.`best_val_accuracy`",
        "metrics.`test_accuracy`",
        "params.`model.architecture`",
    } <= set(columns)
    if store.kind == "http":  # the server keeps the artifacts, reachable from any machine
        assert experiment.artifact_location.startswith("mlflow-artifacts:")


def test_find_study_picks_the_study_searched_last(study, store):
    first = f"glance-{store.kind}"
    later = f"later-{store.kind}"
    Tracker(store.uri, later).start_study(later, None, {}, None, {})
    assert find_study(store.uri, None).name == later
    assert find_study(store.uri, first).name == first
    with pytest.raises(
        UsageError,
        match=f"no study named 'third' in the MLflow store .*; studies there: {first}, {later}",
    ):
        find_study(store.uri, "third")


def test_ui_on_a_tracking_server_prints_the_study_address(study, store, run_cli):
    if store.kind != "http":
        pytest.skip("the embedded store's UI is started by automl ui: tests/test_mlflow_ui.py")
    tracker, _, _ = study
    code, out, err = run_cli("ui", "--tracking-uri", store.uri, "--study", "glance-http")
    assert code == 0, err
    assert out.strip() == f"study glance-http: {ui_url(store.uri, tracker.experiment_id)}"


def test_ui_command_names_the_run_folder_and_the_address(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert ui_command(default_tracking_uri(tmp_path / "automl-runs")) == "automl ui"
    assert ui_command(default_tracking_uri(tmp_path / "runs"), "3") == (
        "automl ui --run-dir runs\n  then open http://127.0.0.1:5000/#/experiments/3/runs"
        "?workflowType=machine_learning&viewStateShareKey=automl"
    )
    assert ui_command("http://mlflow:5000", "3") == ui_url("http://mlflow:5000", "3")
    assert ui_command("postgresql://u:secret@db/mlflow").startswith(
        "automl ui --tracking-uri postgresql://u:"
    )
    assert "secret" not in ui_command("postgresql://u:secret@db/mlflow")


def test_ui_refuses_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            UsageError, match=f"port {port} on 127.0.0.1 is in use; choose another with --port"
        ):
            start_ui(
                default_tracking_uri(tmp_path),
                "127.0.0.1",
                port,
                tmp_path / "a",
                tmp_path / "ui.log",
            )


def test_ui_without_a_store_says_what_to_do(run_cli, tmp_path):
    code, out, err = run_cli("ui", "--run-dir", str(tmp_path / "nothing"))
    assert code == 2 and out == ""
    assert err.strip() == (
        f"automl: error: no MLflow store in {tmp_path / 'nothing'}/ "
        f"(mlflow.db is missing); run automl search first, or pass "
        f"--run-dir or --tracking-uri"
    )

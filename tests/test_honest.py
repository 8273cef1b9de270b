"""Honest figures: a holdout no search or selection step sees, and simple baselines beside the
winner, on the same split."""

from __future__ import annotations

import numpy as np
import pytest

import automl
from automl.baselines import beats, fit_baselines, verdict
from automl.config import DataConfig
from automl.data import load_source, make_splits


def rows_of(x) -> set[bytes]:
    return {row.tobytes() for row in np.asarray(x).reshape(len(x), -1)}


def test_the_holdout_is_disjoint_from_every_other_split_and_fingerprinted():
    digits = load_source("digits")
    splits = make_splits(
        digits, DataConfig(source="digits", test=0.2, validation=0.1, holdout=0.1, seed=3)
    )
    parts = [splits.x_train, splits.x_val, splits.x_test, splits.x_holdout]
    assert sum(len(p) for p in parts) == len(digits.y_train)
    held = rows_of(splits.x_holdout)
    assert all(not (held & rows_of(p)) for p in parts[:3])
    assert abs(len(splits.y_holdout) - 0.1 * len(digits.y_train)) < 10
    manifest = splits.manifest()
    assert manifest["holdout_size"] == len(splits.y_holdout)
    assert len(manifest["holdout_sha256"]) == 64 and manifest["holdout_class_counts"]
    # the same config draws the same holdout; another seed another one
    again = make_splits(digits, DataConfig(source="digits", test=0.2, holdout=0.1, seed=3))
    assert again.manifest()["holdout_sha256"] == manifest["holdout_sha256"]
    other = make_splits(digits, DataConfig(source="digits", test=0.2, holdout=0.1, seed=4))
    assert other.manifest()["holdout_sha256"] != manifest["holdout_sha256"]


def test_baselines_score_the_same_split_for_both_tasks():
    digits = make_splits(load_source("digits"), DataConfig(source="digits", test=0.2))
    rows = {row["name"]: row["test"] for row in fit_baselines(digits)}
    assert rows["majority class"] < 0.2 < 0.9 < rows["logistic regression"]
    assert verdict(0.99, rows, "accuracy") is None
    level, sentence = verdict(0.5, rows, "accuracy")
    assert level == "warning" and "does not beat logistic regression (0." in sentence
    diabetes = make_splits(load_source("diabetes"), DataConfig(source="diabetes", test=0.2))
    rows = {row["name"]: row["test"] for row in fit_baselines(diabetes)}
    assert rows["linear regression"] < rows["mean"]  # MAE: lower is better
    assert verdict(1.0, rows, "mae") is None
    assert "does not beat linear regression" in verdict(1000.0, rows, "mae")[1]


def test_a_tie_does_not_beat_and_a_perfect_tie_is_no_reason_to_search_more():
    assert not beats(0.95, [0.95, 0.1], "accuracy") and not beats(2.0, [2.0, 3.0], "mae")
    assert beats(0.96, [0.95, 0.1], "accuracy") and beats(1.9, [2.0, 3.0], "mae")
    level, sentence = verdict(
        0.95, {"majority class": 0.1, "logistic regression": 0.95}, "accuracy", "holdout"
    )
    assert level == "warning" and sentence == (
        "the winner (accuracy 0.9500) does not beat logistic regression (0.9500) on the holdout "
        "split; widen the space, train longer, or use logistic regression"
    )
    # wine's 36 test rows: both perfect. Nothing can beat 1.0, so no advice to search more
    level, sentence = verdict(1.0, {"majority class": 0.39, "logistic regression": 1.0}, "accuracy")
    assert level == "note" and "widen" not in sentence
    assert sentence.startswith(
        "logistic regression also scores a perfect accuracy of 1.0000 on the test split"
    )
    assert verdict(0.0, {"mean": 3.0, "linear regression": 0.0}, "mae")[0] == "note"


def test_the_warning_says_by_how_much_the_baseline_is_better():
    rows = {"majority class": 0.1, "logistic regression": 0.953}
    assert (
        "does not beat logistic regression (0.9530, 0.0130 better) on the test split"
        in (verdict(0.94, rows, "accuracy")[1])
    )
    mae = {"mean": 3034.26, "linear regression": 739.36}
    assert "(739.3600, 60.6400 better)" in verdict(800.0, mae, "mae")[1]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    root = tmp_path_factory.mktemp("honest")
    space = {
        "name": "honest",
        "data": {"source": "digits", "split": {"test": 0.2, "holdout": 0.1}},
        "model": {"architecture": {"choice": {"mlp": {"layers": 1, "units": 32}}}},
        "training": {"epochs": 1, "batch_size": 64},
        "search": {"trials": 1},
        "select": {"top_k": 1},
    }
    result = automl.search(
        space, workers=0, run_dir=root / "runs", reports_dir=None, progress=False
    )
    return root, result


def test_a_search_scores_its_winner_once_on_the_holdout(searched):
    root, result = searched
    assert 0.0 <= result.holdout_metrics["accuracy"] <= 1.0
    assert {row["name"] for row in result.baselines} == {"majority class", "logistic regression"}
    assert all(row["holdout"] is not None for row in result.baselines)
    # on the parent run, beside the test figures
    from mlflow.tracking import MlflowClient

    client = MlflowClient(result.mlflow["tracking_uri"])
    metrics = client.get_run(result.mlflow["parent_run_id"]).data.metrics
    assert metrics["holdout_accuracy"] == pytest.approx(result.holdout_metrics["accuracy"])
    assert metrics["baseline_holdout_logistic_regression_accuracy"] == pytest.approx(
        next(row["holdout"] for row in result.baselines if row["name"] == "logistic regression")
    )
    # the report says which figure to quote, beside the baselines
    from automl.report.collect import collect
    from automl.report.page import generalization_html
    from automl.tuner.load import open_recorded_study

    study, _ = open_recorded_study("honest", run_dir=root / "runs")
    html = generalization_html(
        collect(study, result.config, result.mlflow["tracking_uri"], result.mlflow["parent_run_id"])
    )
    assert "on the holdout split" in html and "logistic regression" in html
    # automl.load reads the same figures back
    loaded = automl.load("honest", run_dir=root / "runs")
    assert loaded.holdout_metrics == result.holdout_metrics
    assert loaded.baselines == result.baselines
    # and a notebook shows them in a few lines, as the command line ends a search
    text = repr(loaded)
    assert text.startswith(
        "<SearchResult 'honest'>\nstudy: honest, 1 trial (1 complete)\n"
        "winner: trial 0, val_accuracy "
    )
    assert f"estimate: holdout accuracy {result.holdout_metrics['accuracy']:.4f} (" in text
    assert "baselines on the holdout split (accuracy): majority class 0." in text
    assert "optimistic" not in text  # the holdout is the figure to quote, not the test score
    assert len(text.splitlines()) <= 8 and text.endswith("registered as models:/honest@champion")


def test_a_float32_rounding_of_the_same_score_is_a_tie():
    # Keras' accuracy on 69 examples in float32, scikit-learn's in float64: the same 68 right
    assert not beats(float(np.float32(68 / 69)), [68 / 69], "accuracy")
    assert verdict(float(np.float32(68 / 69)), {"logistic regression": 68 / 69}, "accuracy")

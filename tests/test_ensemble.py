"""``select: {ensemble: true}``: the winner is the average of the top-K models' predictions.

One real search (three trials); the winner must be exactly the mean of its members' saved models,
its test score must be that mean's score on the test split, and it must survive what a single
winner does: reloading with ``automl.load``, the report, and every export format.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import automl
from automl.config import load_space
from automl.errors import ConfigError
from automl.export import FORMATS
from conftest import tiny_space

ATOL = 1e-5  # float32 graphs, reordered by each converter


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    root = tmp_path_factory.mktemp("ensemble")
    space = tiny_space("ens", trials=3, select__top_k=3, select__ensemble=True)
    space["training"]["epochs"] = 1
    result = automl.search(space, workers=0, run_dir=root / "runs", reports_dir=root / "reports",
                           progress=False)
    return result, root


def test_the_winner_is_the_mean_of_the_top_trials_by_validation(searched):
    import keras

    from automl.data import load_source, make_splits

    result, root = searched
    ranked = result.candidates.sort_values("val", ascending=False, kind="stable")
    assert len(result.winner_members) == 3
    assert result.winner_members == list(ranked["trial"])
    assert result.winner_trial == result.winner_members[0]

    splits = make_splits(load_source("mnist1d"), result.config.data)
    folder = root / "runs" / "ens" / "candidates"
    members = [keras.saving.load_model(folder / f"trial-{n}.keras") for n in result.winner_members]
    mean = np.mean([m.predict(splits.x_test, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(result.model.predict(splits.x_test, verbose=0), mean, atol=ATOL)
    accuracy = float(np.mean(mean.argmax(axis=1) == splits.y_test))
    assert result.test_metrics["accuracy"] == pytest.approx(accuracy, abs=1e-6)


def test_load_and_the_report_name_the_ensemble(searched):
    result, root = searched
    loaded = automl.load("ens", run_dir=root / "runs")
    assert loaded.winner_members == result.winner_members
    assert loaded.test_metrics == pytest.approx(result.test_metrics)
    members = ", ".join(map(str, result.winner_members))
    summary = (result.report_dir / "summary.md").read_text()
    assert f"The average of trials **{members}**" in summary
    page = (result.report_dir / "index.html").read_text()
    assert f"average of trials {members}" in page
    assert "its test score is a fair estimate" in page
    assert "biased upward" not in page


def test_the_ensemble_exports_to_every_format(searched, tmp_path):
    import tensorflow as tf

    from test_export import assert_tflite_and_onnx_predict, signals

    result, _ = searched
    written = result.export(tmp_path / "out", format=FORMATS, quiet=True)
    metrics = json.loads(written["metrics"].read_text())
    assert metrics["ensemble_of_trials"] == result.winner_members
    x = signals()
    expected = result.model.predict(x, verbose=0)
    saved = tf.saved_model.load(str(written["savedmodel"]))
    np.testing.assert_allclose(saved.serve(tf.constant(x)).numpy(), expected, atol=ATOL)
    assert_tflite_and_onnx_predict(tmp_path / "out", x, expected, tmp_path)


def test_ensemble_must_be_true_or_false():
    space = tiny_space("ens", select__ensemble="yes")
    with pytest.raises(ConfigError, match=r"select\.ensemble.*must be true or false"):
        load_space(space)

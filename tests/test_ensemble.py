"""``select: {ensemble: true}``: the winner is the average of top-K models' predictions.

One real search of three trials on scikit-learn's digits: two small MLPs that learn (the same
configuration, two seeds) and a third broken on purpose (SGD at a learning rate of 1e-6 learns
nothing in three epochs). The winner must be exactly the mean of the two that learn, chosen on
validation: the broken one raises the average's validation loss by far more than the 10% that
leaving a member out takes, and each of the other two lowers it; its test
score must be that mean's score on the test split, and it must survive what a single winner does:
reloading with ``automl.load``, the report, and every export format.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import tiny_space

import automl
from automl.config import load_space
from automl.errors import ConfigError
from automl.export import FORMATS
from automl.result import winner_name
from automl.selection import CLEAR_GAIN, choose_members, validation_loss

ATOL = 1e-5  # float32 graphs, reordered by each converter
BROKEN = 2  # the third trial, enqueued with a learning rate that learns nothing


def digits_splits(result):
    from automl.data import load_source, make_splits

    return make_splits(load_source("digits"), result.config.data)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    root = tmp_path_factory.mktemp("ensemble")
    adam = {"training.optimizer": "adam"}
    space = {
        "name": "ens",
        "data": {"source": "digits", "split": {"validation": 0.15, "test": 0.2}},
        "model": {"architecture": {"choice": {"mlp": {"layers": 1, "units": 64}}}},
        "training": {
            "optimizer": {
                "choice": {
                    "adam": {"learning_rate": 1e-2},
                    "sgd": {"learning_rate": {"float": [1e-6, 0.05], "log": True}, "momentum": 0.9},
                }
            },
            "batch_size": 64,
            "epochs": 3,
        },
        "search": {
            "trials": 3,
            "seed": 1,
            "enqueue": [
                adam,
                adam,
                {"training.optimizer": "sgd", "training.optimizer.sgd.learning_rate": 1e-6},
            ],
        },
        "select": {"top_k": 3, "ensemble": True},
    }
    result = automl.search(
        space, workers=0, run_dir=root / "runs", reports_dir=root / "reports", progress=False
    )
    return result, root


def test_the_winner_averages_the_trials_that_do_not_clearly_hurt(searched):
    import keras

    result, root = searched
    ranked = list(result.candidates.sort_values("val", ascending=False, kind="stable")["trial"])
    assert ranked[-1] == BROKEN, "the broken trial should score last on validation"
    assert result.winner_members == [n for n in ranked if n != BROKEN]
    assert result.winner_trial == result.winner_members[0] == ranked[0]
    roles = dict(zip(result.candidates["trial"], result.candidates["role"]))
    assert roles == {n: "member" if n != BROKEN else "" for n in ranked}

    splits = digits_splits(result)
    folder = root / "runs" / "ens" / "candidates"
    with warnings.catch_warnings():  # the saved files load as a user loads them: silently
        warnings.simplefilter("error")
        models = {n: keras.saving.load_model(folder / f"trial-{n}.keras") for n in ranked}
        keras.saving.load_model(folder / "ensemble.keras")

    def val_loss(trials):
        mean = np.mean([models[n].predict(splits.x_val, verbose=0) for n in trials], axis=0)
        labels = keras.utils.to_categorical(splits.y_val, 10)
        return float(np.mean(keras.losses.categorical_crossentropy(labels, mean)))

    members = result.winner_members
    for member in members:  # leaving any one out would not lower the loss by 10%
        assert val_loss([n for n in members if n != member]) > (1 - CLEAR_GAIN) * val_loss(members)
    # leaving the broken trial out did
    assert val_loss(members) <= (1 - CLEAR_GAIN) * val_loss(members + [BROKEN])

    mean = np.mean([models[n].predict(splits.x_test, verbose=0) for n in members], axis=0)
    np.testing.assert_allclose(result.model.predict(splits.x_test, verbose=0), mean, atol=ATOL)
    accuracy = float(np.mean(mean.argmax(axis=1) == splits.y_test))
    assert result.test_metrics["accuracy"] == pytest.approx(accuracy, abs=1e-6)


def test_when_averaging_does_not_help_one_trial_wins_alone(searched, tmp_path):
    """A study whose top 2 are the search's best trial and its broken one: the broken one would
    raise the validation loss, so the best trial is the winner, as itself, chosen on validation."""
    import shutil

    import optuna

    from automl.selection import select_winner

    result, root = searched
    folder = root / "runs" / "ens" / "candidates"
    for number, source in enumerate([result.winner_trial, BROKEN]):
        shutil.copy(folder / f"trial-{source}.keras", tmp_path / f"trial-{number}.keras")
    study = optuna.create_study(direction="maximize")
    for value in (0.9, 0.1):
        study.add_trial(optuna.trial.create_trial(value=value))
    splits = digits_splits(result)

    chosen = select_winner(study, splits, tmp_path, top_k=2, test_metric="accuracy", ensemble=True)
    assert chosen.winner["members"] == [0]
    assert chosen.model_path == tmp_path / "trial-0.keras"
    assert chosen.winner["test_score"] == chosen.candidates[0]["test_score"]
    assert not (tmp_path / "ensemble.keras").exists()


def test_complete_trials_whose_files_are_gone_say_so(searched, tmp_path):
    """A study folder removed by hand while the study stays in the storage: the trials did
    complete, so the error says where their files were, not that none completed."""
    import optuna

    from automl.selection import select_winner

    result, _ = searched
    study = optuna.create_study(direction="maximize")
    for value in (0.9, 0.8):
        study.add_trial(optuna.trial.create_trial(value=value))
    with pytest.raises(automl.AutomlError) as raised:
        select_winner(
            study,
            digits_splits(result),
            tmp_path / "gone",
            top_k=2,
            test_metric="accuracy",
            ensemble=True,
        )
    assert str(raised.value) == (
        f"the best complete trials (0, 1) have no model file in {tmp_path / 'gone'} (removed by "
        f"hand?), so there is no winner; search with another --run-dir (or study name) to train "
        f"new ones"
    )


def test_only_members_that_clearly_hurt_on_validation_are_left_out():
    y = np.array([0, 1, 1, 0])
    a = np.array([[0.9, 0.1], [0.1, 0.9], [0.55, 0.45], [0.9, 0.1]])  # unsure on the third, wrong
    b = np.array([[0.45, 0.55], [0.1, 0.9], [0.1, 0.9], [0.9, 0.1]])  # unsure on the first, wrong
    weaker = np.array([[0.8, 0.2], [0.2, 0.8], [0.45, 0.55], [0.8, 0.2]])
    wrong = np.array(
        [[0.1, 0.9], [0.9, 0.1], [0.8, 0.2], [0.2, 0.8]]
    )  # confidently wrong everywhere
    assert choose_members([a, b], y, "classification") == [0, 1]  # the average beats each
    assert choose_members([a, b, wrong], y, "classification") == [0, 1]
    assert choose_members([wrong, a, b], y, "classification") == [1, 2]  # even if listed first
    assert choose_members([a, wrong], y, "classification") == [0]  # one alone

    # without the weaker one the loss is 6% lower: noise, not harm, so it stays
    alone, both = (
        validation_loss(a, y, "classification"),
        validation_loss((a + weaker) / 2, y, "classification"),
    )
    assert (1 - CLEAR_GAIN) * both < alone < both
    assert choose_members([a, weaker], y, "classification") == [0, 1]

    target = np.array([1.0, 2.0, 3.0])
    low, high = target[:, None] - 0.5, target[:, None] + 0.5  # their mean is exact
    far = target[:, None] + 10.0
    assert choose_members([low, far, high], target, "regression") == [0, 2]


def test_the_winner_is_named_by_how_it_was_chosen():
    assert winner_name(7, []) == "trial 7"
    assert winner_name(7, [7, 3, 12]) == "the average of trials 7, 3, 12"
    assert winner_name(7, [7]) == "trial 7, chosen on validation"


def test_load_and_the_report_name_the_ensemble(searched):
    result, root = searched
    loaded = automl.load("ens", run_dir=root / "runs")
    assert loaded.winner_members == result.winner_members
    assert loaded.test_metrics == pytest.approx(result.test_metrics)
    members = ", ".join(map(str, result.winner_members))
    summary = (result.report_dir / "summary.md").read_text()
    assert f"**The average of trials {members}**" in summary
    page = (result.report_dir / "index.html").read_text()
    assert f"average of trials {members}" in page
    assert "its test score is a fair estimate" in page
    assert "biased upward" not in page


def test_the_ensemble_exports_to_every_format(searched, tmp_path):
    import tensorflow as tf
    from test_export import assert_tflite_and_onnx_predict

    result, _ = searched
    written = result.export(tmp_path / "out", format=FORMATS, quiet=True)
    metrics = json.loads(written["metrics"].read_text())
    assert metrics["ensemble_of_trials"] == result.winner_members
    x = digits_splits(result).x_test[:32]
    expected = result.model.predict(x, verbose=0)
    saved = tf.saved_model.load(str(written["savedmodel"]))
    np.testing.assert_allclose(saved.serve(tf.constant(x)).numpy(), expected, atol=ATOL)
    assert_tflite_and_onnx_predict(tmp_path / "out", x, expected, tmp_path)


def test_ensemble_must_be_true_or_false():
    space = tiny_space("ens", select__ensemble="yes")
    with pytest.raises(ConfigError, match=r"select\.ensemble.*must be true or false"):
        load_space(space)

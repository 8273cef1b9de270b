"""KerasTuner users welcome: ``build_model(hp)`` and ``HyperModel`` code run under automl.

The hypermodels below are written the way KerasTuner's documentation writes them (the getting
started guide's ``build_model`` with a ``num_layers`` loop, a ``conditional_scope`` model
selection, a ``HyperModel`` whose ``fit`` tunes the batch size and shuffling), and run unchanged:
with KerasTuner installed they subclass ``kt.HyperModel`` and use ``kt.Objective``; without it,
automl's stand-ins. The ``hp`` they receive is always automl's, backed by an Optuna trial.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import FixedTrial, TrialState

from automl.errors import DataError, UsageError
from automl.hypermodel import HP_VALUES_ATTR, HyperParameters, objective_of, prepare_data
from automl.tuner.record import project_config

try:  # a KerasTuner user's import; automl's stand-ins where KerasTuner is not installed
    import keras_tuner as kt
except ImportError:  # pragma: no cover - depends on the environment
    from automl import hypermodel as kt

optuna.logging.set_verbosity(optuna.logging.WARNING)

GETTING_STARTED_NAMES = {
    "num_layers",
    "units_0",
    "units_1",
    "units_2",
    "activation",
    "dropout",
    "lr",
}


# ---- hypermodels in KerasTuner's documented form -------------------------------------------


def build_model(hp):
    from tensorflow import keras
    from tensorflow.keras import layers

    model = keras.Sequential()
    model.add(layers.Flatten())
    # Tune the number of layers.
    for i in range(hp.Int("num_layers", 1, 3)):
        model.add(
            layers.Dense(
                # Tune number of units separately.
                units=hp.Int(f"units_{i}", min_value=32, max_value=512, step=32),
                activation=hp.Choice("activation", ["relu", "tanh"]),
            )
        )
    if hp.Boolean("dropout"):
        model.add(layers.Dropout(rate=0.25))
    model.add(layers.Dense(10, activation="softmax"))
    learning_rate = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class MyHyperModel(kt.HyperModel):
    def build(self, hp):
        from tensorflow import keras
        from tensorflow.keras import layers

        model = keras.Sequential()
        model.add(layers.Flatten())
        model.add(
            layers.Dense(
                units=hp.Int("units", min_value=32, max_value=512, step=32),
                activation="relu",
            )
        )
        model.add(layers.Dense(10, activation="softmax"))
        model.compile(
            optimizer="adam",
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(
            *args,
            # Tune the batch size and whether to shuffle the data in each epoch.
            batch_size=hp.Choice("batch_size", [16, 32]),
            shuffle=hp.Boolean("shuffle"),
            **kwargs,
        )


def build_selected_model(hp):
    """Model selection with ``conditional_scope`` (KerasTuner's docstring pattern, on signals)."""
    from tensorflow import keras
    from tensorflow.keras import layers

    model = keras.Sequential()
    model.add(keras.Input(shape=(40,)))
    model_type = hp.Choice("model_type", ["mlp", "cnn"])
    with hp.conditional_scope("model_type", ["mlp"]):
        if model_type == "mlp":
            model.add(layers.Dense(hp.Int("units", 16, 64, step=16), activation="relu"))
    with hp.conditional_scope("model_type", ["cnn"]):
        if model_type == "cnn":
            model.add(layers.Reshape((40, 1)))
            model.add(layers.Conv1D(hp.Int("filters", 8, 32, step=8), 3, activation="relu"))
            model.add(layers.GlobalAveragePooling1D())
    model.add(layers.Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# ---- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist1d():
    """300 training and 200 test MNIST-1D signals, class labels 0-9."""
    from automl.data import load_source

    arrays = load_source("mnist1d")
    return arrays.x_train[:300], arrays.y_train[:300], arrays.x_test[:200], arrays.y_test[:200]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """One directory for every search here: one MLflow store, several projects."""
    return tmp_path_factory.mktemp("hypermodel-runs")


def one_hot(y: np.ndarray) -> np.ndarray:
    return np.eye(10, dtype="float32")[y]


def study_of(runs: Path, project: str) -> optuna.Study:
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(runs / project / "optuna.journal")))
    return optuna.load_study(study_name=project, storage=storage)


def child_runs(result) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(result.mlflow["tracking_uri"])
    return client.search_runs(
        [result.mlflow["experiment_id"]],
        filter_string=f"tags.`mlflow.parentRunId` = '{result.mlflow['parent_run_id']}'",
    )


# ---- the hp shim, against Optuna trials (fast) ----------------------------------------------


def test_defaults_without_a_trial_are_kerastuners():
    hp = HyperParameters()
    assert hp.Int("units", min_value=32, max_value=512, step=32) == 32
    assert hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log") == 1e-4
    assert hp.Choice("activation", ["relu", "tanh"]) == "relu"
    assert hp.Boolean("dropout") is False
    assert hp.Fixed("epochs", 3) == 3
    assert hp.Int("depth", 1, 5, default=4) == 4
    assert hp.values == {
        "units": 32,
        "lr": 1e-4,
        "activation": "relu",
        "dropout": False,
        "epochs": 3,
        "depth": 4,
    }


def test_fixed_trial_values_conditions_and_lookups():
    hp = HyperParameters(
        FixedTrial({"model_type": "mlp", "units": 48, "filters": 16, "dropout": True})
    )
    assert hp.Choice("model_type", ["mlp", "cnn"]) == "mlp"
    with hp.conditional_scope("model_type", ["mlp"]):
        assert hp.Int("units", 16, 64, step=16) == 48
    with hp.conditional_scope("model_type", "cnn"):
        assert hp.Int("filters", 8, 32, step=8) is None  # inactive: None, not sampled
    assert hp.Boolean("dropout", parent_name="model_type", parent_values=["mlp"]) is True
    assert hp.Float("rate", 0.1, 0.5, parent_name="model_type", parent_values=["cnn"]) is None
    assert hp.values == {"model_type": "mlp", "units": 48, "dropout": True}
    assert hp.get("units") == hp["units"] == 48 and "units" in hp and "filters" not in hp
    with pytest.raises(ValueError, match="inactive"):
        hp.get("filters")
    with pytest.raises(KeyError):
        hp.get("never_declared")
    with pytest.raises(ValueError, match="not defined"):
        with hp.conditional_scope("no_such_parent", [1]):
            pass
    assert hp.Int("units", 16, 64, step=16) == 48  # declared again: the same value


def test_sampling_step_and_range_map_onto_optuna_distributions():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        trial = study.ask()
        hp = HyperParameters(trial)
        units = hp.Int("units", min_value=32, max_value=500, step=32)  # 500: KerasTuner's
        batch = hp.Int("batch", min_value=2, max_value=32, step=2, sampling="log")
        lr = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
        rate = hp.Float("rate", 0.0, 1.0, step=0.25)
        late = hp.Float("late", min_value=0.1, max_value=0.9, sampling="reverse_log")
        assert 32 <= units <= 480 and units % 32 == 0
        assert batch in (2, 4, 8, 16, 32)
        assert 1e-4 <= lr <= 1e-2 and rate in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert 0.1 <= late <= 0.9
        # Optuna holds the mirror image of a reverse_log value; hp.values holds the value
        assert trial.params["late"] == pytest.approx(0.1 + 0.9 - late)
        study.tell(trial, 0.0)
    dists = study.trials[0].distributions
    assert dists["lr"].log and dists["units"].step == 32 and dists["units"].high == 480
    assert list(dists["batch"].choices) == [2, 4, 8, 16, 32]


def test_conditional_parameters_are_sampled_only_where_their_parent_holds():
    """The getting-started loop and the conditional_scope example, on a real study."""

    def objective(trial):
        hp = HyperParameters(trial)
        for i in range(hp.Int("num_layers", 1, 3)):
            hp.Int(f"units_{i}", min_value=32, max_value=512, step=32)
        model_type = hp.Choice("model_type", ["mlp", "cnn"])
        with hp.conditional_scope("model_type", ["mlp"]):
            if model_type == "mlp":
                hp.Int("units", 16, 64, step=16)
        with hp.conditional_scope("model_type", ["cnn"]):
            hp.Int("filters", 8, 32, step=8)  # declared in either branch: None for mlp
        return 0.0

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(objective, n_trials=40)
    for trial in study.trials:
        params = trial.params
        for i in range(3):
            assert (f"units_{i}" in params) == (i < params["num_layers"])
        assert ("units" in params) == (params["model_type"] == "mlp")
        assert ("filters" in params) == (params["model_type"] == "cnn")
    assert {t.params["num_layers"] for t in study.trials} == {1, 2, 3}


@pytest.mark.skipif(not hasattr(kt, "engine"), reason="KerasTuner is not installed")
def test_defaults_agree_with_kerastuner():
    """The same calls on KerasTuner's own HyperParameters and on automl's give the same values."""

    def declare(hp):
        hp.Int("units", min_value=32, max_value=512, step=32)
        hp.Int("layers", 1, 3, default=2)
        hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
        hp.Float("decay", 0.1, 0.9, sampling="reverse_log", default=0.5)
        hp.Choice("activation", ["relu", "tanh"])
        hp.Boolean("dropout")
        hp.Fixed("epochs", 3)
        hp.Choice("model_type", ["mlp", "cnn"], default="cnn")
        with hp.conditional_scope("model_type", ["mlp"]):
            hp.Int("mlp_units", 16, 64)
        hp.Int("filters", 8, 32, parent_name="model_type", parent_values=["cnn"])
        return hp.values

    assert declare(HyperParameters()) == declare(kt.HyperParameters())


def test_objective_like_kerastuner():
    assert objective_of("val_accuracy") == ("val_accuracy", "maximize")
    assert objective_of("val_loss") == ("val_loss", "minimize")
    assert objective_of("val_mean_absolute_error") == ("val_mean_absolute_error", "minimize")
    assert objective_of(kt.Objective("val_custom_metric", direction="min")) == (
        "val_custom_metric",
        "minimize",
    )
    assert objective_of(None) == ("default_objective", "minimize")
    with pytest.raises(UsageError, match="Objective"):
        objective_of("val_custom_metric")
    with pytest.raises(UsageError, match="one objective"):
        objective_of(["val_loss", "val_accuracy"])


def test_data_is_split_by_automl_and_labels_stay_as_given(mnist1d):
    x, y, x_test, y_test = mnist1d
    data = prepare_data((x, one_hot(y)), validation_split=0.1, test_split=0.2, seed=0)
    assert len(data.y_train) + len(data.y_val) + len(data.y_test) == 300
    assert data.y_train.shape[1] == 10 and len(data.y_test) == 60  # one-hot, 20% test
    assert np.array_equal(data.splits.y_test, data.y_test.argmax(axis=1))  # same rows
    assert set(data.splits.manifest()["test_class_counts"]) != {0}  # stratified by class
    given = prepare_data((x, y, x_test, y_test), validation_data=(x_test[:50], y_test[:50]))
    assert len(given.y_train) == 300 and len(given.y_val) == 50 and len(given.y_test) == 200
    with pytest.raises(DataError, match="labels"):
        prepare_data((x, y[:10]))
    # holdout_split: set aside first, apart from every other split, labels as given
    held = prepare_data((x, one_hot(y)), holdout_split=0.1, seed=0)
    assert len(held.y_holdout) == 30 and held.y_holdout.shape[1] == 10
    assert len(held.y_train) + len(held.y_val) + len(held.y_test) == 270
    rows = {
        name: {r.tobytes() for r in part}
        for name, part in (
            ("holdout", held.splits.x_holdout),
            ("train", held.x_train),
            ("val", held.x_val),
            ("test", held.x_test),
        )
    }
    assert not rows["holdout"] & (rows["train"] | rows["val"] | rows["test"])
    assert held.splits.manifest()["holdout_size"] == 30
    with pytest.raises(UsageError, match="holdout_split must be a fraction"):
        prepare_data((x, y), holdout_split=0.9)


# ---- searches ------------------------------------------------------------------------------


def test_getting_started_build_model_searched_tracked_selected_exported(mnist1d, runs, tmp_path):
    import keras

    import automl

    x, y, x_test, y_test = mnist1d
    result = automl.search_hypermodel(
        build_model,
        data=(x, one_hot(y), x_test, one_hot(y_test)),
        objective="val_accuracy",
        max_trials=2,
        executions_per_trial=1,
        directory=runs,
        project_name="helloworld",
        overwrite=True,
        epochs=1,
        top_k=2,
        progress=False,
        reports_dir=None,
    )

    study = study_of(runs, "helloworld")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    for trial in study.trials:  # KerasTuner's names; units_i only where num_layers holds it
        assert set(trial.params) <= GETTING_STARTED_NAMES
        for i in range(3):
            assert (f"units_{i}" in trial.params) == (i < trial.params["num_layers"])
        assert trial.user_attrs[HP_VALUES_ATTR] == trial.params
    winner = study.trials[result.winner_trial]
    assert result.best_params == winner.params
    assert result.val_metrics["val_accuracy"] == winner.value
    assert 0.0 <= result.test_metrics["accuracy"] <= 1.0 and len(result.candidates) == 2

    children = child_runs(result)  # one parent run, one child run per trial with its epochs
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in children) == [0, 1]
    for run in children:
        assert set(run.data.params) <= GETTING_STARTED_NAMES and "val_accuracy" in run.data.metrics
        # the tie-breaker between trials of equal value: the val_loss of the kept (only) epoch
        trial = study.trials[int(run.data.tags["optuna.trial_number"])]
        assert trial.user_attrs["val_loss"] == pytest.approx(run.data.metrics["val_loss"])
    assert result.mlflow["registered_model"] == "helloworld"
    assert study.user_attrs["automl_selection"]["winner_trial"] == result.winner_trial
    # simple baselines on the same split, beside the winner, as automl.search gives them
    baselines = {row["name"]: row["test"] for row in result.baselines}
    assert set(baselines) == {"majority class", "logistic regression"}
    assert 0.05 < baselines["majority class"] < 0.2 < baselines["logistic regression"] < 1
    # the summary names the argument this API takes for a holdout
    assert "set holdout_split=0.1 for an unbiased estimate" in result.summary()
    parent = child_runs(result)[0].data.tags["mlflow.parentRunId"]
    from mlflow.tracking import MlflowClient

    logged = MlflowClient(result.mlflow["tracking_uri"]).get_run(parent).data.metrics
    assert logged["baseline_test_logistic_regression_accuracy"] == pytest.approx(
        baselines["logistic regression"]
    )
    assert project_config(study).search == result.config.search

    predictions = result.model.predict(x_test[:5], verbose=0)
    assert predictions.shape == (5, 10)
    written = result.export(tmp_path / "out", quiet=True)
    reloaded = keras.saving.load_model(written["model"])
    np.testing.assert_allclose(reloaded.predict(x_test[:5], verbose=0), predictions, atol=1e-5)
    assert json.loads(written["params"].read_text()) == result.best_params


def test_of_tied_epochs_the_one_with_the_lower_validation_loss_is_kept():
    """As automl's own trials keep their epochs (``TieBreakingEarlyStopping``): accuracy ties
    from epoch to epoch on a small validation split; the tied epoch with the lower val_loss
    is kept. Without a val_loss logged, the first tied epoch, as KerasTuner keeps it."""
    import keras

    from automl.hypermodel.maker import _best_epoch_callback

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    epochs = [(0.90, 0.50), (0.95, 0.30), (0.95, 0.20), (0.95, 0.25), (0.94, 0.10)]
    for logs_loss, kept in ((True, 2), (False, 1)):  # plain "first best": epoch 1
        best = _best_epoch_callback("val_accuracy", maximize=True)
        best.set_model(model)
        for epoch, (accuracy, loss) in enumerate(epochs):
            model.layers[0].bias.assign([float(epoch)])  # each epoch's weights, told apart
            best.on_epoch_end(
                epoch, {"val_accuracy": accuracy, **({"val_loss": loss} if logs_loss else {})}
            )
        best.on_train_end()
        assert float(model.layers[0].bias.numpy()[0]) == kept
        assert (best.best, best.best_loss) == (0.95, 0.20 if logs_loss else None)


def test_hypermodel_with_custom_fit_executions_and_objective(mnist1d, runs):
    import automl

    x, y, x_test, y_test = mnist1d
    result = automl.search_hypermodel(
        MyHyperModel(),
        data=(x[:240], one_hot(y[:240])),
        validation_data=(x[240:], one_hot(y[240:])),
        objective=kt.Objective("val_loss", direction="min"),
        max_trials=1,
        executions_per_trial=2,
        directory=runs,
        project_name="tune_hypermodel",
        overwrite=True,
        epochs=1,
        top_k=1,
        progress=False,
        reports_dir=None,
    )

    study = study_of(runs, "tune_hypermodel")
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert len(study.trials) == 1
    for trial in study.trials:  # build's and fit's parameters alike
        assert set(trial.params) == {"units", "batch_size", "shuffle"}
        executions = trial.user_attrs["execution_values"]
        assert len(executions) == 2 and trial.value == pytest.approx(np.mean(executions))
    for run in child_runs(result):  # fit's values reached MLflow as params too
        assert {"units", "batch_size", "shuffle"} <= set(run.data.params)
    assert "loss" in result.test_metrics and len(result.candidates) == 1
    assert result.model.predict(x_test[:3], verbose=0).shape == (3, 10)


def test_conditional_scope_model_selection_resumes(mnist1d, runs):
    import automl

    x, y, x_test, y_test = mnist1d
    settings = dict(
        data=(x, y),
        objective="val_accuracy",
        directory=runs,
        project_name="model_selection",
        epochs=1,
        sampler="random",
        seed=1,
        top_k=2,
        holdout_split=0.1,
        progress=False,
        reports_dir=None,
    )
    first = automl.search_hypermodel(build_selected_model, max_trials=1, overwrite=True, **settings)
    again = automl.search_hypermodel(build_selected_model, max_trials=2, **settings)

    trials = study_of(runs, "model_selection").trials
    assert len(trials) == 2  # resumed: one more trial, in the same study and parent run
    assert again.mlflow["parent_run_id"] == first.mlflow["parent_run_id"]
    for trial in trials:
        kind = trial.params["model_type"]
        assert set(trial.params) == {"model_type", "units" if kind == "mlp" else "filters"}
    # both branches: the resumed search samples with seed + 1 (seed 1: a cnn, then an mlp)
    assert {t.params["model_type"] for t in trials} == {"mlp", "cnn"}
    assert len(child_runs(again)) == 2
    assert again.model.predict(x_test[:3], verbose=0).shape == (3, 10)  # sparse labels work
    # the holdout: the winner scored on it once, beside the baselines, kept for automl.load
    assert 0.0 <= again.holdout_metrics["accuracy"] <= 1.0
    assert {row["name"]: row["holdout"] is not None for row in again.baselines} == {
        "majority class": True,
        "logistic regression": True,
    }
    from mlflow.tracking import MlflowClient

    logged = (
        MlflowClient(again.mlflow["tracking_uri"])
        .get_run(again.mlflow["parent_run_id"])
        .data.metrics
    )
    assert logged["holdout_accuracy"] == pytest.approx(again.holdout_metrics["accuracy"])
    loaded = automl.load("model_selection", run_dir=runs)  # as directory= and project_name=
    assert loaded.holdout_metrics == again.holdout_metrics

    with pytest.raises(UsageError, match="overwrite=True"):
        automl.search_hypermodel(
            build_selected_model, max_trials=2, **{**settings, "objective": "val_loss"}
        )


def test_refusals_before_any_trial(mnist1d, runs):
    from tensorflow import keras

    import automl

    x, y, _, _ = mnist1d

    def uncompiled(hp):
        return keras.Sequential([keras.layers.Dense(hp.Int("units", 8, 16))])

    with pytest.raises(UsageError, match="compile"):
        automl.search_hypermodel(
            uncompiled,
            data=(x, y),
            objective="val_accuracy",
            directory=runs,
            project_name="refused",
            progress=False,
        )
    with pytest.raises(UsageError, match="instance"):
        automl.search_hypermodel(
            MyHyperModel,
            data=(x, y),
            objective="val_accuracy",
            directory=runs,
            project_name="refused",
            progress=False,
        )
    with pytest.raises(UsageError, match="sampler"):
        automl.search_hypermodel(
            build_model,
            data=(x, y),
            objective="val_accuracy",
            sampler="grid",
            directory=runs,
            project_name="refused",
        )
    assert not (runs / "refused").exists()


def test_consecutive_failed_trials_stop_the_search_with_their_reason(mnist1d, runs):
    import automl
    from automl.errors import AutomlError

    class BrokenFit(MyHyperModel):
        def fit(self, hp, model, *args, **kwargs):
            hp.Boolean("shuffle")
            raise ValueError("the data pipeline broke")

    x, y, _, _ = mnist1d
    storage = str(runs / "elsewhere.journal")  # outside the project folder, as a database is
    for _ in range(2):  # overwrite=True: the second search starts the study again
        with pytest.raises(AutomlError, match="last 2 trials all failed.*data pipeline broke"):
            automl.search_hypermodel(
                BrokenFit(),
                data=(x, one_hot(y)),
                objective="val_accuracy",
                max_trials=5,
                max_consecutive_failed_trials=2,
                directory=runs,
                project_name="broken",
                storage=storage,
                overwrite=True,
                progress=False,
            )
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    trials = optuna.load_study(
        study_name="broken", storage=JournalStorage(JournalFileBackend(storage))
    ).trials
    assert [t.state for t in trials] == [TrialState.FAIL] * 2
    assert all("data pipeline broke" in t.user_attrs["fail_reason"] for t in trials)
    assert all(set(t.params) == {"units", "shuffle"} for t in trials)

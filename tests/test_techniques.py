"""Training techniques of the space language: each one really ends up in the built model or the
training run (initializer arguments, spatial dropout, bias/activity penalties, batch-norm
position and momentum, shrinking MLPs, residual CNNs, schedules, samplers, gradient health)."""

from __future__ import annotations

import os
import socket

import keras
import numpy as np
import optuna
import pytest
from conftest import fit_first, study_in, tiny_space

import automl
from automl.config import load_space
from automl.errors import ConfigError, UsageError
from automl.models.builder import InputSpec, build_model
from automl.training.dry_build import FirstValues
from automl.training.optimizers import build_optimizer
from automl.tuner.study import make_sampler

SIGNAL = InputSpec(shape=(40,), num_classes=10)
IMAGE = InputSpec(shape=(8, 8, 1), num_classes=10)


def of(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def test_initializer_with_arguments_sets_the_distribution():
    keras.utils.set_random_seed(0)
    model = build_model(
        {
            "architecture": {"name": "mlp", "layers": 1, "units": 2000},
            "initializer": {"name": "random_normal", "stddev": 0.5},
        },
        SIGNAL,
    )
    kernel = keras.ops.convert_to_numpy(of(model, keras.layers.Dense)[0].kernel)
    assert kernel.std() == pytest.approx(0.5, rel=0.05)


def test_penalties_on_kernel_bias_and_activity_all_reach_the_losses():
    model = build_model(
        {
            "architecture": {"name": "mlp", "layers": 1, "units": 4},
            "l2": 1e-3,
            "bias_l2": 1e-3,
            "activity_l1": 1e-3,
        },
        SIGNAL,
    )
    dense = of(model, keras.layers.Dense)[0]
    assert dense.kernel_regularizer.l2 == pytest.approx(1e-3)
    assert dense.bias_regularizer.l2 == pytest.approx(1e-3)
    assert dense.activity_regularizer.l1 == pytest.approx(1e-3)
    model(np.ones((2, 40), "float32"))
    assert len(model.losses) == 3


def test_batch_norm_position_and_momentum():
    after = build_model(
        {
            "architecture": {"name": "mlp", "layers": 1, "units": 4},
            "batch_norm": True,
            "batch_norm_position": "after",
            "batch_norm_momentum": 0.9,
        },
        SIGNAL,
    )
    kinds = [type(layer).__name__ for layer in after.layers]
    assert kinds.index("Activation") < kinds.index("BatchNormalization")
    assert of(after, keras.layers.BatchNormalization)[0].momentum == pytest.approx(0.9)
    before = build_model(
        {"architecture": {"name": "mlp", "layers": 1, "units": 4}, "batch_norm": True}, SIGNAL
    )
    kinds = [type(layer).__name__ for layer in before.layers]
    assert kinds.index("BatchNormalization") < kinds.index("Activation")


def test_spatial_dropout_residual_cnn_and_shrinking_mlp():
    cnn = build_model(
        {
            "architecture": {
                "name": "cnn",
                "blocks": 2,
                "filters": 6,
                "residual": True,
                "pooling": "none",
            },
            "dropout": 0.2,
            "spatial_dropout": True,
        },
        IMAGE,
    )
    assert len(of(cnn, keras.layers.SpatialDropout2D)) == 2
    assert len(of(cnn, keras.layers.Add)) == 2
    mlp = build_model(
        {"architecture": {"name": "mlp", "layers": 3, "units": 64, "shrink": 0.5}}, SIGNAL
    )
    assert [d.units for d in of(mlp, keras.layers.Dense)] == [64, 32, 16, 10]


def lr(schedule, step):
    return float(schedule(step)) if callable(schedule) else float(schedule)


@pytest.mark.parametrize(
    "spec, at",
    [
        ({"name": "inverse_time", "decay_rate": 1.0}, {0: 0.1, 10: 0.05, 30: 0.025}),
        (
            {"name": "piecewise", "epochs": [2, 5], "factors": [1.0, 0.5, 0.1]},
            {0: 0.1, 19: 0.1, 21: 0.05, 51: 0.01},
        ),
        ({"name": "polynomial", "end_factor": 0.1}, {0: 0.1, 50: 0.055, 100: 0.01}),
        ({"name": "cosine_restarts", "first_decay_epochs": 2}, {0: 0.1, 10: 0.05, 20: 0.1}),
        (
            {"name": "one_cycle", "peak_epoch_fraction": 0.5, "start_factor": 0.1},
            {0: 0.01, 50: 0.1, 100: 0.0},
        ),
        ({"name": "constant", "warmup_epochs": 2}, {0: 0.0, 10: 0.05, 20: 0.1, 90: 0.1}),
        (
            {"name": "exponential", "decay_rate": 0.5, "warmup_epochs": 1},
            {0: 0.01, 9: 0.1, 10: 0.1, 20: 0.05},
        ),
    ],
)
def test_schedules_follow_their_formula(spec, at):
    schedule = build_optimizer(
        "sgd", spec, learning_rate=0.1, total_steps=100, steps_per_epoch=10
    )._learning_rate
    for step, expected in at.items():
        assert lr(schedule, step) == pytest.approx(expected, abs=2e-3), (spec, step)


def test_early_stopping_keeps_the_tied_epoch_with_the_lower_validation_loss():
    """Accuracy on a small validation split ties from epoch to epoch: of the tied epochs, the
    one with the lower validation loss is kept, and patience counts from it."""
    from automl.training.callbacks import TieBreakingEarlyStopping

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    stopper = TieBreakingEarlyStopping(
        monitor="val_accuracy", mode="max", patience=2, restore_best_weights=True
    )
    stopper.set_model(model)
    stopper.on_train_begin()
    epochs = [(0.90, 0.50), (0.95, 0.30), (0.95, 0.20), (0.95, 0.25), (0.94, 0.10), (0.96, 0.4)]
    for epoch, (accuracy, loss) in enumerate(epochs):
        model.layers[0].bias.assign([float(epoch)])  # each epoch's weights, told apart
        stopper.on_epoch_end(epoch, {"val_accuracy": accuracy, "val_loss": loss})
        if getattr(model, "stop_training", False):
            break
    stopper.on_train_end()
    assert (epoch, stopper.best_epoch) == (4, 2)  # plain EarlyStopping: (3, 1)
    assert float(model.layers[0].bias.numpy()[0]) == 2.0  # epoch 2's weights restored


def test_reduce_on_plateau_and_label_smoothing_train():
    """Trained as a trial trains (fit_trial, with the per-epoch reporter a worker hands to
    MLflow): the learning rate and the gradient norm of every epoch are reported."""
    from automl.training.callbacks import EpochReporter

    space = tiny_space("plateau", trials=1)
    space["model"]["architecture"] = {"choice": {"mlp": {"layers": 1, "units": 16}}}
    space["training"]["optimizer"] = "adam"
    space["training"]["schedule"] = {
        "choice": {"reduce_on_plateau": {"patience": 1, "factor": 0.1}}
    }
    space["training"]["label_smoothing"] = 0.1
    space["training"]["epochs"] = 3
    reported: list[dict] = []
    outcome, _, cfg = fit_first(
        space, callbacks=[EpochReporter(lambda epoch, metrics: reported.append(metrics))]
    )
    assert cfg.space.sample(FirstValues())["training"]["schedule"]["name"] == "reduce_on_plateau"
    assert outcome.epochs_run == 3 and len(reported) == 3
    assert all(m["learning_rate"] > 0 for m in reported)
    assert all(np.isfinite(m["grad_norm"]) for m in reported)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("random", optuna.samplers.RandomSampler),
        ("qmc", optuna.samplers.QMCSampler),
        ("nsga2", optuna.samplers.NSGAIISampler),
        ("tpe", optuna.samplers.TPESampler),
    ],
)
def test_samplers_by_name(name, cls):
    cfg = load_space({"search": {"sampler": name}})
    assert isinstance(make_sampler(cfg.search, cfg.space), cls)


def test_grid_sampler_enumerates_a_discrete_space_and_refuses_a_continuous_one():
    cfg = load_space(
        {
            "model": {
                "dropout": {"choice": [0.0, 0.2]},
                "architecture": {"choice": {"mlp": {"units": {"int": [8, 24], "step": 8}}}},
            },
            "search": {"sampler": "grid"},
        }
    )
    sampler = make_sampler(cfg.search, cfg.space)
    assert isinstance(sampler, optuna.samplers.GridSampler)
    with pytest.raises(ConfigError, match="model.dropout: the grid sampler needs discrete"):
        load_space({"model": {"dropout": {"float": [0.0, 0.5]}}, "search": {"sampler": "grid"}})


def test_optional_samplers_say_what_to_install():
    import importlib.util

    for name, module in (("gp", "torch"), ("cmaes", "cmaes")):
        cfg = load_space({"search": {"sampler": name}})
        if importlib.util.find_spec(module) is None:
            with pytest.raises(UsageError, match=f"needs the {module} package"):
                make_sampler(cfg.search, cfg.space)
        else:
            assert make_sampler(cfg.search, cfg.space) is not None


def test_vanishing_gradients_prune_the_trial_with_the_reason(tmp_path):
    space = tiny_space("vanish", trials=1)
    space["model"] = {
        "architecture": {"choice": {"mlp": {"layers": 8, "units": 16}}},
        "activation": "tanh",
        "initializer": {"choice": {"random_normal": {"stddev": 0.01}}},
    }
    space["training"]["epochs"] = 4
    space["training"]["early_stopping"] = 0
    space["search"]["pruner"] = "none"
    study_dir = tmp_path / "runs"
    with pytest.raises(automl.AutomlError, match="no trial completed"):
        automl.search(space, workers=0, run_dir=study_dir, reports_dir=None, progress=False)
    study = study_in(study_dir, "vanish")
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert trial.user_attrs["prune_reason"].startswith("vanishing gradients for 3 epochs")


def test_custom_builder_by_import_path(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text("""
import keras

def build(params, spec):
    inputs = keras.Input(spec.shape)
    x = keras.layers.Normalization(mean=spec.mean, variance=spec.variance, axis=None)(inputs)
    x = keras.layers.Dense(params["width"], activation="relu", name="my_hidden")(x)
    return keras.Model(inputs, keras.layers.Dense(spec.num_classes, activation="softmax")(x))
""")
    monkeypatch.syspath_prepend(str(tmp_path))
    space = tiny_space("custom", trials=1)
    space["model"] = {
        "architecture": {
            "choice": {"custom": {"builder": "my_models:build", "width": {"int": [4, 8]}}}
        }
    }
    result = automl.search(space, run_dir=tmp_path / "runs", reports_dir=None, progress=False)
    assert 4 <= result.model.get_layer("my_hidden").units <= 8
    space["model"]["architecture"]["choice"]["custom"]["builder"] = "my_models:nothing"
    with pytest.raises(
        ConfigError,
        match="model.architecture.custom.builder: module my_models .* has "
        "no function 'nothing'; define def nothing",
    ):
        load_space(space)


def test_workers_0_trains_in_the_callers_process(tmp_path, monkeypatch):
    """``workers: 0``: the builder runs in this process, where a debugger's breakpoint stops."""
    (tmp_path / "traced_models.py").write_text("""
import os

import keras

pids = []

def build(params, spec):
    pids.append(os.getpid())
    inputs = keras.Input(spec.shape)
    return keras.Model(inputs, keras.layers.Dense(spec.num_classes, activation="softmax")(inputs))
""")
    monkeypatch.syspath_prepend(str(tmp_path))
    space = tiny_space("here", trials=2)
    space["model"] = {"architecture": {"choice": {"custom": {"builder": "traced_models:build"}}}}
    space["search"]["workers"] = 0
    result = automl.search(space, run_dir=tmp_path / "runs", reports_dir=None, progress=False)
    import traced_models

    assert traced_models.pids == [os.getpid()] * 3  # the dry build, then each trial
    assert set(result.trials["worker"]) == {f"{socket.gethostname()}:{os.getpid()}"}
    assert not list((tmp_path / "runs").rglob("worker-*.log"))  # no worker process started


def test_dropout_per_block_each_searched():
    cfg = load_space(
        {
            "model": {
                "architecture": {"choice": {"mlp": {"layers": 3, "units": 8}}},
                "dropout": [0.1, {"float": [0.2, 0.4]}, 0.0],
            }
        }
    )
    assert [p.path for p in cfg.space.parameters()][-1] == "model.dropout[1]"
    params = cfg.space.sample(
        optuna.trial.FixedTrial({"model.architecture": "mlp", "model.dropout[1]": 0.3})
    )
    model = build_model(params["model"], SIGNAL)
    assert [d.rate for d in of(model, keras.layers.Dropout)] == [0.1, 0.3]  # 0.0: no layer
    with pytest.raises(ConfigError, match=r"model.dropout\[1\]: expects a number in \[0, 1\)"):
        load_space({"model": {"dropout": [0.1, {"float": [0.2, 1.5]}]}})


@pytest.mark.parametrize(
    "name", ["adam", "adamw", "sgd", "rmsprop", "nadam", "adamax", "adagrad", "lion"]
)
def test_every_optimizer_with_clipping(name):
    opt = build_optimizer({"name": name, "learning_rate": 0.01, "clipnorm": 1.0})
    assert type(opt).__name__.lower() == name and opt.clipnorm == 1.0
    assert float(opt.learning_rate) == pytest.approx(0.01)


def test_pareto_search_over_accuracy_and_size(tmp_path):
    space = tiny_space("pareto", trials=3)
    space["model"]["architecture"] = {
        "choice": {"mlp": {"layers": 1, "units": {"int": [4, 64], "log": True}}}
    }
    space["search"].update({"objective": ["val_accuracy", "params_count"], "sampler": "nsga2"})
    result = automl.search(
        space,
        workers=0,
        run_dir=tmp_path / "runs",
        reports_dir=tmp_path / "reports",
        progress=False,
    )
    study = study_in(tmp_path / "runs", "pareto")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert all(len(t.values) == 2 for t in study.trials)
    assert {"val_accuracy", "params_count"} <= set(result.trials.columns)
    counts = dict(zip(result.trials["number"], result.trials["params_count"]))
    assert all(t.values[1] == counts[t.number] for t in study.trials)
    assert "## Pareto front" in (result.report_dir / "summary.md").read_text()
    with pytest.raises(ConfigError, match="one direction per objective"):
        load_space(
            {"search": {"objective": ["val_accuracy", "params_count"], "direction": ["maximize"]}}
        )


def test_loss_chosen_from_the_task_or_set(tmp_path):
    from automl.training.fit import compile_model

    model = build_model({"architecture": {"name": "mlp", "layers": 1, "units": 4}}, SIGNAL)
    compile_model(model, "adam", "classification", loss="categorical_focal_crossentropy")
    assert type(model.loss).__name__ == "CategoricalFocalCrossentropy"
    regression = build_model(
        {"architecture": {"name": "mlp", "layers": 1, "units": 4}},
        InputSpec(shape=(40,), num_classes=0),
    )
    # regression losses act on standardized targets: Huber's delta at one std, weighted 1/std²
    compile_model(regression, "adam", "regression", loss="huber", target_std=4.0)
    assert type(regression.loss).__name__ == "Huber"
    import numpy as np

    y, p = np.array([[10.0], [30.0]]), np.array([[14.0], [22.0]])  # errors of 1 and 2 stds
    standardized = keras.losses.Huber(delta=1.0)(y / 4.0, p / 4.0)
    assert float(regression.compute_loss(y=y, y_pred=p)) == pytest.approx(float(standardized))
    space = tiny_space("loss", trials=1)
    space["training"]["loss"] = "huber"
    with pytest.raises(ConfigError, match="huber is not a classification loss"):
        automl.search(space, workers=0, run_dir=tmp_path, reports_dir=None, progress=False)

"""The built model really has what the params say: family, initializer, regularizers, batch
norm, dropout, normalization inside; optimizers and schedules as named."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from automl.models.builder import InputSpec, build_model
from automl.training.optimizers import build_optimizer

SPEC = InputSpec(shape=(40,), num_classes=10, mean=0.5, variance=4.0)


def layers_of(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def test_cnn_family_with_every_shared_technique():
    model = build_model(
        {
            "architecture": {
                "name": "cnn",
                "blocks": 3,
                "filters": 12,
                "kernel_size": 5,
                "pooling": "max",
                "head": "gap",
            },
            "initializer": "he_normal",
            "dropout": 0.25,
            "l1": 1e-5,
            "l2": 1e-4,
            "batch_norm": True,
            "activation": "gelu",
        },
        SPEC,
    )
    convs = layers_of(model, keras.layers.Conv1D)
    assert len(convs) == 3 and all(c.filters == 12 and c.kernel_size == (5,) for c in convs)
    assert len(layers_of(model, keras.layers.BatchNormalization)) == 3
    assert len(layers_of(model, keras.layers.MaxPooling1D)) == 3
    assert all(d.rate == 0.25 for d in layers_of(model, keras.layers.Dropout))
    assert isinstance(convs[0].kernel_initializer, keras.initializers.HeNormal)
    assert convs[0].kernel_regularizer.l1 == pytest.approx(1e-5)
    model(np.zeros((2, 40), "float32"))
    assert len(model.losses) == 3  # one penalty per conv layer
    assert model.output_shape == (None, 10)


def test_mlp_family_and_normalization_inside_the_model():
    model = build_model({"architecture": {"name": "mlp", "layers": 2, "units": 24}}, SPEC)
    dense = layers_of(model, keras.layers.Dense)
    assert [d.units for d in dense] == [24, 24, 10]
    norm = model.get_layer("normalize")
    out = norm(np.full((1, 40), 2.5, "float32"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), 1.0, rtol=1e-5)  # (2.5-0.5)/2


def test_initializer_sets_the_weight_distribution():
    keras.utils.set_random_seed(0)
    model = build_model(
        {"architecture": {"name": "mlp", "layers": 1, "units": 4000}, "initializer": "he_normal"},
        SPEC,
    )
    w = keras.ops.convert_to_numpy(layers_of(model, keras.layers.Dense)[0].kernel)
    assert w.std() == pytest.approx(np.sqrt(2 / 40), rel=0.15)  # truncated He normal


@pytest.mark.parametrize(
    "name, cls, extra",
    [
        ("adam", keras.optimizers.Adam, {}),
        ("rmsprop", keras.optimizers.RMSprop, {}),
        ("sgd", keras.optimizers.SGD, {"momentum": 0.9, "nesterov": True}),
        ("adamw", keras.optimizers.AdamW, {"weight_decay": 0.01}),
    ],
)
def test_optimizers_by_name(name, cls, extra):
    opt = build_optimizer({"name": name, "learning_rate": 0.02, **extra})
    assert isinstance(opt, cls)
    assert float(opt.learning_rate) == pytest.approx(0.02)
    for key, value in extra.items():
        assert getattr(opt, key) == value


def lr_at(schedule, step):
    return float(schedule(step))


def test_schedules_give_the_expected_learning_rate():
    opt = build_optimizer("adam", "cosine", learning_rate=0.1, total_steps=100)
    schedule = opt._learning_rate  # the schedule object (learning_rate gives today's value)
    assert lr_at(schedule, 0) == pytest.approx(0.1)
    assert lr_at(schedule, 50) == pytest.approx(0.05, rel=1e-3)
    assert lr_at(schedule, 100) == pytest.approx(0.0, abs=1e-7)
    step = build_optimizer(
        "sgd",
        {"name": "step", "drop": 0.5, "every_epochs": 2},
        learning_rate=0.1,
        total_steps=100,
        steps_per_epoch=10,
    )._learning_rate
    assert [lr_at(step, s) for s in (0, 19, 21, 41)] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    exp = build_optimizer(
        "sgd", "exponential", learning_rate=0.1, total_steps=100, steps_per_epoch=10
    )._learning_rate
    assert lr_at(exp, 100) == pytest.approx(0.001, rel=1e-3)  # 100x lower by the end
    warm = build_optimizer(
        "adam",
        {"name": "warmup_cosine", "warmup_epochs": 1},
        learning_rate=0.1,
        total_steps=100,
        steps_per_epoch=10,
    )._learning_rate
    assert lr_at(warm, 0) == pytest.approx(0.0) and lr_at(warm, 10) == pytest.approx(0.1)


def test_a_custom_builder_whose_module_is_missing_is_one_short_sentence(tmp_path, monkeypatch):
    """The folders the module was looked for in show relative to the current folder, so the
    sentence (file, line, key, what is missing and where to put it) stays short."""
    from automl.cli import main
    from automl.config import load_space
    from automl.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    # a name no other test imports: a module imported once is reused from sys.modules
    (tmp_path / "spaces").mkdir()
    space = tmp_path / "spaces" / "space.yaml"
    space.write_text(
        "name: cust\ndata: {source: mnist1d}\n"
        "model: {architecture: {choice: {custom: {builder: 'absent_builders:build'}}}}\n"
        "training: {optimizer: adam, epochs: 1}\nsearch: {trials: 1}\n"
    )
    with pytest.raises(ConfigError) as refused:
        load_space(str(space))  # the space file named by its absolute path
    message = str(refused.value)
    assert len(message) <= 300, (len(message), message)
    assert "\n" not in message
    assert message.startswith(f"{space}, line 3: model.architecture.custom.builder: ")
    assert (
        "cannot find module absent_builders in the current folder, spaces or on the import "
        "path; put absent_builders.py in one of those folders" in message
    )
    assert str(tmp_path) not in message.partition(": model.architecture")[2]
    # from the command line, as a user types it
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["validate", "spaces/space.yaml"]) == 2
    assert len(err.getvalue().strip()) <= 300 + len("automl: error: "), err.getvalue()
    assert (
        "spaces/space.yaml, line 3: model.architecture.custom.builder: cannot find module "
        "absent_builders in the current folder, spaces or" in err.getvalue()
    )

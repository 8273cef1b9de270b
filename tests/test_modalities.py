"""A modality is one module (automl.modalities.<name>) with one interface: how its examples are
recognised, the augmentation ops it runs in the pipeline, and its input layers with the
preprocessing inside the model."""

from __future__ import annotations

import numpy as np
import pytest

from automl.modalities import detect, module, of_shape
from automl.models.builder import InputSpec
from automl.registry import AUGMENTATIONS, FAMILIES, MODALITIES

INTERFACE = ("NAME", "takes", "takes_shape", "augment_ops", "model_inputs")


@pytest.mark.parametrize("name", list(MODALITIES))
def test_each_modality_module_has_the_one_interface(name):
    mod = module(name)
    assert mod.NAME == name
    assert all(hasattr(mod, attr) for attr in INTERFACE), [
        a for a in INTERFACE if not hasattr(mod, a)
    ]
    assert FAMILIES.names(name) and AUGMENTATIONS.names(name)  # something applies to each


def test_detection_by_shape_and_kind():
    assert detect(np.zeros((5, 40))) == "signal" == of_shape((5, 40))
    assert detect(np.zeros((5, 8, 8))) == "image" == of_shape((5, 8, 8, 1))
    assert detect({"a": np.zeros(5), "b": np.array(["x"] * 5)}) == "table"
    assert detect(np.zeros(5)) is None and of_shape((5, 2, 2, 2, 2)) is None


def test_input_spec_knows_its_modality():
    assert InputSpec(shape=(40,), num_classes=2).modality == "signal"
    assert InputSpec(shape=(8, 8, 1), num_classes=2).modality == "image"
    table = InputSpec(shape=(1,), num_classes=2, columns=(("a", "numeric", (0.0, 1.0)),))
    assert table.modality == "table"


def test_each_modality_builds_its_inputs_and_augments_only_what_it_declares():
    import tensorflow as tf

    specs = {
        "signal": InputSpec(shape=(40,), num_classes=2),
        "image": InputSpec(shape=(8, 8, 1), num_classes=2),
        "table": InputSpec(
            shape=(2,),
            num_classes=2,
            columns=(("a", "numeric", (1.0, 4.0)), ("b", "categorical", ("x", "y"))),
        ),
    }
    batches = {
        "signal": tf.ones((3, 40)),
        "image": tf.ones((3, 8, 8, 1)),
        "table": {"a": tf.ones(3), "b": tf.constant(["x", "y", "x"])},
    }
    for name, spec in specs.items():
        inputs, raw, features = module(name).model_inputs(spec, None)
        assert features.shape[0] is None  # a batch axis, then the features
        ops = module(name).augment_ops({"gaussian_noise": 0.5}, 1.0, {"a": 2.0})
        x = batches[name]
        for op in ops:
            x = op(x)
        if name == "table":  # noise on the numeric column only
            assert not np.allclose(x["a"].numpy(), 1.0) and list(x["b"].numpy()) == [
                b"x",
                b"y",
                b"x",
            ]
        else:
            assert not np.allclose(x.numpy(), 1.0)

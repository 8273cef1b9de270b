"""Transfer learning: a base trained by an earlier study, fine-tuned on another task with its
bottom layers frozen; Keras Applications bases never download."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from test_ready_spaces import quick

import automl
from automl.errors import NetworkRequired
from automl.models.builder import InputSpec, build_model

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def kernels(model):
    return [keras.ops.convert_to_numpy(w) for w in model.weights if "kernel" in w.path]


def test_fine_tuning_a_base_from_an_earlier_study(tmp_path):
    """The ready spaces mnist1d_base.yaml then transfer.yaml, shortened as in
    test_ready_spaces.py (which leaves this pair to this test)."""
    runs = tmp_path / "runs"
    base = automl.search(
        quick(ROOT / "search_spaces" / "mnist1d_base.yaml"),
        workers=0,
        run_dir=runs,
        reports_dir=None,
        progress=False,
    )
    tree = quick(ROOT / "search_spaces" / "transfer.yaml")
    tree["model"]["architecture"]["choice"]["transfer"]["unfreeze"] = 2
    tree["training"]["epochs"] = 4
    tree["select"] = {"top_k": 1}
    result = automl.search(tree, workers=0, run_dir=runs, reports_dir=None, progress=False)

    assert result.model.output_shape == (None, 5)  # digits 5-9
    transferred = result.model.get_layer("base")
    weighted = [layer for layer in transferred.layers if layer.weights]
    trainable = [
        layer.trainable for layer in weighted if type(layer).__name__ != "BatchNormalization"
    ]
    assert trainable[-2:] == [True, True] and not any(trainable[:-2])
    assert not any(
        layer.trainable for layer in weighted if type(layer).__name__ == "BatchNormalization"
    )
    # the frozen layers kept the base's weights exactly; the fine-tuned top moved
    before, after = kernels(base.model), kernels(transferred)
    np.testing.assert_array_equal(before[0], after[0])
    assert not np.array_equal(before[len(after) - 1], after[-1])


def test_transfer_from_a_study_that_has_not_run_says_what_to_do(tmp_path):
    with pytest.raises(automl.ConfigError, match="has no winner .* run its search first"):
        automl.search(
            ROOT / "search_spaces" / "transfer.yaml",
            workers=0,
            run_dir=tmp_path,
            reports_dir=None,
            progress=False,
        )


def test_applications_base_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    spec = InputSpec(shape=(8, 8, 1), num_classes=10)
    arch = {"name": "transfer", "base": "MobileNetV2", "input_size": 32}
    with pytest.raises(
        NetworkRequired,
        match=r"mobilenet_v2.*not in the Keras cache.*never "
        r"downloads.*weights: none",
    ):
        build_model({"architecture": {**arch, "weights": "imagenet"}}, spec)
    model = build_model({"architecture": {**arch, "weights": "none"}}, spec)
    assert model.output_shape == (None, 10)
    assert not any(layer.trainable for layer in model.get_layer("base").layers if layer.weights)


def test_unknown_applications_name_is_a_config_error():
    with pytest.raises(automl.ConfigError, match="did you mean 'MobileNetV2'"):
        automl.load_space(
            {
                "data": {"source": "digits"},
                "model": {"architecture": {"choice": {"transfer": {"base": "MobilNetV2"}}}},
            }
        )

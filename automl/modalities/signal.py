"""1-D signals: arrays of shape (examples, length), such as MNIST-1D.

In the pipeline: ``shift`` and ``scale``; in the model: normalization by the training split's
mean and variance as the first layer, so an exported model takes raw signals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automl.modalities.spaces import adam_training, regularized

NAME = "signal"
# the baselines automl.baselines fits beside every search, by task
BASELINES = {
    "classification": ("majority class", "logistic regression"),
    "regression": ("mean", "linear regression"),
}


def takes_shape(shape: tuple[int, ...]) -> bool:
    return len(shape) == 2


def takes(x: Any) -> bool:
    return not isinstance(x, dict) and takes_shape(tuple(getattr(x, "shape", ())))


def augment_ops(
    augment: dict[str, Any], data_std: float, numeric_std: dict[str, float] | None = None
) -> list[Callable]:
    """Batch -> batch ops for the switched-on signal augmentations (training batches only):
    ``augment`` holds only those that are on; ``data_std`` scales ``gaussian_noise``."""
    import tensorflow as tf

    ops: list[Callable] = [lambda x: tf.cast(x, tf.float32)]
    if "shift" in augment:  # move each signal by a random whole number of steps
        max_shift = int(augment["shift"])

        def shift(x):
            # The gap left at one end repeats that end's value. A roll would wrap the other end
            # into it instead, joining two ends that do not meet: a jump no real signal has
            # wherever the signal drifts (MNIST-1D's shear). On fresh MNIST-1D signals, 8 seeds of
            # the ready space's first warm start: 98.84% against 98.72% with a roll
            # (benchmarks/README.md).
            batch, length = tf.shape(x)[0], tf.shape(x)[1]
            steps = tf.random.uniform([batch], -max_shift, max_shift + 1, dtype=tf.int32)
            index = tf.clip_by_value(tf.range(length)[None, :] - steps[:, None], 0, length - 1)
            return tf.gather(x, index, batch_dims=1)

        ops.append(shift)
    if "scale" in augment:  # multiply each signal by a factor in [1 - s, 1 + s]
        s = float(augment["scale"])
        ops.append(lambda x: x * tf.random.uniform([tf.shape(x)[0], 1], 1 - s, 1 + s))
    if augment.get("gaussian_noise"):  # a fraction of the data's standard deviation
        stddev = float(augment["gaussian_noise"]) * data_std
        ops.append(lambda x: x + tf.random.normal(tf.shape(x), stddev=stddev))
    return ops


def model_inputs(spec: Any, augment: dict[str, Any] | None) -> tuple[Any, Any, Any]:
    """The model's input, the raw input, and the input normalized by the training split."""
    import keras

    inputs = keras.Input(shape=spec.shape, name="inputs")
    x = keras.layers.Normalization(
        mean=spec.mean, variance=spec.variance, axis=None, name="normalize"
    )(inputs)
    return inputs, inputs, x


# ---- the default space (a zero-config search, automl init) -------------------------------------


def default_space(facts: Any) -> dict[str, Any]:
    """The space a zero-config search of 1-D signals searches, scaled to their length.

    A 1-D CNN or an MLP, shifts of up to a twentieth of the length and Gaussian noise, and two
    configurations tried first (a small CNN, then a deeper one). ``facts``:
    :class:`automl.inference.DataFacts`.
    """
    import math

    length = facts.shape[0]
    most_blocks = max(1, min(4, int(math.log2(max(length, 2))) - 2))
    rows = facts.rows
    batch = [32, 64, 128] if rows <= 20_000 else [128, 256]
    epochs, patience = (40, 8) if rows <= 10_000 else (20, 5)
    space = {
        "data": {
            "augment": {
                "shift": {"int": [0, max(1, length // 20)]},
                "gaussian_noise": {"float": [0.0, 0.1]},
            }
        },
        "model": regularized(
            {
                "cnn": {
                    "blocks": {"int": [1, most_blocks]} if most_blocks > 1 else 1,
                    "filters": {"int": [16, 64], "log": True},
                    "kernel_size": {"choice": [3, 5, 7]},
                    "pooling": {"choice": ["max", "none"]},
                    "head": {"choice": ["gap", "flatten"]},
                },
                "mlp": {"layers": {"int": [1, 3]}, "units": {"int": [64, 512], "log": True}},
            },
            ["relu", "gelu", "swish"],
            ["glorot_uniform", "he_normal"],
            1.0e-8,
        ),
        "training": adam_training(batch, epochs, patience),
    }
    fast = {
        "model.architecture": "cnn",
        "model.architecture.cnn.filters": 32,
        "model.architecture.cnn.kernel_size": 5,
        "model.architecture.cnn.pooling": "none",
        "model.architecture.cnn.head": "gap",
        "model.activation": "swish",
        "model.initializer": "glorot_uniform",
        "model.dropout": 0.05,
        "model.l2": 1.0e-6,
        "model.batch_norm": True,
        "training.optimizer.adam.learning_rate": 5.0e-3,
        "training.schedule": "cosine",
        "training.batch_size": batch[0],
        "data.augment.shift": min(2, max(1, length // 20)),
        "data.augment.gaussian_noise": 0.05,
    }
    if most_blocks > 1:
        fast["model.architecture.cnn.blocks"] = min(3, most_blocks)
    deep = {**fast, "model.architecture.cnn.kernel_size": 7, "model.architecture.cnn.filters": 48}
    if most_blocks > 1:
        deep["model.architecture.cnn.blocks"] = most_blocks
    return {**space, "enqueue": [fast, deep]}

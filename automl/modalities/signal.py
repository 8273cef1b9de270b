"""1-D signals: arrays of shape (examples, length), such as MNIST-1D.

In the pipeline: ``shift`` and ``scale``; in the model: normalization by the training split's
mean and variance as the first layer, so an exported model takes raw signals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NAME = "signal"


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

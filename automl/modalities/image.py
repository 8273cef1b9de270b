"""Images: arrays of shape (examples, height, width, channels) (a missing channel axis is one).

In the pipeline: ``crop`` and ``cutout``; in the model: the augmentations that are Keras
preprocessing layers (flip, rotation, translation, zoom, contrast, brightness: active in training
only, about 2x faster there than mapped in tf.data on this CPU, ``reports/curated/
input_pipeline.md``), then normalization by the training split's mean and variance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NAME = "image"
LAYER_AUGMENTATIONS = ("flip", "rotation", "translation", "zoom", "contrast", "brightness")


def takes_shape(shape: tuple[int, ...]) -> bool:
    return len(shape) in (3, 4)


def takes(x: Any) -> bool:
    return not isinstance(x, dict) and takes_shape(tuple(getattr(x, "shape", ())))


def augment_ops(
    augment: dict[str, Any], data_std: float, numeric_std: dict[str, float] | None = None
) -> list[Callable]:
    """Batch -> batch ops for the switched-on tensor augmentations (training batches only):
    ``augment`` holds only those that are on; ``data_std`` scales ``gaussian_noise``."""
    import tensorflow as tf

    ops: list[Callable] = [lambda x: tf.cast(x, tf.float32)]
    if "crop" in augment:  # pad by `crop` pixels, cut back to size at a random place
        pad = int(augment["crop"])

        def crop(x):
            shape = tf.shape(x)
            padded = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
            return tf.image.random_crop(padded, shape)

        ops.append(crop)
    if "cutout" in augment:  # blank one random square per image, `cutout` of its side
        fraction = float(augment["cutout"])

        def cutout(x):
            shape = tf.shape(x)
            h, w = shape[1], shape[2]
            size = tf.maximum(
                tf.cast(tf.cast(tf.minimum(h, w), tf.float32) * fraction, tf.int32), 1
            )
            cy = tf.random.uniform([shape[0], 1, 1], 0, h, dtype=tf.int32)
            cx = tf.random.uniform([shape[0], 1, 1], 0, w, dtype=tf.int32)
            ys, xs = tf.range(h)[None, :, None], tf.range(w)[None, None, :]
            inside = (tf.abs(ys - cy) <= size // 2) & (tf.abs(xs - cx) <= size // 2)
            return x * tf.cast(~inside, x.dtype)[..., None]

        ops.append(cutout)
    if augment.get("gaussian_noise"):  # a fraction of the data's standard deviation
        stddev = float(augment["gaussian_noise"]) * data_std
        ops.append(lambda x: x + tf.random.normal(tf.shape(x), stddev=stddev))
    return ops


def augmentation_layers(augment: dict[str, Any] | None, value_range: tuple[float, float]) -> list:
    """The Keras layers for the switched-on layer augmentations, in a fixed order."""
    import keras

    augment = {
        k: v
        for k, v in (augment or {}).items()
        if k in LAYER_AUGMENTATIONS and v not in (None, 0, 0.0, False, "none")
    }
    layers = []
    if "flip" in augment:
        layers.append(
            keras.layers.RandomFlip("horizontal" if augment["flip"] is True else augment["flip"])
        )
    if "rotation" in augment:
        layers.append(keras.layers.RandomRotation(float(augment["rotation"]), fill_mode="constant"))
    if "translation" in augment:
        t = float(augment["translation"])
        layers.append(keras.layers.RandomTranslation(t, t, fill_mode="constant"))
    if "zoom" in augment:
        layers.append(keras.layers.RandomZoom(float(augment["zoom"]), fill_mode="constant"))
    if "contrast" in augment:
        layers.append(
            keras.layers.RandomContrast(float(augment["contrast"]), value_range=value_range)
        )
    if "brightness" in augment:
        layers.append(
            keras.layers.RandomBrightness(float(augment["brightness"]), value_range=value_range)
        )
    return layers


def model_inputs(spec: Any, augment: dict[str, Any] | None) -> tuple[Any, Any, Any]:
    """The model's input, the image after the in-model augmentations (a pretrained base of our
    own takes it), and the same normalized by the training split."""
    import keras

    inputs = keras.Input(shape=spec.shape, name="inputs")
    x = inputs
    for layer in augmentation_layers(augment, spec.value_range):
        x = layer(x)
    raw = x
    x = keras.layers.Normalization(
        mean=spec.mean, variance=spec.variance, axis=None, name="normalize"
    )(x)
    return inputs, raw, x

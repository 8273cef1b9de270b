"""Images: arrays of shape (examples, height, width, channels) (a missing channel axis is one).

In the pipeline: ``crop`` and ``cutout``; in the model: the augmentations that are Keras
preprocessing layers (flip, rotation, translation, zoom, contrast, brightness: active in training
only, about 2x faster there than mapped in tf.data on this CPU, ``reports/curated/
input_pipeline.md``), then normalization by the training split's mean and variance.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from automl.modalities.spaces import adam_training, regularized

NAME = "image"
# the baselines automl.baselines fits beside every search, by task (on the pixels)
BASELINES = {
    "classification": ("majority class", "logistic regression"),
    "regression": ("mean", "linear regression"),
}
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


# ---- the default space (a zero-config search, automl init) -------------------------------------


def default_space(facts: Any) -> dict[str, Any]:
    """The space a zero-config search of images searches, scaled to their size and number.

    A 2-D CNN (as many pooling blocks as the smaller side allows, up to 4) or an MLP on the
    pixels, mild translation and rotation, and two configurations tried first: a small CNN
    (a first complete trial early), then a deeper one. ``facts``:
    :class:`automl.inference.DataFacts`.
    """
    import math

    side = min(facts.shape[0], facts.shape[1])
    most_blocks = max(1, min(4, int(math.log2(max(side, 2))) - 1))
    rows = facts.rows
    batch = [32, 64] if rows <= 20_000 else [64, 128]
    epochs, patience = (40, 8) if rows <= 5_000 else (20, 5)
    cnn = {
        "blocks": {"int": [1, most_blocks]} if most_blocks > 1 else 1,
        "filters": {"int": [16, 96], "log": True},
        "kernel_size": 3,
        "pooling": {"choice": ["max", "none"]} if most_blocks > 1 else "max",
        "head": {"choice": ["gap", "flatten"]},
    }
    space = {
        "data": {
            "augment": {
                "translation": {"float": [0.0, 0.12]},
                "rotation": {"float": [0.0, 0.06]},
            }
        },
        "model": regularized(
            {
                "cnn2d": cnn,
                "mlp": {"layers": {"int": [1, 2]}, "units": {"int": [64, 512], "log": True}},
            },
            ["relu", "gelu"],
            ["he_normal", "glorot_uniform"],
            1.0e-7,
        ),
        "training": adam_training(batch, epochs, patience),
    }
    fast = {
        "model.architecture": "cnn2d",
        "model.architecture.cnn2d.filters": 32,
        "model.architecture.cnn2d.head": "gap",
        "model.activation": "relu",
        "model.initializer": "he_normal",
        "model.dropout": 0.1,
        "model.l2": 1.0e-5,
        "model.batch_norm": True,
        "training.optimizer.adam.learning_rate": 3.0e-3,
        "training.schedule": "cosine",
        "training.batch_size": batch[0],
        "data.augment.translation": 0.05,
        "data.augment.rotation": 0.0,
    }
    if most_blocks > 1:
        fast["model.architecture.cnn2d.blocks"] = min(2, most_blocks)
        fast["model.architecture.cnn2d.pooling"] = "max"
    deep = {**fast, "model.architecture.cnn2d.filters": 64, "model.dropout": 0.2}
    if most_blocks > 2:
        deep["model.architecture.cnn2d.blocks"] = most_blocks
    return {**space, "enqueue": [fast, deep]}


# ---- new examples to predict ---------------------------------------------------------------


def read_folder(model: Any, folder: Path) -> tuple[list[str], Any]:
    """How ``automl predict`` reads new images: every image under ``folder`` (hidden files
    skipped), upright, at the model's input size and channels, as pixels 0-255 (uint8, as the
    model was trained on them); ids are the paths relative to the folder."""
    import numpy as np

    from automl.data.images import IMAGE_SUFFIXES, decode_image, pixels
    from automl.errors import UsageError
    from automl.export.signature import is_table

    shape = tuple(model.inputs[0].shape[1:]) if not is_table(model) else ()
    if len(shape) != 3:
        raise UsageError(
            f"{folder} is a folder of images, but this model takes "
            f"{'a table' if is_table(model) else f'examples of shape {shape}'}; "
            f"give it a table or an .npz file"
        )
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    height, width, channels = (int(v) for v in shape)
    x = np.empty((len(files), height, width, channels), dtype="uint8")
    for i, file in enumerate(files):
        try:
            x[i] = pixels(decode_image(file), (height, width), channels)
        except Exception as error:
            raise UsageError(
                f"{file}: cannot read this image ({error}); remove it or replace it"
            ) from None
    return [str(p.relative_to(folder)) for p in files], x

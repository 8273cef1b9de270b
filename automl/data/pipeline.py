"""tf.data pipelines: cache, shuffle, batch, augment (training split only), prefetch.

Augmentation is mapped over whole batches inside the pipeline (vectorized TensorFlow ops), so it
overlaps with training and never reaches validation or test batches; the image augmentations that
are Keras layers run inside the model, where they act in training only.
``benchmarks/input_pipeline.py`` measures the pipeline against in-memory tensors and the cost of
each augmentation.

Labels of a classification task are one-hot, so that mixup and label smoothing can soften them.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from automl.data.base import Features


def _active(augment: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in (augment or {}).items() if v not in (None, 0, 0.0, False, "none")}


def _signal_ops(augment: dict[str, Any], data_std: float) -> list[Callable]:
    import tensorflow as tf

    ops = []
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
    return ops


# Image augmentations that are Keras preprocessing layers (flip, rotation, translation, zoom,
# contrast, brightness) run inside the model instead (automl/models/augment.py):
# benchmarks/input_pipeline.py measured them about 2x faster there than mapped here.


def _image_ops(augment: dict[str, Any], data_std: float) -> list[Callable]:
    import tensorflow as tf

    ops: list[Callable] = []
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
            size = tf.maximum(tf.cast(tf.cast(tf.minimum(h, w), tf.float32) * fraction,
                                      tf.int32), 1)
            cy = tf.random.uniform([shape[0], 1, 1], 0, h, dtype=tf.int32)
            cx = tf.random.uniform([shape[0], 1, 1], 0, w, dtype=tf.int32)
            ys, xs = tf.range(h)[None, :, None], tf.range(w)[None, None, :]
            inside = (tf.abs(ys - cy) <= size // 2) & (tf.abs(xs - cx) <= size // 2)
            return x * tf.cast(~inside, x.dtype)[..., None]

        ops.append(cutout)
    return ops


def augmenter(augment: dict[str, Any] | None, modality: str, data_std: float = 1.0,
              numeric_std: dict[str, float] | None = None) -> Callable | None:
    """A batch -> batch function applying the sampled augmentations, or None when none is on.

    ``gaussian_noise`` is a fraction of the data's standard deviation (per column for tables);
    ``mixup`` is the alpha of the Beta distribution mixing each batch with itself, shuffled.
    """
    import tensorflow as tf

    augment = _active(augment or {})
    if not augment:
        return None
    ops = {"signal": _signal_ops, "image": _image_ops}.get(modality, lambda a, s: [])(
        augment, data_std)
    noise = float(augment.get("gaussian_noise", 0.0))
    alpha = float(augment.get("mixup", 0.0))

    def apply(x, y):
        if isinstance(x, dict):  # a table: noise on numeric columns only
            if noise:
                x = {k: (v + tf.random.normal(tf.shape(v), stddev=noise * numeric_std[k])
                         if k in (numeric_std or {}) else v) for k, v in x.items()}
        else:
            x = tf.cast(x, tf.float32)
            for op in ops:
                x = op(x)
            if noise:
                x = x + tf.random.normal(tf.shape(x), stddev=noise * data_std)
        if alpha and not isinstance(x, dict):
            x, y = _mixup(x, y, alpha)
        return x, y

    return apply


def _mixup(x, y, alpha: float):
    import tensorflow as tf

    batch = tf.shape(x)[0]
    g1 = tf.random.gamma([batch], alpha)
    g2 = tf.random.gamma([batch], alpha)
    lam = g1 / (g1 + g2)  # Beta(alpha, alpha)
    order = tf.random.shuffle(tf.range(batch))
    lam_x = tf.reshape(lam, [-1] + [1] * (len(x.shape) - 1))
    x = lam_x * x + (1 - lam_x) * tf.gather(x, order)
    lam_y = tf.reshape(lam, [-1, 1])
    y = lam_y * tf.cast(y, tf.float32) + (1 - lam_y) * tf.cast(tf.gather(y, order), tf.float32)
    return x, y


def _labels(y: np.ndarray, num_classes: int) -> np.ndarray:
    """One-hot labels for classification; regression targets as float32 columns."""
    if num_classes:
        return np.eye(num_classes, dtype="float32")[y]
    return y.astype("float32").reshape(-1, 1)


def train_dataset(x: Features, y: np.ndarray, batch_size: int, augment: dict[str, Any] | None,
                  seed: int, *, num_classes: int = 0, modality: str = "signal",
                  data_std: float = 1.0, numeric_std: dict[str, float] | None = None):
    """Shuffled, batched, augmented training batches, reshuffled every epoch."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, _labels(y, num_classes))).cache()
    ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True).batch(int(batch_size))
    apply = augmenter(augment, modality, data_std, numeric_std)
    if apply is not None:
        ds = ds.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_dataset(x: Features, y: np.ndarray, batch_size: int = 256, *, num_classes: int = 0):
    """Batches in a fixed order, never augmented (validation and test)."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, _labels(y, num_classes))).batch(batch_size) \
        .cache().prefetch(tf.data.AUTOTUNE)

"""tf.data pipelines: cache, shuffle, batch, augment (training split only), prefetch.

Augmentation is mapped over whole batches inside the pipeline (vectorized TensorFlow ops, each
modality's own: :mod:`automl.modalities`), so it overlaps with training and never reaches
validation or test batches; the image augmentations that are Keras layers run inside the model,
where they act in training only.
``benchmarks/input_pipeline.py`` measures the pipeline against in-memory tensors and the cost of
each augmentation.

Labels of a classification task are one-hot, so that mixup and label smoothing can soften them.
Images are uint8 until their batch (four times less memory than float32), cast to float32 as each
batch is made. A split streamed from disk (a memory map, :mod:`automl.data.streamed`) is read by
batches of row numbers, shuffled each epoch, so only the batches in flight are in memory; the
operating system's page cache keeps what fits of the file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from automl.data.base import Features


def _active(augment: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in (augment or {}).items() if v not in (None, 0, 0.0, False, "none")}


def augmenter(
    augment: dict[str, Any] | None,
    modality: str,
    data_std: float = 1.0,
    numeric_std: dict[str, float] | None = None,
) -> Callable | None:
    """A batch -> batch function applying the sampled augmentations, or None when none is on.

    ``gaussian_noise`` is a fraction of the data's standard deviation (per column for tables);
    ``mixup`` is the alpha of the Beta distribution mixing each batch with itself, shuffled.
    """
    from automl.modalities import module

    augment = _active(augment or {})
    if not augment:
        return None
    ops = module(modality).augment_ops(augment, data_std, numeric_std)
    alpha = float(augment.get("mixup", 0.0))  # signals and images only (the registry says so)

    def apply(x, y):
        for op in ops:
            x = op(x)
        if alpha:
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


def train_dataset(
    x: Features,
    y: np.ndarray,
    batch_size: int,
    augment: dict[str, Any] | None,
    seed: int,
    *,
    num_classes: int = 0,
    modality: str = "signal",
    data_std: float = 1.0,
    numeric_std: dict[str, float] | None = None,
):
    """Shuffled, batched, augmented training batches, reshuffled every epoch."""
    import tensorflow as tf

    if isinstance(x, np.memmap):
        ds = _rows(x, _labels(y, num_classes), int(batch_size), seed)
    else:
        ds = tf.data.Dataset.from_tensor_slices((x, _labels(y, num_classes))).cache()
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True).batch(int(batch_size))
        ds = _as_float(ds, x)
    apply = augmenter(augment, modality, data_std, numeric_std)
    if apply is not None:
        ds = ds.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_dataset(x: Features, y: np.ndarray, batch_size: int = 256, *, num_classes: int = 0):
    """Batches in a fixed order, never augmented (validation and test)."""
    import tensorflow as tf

    if isinstance(x, np.memmap):
        return _rows(x, _labels(y, num_classes), batch_size, None).prefetch(tf.data.AUTOTUNE)
    ds = tf.data.Dataset.from_tensor_slices((x, _labels(y, num_classes))).batch(batch_size)
    return _as_float(ds.cache(), x).prefetch(tf.data.AUTOTUNE)


def _as_float(ds, x: Features):
    """uint8 pixels as float32 0-255, batch by batch (other features as they are)."""
    import tensorflow as tf

    if isinstance(x, dict) or x.dtype != np.uint8:
        return ds
    return ds.map(lambda xb, yb: (tf.cast(xb, tf.float32), yb), num_parallel_calls=tf.data.AUTOTUNE)


def _rows(x: np.memmap, y: np.ndarray, batch_size: int, seed: int | None):
    """Batches of a split streamed from disk: row numbers (shuffled each epoch when ``seed`` is
    given), batched, then read from the pixel file in parallel with ``pread`` (through the page
    cache, without mapping the file into this process, so its memory stays flat whatever the
    file's size), each batch's rows in file order, and cast to float32 in TensorFlow."""
    import os

    import tensorflow as tf

    assert x.filename is not None  # a memory map of the pixel file
    shape = tuple(int(s) for s in x.shape[1:])
    row_bytes = int(np.prod(shape))
    file = open(x.filename, "rb", buffering=0)  # noqa: SIM115 (as long as the dataset lives)

    def read(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.sort(rows)
        out = np.empty(len(rows) * row_bytes, dtype="uint8")
        view, fd = memoryview(out.data), file.fileno()
        for k, row in enumerate(rows.tolist()):
            os.preadv(fd, [view[k * row_bytes : (k + 1) * row_bytes]], x.offset + row * row_bytes)
        return out.reshape(len(rows), *shape), y[rows]

    def batch(rows):
        xb, yb = tf.numpy_function(read, [rows], [tf.uint8, tf.float32], stateful=False)
        xb.set_shape([None, *shape])
        yb.set_shape([None, *y.shape[1:]])
        return tf.cast(xb, tf.float32), yb

    ds = tf.data.Dataset.range(len(y))
    if seed is not None:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).map(batch, num_parallel_calls=tf.data.AUTOTUNE)

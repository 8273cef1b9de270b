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
TensorFlow's own file reader through a bounded shuffle buffer, so only that buffer and the
batches in flight are in memory; the operating system's page cache keeps what fits of the file.
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


SHUFFLE_BYTES = 64 * 2**20  # a streamed split's shuffle buffer: rows in about this much memory
SHARD_ROWS = 2048  # a streamed training split is read as interleaved shards of this many rows


def _rows(x: np.memmap, y: np.ndarray, batch_size: int, seed: int | None):
    """Batches of a split streamed from disk, read by TensorFlow alone
    (``FixedLengthRecordDataset``: through the page cache, mapping nothing into this process,
    and never holding Python's interpreter lock, which Keras' training loop needs), then
    decoded and cast per batch. Training (``seed`` given) interleaves the split's shards in a
    new order each epoch through a shuffle buffer of about ``SHUFFLE_BYTES``; its rows are
    stored in a random order (:func:`automl.data.streamed.to_disk`), so neighbours on disk are
    not of one class. Evaluation reads the rows in order."""
    import os

    import tensorflow as tf

    assert x.filename is not None  # a memory map of the pixel file
    shape = tuple(int(s) for s in x.shape[1:])
    row_bytes = int(np.prod(shape))
    size = os.path.getsize(x.filename)
    labels = tf.constant(y)

    def shard(start, stop):
        records = tf.data.FixedLengthRecordDataset(
            x.filename,
            row_bytes,
            header_bytes=x.offset + start * row_bytes,
            footer_bytes=size - x.offset - stop * row_bytes,
            buffer_size=2**20,
        )
        return tf.data.Dataset.zip(
            (records, tf.data.Dataset.from_tensor_slices(labels[start:stop]))
        )

    if seed is None:
        ds = shard(tf.constant(0, tf.int64), tf.constant(len(y), tf.int64))
    else:
        starts = np.arange(0, len(y), SHARD_ROWS, dtype="int64")
        bounds = np.stack([starts, np.minimum(starts + SHARD_ROWS, len(y))], axis=1)
        ds = (
            tf.data.Dataset.from_tensor_slices(bounds)
            .shuffle(len(bounds), seed=seed, reshuffle_each_iteration=True)
            .interleave(
                lambda b: shard(b[0], b[1]),
                cycle_length=min(len(bounds), 8),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
            .shuffle(
                min(len(y), max(512, SHUFFLE_BYTES // row_bytes)),
                seed=seed,
                reshuffle_each_iteration=True,
            )
        )

    def decoded(raw, yb):
        pixels = tf.reshape(tf.io.decode_raw(raw, tf.uint8), [-1, *shape])
        return tf.cast(pixels, tf.float32), yb

    batches = -(-len(y) // batch_size)  # Keras counts the steps of an epoch from it
    return (
        ds.batch(batch_size)
        .map(decoded, num_parallel_calls=tf.data.AUTOTUNE)
        .apply(tf.data.experimental.assert_cardinality(batches))
    )

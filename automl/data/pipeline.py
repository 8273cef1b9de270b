"""tf.data pipelines: cache, shuffle, batch, augment (training split only), prefetch.

Augmentation runs as vectorized TensorFlow ops on whole batches inside the pipeline, so it
overlaps with training and never reaches the validation or test batches.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _signal_augmenter(augment: dict[str, Any], data_std: float):
    """A batch -> batch function for 1-D signals, or None when nothing is switched on.

    * ``shift``: roll each signal by a random whole number of steps in [-shift, shift].
    * ``gaussian_noise``: add noise whose standard deviation is this fraction of the data's.
    """
    import tensorflow as tf

    max_shift = int(augment.get("shift") or 0)
    noise = float(augment.get("gaussian_noise") or 0.0) * data_std
    if max_shift == 0 and noise == 0.0:
        return None

    def apply(x, y):
        if max_shift:
            batch, length = tf.shape(x)[0], tf.shape(x)[1]
            shift = tf.random.uniform([batch], -max_shift, max_shift + 1, dtype=tf.int32)
            index = tf.math.floormod(tf.range(length)[None, :] - shift[:, None], length)
            x = tf.gather(x, index, batch_dims=1)
        if noise:
            x = x + tf.random.normal(tf.shape(x), stddev=noise, dtype=x.dtype)
        return x, y

    return apply


def train_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, augment: dict[str, Any] | None,
                  seed: int, data_std: float = 1.0):
    """Shuffled, batched, augmented training batches, reshuffled every epoch."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(int(batch_size))
    augmenter = _signal_augmenter(augment or {}, data_std)
    if augmenter is not None:
        ds = ds.map(augmenter, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_dataset(x: np.ndarray, y: np.ndarray, batch_size: int = 256):
    """Batches in a fixed order, never augmented (validation and test)."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).cache() \
        .prefetch(tf.data.AUTOTUNE)

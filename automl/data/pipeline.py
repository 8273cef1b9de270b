"""tf.data pipelines: cache, shuffle, batch, augment (training split only), prefetch.

Augmentation is mapped over whole batches inside the pipeline (vectorized TensorFlow ops, each
modality's own: :mod:`automl.modalities`), so it overlaps with training and never reaches
validation or test batches; the image augmentations that are Keras layers run inside the model,
where they act in training only.
``benchmarks/input_pipeline.py`` measures the pipeline against in-memory tensors and the cost of
each augmentation.

Labels of a classification task are one-hot, so that mixup and label smoothing can soften them.
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

    ds = tf.data.Dataset.from_tensor_slices((x, _labels(y, num_classes))).cache()
    ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True).batch(int(batch_size))
    apply = augmenter(augment, modality, data_std, numeric_std)
    if apply is not None:
        ds = ds.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_dataset(x: Features, y: np.ndarray, batch_size: int = 256, *, num_classes: int = 0):
    """Batches in a fixed order, never augmented (validation and test)."""
    import tensorflow as tf

    return (
        tf.data.Dataset.from_tensor_slices((x, _labels(y, num_classes)))
        .batch(batch_size)
        .cache()
        .prefetch(tf.data.AUTOTUNE)
    )

"""Device set-up, once per process: GPU memory growth, optional mixed precision.

On a machine without a GPU this finds none and leaves Keras as it is; with GPUs it lets several
trials share one GPU (memory growth instead of grabbing all memory up front).
"""

from __future__ import annotations

import os
from functools import lru_cache


@lru_cache(maxsize=1)
def configure(mixed_precision: bool = False) -> dict[str, object]:
    """Prepare TensorFlow for training and describe the devices found."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialized by someone else: keep their setting
            pass
    policy = "mixed_float16" if (mixed_precision and gpus) else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return {"gpus": len(gpus), "precision": policy,
            "device": f"{len(gpus)} GPU(s)" if gpus else f"CPU ({os.cpu_count()} cores)"}

"""Device set-up, once per worker process: threads, GPU memory growth.

On a machine without a GPU this finds none and leaves Keras as it is; with GPUs it lets several
trials share one GPU (memory growth instead of grabbing all memory up front). Mixed precision
and XLA are per trial (``training.mixed_precision``, ``training.jit_compile``: see ``fit.py``).
"""

from __future__ import annotations

import os
from functools import lru_cache


@lru_cache(maxsize=1)
def configure(threads: int | None = None) -> dict[str, object]:
    """Prepare TensorFlow for training and describe the devices found.

    Args:
        threads: TensorFlow's intra-op threads (None: TensorFlow's default, all cores).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from automl.tuner.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1 if threads == 1 else 2)
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialized by someone else: keep their setting
            pass
    cores = f"{threads} thread(s)" if threads else f"{os.cpu_count()} cores"
    return {"gpus": len(gpus), "device": f"{len(gpus)} GPU(s)" if gpus else f"CPU ({cores})"}

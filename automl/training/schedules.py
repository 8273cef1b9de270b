"""A learning-rate schedule Keras lacks: a linear warmup in front of any other schedule."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="automl")
class WarmupThen(keras.optimizers.schedules.LearningRateSchedule):
    """Rise linearly to ``peak`` over ``warmup_steps``, then follow ``after`` from its step 0.

    Example:
        >>> decay = keras.optimizers.schedules.ExponentialDecay(0.1, 100, 0.5)
        >>> schedule = WarmupThen(decay, peak=0.1, warmup_steps=50)
    """

    def __init__(self, after, peak: float, warmup_steps: int) -> None:
        self.after = after
        self.peak = float(peak)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warm = self.peak * (step + 1.0) / float(self.warmup_steps)
        later = self.after(keras.ops.maximum(step - self.warmup_steps, 0.0))
        return keras.ops.where(step < self.warmup_steps, warm, later)

    def get_config(self) -> dict:
        return {
            "after": keras.optimizers.schedules.serialize(self.after),
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
        }

    @classmethod
    def from_config(cls, config: dict) -> "WarmupThen":
        config = dict(config)
        config["after"] = keras.optimizers.schedules.deserialize(config["after"])
        return cls(**config)

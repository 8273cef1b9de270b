"""``mlp``: dense layers, each optionally narrower than the last (``shrink`` < 1)."""

from __future__ import annotations

from typing import Any


def build(arch: dict[str, Any], techniques: Any, x: Any) -> Any:
    import keras

    if len(x.shape) > 2:
        x = keras.layers.Flatten()(x)
    units, shrink = int(arch.get("units", 128)), float(arch.get("shrink", 1.0))
    for i in range(int(arch.get("layers", 2))):
        x = techniques.drop(techniques.dense(max(1, round(units * shrink**i)), x))
    return x

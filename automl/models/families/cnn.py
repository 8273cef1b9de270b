"""``cnn`` (and ``cnn1d``, ``cnn2d``): blocks of convolution, pooling and dropout, 1-D for
signals and texts (over token embeddings) and 2-D for images, optionally residual, with a
flatten or global-average head."""

from __future__ import annotations

from typing import Any


def build(arch: dict[str, Any], techniques: Any, x: Any) -> Any:
    import keras

    t = techniques
    if "int" in str(x.dtype):  # a text's token ids: a sequence of embeddings
        x = t.embed(x, int(arch.get("embedding_dim", 64)))
    elif len(x.shape) == 2:  # a 1-D signal: add a channel axis
        x = keras.layers.Reshape((x.shape[1], 1))(x)
    two_d = len(x.shape) == 4
    pooling = arch.get("pooling", "max")
    residual = bool(arch.get("residual", False))
    filters = int(arch.get("filters", 32))
    for _ in range(int(arch.get("blocks", 2))):
        shortcut = x
        x = t.conv(filters, arch.get("kernel_size", 3 if two_d else 5), x)
        if residual:  # add the block's input back (projected when the channels differ)
            if shortcut.shape[-1] != filters:
                shortcut = (keras.layers.Conv2D if two_d else keras.layers.Conv1D)(
                    filters, 1, padding="same"
                )(shortcut)
            x = keras.layers.Add()([x, shortcut])
        if pooling != "none" and min(x.shape[1:-1]) >= 2:
            if two_d:
                pool = (
                    keras.layers.MaxPooling2D if pooling == "max" else keras.layers.AveragePooling2D
                )
            else:
                pool = (
                    keras.layers.MaxPooling1D if pooling == "max" else keras.layers.AveragePooling1D
                )
            x = pool(2)(x)
        x = t.drop(x)
    if arch.get("head", "flatten") == "flatten":
        x = keras.layers.Flatten()(x)
    else:
        x = (
            keras.layers.GlobalAveragePooling2D if two_d else keras.layers.GlobalAveragePooling1D
        )()(x)
    if int(arch.get("dense_units", 0)) > 0:
        x = t.drop(t.dense(arch["dense_units"], x))
    return x

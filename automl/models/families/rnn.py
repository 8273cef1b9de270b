"""``rnn``: recurrent layers (GRU or LSTM, optionally bidirectional) over a sequence: a text's
token embeddings (padding masked: ``mask_zero``) or a 1-D signal's steps. The last layer's
final state is the features."""

from __future__ import annotations

from typing import Any


def build(arch: dict[str, Any], techniques: Any, x: Any) -> Any:
    import keras

    if "int" in str(x.dtype):  # token ids
        x = techniques.embed(x, int(arch.get("embedding_dim", 64)), mask_zero=True)
    elif len(x.shape) == 2:  # a 1-D signal: one value a step
        x = keras.layers.Reshape((x.shape[1], 1))(x)
    cell = keras.layers.LSTM if arch.get("cell", "gru") == "lstm" else keras.layers.GRU
    layers = int(arch.get("layers", 1))
    for i in range(layers):
        layer = cell(
            int(arch.get("units", 32)),
            return_sequences=i < layers - 1,
            kernel_initializer=techniques.kernel_initializer(),
            **techniques.regularizers(),
        )
        x = keras.layers.Bidirectional(layer)(x) if arch.get("bidirectional", True) else layer(x)
        x = techniques.drop(x)
    return x

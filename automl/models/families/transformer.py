"""``transformer``: a small transformer encoder. Token (or signal-step) embeddings plus learned
position embeddings, ``blocks`` of multi-head self-attention and a feed-forward layer (each
with a residual connection and layer normalization), then the average over the positions that
are not padding. The padding mask is passed explicitly to every attention and to the average."""

from __future__ import annotations

from typing import Any


def build(arch: dict[str, Any], techniques: Any, x: Any) -> Any:
    import keras

    from automl.models.layers import (
        MaskedAverage,
        NotPadding,
        PositionEmbedding,
        TransformerBlock,
    )

    dim = int(arch.get("embedding_dim", 64))
    if "int" in str(x.dtype):  # token ids: 0 is padding
        mask = NotPadding()(x)
        x = techniques.embed(x, dim)
    else:  # a 1-D signal: each step projected to dim
        if len(x.shape) == 2:
            x = keras.layers.Reshape((x.shape[1], 1))(x)
        mask = None
        x = keras.layers.Dense(dim)(x)
    x = PositionEmbedding(int(x.shape[1]))(x)
    rate = float(
        techniques.dropout[0] if isinstance(techniques.dropout, list) else techniques.dropout or 0.0
    )
    for _ in range(int(arch.get("blocks", 1))):
        block = TransformerBlock(
            heads=int(arch.get("heads", 2)),
            key_dim=int(arch.get("key_dim", max(8, dim // int(arch.get("heads", 2))))),
            ff_units=int(arch.get("ff_units", 2 * dim)),
            dropout=rate,
        )
        x = block(x, mask) if mask is not None else block(x)
    return MaskedAverage()(x, mask) if mask is not None else MaskedAverage()(x)

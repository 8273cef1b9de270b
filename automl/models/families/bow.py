"""``bow``: bag of words. A text's token ids as one vector over the vocabulary (``multi_hot``:
which tokens it holds; ``count``: how often, as log(1 + count)), then dense layers. With
``data.text.ngrams: 2`` the vocabulary holds word pairs too. Fast, and strong on short texts."""

from __future__ import annotations

from typing import Any


def build(arch: dict[str, Any], techniques: Any, x: Any) -> Any:
    import keras

    from automl.models.layers import LogCounts

    mode = arch.get("mode", "multi_hot")
    x = keras.layers.CategoryEncoding(
        techniques.tokens, output_mode="multi_hot" if mode == "multi_hot" else "count"
    )(x)
    if mode == "count":
        x = LogCounts()(x)
    for _ in range(int(arch.get("layers", 1))):
        x = techniques.drop(techniques.dense(int(arch.get("units", 128)), x))
    return x

"""Tables: one column per feature, numeric or categorical (CSV, Parquet, a DataFrame, a dict of
arrays). Examples are a dict of columns, keyed by the user's column names.

In the pipeline: ``gaussian_noise`` on the numeric columns (a fraction of each column's standard
deviation); in the model: one input per column, numeric columns normalized by the training
split's statistics, categorical ones one-hot through a lookup of the training split's values, so
an exported model takes the raw columns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NAME = "table"


def takes_shape(shape: tuple[int, ...]) -> bool:
    return False  # a table is a dict of columns, not one array


def takes(x: Any) -> bool:
    return isinstance(x, dict)


def augment_ops(
    augment: dict[str, Any], data_std: float, numeric_std: dict[str, float] | None = None
) -> list[Callable]:
    """Batch -> batch ops for the switched-on table augmentations (training batches only)."""
    import tensorflow as tf

    noise, stds = float(augment.get("gaussian_noise", 0.0)), numeric_std or {}
    if not noise:
        return []
    return [
        lambda x: {
            k: (v + tf.random.normal(tf.shape(v), stddev=noise * stds[k]) if k in stds else v)
            for k, v in x.items()
        }
    ]


def layer_names(columns: list[str]) -> dict[str, str]:
    """Column name -> a name Keras and SavedModel signatures accept, unique, still readable.

    Column names are user data (``od280/od315_of_diluted_wines``, ``price ($)``, ``Größe``,
    ``1st floor``); layer names may not hold ``/`` and signatures want ASCII. The model's inputs
    stay keyed by the user's names: only the layers inside are renamed.

    Example:
        >>> layer_names(["price ($)", "Größe", "1st floor", "a/b", "a_b"])
        {'price ($)': 'price', 'Größe': 'Grosse', '1st floor': 'c_1st_floor', 'a/b': 'a_b', 'a_b': 'a_b_2'}
    """
    return unique({column: ascii_slug(str(column)) for column in columns})


def ascii_slug(name: str, empty: str = "column") -> str:
    """``name`` in ASCII letters, digits and underscores, starting with a letter (``c_`` in front
    of a digit), accents dropped; ``empty`` when nothing is left."""
    import re
    import unicodedata

    ascii_name = (
        unicodedata.normalize("NFKD", name.replace("ß", "ss")).encode("ascii", "ignore").decode()
    )
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", ascii_name).strip("_") or empty
    return slug if slug[0].isalpha() else f"c_{slug}"


def unique(names: dict[Any, str]) -> dict[Any, str]:
    """Each key's name, with ``_2``, ``_3`` ... after a name already taken."""
    out: dict[Any, str] = {}
    taken: set[str] = set()
    for key, base in names.items():
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        out[key] = name
    return out


def model_inputs(spec: Any, augment: dict[str, Any] | None) -> tuple[Any, Any, Any]:
    """One input per column, keyed by the column's own name: numeric ones normalized,
    categorical ones one-hot; returns (inputs, None: no raw tensor, the joined features)."""
    import keras

    inputs, numeric, encoded = {}, [], []
    safe = layer_names([name for name, _, _ in spec.columns])
    for name, kind, stats in spec.columns:
        if kind == "numeric":
            inputs[name] = keras.Input(shape=(), name=safe[name], dtype="float32")
            numeric.append((keras.layers.Reshape((1,))(inputs[name]), stats))
        else:
            strings = any(isinstance(v, str) for v in stats)
            inputs[name] = keras.Input(
                shape=(), name=safe[name], dtype="string" if strings else "int64"
            )
            lookup = keras.layers.StringLookup if strings else keras.layers.IntegerLookup
            encoded.append(
                lookup(vocabulary=list(stats), output_mode="one_hot", name=f"onehot_{safe[name]}")(
                    inputs[name]
                )
            )
    if numeric:
        stacked = (
            keras.layers.Concatenate()([n for n, _ in numeric])
            if len(numeric) > 1
            else numeric[0][0]
        )
        stacked = keras.layers.Normalization(
            mean=[m for _, (m, _) in numeric],
            variance=[v for _, (_, v) in numeric],
            name="normalize",
        )(stacked)
        encoded.insert(0, stacked)
    x = keras.layers.Concatenate()(encoded) if len(encoded) > 1 else encoded[0]
    return inputs, None, x

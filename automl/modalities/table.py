"""Tables: one column per feature, numeric, categorical or a date (CSV, Parquet, a DataFrame, a
dict of arrays). Examples are a dict of columns, keyed by the user's column names.

In the pipeline: ``gaussian_noise`` on the numeric columns (a fraction of each column's standard
deviation); in the model: one input per column, numeric columns normalized by the training
split's statistics, categorical ones one-hot through a lookup of the training split's values,
dates read from their text into parts (:class:`automl.models.layers.DateParts`), so an exported
model takes the raw columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from automl.modalities.spaces import adam_training, regularized

NAME = "table"
# the baselines automl.baselines fits beside every search, by task: what a data scientist
# tries first on a table, gradient boosting included
BASELINES = {
    "classification": ("majority class", "logistic regression", "gradient boosting"),
    "regression": ("mean", "linear regression", "gradient boosting"),
}


# an empty cell of a categorical column under data.missing: impute, at training and prediction
MISSING_CATEGORY = "(missing)"


def category_strings(values: Any) -> Any:
    """A categorical column's values as Python strings, an empty cell (None, NaN) as
    :data:`MISSING_CATEGORY`: one rule for the training data and for new rows to predict."""
    import numpy as np

    return np.array(
        [
            MISSING_CATEGORY if v is None or (isinstance(v, float) and v != v) else str(v)
            for v in np.asarray(values, dtype=object).ravel()
        ],
        dtype=object,
    )


# dates as spreadsheets and databases write them: 2021-03-04 (10:30), 04/03/2021, 3.4.2021
ISO_DATE = re.compile(
    r"^\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)
YEAR_LAST_DATE = re.compile(
    r"^\s*(\d{1,2})[-/.](\d{1,2})[-/.]\d{4}([ T]\d{1,2}:\d{2}(:\d{2})?)?\s*$"
)
DATE_SHARE = 0.95  # of a column's filled values, written as dates, for it to be a date column


def date_order(values: Any) -> str | None:
    """How a column of strings writes its dates: ``ymd`` (ISO), ``dmy`` (a first number above
    12 somewhere), ``mdy`` (otherwise: a second number above 12, or none, as pandas reads
    them); None when fewer than :data:`DATE_SHARE` of the filled values are dates."""
    import numpy as np

    texts = [str(v) for v in np.asarray(values, dtype=object).reshape(-1) if _filled(v)]
    if not texts:
        return None
    texts = texts[:: max(1, len(texts) // 2_000)]  # a sample is enough to tell
    iso = sum(bool(ISO_DATE.match(t)) for t in texts)
    if iso >= DATE_SHARE * len(texts):
        return "ymd"
    year_last = [m for t in texts if (m := YEAR_LAST_DATE.match(t))]
    if len(year_last) < DATE_SHARE * len(texts):
        return None
    return "dmy" if any(int(m.group(1)) > 12 for m in year_last) else "mdy"


def date_parts(values: Any, order: str) -> Any:
    """A column of date strings -> (rows, 7) float32 parts, NaN where a value is no date; the
    same arithmetic the model's :class:`~automl.models.layers.DateParts` layer does."""
    import numpy as np

    from automl.models.layers import DateParts

    strings = np.array(["" if not _filled(v) else str(v) for v in np.asarray(values, dtype=object)])
    return np.asarray(DateParts(order)(strings.astype(object)), dtype="float32")


def _filled(value: Any) -> bool:
    return value is not None and value == value and str(value) not in ("", MISSING_CATEGORY)


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
    """One input per column, keyed by the column's own name: numeric ones normalized (empty
    cells filled with the training mean, with a missing indicator for the columns that had
    empty cells in training), categorical ones one-hot; returns (inputs, None: no raw tensor,
    the joined features)."""
    import keras

    inputs, numeric, encoded = {}, [], []
    safe = layer_names([name for name, _, _ in spec.columns])
    for name, kind, stats in spec.columns:
        if kind == "text":  # a bag of its words (automl.modalities.text's tokenizer)
            inputs[name] = keras.Input(shape=(), name=safe[name], dtype="string")
            encoded.append(_text_features(inputs[name], stats, safe[name]))
            continue
        if kind == "datetime":  # (order, means, variances, share of rows without a date)
            inputs[name] = keras.Input(shape=(), name=safe[name], dtype="string")
            encoded += _date_features(inputs[name], stats, safe[name])
            continue
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
        # (mean, variance) or (mean, variance, share of empty cells in training)
        empty = [i for i, (_, stats) in enumerate(numeric) if len(stats) > 2 and stats[2] > 0]
        raw = stacked
        if empty:
            from automl.models.layers import FillMissing

            stacked = FillMissing([stats[0] for _, stats in numeric], name="fill_missing")(raw)
        stacked = keras.layers.Normalization(
            mean=[stats[0] for _, stats in numeric],
            variance=[stats[1] for _, stats in numeric],
            name="normalize",
        )(stacked)
        encoded.insert(0, stacked)
        if empty:
            from automl.models.layers import MissingIndicator

            encoded.insert(1, MissingIndicator(empty, name="missing_indicator")(raw))
    x = keras.layers.Concatenate()(encoded) if len(encoded) > 1 else encoded[0]
    return inputs, None, x


def _text_features(text: Any, stats: dict[str, Any], safe: str) -> Any:
    """A text column as a bag of words: which of the training vocabulary's tokens (and word
    pairs, with ``data.text.ngrams: 2``) it holds, as one multi-hot vector."""
    import keras

    from automl.modalities.text import vectorizer

    ids = vectorizer(stats, name=f"tokenize_{safe}")(text)
    return keras.layers.CategoryEncoding(
        max(1, len(stats["tokens"])) + 2, output_mode="multi_hot", name=f"words_{safe}"
    )(ids)


def _date_features(text: Any, stats: tuple, safe: str) -> list[Any]:
    """A date column's parts, filled where a row has no date (with an indicator, where training
    rows lacked one) and normalized by the training split's statistics."""
    import keras

    from automl.models.layers import DateParts, FillMissing, MissingIndicator

    order, means, variances, empty = stats
    raw = DateParts(order, name=f"date_{safe}")(text)
    parts = FillMissing(list(means), name=f"fill_{safe}")(raw)
    features = [
        keras.layers.Normalization(
            mean=list(means), variance=list(variances), name=f"normalize_{safe}"
        )(parts)
    ]
    if empty:
        features.append(MissingIndicator([0], name=f"no_date_{safe}")(raw))
    return features


def date_stats(values: Any) -> tuple:
    """A date column's ``(order, means, variances, share without a date)`` on the training
    split, as :func:`model_inputs` takes them."""
    import numpy as np

    order = date_order(values) or "ymd"
    parts = date_parts(values, order)
    dated = parts[~np.isnan(parts[:, 0])]
    if not len(dated):
        return order, (0.0,) * parts.shape[1], (1.0,) * parts.shape[1], 1.0
    variances = tuple(float(v) or 1.0 for v in dated.var(axis=0))
    return (
        order,
        tuple(float(m) for m in dated.mean(axis=0)),
        variances,
        1 - len(dated) / len(parts),
    )


# ---- the default space (a zero-config search, automl init) -------------------------------------


def default_space(facts: Any) -> dict[str, Any]:
    """The space a zero-config search of a table searches, scaled to its rows and columns.

    An MLP with batch norm, dropout and weight decay (the regularization cocktail of Kadra et
    al., 2021, reduced to what a short budget can search), label smoothing for classes (a
    RealMLP default, Holzmueller et al., 2024), Gaussian noise on the numeric columns, and two
    configurations tried first: a small fast one (a first complete trial early), then a wider
    one. ``facts``: :class:`automl.inference.DataFacts`.
    """
    rows = facts.rows
    batch = [16, 32, 64] if rows <= 2_000 else [64, 128, 256] if rows <= 20_000 else [256, 512]
    epochs, patience = (60, 10) if rows <= 2_000 else (30, 6) if rows <= 20_000 else (15, 4)
    classification = facts.task == "classification"
    augment = {"gaussian_noise": {"float": [0.0, 0.1]}} if facts.numeric_columns else {}
    training = adam_training(batch, epochs, patience)
    if classification:
        training["label_smoothing"] = {"float": [0.0, 0.1]}
    mlp = {"layers": {"int": [1, 3]}, "units": {"int": [32, 512], "log": True}}
    space = {
        "model": regularized(
            {"mlp": mlp}, ["relu", "gelu", "selu"], ["glorot_uniform", "he_normal"], 1.0e-7
        ),
        "training": training,
    }
    fast = {
        "model.architecture.mlp.layers": 2,
        "model.architecture.mlp.units": 128,
        "model.activation": "relu",
        "model.initializer": "he_normal",
        "model.dropout": 0.1,
        "model.l2": 1.0e-5,
        "model.batch_norm": True,
        "training.optimizer.adam.learning_rate": 3.0e-3,
        "training.schedule": "cosine",
        "training.batch_size": batch[1],
    }
    wide = {
        **fast,
        "model.architecture.mlp.layers": 3,
        "model.architecture.mlp.units": 256,
        "model.activation": "gelu",
        "model.dropout": 0.25,
        "training.optimizer.adam.learning_rate": 1.0e-3,
    }
    if classification:
        fast["training.label_smoothing"] = wide["training.label_smoothing"] = 0.05
    if augment:
        space["data"] = {"augment": augment}
        fast["data.augment.gaussian_noise"] = 0.0
        wide["data.augment.gaussian_noise"] = 0.05
    return {**space, "enqueue": [fast, wide]}

"""The layers automl puts in models that Keras lacks: missing numbers filled inside the model,
a log-scale target brought back to its units, a date's text read as numbers.

Importing this module registers them with Keras (``automl>FillMissing``,
``automl>MissingIndicator``, ``automl>Expm1``, ``automl>DateParts``); :data:`CUSTOM_OBJECTS` hands them to ``keras.saving.load_model``
where this module may not be imported (a serving machine, which gets them with the pickled
serving model).

Example:
    >>> FillMissing([1.0, 2.0])(np.array([[np.nan, 5.0]], "float32"))
    [[1.0, 5.0]]
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="automl")
class FillMissing(keras.layers.Layer):
    """NaN in column ``i`` of a (batch, columns) input -> ``means[i]`` (the training mean), so an
    exported model takes rows with empty cells as the training data had them."""

    def __init__(self, means: list[float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.means = [float(m) for m in means]

    def call(self, x):
        missing = keras.ops.not_equal(x, x)  # NaN is the only value not equal to itself
        return keras.ops.where(missing, keras.ops.convert_to_tensor(self.means, x.dtype), x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "means": self.means}


@keras.saving.register_keras_serializable(package="automl")
class MissingIndicator(keras.layers.Layer):
    """1.0 where column ``i`` of ``columns`` is NaN, else 0.0: what the model learns from a cell
    being empty (sklearn's ``add_indicator``)."""

    def __init__(self, columns: list[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.columns = [int(c) for c in columns]

    def call(self, x):
        chosen = keras.ops.take(x, self.columns, axis=1)
        return keras.ops.cast(keras.ops.not_equal(chosen, chosen), x.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.columns))

    def get_config(self) -> dict:
        return {**super().get_config(), "columns": self.columns}


@keras.saving.register_keras_serializable(package="automl")
class Expm1(keras.layers.Layer):
    """``exp(z) - 1``: a prediction of ``log(1 + y)`` back in y's units
    (``data.target_transform: log``); ``z`` is capped where float32 would overflow."""

    def call(self, z):
        return keras.ops.expm1(keras.ops.minimum(z, 80.0))

    def compute_output_shape(self, input_shape):
        return input_shape


# what DateParts makes of a date, in this order
DATE_PARTS = (
    "years since 1970",
    "month (sine)",
    "month (cosine)",
    "day of the month",
    "day of the week (sine)",
    "day of the week (cosine)",
    "hour of the day",
)


@keras.saving.register_keras_serializable(package="automl")
class DateParts(keras.layers.Layer):
    """A date's text -> :data:`DATE_PARTS` as numbers (NaN where it holds no date).

    The text's digit groups are read in ``order`` (``ymd`` for ``2021-03-04 10:30``, ``dmy``
    for ``04/03/2021``, ``mdy`` for ``03/04/2021``), then the hour and minute if there are any.
    The year trend is continuous (days since 1970, in years); month and weekday are cyclic.
    """

    def __init__(self, order: str = "ymd", **kwargs) -> None:
        super().__init__(**kwargs)
        self.order = order

    def call(self, text):
        import tensorflow as tf

        text = tf.reshape(tf.convert_to_tensor(text, tf.string), [-1])
        digits = tf.strings.split(tf.strings.strip(tf.strings.regex_replace(text, "[^0-9]+", " ")))
        count = digits.row_lengths()
        padded = digits.to_tensor(default_value="0", shape=[None, 5])
        numbers = tf.strings.to_number(padded, tf.float32)
        at = {part: self.order.index(part) for part in "ymd"}
        year, month, day = (numbers[:, at[p]] for p in "ymd")
        hour = numbers[:, 3] + numbers[:, 4] / 60.0
        valid = (count >= 3) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
        # days since 1970-01-01 (Howard Hinnant's days_from_civil), in float arithmetic
        y = year - tf.cast(month <= 2, tf.float32)
        era = tf.floor(y / 400.0)
        yoe = y - era * 400.0
        doy = (
            tf.floor((153.0 * tf.where(month > 2, month - 3.0, month + 9.0) + 2.0) / 5.0) + day - 1
        )
        doe = yoe * 365.0 + tf.floor(yoe / 4.0) - tf.floor(yoe / 100.0) + doy
        days = era * 146097.0 + doe - 719468.0
        weekday = tf.math.floormod(days + 3.0, 7.0)  # Monday 0
        turn = 2.0 * 3.141592653589793
        parts = tf.stack(
            [
                days / 365.2425,
                tf.sin(turn * (month - 1.0) / 12.0),
                tf.cos(turn * (month - 1.0) / 12.0),
                day,
                tf.sin(turn * weekday / 7.0),
                tf.cos(turn * weekday / 7.0),
                tf.where(count >= 5, hour, 0.0),
            ],
            axis=1,
        )
        return tf.where(valid[:, None], parts, float("nan"))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(DATE_PARTS))

    def get_config(self) -> dict:
        return {**super().get_config(), "order": self.order}


@keras.saving.register_keras_serializable(package="automl")
class LogCounts(keras.layers.Layer):
    """``log(1 + count)``: a bag of words' counts, so a word said ten times is not ten times
    as loud."""

    def call(self, x):
        return keras.ops.log1p(x)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="automl")
class NotPadding(keras.layers.Layer):
    """Token ids -> True where a position holds a token (id 0 is padding): the mask the
    transformer's attention and average take."""

    def call(self, ids):
        return keras.ops.not_equal(ids, 0)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="automl")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector for each position to a (batch, length, dim) sequence."""

    def __init__(self, length: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.length = int(length)

    def build(self, input_shape):
        self.positions = self.add_weight(
            shape=(self.length, int(input_shape[-1])), initializer="uniform", name="positions"
        )

    def call(self, x):
        return x + keras.ops.cast(self.positions, x.dtype)[None, : keras.ops.shape(x)[1]]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "length": self.length}


@keras.saving.register_keras_serializable(package="automl")
class TransformerBlock(keras.layers.Layer):
    """Self-attention then a feed-forward layer, each with dropout, a residual connection and
    layer normalization (post-norm, as in "Attention is all you need"). ``mask``: (batch,
    length) True where a token is, so padding is never attended to."""

    def __init__(self, heads: int, key_dim: int, ff_units: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.key_dim, self.ff_units = int(heads), int(key_dim), int(ff_units)
        self.dropout = float(dropout)

    def build(self, input_shape):
        dim = int(input_shape[-1])
        self.attention = keras.layers.MultiHeadAttention(
            self.heads, self.key_dim, dropout=self.dropout
        )
        self.attention.build(input_shape, input_shape)
        self.ff_in = keras.layers.Dense(self.ff_units, activation="gelu")
        self.ff_in.build(input_shape)
        self.ff_out = keras.layers.Dense(dim)
        self.ff_out.build((*input_shape[:-1], self.ff_units))
        self.norm1 = keras.layers.LayerNormalization()
        self.norm1.build(input_shape)
        self.norm2 = keras.layers.LayerNormalization()
        self.norm2.build(input_shape)
        self.drop = keras.layers.Dropout(self.dropout)

    def call(self, x, mask=None, training=None):
        attention_mask = None
        if mask is not None:  # (batch, query, key): attend to tokens only
            attention_mask = keras.ops.logical_and(mask[:, :, None], mask[:, None, :])
        attended = self.attention(x, x, attention_mask=attention_mask, training=training)
        x = self.norm1(x + self.drop(attended, training=training))
        fed = self.ff_out(self.ff_in(x))
        return self.norm2(x + self.drop(fed, training=training))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "heads": self.heads,
            "key_dim": self.key_dim,
            "ff_units": self.ff_units,
            "dropout": self.dropout,
        }


@keras.saving.register_keras_serializable(package="automl")
class MaskedAverage(keras.layers.Layer):
    """The average of a (batch, length, dim) sequence over the positions ``mask`` keeps (all
    of them without a mask); a text of padding only gives zeros."""

    def call(self, x, mask=None):
        if mask is None:
            return keras.ops.mean(x, axis=1)
        weights = keras.ops.cast(mask, x.dtype)[:, :, None]
        total = keras.ops.sum(x * weights, axis=1)
        return total / keras.ops.maximum(keras.ops.sum(weights, axis=1), 1.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def compute_mask(self, inputs, mask=None):
        return None


CUSTOM_OBJECTS = {
    "automl>FillMissing": FillMissing,
    "automl>MissingIndicator": MissingIndicator,
    "automl>Expm1": Expm1,
    "automl>DateParts": DateParts,
    "automl>LogCounts": LogCounts,
    "automl>NotPadding": NotPadding,
    "automl>PositionEmbedding": PositionEmbedding,
    "automl>TransformerBlock": TransformerBlock,
    "automl>MaskedAverage": MaskedAverage,
}

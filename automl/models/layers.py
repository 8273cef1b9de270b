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


CUSTOM_OBJECTS = {
    "automl>FillMissing": FillMissing,
    "automl>MissingIndicator": MissingIndicator,
    "automl>Expm1": Expm1,
    "automl>DateParts": DateParts,
}

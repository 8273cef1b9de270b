"""The layers automl puts in models that Keras lacks: missing numbers filled inside the model,
a log-scale target brought back to its units.

Importing this module registers them with Keras (``automl>FillMissing``,
``automl>MissingIndicator``, ``automl>Expm1``); :data:`CUSTOM_OBJECTS` hands them to ``keras.saving.load_model``
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


CUSTOM_OBJECTS = {
    "automl>FillMissing": FillMissing,
    "automl>MissingIndicator": MissingIndicator,
    "automl>Expm1": Expm1,
}

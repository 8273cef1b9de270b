"""The winner as an MLflow model: logged with an input example and a signature, its
``python_function`` flavor taking a DataFrame of raw columns (``mlflow models serve``)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.export.formats import load_inference_model, quiet_converters, save_keras
from automl.export.signature import column_array, is_table, predict_raw, to_model_inputs

if TYPE_CHECKING:
    import keras


# ---- MLflow --------------------------------------------------------------------------------------


def log_mlflow_model(
    model: "keras.Model", x_example: Any, *, registered_name: str, pip_requirements: list[str]
) -> Any:
    """Log ``model`` in the active MLflow run as ``model``, registered as ``registered_name``.

    The logged model holds one ``.keras`` file (without an optimizer) and two flavors on it:
    ``python_function`` (:func:`serving_model`: ``mlflow models serve`` and
    ``mlflow.pyfunc.load_model(...).predict(frame)``) and ``keras``
    (``mlflow.keras.load_model``). It carries an input example made of ``x_example`` (raw
    examples, as the splits hold them) and the signature inferred from it.

    Returns:
        MLflow's ``ModelInfo`` (``model_uri``, ``registered_model_version`` ...).
    """
    import tempfile
    from types import SimpleNamespace

    from mlflow.models import Model, infer_signature

    with tempfile.TemporaryDirectory() as tmp:
        keras_file = Path(tmp, "model.keras")
        model.save(Path(tmp, "trained.keras"))
        try:
            inference = load_inference_model(Path(tmp, "trained.keras"))  # no optimizer state
        except Exception:  # a model Keras cannot rebuild without its custom objects: as trained
            inference = model
        save_keras(inference, keras_file)
        try:
            example = mlflow_input_example(inference, x_example)
            outputs = np.asarray(inference(to_model_inputs(inference, example), training=False))
            signature = infer_signature(example, outputs)
        except Exception:  # a custom builder's model of another input structure: log it bare
            example, signature = None, None
        flavor = SimpleNamespace(__name__="mlflow.pyfunc", save_model=_save_pyfunc_and_keras)
        # mlflow.pyfunc advises against pickled models (a pickle runs code when loaded); ours is
        # pickled on purpose, so that serving needs no automl; MLflow's own models load pickles too
        with pickled_by_value(), quiet_converters(("mlflow.pyfunc",)):
            return Model.log(
                None,
                flavor,
                name="model",
                flavor_name="keras",
                registered_model_name=registered_name,
                python_model=serving_model(),
                artifacts={"keras_model": str(keras_file)},
                signature=signature,
                input_example=example,
                pip_requirements=pip_requirements,
            )


def _save_pyfunc_and_keras(path: str, mlflow_model: Any, **kwargs: Any) -> None:
    """``Model.log``'s flavor: the pyfunc model, then a ``keras`` flavor on its ``.keras``
    artifact (``artifacts/model.keras``, where ``mlflow.keras`` looks for ``data: artifacts``)."""
    import keras
    import mlflow

    mlflow.pyfunc.save_model(path, mlflow_model=mlflow_model, **kwargs)
    mlflow_model.add_flavor(
        "keras",
        data="artifacts",
        keras_version=keras.__version__,
        keras_backend=keras.backend.backend(),
        save_exported_model=False,
    )
    mlflow_model.save(str(Path(path, "MLmodel")))


def mlflow_input_example(model: "keras.Model", x_example: Any) -> Any:
    """What MLflow logs as the model's input example, and infers the signature from: a
    DataFrame with the table's own column names, or the examples' array for signals and images.

    Numbers are float64, NumPy's and pandas' default: MLflow checks a tensor's dtype exactly, so
    a float32 signature would refuse ``predict(pd.DataFrame(...))`` (the model casts them)."""
    import pandas as pd

    if not is_table(model) and str(model.inputs[0].dtype) == "string":  # texts: one column
        return pd.DataFrame({model.inputs[0].name: to_model_inputs(model, x_example)})
    if is_table(model):
        columns = {}
        for name, tensor in model.input.items():
            column = column_array(x_example[name], str(tensor.dtype))
            columns[name] = column.astype("float64") if column.dtype.kind == "f" else column
        return pd.DataFrame(columns)
    return to_model_inputs(model, x_example).astype("float64")


def serving_model() -> Any:
    """An ``mlflow.pyfunc.PythonModel`` around the ``.keras`` artifact ``keras_model``.

    It takes what ``mlflow models serve`` and ``mlflow.pyfunc`` hand it (a DataFrame of raw
    columns, a dict of columns, an array of signals or images) and returns the model's output
    array. The class is built here, so that cloudpickle stores it with the model (by value):
    serving needs Keras, pandas and MLflow, not automl.
    """
    import pandas as pd
    from mlflow.pyfunc.model import PythonModel

    from automl.models.layers import CUSTOM_OBJECTS  # pickled with the class, by value

    custom_objects = dict(CUSTOM_OBJECTS)

    class AutomlKerasModel(PythonModel):
        """A Keras model that takes raw inputs, served by MLflow."""

        def load_context(self, context):
            import warnings

            import keras

            with warnings.catch_warnings():  # see automl.export.formats.load_inference_model
                warnings.filterwarnings("ignore", message="When providing `inputs` as a dict")
                self.model = keras.saving.load_model(
                    context.artifacts["keras_model"], compile=False, custom_objects=custom_objects
                )

        def predict(self, context, model_input, params=None):
            return predict_raw(self.model, to_model_inputs(self.model, model_input))

        # MLflow warns about a predict without type hints and reads most hints as a second
        # signature; a DataFrame hint is one it infers nothing from, so the logged one rules
        predict.__annotations__ = {"model_input": pd.DataFrame}

    return AutomlKerasModel()


@contextlib.contextmanager
def pickled_by_value() -> Iterator[None]:
    """While logging: cloudpickle stores the serving class and the functions it calls (here, in
    :mod:`automl.export.formats`, :mod:`automl.export.signature`, the layers of
    :mod:`automl.models.layers` and :mod:`automl.modalities.table`'s category strings) in the
    model, not a
    reference to ``automl.export`` (which a serving machine need not have)."""
    import cloudpickle

    import automl.models.layers  # noqa: F401  (in sys.modules, to be pickled by value)

    modules = [
        sys.modules[name]
        for name in (
            __name__,
            "automl.export.formats",
            "automl.export.signature",
            "automl.models.layers",  # the layers a table model with missing values holds
            "automl.modalities.table",  # category_strings, for a categorical column
        )
    ]
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        for module in modules:
            cloudpickle.unregister_pickle_by_value(module)

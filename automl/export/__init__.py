"""Ship a winning model: export it to the formats other runtimes load, serve it from MLflow, and
predict from files.

Every format takes raw inputs, exactly as the data source gave them (normalization and the
categorical columns' lookups live inside the model), and answers with the same numbers as the
Keras model:

========== ======================= =================================================================
format     written to              loads with
========== ======================= =================================================================
keras      ``model.keras``         ``keras.saving.load_model`` (no optimizer inside: loads silently)
savedmodel ``saved_model/``        ``tf.saved_model.load(...).serve(x)``, TensorFlow Serving
tflite     ``model.tflite``        the LiteRT / TFLite interpreter (built-in ops only)
onnx       ``model.onnx``          ``onnxruntime.InferenceSession``
========== ======================= =================================================================

Modules: :mod:`~automl.export.formats` (the formats, each an entry of
:data:`automl.registry.EXPORT_FORMATS`), :mod:`~automl.export.signature` (what the model takes and
gives), :mod:`~automl.export.predict` (``automl predict``), :mod:`~automl.export.serving` (MLflow).

``signature.json`` beside them names the inputs (one ``inputs`` tensor for signals and images,
one input per column for tables), the outputs and the classes. TFLite and ONNX cannot hold the
lookup tables of categorical columns: a table model with one is refused for those two formats
with a sentence naming the formats that work.

The MLflow model a search registers (:func:`log_mlflow_model`) holds the same ``.keras`` file,
an input example and a signature; its ``python_function`` flavor takes a DataFrame of raw
columns, which is what ``mlflow models serve`` hands it. ``automl predict`` is
:func:`predict_file`; ``result.predict`` is :func:`predict_examples`.

Example:
    >>> written = export_model(Path("automl-runs/mnist1d/winner.keras"), "out", format="onnx")
    >>> written["onnx"]
    PosixPath('out/model.onnx')
"""

from automl.export.formats import FORMATS, export_model, formats_from, load_inference_model
from automl.export.predict import predict_examples, predict_file, predictions_frame, winner_file
from automl.export.serving import log_mlflow_model
from automl.export.signature import study_class_names, to_model_inputs

__all__ = [
    "FORMATS",
    "export_model",
    "formats_from",
    "load_inference_model",
    "log_mlflow_model",
    "predict_examples",
    "predict_file",
    "predictions_frame",
    "study_class_names",
    "to_model_inputs",
    "winner_file",
]

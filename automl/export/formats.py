"""The export formats: their names, how each is written, and which models each can hold.

Each format is an entry of :data:`automl.registry.EXPORT_FORMATS` (its writer here, the file it
writes); :func:`export_model` writes the asked ones with ``signature.json`` beside them.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.errors import UsageError
from automl.export.signature import (
    describe,
    export_signature,
    input_specs,
    is_table,
    study_class_names,
)

if TYPE_CHECKING:
    import keras

from automl.registry import EXPORT_FORMATS

FORMATS = tuple(EXPORT_FORMATS)
FORMAT_ALIASES = {
    "saved_model": "savedmodel",
    "tf_saved_model": "savedmodel",
    "litert": "tflite",
    "h5": "keras",
}
ONNX_OPSET = 17


# ---- formats -------------------------------------------------------------------------------------


def formats_from(format: str | Iterable[str]) -> tuple[str, ...]:
    """The export formats ``format`` names, in canonical spelling and without repeats.

    Accepts one name, a comma-separated list (``"keras,onnx"``) or an iterable of names; also
    ``saved_model``/``tf_saved_model`` for ``savedmodel`` and ``litert`` for ``tflite``.

    Raises:
        UsageError: a name that is none of :data:`automl.registry.EXPORT_FORMATS`.
    """
    names = format.split(",") if isinstance(format, str) else list(format)
    out: list[str] = []
    for name in names:
        clean = FORMAT_ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
        if clean not in EXPORT_FORMATS:
            raise UsageError(
                f"unknown export format {name!r}; choose from {', '.join(EXPORT_FORMATS)}"
            )
        if clean not in out:
            out.append(clean)
    if not out:
        raise UsageError(f"name at least one export format: {', '.join(EXPORT_FORMATS)}")
    return tuple(out)


def export_model(
    model_file: str | Path,
    out_dir: str | Path,
    *,
    format: str | Iterable[str] = "keras",
    params: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    class_names: Iterable[str] | None = None,
) -> dict[str, Path]:
    """Write the model in each asked format to ``out_dir``, with its metadata beside it.

    Args:
        model_file: the winner's ``.keras`` file (``<run dir>/<study>/winner.keras``).
        out_dir: the folder to write (created when missing; files of the same name replaced).
        format: ``keras``, ``savedmodel``, ``tflite``, ``onnx``, or several of them.
        params: the winner's sampled values, written to ``params.json`` when given.
        metrics: its scores, written to ``metrics.json`` when given.
        class_names: label ``i`` is ``class_names[i]``; read from the study's split snapshot
            beside ``model_file`` when not given.

    Returns:
        What was written, by kind: ``model`` (the ``.keras`` file), ``savedmodel``, ``tflite``,
        ``onnx``, ``signature``, ``params``, ``metrics``, and for a text model its tokenizer's
        ``vocabulary`` (``vocabulary.txt``, token id ``i`` on line ``i``).

    Raises:
        UsageError: an unknown format, a missing model file, or a format that cannot hold this
            model (TFLite and ONNX with categorical columns), before anything is written.
    """
    formats = formats_from(format)
    model_file = Path(model_file)
    if not model_file.is_file():
        raise UsageError(
            f"no model file at {model_file}; run automl search first, or give the "
            f"--run-dir the search used"
        )
    _require_converter(formats)
    model = load_inference_model(model_file)
    refuse_unsupported(model, formats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for fmt in formats:  # each format's writer and file name: automl.registry.EXPORT_FORMATS
        key, name = EXPORT_FORMATS[fmt].details["written"]
        written[key] = EXPORT_FORMATS.create(fmt, model, out / name)
    classes = list(class_names) if class_names is not None else study_class_names(model_file.parent)
    from automl.modalities.text import vocabularies, vocabulary_text

    for name, tokens in vocabularies(model).items():  # token id i on line i
        written[name.removesuffix(".txt")] = out / name
        written[name.removesuffix(".txt")].write_text(vocabulary_text(tokens), encoding="utf-8")
    written["signature"] = out / "signature.json"
    written["signature"].write_text(json.dumps(describe(model, classes), indent=2))
    if params is not None:
        written["params"] = out / "params.json"
        written["params"].write_text(json.dumps(params, indent=2, default=str))
    if metrics is not None:
        written["metrics"] = out / "metrics.json"
        written["metrics"].write_text(json.dumps(metrics, indent=2, default=str))
    return written


def load_inference_model(model_file: str | Path) -> "keras.Model":
    """The model in ``model_file`` for prediction only: not compiled, so Keras neither restores
    nor warns about the training optimizer's state."""
    import keras

    from automl.models.layers import CUSTOM_OBJECTS

    with warnings.catch_warnings():
        # a table whose column names are no layer names ("price ($)") keeps them as its input
        # keys behind safe layer names (see automl.modalities.table.layer_names): as intended
        warnings.filterwarnings("ignore", message="When providing `inputs` as a dict")
        return keras.saving.load_model(model_file, compile=False, custom_objects=CUSTOM_OBJECTS)


def _require_converter(formats: Iterable[str]) -> None:
    """The ONNX converter is an optional extra: say how to install it before writing anything."""
    import importlib.util

    if "onnx" in formats and importlib.util.find_spec("tf2onnx") is None:
        raise UsageError(
            "the onnx format needs tf2onnx; pip install 'automl[export]' (or "
            "tf2onnx) and export again"
        )


def refuse_unsupported(model: "keras.Model", formats: Iterable[str]) -> None:
    """Refuse, in one sentence, the formats that cannot hold ``model``.

    TFLite's built-in ops and tf2onnx have no lookup tables, which the categorical columns of a
    table model use to one-hot encode their raw values.
    """
    refused = [fmt for fmt in formats if fmt in ("tflite", "onnx")]
    lookups = categorical_columns(model) if refused else []
    if lookups:
        raise UsageError(
            f"the {' and '.join(refused)} format{'s' if len(refused) > 1 else ''} "
            f"cannot hold the lookup tables of this table model's categorical "
            f"columns ({', '.join(lookups)}); export it as savedmodel (TensorFlow, "
            f"TF Serving) or keras instead"
        )
    if refused and any(type(layer).__name__ == "TextVectorization" for layer in model.layers):
        raise UsageError(
            f"the {' and '.join(refused)} format{'s' if len(refused) > 1 else ''} cannot "
            f"hold this model's tokenizer (TextVectorization, which takes raw strings); "
            f"export it as savedmodel (TensorFlow, TF Serving) or keras instead"
        )
    dates = date_columns(model) if refused else []
    if dates:
        raise UsageError(
            f"the {' and '.join(refused)} format{'s' if len(refused) > 1 else ''} "
            f"cannot read the text of this table model's date columns ({', '.join(dates)}); "
            f"export it as savedmodel (TensorFlow, TF Serving) or keras instead"
        )


def date_columns(model: "keras.Model") -> list[str]:
    """The layers that read a date column's text (:class:`automl.models.layers.DateParts`)."""
    from automl.models.layers import DateParts

    return [
        layer.name.removeprefix("date_") for layer in model.layers if isinstance(layer, DateParts)
    ]


def categorical_columns(model: "keras.Model") -> list[str]:
    """The columns a lookup layer (``StringLookup``, ``IntegerLookup``) encodes: a table's text
    and integer inputs; the lookup layers' names for a model without named columns; none
    without lookups."""
    import keras

    lookups = [
        layer.name
        for layer in model.layers
        if isinstance(layer, (keras.layers.StringLookup, keras.layers.IntegerLookup))
    ]
    if not lookups or not is_table(model):
        return lookups
    return [
        name for name, tensor in model.input.items() if not str(tensor.dtype).startswith("float")
    ] or lookups


def save_keras(model: "keras.Model", path: Path) -> Path:
    """``path`` (``.keras``): the model without an optimizer, so loading it prints nothing."""
    model.save(path)
    return path


def save_savedmodel(model: "keras.Model", path: Path) -> Path:
    """A TensorFlow SavedModel folder whose ``serve`` endpoint takes the raw inputs."""
    with quiet_converters():
        model.export(
            str(path),
            format="tf_saved_model",
            verbose=False,
            input_signature=export_signature(model),
        )
    return path


def save_tflite(model: "keras.Model", path: Path) -> Path:
    """A TFLite flat buffer of built-in ops only, so the plain LiteRT runtime runs it."""
    import tensorflow as tf

    with quiet_converters(), _conversion_failure("tflite"):
        model.export(
            str(path),
            format="litert",
            verbose=False,
            input_signature=export_signature(model),
            target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]},
        )
    return path


def save_onnx(model: "keras.Model", path: Path) -> Path:
    """An ONNX graph whose inputs are named as the model's (``inputs``, or the table's columns).

    Keras's own ONNX export turns constants the model captured (the normalization statistics)
    into extra graph inputs; this freezes them into the graph first.
    """
    import tensorflow as tf

    with quiet_converters(), _conversion_failure("onnx"):
        import onnx
        import tf2onnx
        from tf2onnx import tf_loader

        specs = input_specs(model)
        function = tf.function(lambda inputs: model(inputs, training=False))
        concrete = function.get_concrete_function(specs)
        flat_specs = tf.nest.flatten(concrete.structured_input_signature)
        graph_inputs = [t.name for t in concrete.inputs[: len(flat_specs)]]
        graph_outputs = [t.name for t in concrete.outputs]
        frozen = tf_loader.from_function(concrete, graph_inputs, graph_outputs)
        renames = dict(zip(graph_inputs, [spec.name for spec in flat_specs]))
        renames[graph_outputs[0]] = "predictions"
        proto, _ = tf2onnx.convert.from_graph_def(
            frozen,
            name="automl",
            input_names=graph_inputs,
            output_names=graph_outputs,
            opset=ONNX_OPSET,
            tensors_to_rename=renames,
        )
        # tf2onnx leaves the ops it cannot map in the graph: such a graph fails the checker
        onnx.checker.check_model(proto, full_check=True)
        onnx.save(proto, str(path))
    return path


@contextlib.contextmanager
def _conversion_failure(fmt: str) -> Iterator[None]:
    """A converter that gives up (an op it has no counterpart for, in a custom model, say)
    becomes one sentence naming the formats that hold any model."""
    try:
        yield
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        raise UsageError(
            f"the {fmt} converter cannot convert this model ({first}); export it "
            f"as savedmodel or keras instead"
        ) from None


@contextlib.contextmanager
def quiet_converters(
    loggers: tuple[str, ...] = ("tensorflow", "tf2onnx", "absl"),
) -> Iterator[None]:
    """The converters' Python warnings and log lines (deprecations, shape inference notes) are
    not the user's business; their C++ lines follow ``TF_CPP_MIN_LOG_LEVEL``."""
    found = [logging.getLogger(name) for name in loggers]
    levels = [logger.level for logger in found]
    try:
        for logger in found:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(found, levels):
            logger.setLevel(level)

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

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import numpy as np

from automl.errors import UsageError

if TYPE_CHECKING:
    import keras
    import pandas as pd

FORMATS = ("keras", "savedmodel", "tflite", "onnx")
FORMAT_ALIASES = {"saved_model": "savedmodel", "tf_saved_model": "savedmodel",
                  "litert": "tflite", "h5": "keras"}
# what each format writes in the export folder (``model`` keeps the .keras file's old key)
WRITTEN_NAMES = {"keras": ("model", "model.keras"), "savedmodel": ("savedmodel", "saved_model"),
                 "tflite": ("tflite", "model.tflite"), "onnx": ("onnx", "model.onnx")}
ONNX_OPSET = 17
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".csv.gz", ".csv.bz2", ".csv.zip",
                  ".csv.xz")


# ---- formats -------------------------------------------------------------------------------------

def formats_from(format: str | Iterable[str]) -> tuple[str, ...]:
    """The export formats ``format`` names, in canonical spelling and without repeats.

    Accepts one name, a comma-separated list (``"keras,onnx"``) or an iterable of names; also
    ``saved_model``/``tf_saved_model`` for ``savedmodel`` and ``litert`` for ``tflite``.

    Raises:
        UsageError: a name that is none of :data:`FORMATS`.
    """
    names = format.split(",") if isinstance(format, str) else list(format)
    out: list[str] = []
    for name in names:
        clean = FORMAT_ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
        if clean not in FORMATS:
            raise UsageError(f"unknown export format {name!r}; choose from "
                             f"{', '.join(FORMATS)}")
        if clean not in out:
            out.append(clean)
    if not out:
        raise UsageError(f"name at least one export format: {', '.join(FORMATS)}")
    return tuple(out)


def export_model(model_file: str | Path, out_dir: str | Path, *,
                 format: str | Iterable[str] = "keras", params: dict[str, Any] | None = None,
                 metrics: dict[str, Any] | None = None,
                 class_names: Iterable[str] | None = None) -> dict[str, Path]:
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
        ``onnx``, ``signature``, ``params``, ``metrics``.

    Raises:
        UsageError: an unknown format, a missing model file, or a format that cannot hold this
            model (TFLite and ONNX with categorical columns), before anything is written.
    """
    formats = formats_from(format)
    model_file = Path(model_file)
    if not model_file.is_file():
        raise UsageError(f"no model file at {model_file}; run automl search first, or give the "
                         f"--run-dir the search used")
    _require_converter(formats)
    model = load_inference_model(model_file)
    refuse_unsupported(model, formats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    writers = {"keras": save_keras, "savedmodel": save_savedmodel, "tflite": save_tflite,
               "onnx": save_onnx}
    for fmt in formats:
        key, name = WRITTEN_NAMES[fmt]
        written[key] = writers[fmt](model, out / name)
    classes = list(class_names) if class_names is not None else study_class_names(
        model_file.parent)
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

    with warnings.catch_warnings():
        # a table whose column names are no layer names ("price ($)") keeps them as its input
        # keys behind safe layer names (see automl.modalities.table.layer_names): as intended
        warnings.filterwarnings("ignore", message="When providing `inputs` as a dict")
        return keras.saving.load_model(model_file, compile=False)


def _require_converter(formats: Iterable[str]) -> None:
    """The ONNX converter is an optional extra: say how to install it before writing anything."""
    import importlib.util

    if "onnx" in formats and importlib.util.find_spec("tf2onnx") is None:
        raise UsageError("the onnx format needs tf2onnx; pip install 'automl[export]' (or "
                         "tf2onnx) and export again")


def refuse_unsupported(model: "keras.Model", formats: Iterable[str]) -> None:
    """Refuse, in one sentence, the formats that cannot hold ``model``.

    TFLite's built-in ops and tf2onnx have no lookup tables, which the categorical columns of a
    table model use to one-hot encode their raw values.
    """
    refused = [fmt for fmt in formats if fmt in ("tflite", "onnx")]
    lookups = categorical_columns(model) if refused else []
    if lookups:
        raise UsageError(f"the {' and '.join(refused)} format{'s' if len(refused) > 1 else ''} "
                         f"cannot hold the lookup tables of this table model's categorical "
                         f"columns ({', '.join(lookups)}); export it as savedmodel (TensorFlow, "
                         f"TF Serving) or keras instead")


def categorical_columns(model: "keras.Model") -> list[str]:
    """The columns a lookup layer (``StringLookup``, ``IntegerLookup``) encodes: a table's text
    and integer inputs; the lookup layers' names for a model without named columns; none
    without lookups."""
    import keras

    lookups = [layer.name for layer in model.layers
               if isinstance(layer, (keras.layers.StringLookup, keras.layers.IntegerLookup))]
    if not lookups or not is_table(model):
        return lookups
    return [name for name, tensor in model.input.items()
            if not str(tensor.dtype).startswith("float")] or lookups


def save_keras(model: "keras.Model", path: Path) -> Path:
    """``path`` (``.keras``): the model without an optimizer, so loading it prints nothing."""
    model.save(path)
    return path


def save_savedmodel(model: "keras.Model", path: Path) -> Path:
    """A TensorFlow SavedModel folder whose ``serve`` endpoint takes the raw inputs."""
    with _quiet_converters():
        model.export(str(path), format="tf_saved_model", verbose=False,
                     input_signature=export_signature(model))
    return path


def save_tflite(model: "keras.Model", path: Path) -> Path:
    """A TFLite flat buffer of built-in ops only, so the plain LiteRT runtime runs it."""
    import tensorflow as tf

    with _quiet_converters(), _conversion_failure("tflite"):
        model.export(str(path), format="litert", verbose=False,
                     input_signature=export_signature(model),
                     target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]})
    return path


def save_onnx(model: "keras.Model", path: Path) -> Path:
    """An ONNX graph whose inputs are named as the model's (``inputs``, or the table's columns).

    Keras's own ONNX export turns constants the model captured (the normalization statistics)
    into extra graph inputs; this freezes them into the graph first.
    """
    import tensorflow as tf

    with _quiet_converters(), _conversion_failure("onnx"):
        import onnx
        import tf2onnx
        from tf2onnx import tf_loader

        specs = input_specs(model)
        function = tf.function(lambda inputs: model(inputs, training=False))
        concrete = function.get_concrete_function(specs)
        flat_specs = tf.nest.flatten(concrete.structured_input_signature)
        graph_inputs = [t.name for t in concrete.inputs[:len(flat_specs)]]
        graph_outputs = [t.name for t in concrete.outputs]
        frozen = tf_loader.from_function(concrete, graph_inputs, graph_outputs)
        renames = dict(zip(graph_inputs, [spec.name for spec in flat_specs]))
        renames[graph_outputs[0]] = "predictions"
        proto, _ = tf2onnx.convert.from_graph_def(
            frozen, name="automl", input_names=graph_inputs, output_names=graph_outputs,
            opset=ONNX_OPSET, tensors_to_rename=renames)
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
        raise UsageError(f"the {fmt} converter cannot convert this model ({first}); export it "
                         f"as savedmodel or keras instead") from None


@contextlib.contextmanager
def _quiet_converters(loggers: tuple[str, ...] = ("tensorflow", "tf2onnx", "absl")
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


# ---- what the model takes and gives --------------------------------------------------------------

def is_table(model: "keras.Model") -> bool:
    """Whether the model takes one input per column (a table) rather than one tensor."""
    try:
        return isinstance(model.input, dict)
    except (AttributeError, ValueError):  # a Sequential never built on an input
        return False


def input_specs(model: "keras.Model") -> Any:
    """``tf.TensorSpec`` of the model's inputs: a dict by column for tables, else one spec
    named ``inputs``; the batch dimension is free."""
    import tensorflow as tf

    if is_table(model):
        return {name: tf.TensorSpec(tensor.shape, tensor.dtype, name=name)
                for name, tensor in model.input.items()}
    tensor = model.inputs[0]
    return tf.TensorSpec(tensor.shape, tensor.dtype, name="inputs")


def signature_names(model: "keras.Model") -> dict[str, str]:
    """A table's column name -> the name its input takes in the SavedModel ``serving_default``
    and TFLite signatures: the input layer's name, made a Python identifier that is no keyword
    and not ``self``, unique.

    Those signatures take one keyword argument per input (TensorFlow calls them as
    ``function(self, **inputs)``), so a column named ``self`` or ``class`` cannot be one as it
    is. Column names are user data: ``signature.json`` maps them to these.

    Example:
        >>> signature_names(model)  # columns self, class, 1st, a/b  # doctest: +SKIP
        {'self': 'self_', 'class': 'class_', '1st': 'c_1st', 'a/b': 'a_b'}
    """
    import keyword
    import re

    out: dict[str, str] = {}
    taken: set[str] = set()
    for column, tensor in model.input.items():
        base = re.sub(r"[^A-Za-z0-9_]+", "_", str(tensor.name or column)).strip("_") or "input"
        if base[0].isdigit():
            base = f"c_{base}"
        if keyword.iskeyword(base) or base == "self":
            base = f"{base}_"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        out[column] = name
    return out


def export_signature(model: "keras.Model") -> Any:
    """The input signature SavedModel and TFLite exports take: for a table, one spec per column,
    keyed by the user's column name (what ``serve`` takes) and named by
    :func:`signature_names` (what ``serving_default`` and TFLite take); ``None`` (Keras's own)
    for signals and images."""
    import tensorflow as tf

    if not is_table(model):
        return None
    names = signature_names(model)
    return [{column: tf.TensorSpec(tensor.shape, tensor.dtype, name=names[column])
             for column, tensor in model.input.items()}]


def describe(model: "keras.Model", class_names: list[str]) -> dict[str, Any]:
    """``signature.json``: each input's name, dtype and shape per example, and the output."""
    if is_table(model):  # TFLite and serving_default key inputs by signature_names
        keys = signature_names(model)
        inputs = [{"name": name, "dtype": str(tensor.dtype), "shape": list(tensor.shape[1:]),
                   "signature_key": keys[name]} for name, tensor in model.input.items()]
    else:
        tensor = model.inputs[0]
        inputs = [{"name": "inputs", "dtype": str(tensor.dtype),
                   "shape": list(tensor.shape[1:])}]
    width = int(model.outputs[0].shape[-1])
    output = ({"name": "predictions", "meaning": "class probabilities, one column per class",
               "classes": class_names or [str(i) for i in range(width)]} if width > 1 or
              class_names else
              {"name": "predictions", "meaning": "the predicted value (regression)"})
    return {"inputs": inputs, "output": output,
            "raw_inputs": "normalization and categorical lookups are inside the model"}


def study_class_names(study_dir: Path) -> list[str]:
    """The class names the study's split snapshot recorded (empty for regression, or when the
    run folder holds no snapshot)."""
    snapshots = sorted(Path(study_dir, "data").glob("splits-*.npz"),
                       key=lambda p: p.stat().st_mtime)
    if not snapshots:
        return []
    try:
        with np.load(snapshots[-1], allow_pickle=False) as npz:
            return list(json.loads(str(npz["__meta__"])).get("class_names", []))
    except (OSError, ValueError, KeyError):
        return []


def to_model_inputs(model: "keras.Model", data: Any) -> Any:
    """Raw examples (a DataFrame, a dict of columns, an array) as the model's input structure.

    Tables: the model's columns, each cast to its input's dtype (text as Python strings; other
    columns of the frame are ignored). Signals and images: a float32 array of shape
    ``(examples, *input shape)``; a frame's rows are flattened examples.

    Raises:
        ValueError: a missing column, or examples whose size does not fit the input's shape.
    """
    import pandas as pd

    if is_table(model):
        columns = data if isinstance(data, (dict, pd.DataFrame)) else None
        if columns is None:
            raise ValueError(f"this model takes a table with the columns "
                             f"{', '.join(model.input)}; give a DataFrame or a dict of columns")
        missing = [name for name in model.input if name not in columns]
        if missing:
            raise ValueError(f"the input lacks the column(s) {', '.join(map(repr, missing))} "
                             f"the model takes; it has {', '.join(map(repr, list(columns)))}")
        return {name: _column(columns[name], str(tensor.dtype))
                for name, tensor in model.input.items()}
    if isinstance(data, dict):
        if len(data) != 1:
            raise ValueError(f"this model takes one tensor; found {len(data)} inputs "
                             f"({', '.join(map(str, data))})")
        data = next(iter(data.values()))
    values = data.to_numpy() if isinstance(data, pd.DataFrame) else np.asarray(data)
    shape = tuple(model.inputs[0].shape[1:])
    size = int(np.prod(shape))
    if values.size % size or (values.ndim > 1 and int(np.prod(values.shape[1:])) != size):
        raise ValueError(f"examples of shape {values.shape[1:]} do not fit the model's input "
                         f"shape {shape} ({size} values each)")
    return values.astype("float32").reshape((-1, *shape))


def predict_raw(model: "keras.Model", x: Any, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs for inputs from :func:`to_model_inputs`, in batches.

    ``predict_on_batch`` answers one example in milliseconds; ``model.predict`` spends a few
    hundred building its dataset first.
    """
    count = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)
    outputs = []
    for start in range(0, count, batch_size):
        part = {k: v[start:start + batch_size] for k, v in x.items()} if isinstance(x, dict) \
            else x[start:start + batch_size]
        outputs.append(np.asarray(model.predict_on_batch(part)))
    return np.concatenate(outputs) if outputs else np.empty((0, *model.outputs[0].shape[1:]))


def _column(values: Any, dtype: str) -> np.ndarray:
    """One table column as the dtype its model input takes (``string`` -> Python strings)."""
    array = np.asarray(values)
    if dtype == "string":
        return np.array([str(v) for v in array.ravel()], dtype=object)
    if dtype.startswith("int"):
        return array.astype("float64").round().astype(dtype) if array.dtype.kind == "f" \
            else array.astype(dtype)
    return array.astype(dtype)


# ---- automl export and automl predict ---------------------------------------------------------

def winner_file(study: str, run_dir: str | Path = "automl-runs") -> Path:
    """The winner a search saved for ``study``: ``<run_dir>/<study>/winner.keras``.

    Raises:
        UsageError: no such study in ``run_dir``, or no winner chosen yet; the sentence names
            the studies the folder holds.
    """
    run_dir = Path(run_dir)
    path = run_dir / study / "winner.keras"
    if path.is_file():
        return path
    if (run_dir / study).is_dir():
        raise UsageError(f"study {study!r} in {run_dir}/ has no winner yet; let automl search "
                         f"finish, or run automl select --study {study}")
    held = sorted(p.parent.name for p in run_dir.glob("*/winner.keras"))
    raise UsageError(f"no study {study!r} with a winner in {run_dir}/ "
                     f"({'it holds ' + ', '.join(held) if held else 'it holds none'}); give the "
                     f"--run-dir the search used")


def predict_file(model_file: str | Path, input_path: str | Path,
                 out_path: str | Path | None = None, *,
                 class_names: list[str] | None = None) -> tuple[Path, int]:
    """Predict every example of a CSV/Parquet table, an ``.npz`` file or an image folder and
    write one CSV row per example: its id, the predicted class and each class's probability
    (the predicted value for regression).

    Args:
        model_file: the winner's ``.keras`` file.
        input_path: a table (``.csv``, ``.parquet``; the model's columns are picked, others
            ignored), an ``.npz`` (its ``x`` array, its only array, or one array per column),
            or a folder of images (found recursively, resized to the model's input).
        out_path: the CSV to write (default: ``<input>.predictions.csv`` beside the input).
        class_names: label names (default: those the study recorded beside ``model_file``).

    Returns:
        (the CSV written, the number of examples).
    """
    model_file, input_path = Path(model_file), Path(input_path)
    if not model_file.is_file():
        raise UsageError(f"no winner model at {model_file}; run automl search first, or give "
                         f"the --run-dir the search used")
    classes = class_names if class_names is not None else study_class_names(model_file.parent)
    frame = predict_examples(load_inference_model(model_file), input_path, classes)
    out = Path(out_path) if out_path else input_path.parent / (
        _without_suffix(input_path.name) + ".predictions.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    return out, len(frame)


def predict_examples(model: "keras.Model", data: Any, class_names: list[str]) -> "pd.DataFrame":
    """One row per example of ``data`` (see :func:`predictions_frame`): ``id``, ``prediction``
    and each class's probability.

    Args:
        model: a model from :func:`load_inference_model`.
        data: a path (as :func:`predict_file` reads it: a table file, an ``.npz`` or a folder of
            images; ids are row numbers or image paths), or examples in memory: a DataFrame or a
            dict of columns for a table (ids: the frame's index), an array for signals and
            images (ids: row numbers).
        class_names: the label names (empty for regression).

    Raises:
        UsageError: a path that does not exist or holds nothing to predict, or examples that do
            not fit the model's inputs (a missing column, a wrong shape).
    """
    import pandas as pd

    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.exists():
            raise UsageError(f"{path} does not exist; give a CSV or Parquet table, an .npz file "
                             f"or a folder of images")
        ids, examples = read_examples(model, path)
        where = str(path)
    else:
        examples, where = data, "the examples"
        count = len(next(iter(data.values()))) if isinstance(data, dict) and data else len(data)
        ids = list(data.index) if isinstance(data, pd.DataFrame) else list(range(count))
    if not len(ids):
        raise UsageError(f"{where} holds no examples to predict")
    try:
        x = to_model_inputs(model, examples)
    except ValueError as error:
        raise UsageError(f"{where}: {error}") from None
    return predictions_frame(predict_raw(model, x), ids, class_names)


def _without_suffix(name: str) -> str:
    """``new.csv.gz`` -> ``new``; a folder's name as it is."""
    for suffix in sorted((*TABLE_SUFFIXES, ".npz"), key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return name


def read_examples(model: "keras.Model", path: Path) -> tuple[list, Any]:
    """(one id per example: the row number, or the image's path in the folder; the examples)
    from a table file, an ``.npz`` or an image folder."""
    if path.is_dir():
        return _read_image_folder(model, path)
    name = path.name.lower()
    if name.endswith(".npz"):
        return _read_npz(model, path)
    if name.endswith(TABLE_SUFFIXES):
        from automl.data.files import read_table

        text = [n for n, t in model.input.items() if str(t.dtype) == "string"] \
            if is_table(model) else []
        frame = read_table(path, text_columns=text)
        return list(range(len(frame))), frame
    raise UsageError(f"{path}: cannot tell what this file holds; give a .csv or .parquet table, "
                     f"an .npz file or a folder of images")


def _read_npz(model: "keras.Model", path: Path) -> tuple[list, Any]:
    """An ``.npz``: one array per column for a table; else ``x``, ``x_test`` or its only array."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    if is_table(model):
        data: Any = arrays
        count = len(next(iter(arrays.values()))) if arrays else 0
    else:
        key = next((k for k in ("x", "x_test", "inputs") if k in arrays), None)
        if key is None and len(arrays) == 1:
            key = next(iter(arrays))
        if key is None:
            raise UsageError(f"{path}: holds the arrays {', '.join(arrays) or 'none'}; name the "
                             f"examples' array x (np.savez(path, x=examples))")
        data = arrays[key]
        count = len(data)
    return list(range(count)), data


def _read_image_folder(model: "keras.Model", folder: Path) -> tuple[list[str], np.ndarray]:
    """Every image under ``folder`` (hidden files skipped), upright, at the model's input size
    and channels, as float32 pixels 0-255; ids are the paths relative to the folder."""
    from automl.data.files import _pixels, decode_image

    shape = tuple(model.inputs[0].shape[1:]) if not is_table(model) else ()
    if len(shape) != 3:
        raise UsageError(f"{folder} is a folder of images, but this model takes "
                         f"{'a table' if is_table(model) else f'examples of shape {shape}'}; "
                         f"give it a table or an .npz file")
    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    height, width, channels = (int(v) for v in shape)
    pixels = np.empty((len(files), height, width, channels), dtype="float32")
    for i, file in enumerate(files):
        try:
            pixels[i] = _pixels(decode_image(file), (height, width), channels)
        except Exception as error:
            raise UsageError(f"{file}: cannot read this image ({error}); remove it or replace "
                             f"it") from None
    return [str(p.relative_to(folder)) for p in files], pixels


def predictions_frame(outputs: np.ndarray, ids: list,
                      class_names: list[str]) -> "pd.DataFrame":
    """One row per example: ``id``, ``prediction`` (the class name, or the value), and for
    classifiers each class's probability (``p_<class>``)."""
    import pandas as pd

    outputs = outputs.reshape(len(ids), -1)
    if outputs.shape[1] == 1 and len(class_names) < 2:  # regression
        return pd.DataFrame({"id": ids, "prediction": outputs[:, 0]})
    names = class_names if len(class_names) == outputs.shape[1] else \
        [str(i) for i in range(outputs.shape[1])]
    frame = pd.DataFrame({"id": ids, "prediction": [names[i] for i in outputs.argmax(axis=1)]})
    for i, name in enumerate(names):
        frame[f"p_{name}"] = outputs[:, i]
    return frame


# ---- MLflow --------------------------------------------------------------------------------------

def log_mlflow_model(model: "keras.Model", x_example: Any, *, registered_name: str,
                     pip_requirements: list[str]) -> Any:
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
        with pickled_by_value(), _quiet_converters(("mlflow.pyfunc",)):
            return Model.log(None, flavor, name="model", flavor_name="keras",
                             registered_model_name=registered_name,
                             python_model=serving_model(),
                             artifacts={"keras_model": str(keras_file)},
                             signature=signature,
                             input_example=example, pip_requirements=pip_requirements)


def _save_pyfunc_and_keras(path: str, mlflow_model: Any, **kwargs: Any) -> None:
    """``Model.log``'s flavor: the pyfunc model, then a ``keras`` flavor on its ``.keras``
    artifact (``artifacts/model.keras``, where ``mlflow.keras`` looks for ``data: artifacts``)."""
    import keras
    import mlflow

    mlflow.pyfunc.save_model(path, mlflow_model=mlflow_model, **kwargs)
    mlflow_model.add_flavor("keras", data="artifacts", keras_version=keras.__version__,
                            keras_backend=keras.backend.backend(), save_exported_model=False)
    mlflow_model.save(str(Path(path, "MLmodel")))


def mlflow_input_example(model: "keras.Model", x_example: Any) -> Any:
    """What MLflow logs as the model's input example, and infers the signature from: a
    DataFrame with the table's own column names, or the examples' array for signals and images.

    Numbers are float64, NumPy's and pandas' default: MLflow checks a tensor's dtype exactly, so
    a float32 signature would refuse ``predict(pd.DataFrame(...))`` (the model casts them)."""
    import pandas as pd

    if is_table(model):
        columns = {}
        for name, tensor in model.input.items():
            column = _column(x_example[name], str(tensor.dtype))
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
    import mlflow
    import pandas as pd

    class AutomlKerasModel(mlflow.pyfunc.PythonModel):
        """A Keras model that takes raw inputs, served by MLflow."""

        def load_context(self, context):
            self.model = load_inference_model(context.artifacts["keras_model"])

        def predict(self, context, model_input, params=None):
            return predict_raw(self.model, to_model_inputs(self.model, model_input))

        # MLflow warns about a predict without type hints and reads most hints as a second
        # signature; a DataFrame hint is one it infers nothing from, so the logged one rules
        predict.__annotations__ = {"model_input": pd.DataFrame}

    return AutomlKerasModel()


@contextlib.contextmanager
def pickled_by_value() -> Iterator[None]:
    """While logging: cloudpickle stores this module's functions in the model, not a reference
    to ``automl.export`` (which a serving machine need not have)."""
    import cloudpickle

    module = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        cloudpickle.unregister_pickle_by_value(module)

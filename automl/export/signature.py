"""What an exported model takes and gives: its inputs (one tensor, or one per table column), the
names a signature may carry, ``signature.json``, and raw examples turned into model inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.modalities.table import category_strings  # module level: pickled with serving

if TYPE_CHECKING:
    import keras


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
        return {
            name: tf.TensorSpec(tensor.shape, tensor.dtype, name=name)
            for name, tensor in model.input.items()
        }
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

    from automl.modalities.table import ascii_slug, unique

    def identifier(name: str) -> str:
        slug = ascii_slug(name, "input")
        return f"{slug}_" if keyword.iskeyword(slug) or slug == "self" else slug

    return unique(
        {column: identifier(str(tensor.name or column)) for column, tensor in model.input.items()}
    )


def export_signature(model: "keras.Model") -> Any:
    """The input signature SavedModel and TFLite exports take: for a table, one spec per column,
    keyed by the user's column name (what ``serve`` takes) and named by
    :func:`signature_names` (what ``serving_default`` and TFLite take); ``None`` (Keras's own)
    for signals and images."""
    import tensorflow as tf

    if not is_table(model):
        return None
    names = signature_names(model)
    return [
        {
            column: tf.TensorSpec(tensor.shape, tensor.dtype, name=names[column])
            for column, tensor in model.input.items()
        }
    ]


def describe(model: "keras.Model", class_names: list[str]) -> dict[str, Any]:
    """``signature.json``: each input's name, dtype and shape per example, and the output."""
    if is_table(model):  # TFLite and serving_default key inputs by signature_names
        keys = signature_names(model)
        inputs = [
            {
                "name": name,
                "dtype": str(tensor.dtype),
                "shape": list(tensor.shape[1:]),
                "signature_key": keys[name],
            }
            for name, tensor in model.input.items()
        ]
    else:
        tensor = model.inputs[0]
        inputs = [{"name": "inputs", "dtype": str(tensor.dtype), "shape": list(tensor.shape[1:])}]
    width = int(model.outputs[0].shape[-1])
    output = (
        {
            "name": "predictions",
            "meaning": "class probabilities, one column per class",
            "classes": class_names or [str(i) for i in range(width)],
        }
        if width > 1 or class_names
        else {"name": "predictions", "meaning": "the predicted value (regression)"}
    )
    return {
        "inputs": inputs,
        "output": output,
        "raw_inputs": "normalization, categorical lookups and tokenization are inside the model",
    }


def study_class_names(study_dir: Path) -> list[str]:
    """The class names the study's split snapshot recorded (empty for regression, or when the
    run folder holds no snapshot)."""
    snapshots = sorted(
        Path(study_dir, "data").glob("splits-*.npz"), key=lambda p: p.stat().st_mtime
    )
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
            raise ValueError(
                f"this model takes a table with the columns "
                f"{', '.join(model.input)}; give a DataFrame or a dict of columns"
            )
        missing = [name for name in model.input if name not in columns]
        if missing:
            raise ValueError(
                f"the input lacks the column(s) {', '.join(map(repr, missing))} "
                f"the model takes; it has {', '.join(map(repr, list(columns)))}"
            )
        return {
            name: column_array(columns[name], str(tensor.dtype))
            for name, tensor in model.input.items()
        }
    if str(model.inputs[0].dtype) == "string":  # texts: one string per example
        return text_inputs(model, data)
    if isinstance(data, dict):
        if len(data) != 1:
            raise ValueError(
                f"this model takes one tensor; found {len(data)} inputs "
                f"({', '.join(map(str, data))})"
            )
        data = next(iter(data.values()))
    values = data.to_numpy() if isinstance(data, pd.DataFrame) else np.asarray(data)
    shape = tuple(model.inputs[0].shape[1:])
    size = int(np.prod(shape))
    if values.size % size or (values.ndim > 1 and int(np.prod(values.shape[1:])) != size):
        raise ValueError(
            f"examples of shape {values.shape[1:]} do not fit the model's input "
            f"shape {shape} ({size} values each)"
        )
    return values.astype("float32").reshape((-1, *shape))


def text_inputs(model: "keras.Model", data: Any) -> np.ndarray:
    """Texts as the model takes them: a list or array of strings, or the column of a
    DataFrame (or dict) named as the model's input (the text column it was trained on), or
    its only column; an empty or missing text is ``""``."""
    import pandas as pd

    name = model.inputs[0].name
    if isinstance(data, (pd.DataFrame, dict)):
        columns = list(data.keys())
        if name in columns:
            data = data[name]
        elif len(columns) == 1:
            data = data[columns[0]]
        else:
            raise ValueError(
                f"this model takes one text column, {name!r}; the input has "
                f"{', '.join(map(repr, columns[:8]))}"
            )
    values = np.asarray(data, dtype=object).reshape(-1)
    return np.array(["" if v is None or v != v else str(v) for v in values], dtype=object)


def predict_raw(model: "keras.Model", x: Any, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs for inputs from :func:`to_model_inputs`, in batches.

    ``predict_on_batch`` answers one example in milliseconds; ``model.predict`` spends a few
    hundred building its dataset first.
    """
    count = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)
    outputs = []
    for start in range(0, count, batch_size):
        part = (
            {k: v[start : start + batch_size] for k, v in x.items()}
            if isinstance(x, dict)
            else x[start : start + batch_size]
        )
        outputs.append(np.asarray(model.predict_on_batch(part)))
    return np.concatenate(outputs) if outputs else np.empty((0, *model.outputs[0].shape[1:]))


def column_array(values: Any, dtype: str) -> np.ndarray:
    """One table column as the dtype its model input takes (``string`` -> Python strings)."""
    array = np.asarray(values)
    if dtype == "string":  # an empty cell is the category of its own it was in training
        return category_strings(array)
    if dtype.startswith("int"):
        return (
            array.astype("float64").round().astype(dtype)
            if array.dtype.kind == "f"
            else array.astype(dtype)
        )
    return array.astype(dtype)

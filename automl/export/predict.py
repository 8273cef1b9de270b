"""``automl predict`` and ``result.predict``: new examples read from a file or a folder, the
winner's predictions with the class names."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.defaults import DEFAULT_RUN_DIR
from automl.errors import UsageError
from automl.export.formats import load_inference_model
from automl.export.signature import is_table, predict_raw, study_class_names, to_model_inputs

if TYPE_CHECKING:
    import keras
    import pandas as pd

TABLE_SUFFIXES = (
    ".csv",
    ".tsv",
    ".txt",
    ".parquet",
    ".pq",
    ".csv.gz",
    ".csv.bz2",
    ".csv.zip",
    ".csv.xz",
)


# ---- automl export and automl predict ---------------------------------------------------------


def winner_file(study: str, run_dir: str | Path = DEFAULT_RUN_DIR) -> Path:
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
        raise UsageError(
            f"study {study!r} in {run_dir}/ has no winner yet; let automl search "
            f"finish, or run automl select --study {study}"
        )
    held = sorted(p.parent.name for p in run_dir.glob("*/winner.keras"))
    raise UsageError(
        f"no study {study!r} with a winner in {run_dir}/ "
        f"({'it holds ' + ', '.join(held) if held else 'it holds none'}); give the "
        f"--run-dir the search used"
    )


def predict_file(
    model_file: str | Path,
    input_path: str | Path,
    out_path: str | Path | None = None,
    *,
    class_names: list[str] | None = None,
) -> tuple[Path, int]:
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
        raise UsageError(
            f"no winner model at {model_file}; run automl search first, or give "
            f"the --run-dir the search used"
        )
    classes = class_names if class_names is not None else study_class_names(model_file.parent)
    frame = predict_examples(load_inference_model(model_file), input_path, classes)
    out = (
        Path(out_path)
        if out_path
        else input_path.parent / (_without_suffix(input_path.name) + ".predictions.csv")
    )
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
            raise UsageError(
                f"{path} does not exist; give a CSV or Parquet table, an .npz file "
                f"or a folder of images"
            )
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
            return name[: -len(suffix)]
    return name


def read_examples(model: "keras.Model", path: Path) -> tuple[list, Any]:
    """(one id per example: the row number, or the image's path in the folder; the examples)
    from a table file, an ``.npz`` or an image folder."""
    if path.is_dir():
        from automl.modalities import image
        from automl.modalities import text as texts

        if not is_table(model) and str(model.inputs[0].dtype) == "string":
            return texts.read_folder(model, path)  # a text model: its .txt files
        return image.read_folder(model, path)
    name = path.name.lower()
    if name.endswith(".npz"):
        return _read_npz(model, path)
    if name.endswith(TABLE_SUFFIXES):
        from automl.data.tables import read_table

        text = (
            [n for n, t in model.input.items() if str(t.dtype) == "string"]
            if is_table(model)
            else [model.inputs[0].name]  # a text model's column stays text
        )
        frame = read_table(path, text_columns=text)
        return list(range(len(frame))), frame
    raise UsageError(
        f"{path}: cannot tell what this file holds; give a .csv or .parquet table, "
        f"an .npz file or a folder of images"
    )


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
            raise UsageError(
                f"{path}: holds the arrays {', '.join(arrays) or 'none'}; name the "
                f"examples' array x (np.savez(path, x=examples))"
            )
        data = arrays[key]
        count = len(data)
    return list(range(count)), data


def predictions_frame(outputs: np.ndarray, ids: list, class_names: list[str]) -> "pd.DataFrame":
    """One row per example: ``id``, ``prediction`` (the class name, or the value), and for
    classifiers each class's probability (``p_<class>``)."""
    import pandas as pd

    outputs = outputs.reshape(len(ids), -1)
    if outputs.shape[1] == 1 and len(class_names) < 2:  # regression
        return pd.DataFrame({"id": ids, "prediction": outputs[:, 0]})
    names = (
        class_names
        if len(class_names) == outputs.shape[1]
        else [str(i) for i in range(outputs.shape[1])]
    )
    frame = pd.DataFrame({"id": ids, "prediction": [names[i] for i in outputs.argmax(axis=1)]})
    for i, name in enumerate(names):
        frame[f"p_{name}"] = outputs[:, i]
    return frame

"""Data a user brings: tables (CSV, Parquet, a pandas DataFrame), image folders, ``.npz`` files,
and from Python numpy arrays or a ``tf.data.Dataset``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from automl.data.base import Arrays, check_finite, labelled
from automl.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
MAX_DATASET_EXAMPLES = 5_000_000


# ---- tables --------------------------------------------------------------------------------------

def table_from_frame(frame, *, target: str, column_types: dict[str, str], task: str | None,
                     missing: str, where: str) -> Arrays:
    """A pandas DataFrame -> a table: numeric columns as float32, the others as categories."""
    from automl.config import did_you_mean

    if target not in frame.columns:
        raise DataError(f"{where}: no target column {target!r}{did_you_mean(target, frame.columns)}"
                        f" (columns: {', '.join(map(str, frame.columns[:20]))}); set data.target")
    for name in column_types:
        if name not in frame.columns:
            raise DataError(f"{where}: data.columns names {name!r}, which the table lacks"
                            f"{did_you_mean(name, frame.columns)}")
    frame = frame.drop(columns=[c for c, t in column_types.items() if t == "ignore"])
    if missing == "drop":
        frame = frame.dropna()
    if frame[target].isna().any():
        raise DataError(f"{where}: the target column {target!r} has {int(frame[target].isna().sum())}"
                        f" missing values; drop those rows or set data.missing: drop")
    columns: dict[str, np.ndarray] = {}
    kinds: list[tuple[str, str]] = []
    for name in frame.columns:
        if name == target:
            continue
        series = frame[name]
        kind = column_types.get(name) or ("numeric" if series.dtype.kind in "iufb" else
                                          "categorical")
        if kind == "numeric":
            if series.dtype.kind not in "iufb":
                raise DataError(f"{where}: column {name!r} is declared numeric but holds text "
                                f"such as {series.dropna().iloc[0]!r}; declare it categorical")
            columns[str(name)] = series.to_numpy(dtype="float32", na_value=np.nan)
        else:
            if series.isna().any():
                raise DataError(f"{where}: categorical column {name!r} has "
                                f"{int(series.isna().sum())} missing values; fill them or set "
                                f"data.missing: drop")
            values = series.to_numpy()
            # strings as an object array: what pandas gives, and what Keras and tf.data accept
            columns[str(name)] = values.astype("int64") if series.dtype.kind in "iu" else \
                values.astype(str).astype(object)
        kinds.append((str(name), kind))
    if not columns:
        raise DataError(f"{where}: the table has no feature columns besides the target")
    check_finite(columns, where)
    return labelled(columns, frame[target].to_numpy(), None, None, modality="table", task=task,
                    where=where, columns=tuple(kinds))


def load_table(path: Path, *, target: str, column_types: dict[str, str], task: str | None,
               missing: str) -> Arrays:
    import pandas as pd

    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except ImportError as error:
        raise DataError(f"{path}: reading Parquet needs pyarrow ({error}); pip install pyarrow") \
            from None
    except Exception as error:
        raise DataError(f"{path}: cannot read this table ({type(error).__name__}: {error})") \
            from None
    return table_from_frame(frame, target=target, column_types=column_types, task=task,
                            missing=missing, where=str(path))


# ---- images --------------------------------------------------------------------------------------

def load_image_folder(folder: Path, *, image_size: tuple[int, int] | None,
                      channels: int | None) -> Arrays:
    """``folder/<class>/<image>``: one sub-folder per class, images of one size (or resized)."""
    import keras

    classes = sorted(p for p in folder.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise DataError(f"{folder}: an image folder needs one sub-folder per class (at least "
                        f"two), e.g. {folder}/cats/ and {folder}/dogs/")
    color = {1: "grayscale", 3: "rgb", 4: "rgba", None: "rgb"}[channels]
    images, labels, sizes = [], [], {}
    for label in classes:
        for path in sorted(label.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            image = keras.utils.load_img(path, color_mode=color, target_size=image_size)
            array = keras.utils.img_to_array(image, dtype="float32")
            sizes.setdefault(array.shape[:2], path)
            images.append(array)
            labels.append(label.name)
    if len(sizes) > 1:
        (a, pa), (b, pb) = list(sizes.items())[:2]
        raise DataError(f"{folder}: images have different sizes ({pa.name} is {a[0]}x{a[1]}, "
                        f"{pb.name} is {b[0]}x{b[1]}); set data.image_size: [height, width] to "
                        f"resize them all")
    if not images:
        raise DataError(f"{folder}: no images found ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return labelled(np.stack(images), np.array(labels), None, None, modality="image",
                    task="classification", where=str(folder))


# ---- arrays --------------------------------------------------------------------------------------

def modality_of(x: np.ndarray, where: str) -> str:
    if x.ndim == 2:
        return "signal"
    if x.ndim == 4 or x.ndim == 3:
        return "image"
    raise DataError(f"{where}: examples of shape {x.shape[1:]} are neither signals (length,) "
                    f"nor images (height, width[, channels])")


def from_arrays(x: Any, y: Any, x_test: Any = None, y_test: Any = None, *, task: str | None,
                where: str) -> Arrays:
    x = np.asarray(x)
    if x.dtype.kind not in "iufb":
        raise DataError(f"{where}: x must be numeric; found {x.dtype}")
    modality = modality_of(x, where)
    if modality == "image" and x.ndim == 3:
        x = x[..., None]
        x_test = None if x_test is None else np.asarray(x_test)[..., None]
    x = x.astype("float32")
    x_test = None if x_test is None else np.asarray(x_test).astype("float32")
    if (x_test is None) != (y_test is None):
        raise DataError(f"{where}: give both x_test and y_test, or neither")
    check_finite(x, where)
    return labelled(x, y, x_test, y_test, modality=modality, task=task, where=where)


def load_npz(path: Path, *, task: str | None) -> Arrays:
    with np.load(path, allow_pickle=False) as f:
        keys = set(f.files)
        if not {"x", "y"} <= keys:
            raise DataError(f"{path}: an .npz source needs arrays named x and y (and optionally "
                            f"x_test, y_test); found {', '.join(sorted(keys))}")
        return from_arrays(f["x"], f["y"], f.get("x_test"), f.get("y_test"), task=task,
                           where=str(path))


def from_python(data: Any, *, target: str | None, column_types: dict[str, str],
                task: str | None, missing: str) -> Arrays:
    """``automl.search(space, data=...)``: (x, y), a dict of arrays, a DataFrame or a tf.data set."""
    where = "data="
    if isinstance(data, tuple) and len(data) in (2, 4):
        return from_arrays(*data, task=task, where=where)
    if isinstance(data, dict) and {"x", "y"} <= set(data):
        return from_arrays(data["x"], data["y"], data.get("x_test"), data.get("y_test"),
                           task=task, where=where)
    if type(data).__name__ == "DataFrame":
        if not target:
            raise DataError("data= is a DataFrame: name its label column with data.target in "
                            "the space (or target= in automl.search)")
        return table_from_frame(data, target=target, column_types=column_types, task=task,
                                missing=missing, where="the DataFrame")
    if type(data).__name__.endswith("Dataset") and hasattr(data, "as_numpy_iterator"):
        xs, ys = [], []
        for count, (x, y) in enumerate(data.unbatch().as_numpy_iterator()
                                       if _is_batched(data) else data.as_numpy_iterator()):
            if count >= MAX_DATASET_EXAMPLES:
                raise DataError(f"{where}: the tf.data.Dataset has more than "
                                f"{MAX_DATASET_EXAMPLES:,} examples; pass arrays instead")
            xs.append(x)
            ys.append(y)
        if not xs:
            raise DataError(f"{where}: the tf.data.Dataset is empty")
        return from_arrays(np.stack(xs), np.stack(ys), task=task, where=where)
    raise DataError(f"{where}: expected (x, y), (x, y, x_test, y_test), a dict with x and y, a "
                    f"pandas DataFrame or a tf.data.Dataset of (x, y); got {type(data).__name__}")


def _is_batched(dataset: Any) -> bool:
    """A batched dataset's elements have an unknown leading (batch) dimension."""
    spec = dataset.element_spec
    first = spec[0] if isinstance(spec, tuple) else spec
    shape = getattr(first, "shape", None)
    return shape is not None and len(shape) > 0 and shape[0] is None

"""Arrays a user brings: ``.npz`` files, numpy arrays, dicts of them, a DataFrame or a
``tf.data.Dataset`` from Python."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.data.base import Arrays, check_finite, labelled
from automl.data.tables import table_from_frame
from automl.errors import DataError

if TYPE_CHECKING:
    pass

MAX_DATASET_EXAMPLES = 5_000_000


# ---- arrays --------------------------------------------------------------------------------------


def modality_of(x: np.ndarray, where: str) -> str:
    """Signals or images, by the shape of the examples (:func:`automl.modalities.of_shape`)."""
    from automl.modalities import of_shape

    found = of_shape(tuple(x.shape))
    if found is not None:
        return found
    raise DataError(
        f"{where}: examples of shape {x.shape[1:]} are neither signals (length,) "
        f"nor images (height, width[, channels])"
    )


def from_arrays(
    x: Any, y: Any, x_test: Any = None, y_test: Any = None, *, task: str | None, where: str
) -> Arrays:
    from automl.modalities import text

    if text.takes(x if not isinstance(x, (list, tuple)) else np.asarray(x, dtype=object)):
        texts = text.as_texts(x)  # a list or array of strings: one text per example
        tests = None if x_test is None else text.as_texts(x_test)
        if (x_test is None) != (y_test is None):
            raise DataError(f"{where}: give both x_test and y_test, or neither")
        return labelled(texts, y, tests, y_test, modality="text", task=task, where=where)
    x = np.asarray(x)
    if x.dtype.kind not in "iufb":
        raise DataError(
            f"{where}: x must be numbers (signals, images) or strings (texts); found {x.dtype}"
        )
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
            raise DataError(
                f"{path}: an .npz source needs arrays named x and y (and optionally "
                f"x_test, y_test); found {', '.join(sorted(keys))}"
            )
        return from_arrays(
            f["x"], f["y"], f.get("x_test"), f.get("y_test"), task=task, where=str(path)
        )


def from_python(
    data: Any, *, target: str | None, column_types: dict[str, str], task: str | None, missing: str
) -> Arrays:
    """``automl.search(space, data=...)``: (x, y), a dict of arrays, a DataFrame or a tf.data set."""
    where = "data="
    if isinstance(data, tuple) and len(data) in (2, 4):
        return from_arrays(*data, task=task, where=where)
    if isinstance(data, dict) and {"x", "y"} <= set(data):
        return from_arrays(
            data["x"], data["y"], data.get("x_test"), data.get("y_test"), task=task, where=where
        )
    if type(data).__name__ == "DataFrame":
        if not target:
            raise DataError(
                "data= is a DataFrame: name its label column with data.target in "
                "the space (or target= in automl.search)"
            )
        return table_from_frame(
            data,
            target=target,
            column_types=column_types,
            task=task,
            missing=missing,
            where="the DataFrame",
        )
    if type(data).__name__.endswith("Dataset") and hasattr(data, "as_numpy_iterator"):
        xs, ys = [], []
        for count, (x, y) in enumerate(
            data.unbatch().as_numpy_iterator() if _is_batched(data) else data.as_numpy_iterator()
        ):
            if count >= MAX_DATASET_EXAMPLES:
                raise DataError(
                    f"{where}: the tf.data.Dataset has more than "
                    f"{MAX_DATASET_EXAMPLES:,} examples; pass arrays instead"
                )
            xs.append(x)
            ys.append(y)
        if not xs:
            raise DataError(f"{where}: the tf.data.Dataset is empty")
        return from_arrays(np.stack(xs), np.stack(ys), task=task, where=where)
    raise DataError(
        f"{where}: expected (x, y), (x, y, x_test, y_test), a dict with x and y, a "
        f"pandas DataFrame or a tf.data.Dataset of (x, y); got {type(data).__name__}"
    )


def _is_batched(dataset: Any) -> bool:
    """A batched dataset's elements have an unknown leading (batch) dimension."""
    spec = dataset.element_spec
    first = spec[0] if isinstance(spec, tuple) else spec
    shape = getattr(first, "shape", None)
    return shape is not None and len(shape) > 0 and shape[0] is None

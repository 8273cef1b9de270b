"""What every data source returns: raw examples and labels, plus what kind of data they are.

Examples are kept exactly as the source gives them (pixel values 0-255, table columns as pandas
reads them), because the exported model must take them that way: every preprocessing step lives
inside the model. Tables are a dict of columns (name -> 1-D array); signals and images are arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from automl.errors import DataError

Features = np.ndarray | dict[str, np.ndarray]
MAX_CLASSES = 1000


@dataclass(frozen=True)
class Arrays:
    """A source's examples: its training part and, when it has one, its own test split."""

    x_train: Features
    y_train: np.ndarray
    x_test: Features | None
    y_test: np.ndarray | None
    task: str  # "classification" or "regression"
    modality: str  # "signal", "image" or "table"
    class_names: tuple[str, ...] = ()  # classification: label i is class_names[i]
    columns: tuple[tuple[str, str], ...] = ()  # tables: (name, "numeric" | "categorical")
    # an image folder past data.memory_budget: the examples are file paths, each decoded later
    # (automl.data.streamed) to uint8 pixels of this (height, width, channels)
    file_pixels: tuple[int, int, int] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.task == "classification" else 0

    @property
    def example_shape(self) -> tuple[int, ...]:
        """One example's shape (an image's pixels even where the examples are its file)."""
        if self.file_pixels is not None:
            return self.file_pixels
        return tuple(int(s) for s in np.asarray(self.x_train).shape[1:])

    @property
    def has_test_split(self) -> bool:
        return self.x_test is not None


def num_examples(x: Features) -> int:
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


def take(x: Features, index: np.ndarray) -> Features:
    """Rows ``index`` of an array or of every column of a table."""
    if isinstance(x, dict):
        return {name: column[index] for name, column in x.items()}
    return x[index]


def infer_task(y: np.ndarray, task: str | None) -> str:
    """``task``, or the task :func:`automl.inference.task_of`'s rule gives the labels ``y``."""
    if task:
        return task
    from automl.inference import task_name, task_of

    return task_name(task_of(y))


def encode_labels(
    y_train: np.ndarray, y_test: np.ndarray | None, task: str, where: str
) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...]]:
    """Classification labels -> ints 0..K-1 (and the class names); regression -> float32."""
    if task == "regression":
        if y_train.dtype.kind not in "iuf":
            raise DataError(
                f"{where}: the target holds text ({y_train[0]!r}), which cannot be "
                f"regressed; set data.task: classification"
            )
        y_test = None if y_test is None else y_test.astype("float32")
        return y_train.astype("float32"), y_test, ()
    if y_train.dtype.kind == "f" and not np.all(np.mod(y_train, 1) == 0):
        raise DataError(
            f"{where}: data.task is classification but the target has fractional "
            f"values such as {y_train[np.mod(y_train, 1) != 0][0]}; set data.task: "
            f"regression or give whole-number class labels"
        )
    classes = np.unique(y_train)
    if len(classes) < 2:
        raise DataError(
            f"{where}: the target has a single class ({classes[0]!r}); a classifier "
            f"needs at least two"
        )
    if len(classes) > MAX_CLASSES:
        raise DataError(
            f"{where}: the target has {len(classes)} classes; is it a regression "
            f"target? set data.task: regression"
        )
    lookup = {c: i for i, c in enumerate(classes.tolist())}
    encoded_test = None
    if y_test is not None:
        unseen = set(np.unique(y_test).tolist()) - set(lookup)
        if unseen:
            raise DataError(
                f"{where}: the test split has classes the training split lacks: "
                f"{sorted(map(str, unseen))[:5]}"
            )
        encoded_test = np.array([lookup[v] for v in y_test.tolist()], dtype="int64")
    encoded = np.array([lookup[v] for v in y_train.tolist()], dtype="int64")
    return encoded, encoded_test, tuple(str(c) for c in classes.tolist())


def labelled(
    x_train: Features,
    y_train: np.ndarray,
    x_test: Features | None,
    y_test: np.ndarray | None,
    *,
    modality: str,
    task: str | None,
    where: str,
    columns: tuple[tuple[str, str], ...] = (),
) -> Arrays:
    """Build :class:`Arrays`, inferring the task and encoding the labels."""
    y_train = np.asarray(y_train).reshape(-1)
    y_test = None if y_test is None else np.asarray(y_test).reshape(-1)
    if num_examples(x_train) != len(y_train):
        raise DataError(
            f"{where}: {num_examples(x_train)} examples but {len(y_train)} labels; "
            f"give one label per example"
        )
    task = infer_task(y_train, task)
    y_train, y_test, names = encode_labels(y_train, y_test, task, where)
    return Arrays(x_train, y_train, x_test, y_test, task, modality, names, columns)


def check_finite(x: Features, where: str, allow_nan: bool = False) -> None:
    """Refuse NaN or infinite features, naming the column (tables) or counting the examples;
    ``allow_nan``: a table's empty cells are filled inside the model (infinities still not)."""
    if isinstance(x, dict):
        for name, column in x.items():
            if column.dtype.kind != "f":
                continue
            bad = int((np.isinf(column) if allow_nan else ~np.isfinite(column)).sum())
            if bad and allow_nan:
                raise DataError(
                    f"{where}: column {name!r} has {bad} infinite values; replace them "
                    f"with numbers, or leave those cells empty"
                )
            if bad:
                raise DataError(
                    f"{where}: column {name!r} has {bad} missing or infinite values; "
                    f"fill them, or set data.missing: impute (filled in the model) or drop"
                )
        return
    if np.asarray(x).dtype.kind == "f":
        flat = np.asarray(x).reshape(len(x), -1)
        bad = int((~np.isfinite(flat).all(axis=1)).sum())
        if bad:
            raise DataError(
                f"{where}: {bad} examples have NaN or infinite features; clean them "
                f"before the search"
            )


def error_words(error: Exception, path: Path | None = None) -> str:
    """An exception's own words on one line, short, naming ``path`` by its name only (the
    message around it names it in full)."""
    words = " ".join(str(error).split()) or type(error).__name__
    if path is not None:
        words = words.replace(str(path), path.name)
    return words if len(words) <= 120 else words[:117] + "..."

"""What a data source is, learnt without loading it: modality, task, classes, columns.

The preflight (:func:`automl.data.checks.preflight`) needs these facts to refuse a space that
cannot fit its data before anything is written or trained, in ``automl validate`` and ``automl
search`` alike. Built-in sources are described by a table (a test checks it against the loaded
data); a table file gives its header, and its target column the task and classes; an image
folder its class folders (no image is decoded); an ``.npz`` file the shapes in its header and its
labels.

Example:
    >>> describe_source(DataConfig(source="wine"))
    SourceFacts(modality='table', task='classification', classes=('0', '1', '2'), columns=None)
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from automl.config import DataConfig
from automl.errors import DataError
from automl.registry import SOURCES


@dataclass(frozen=True)
class SourceFacts:
    """What is known about a source before loading it; None where it is not known yet."""

    modality: str | None = None  # signal, image or table
    task: str | None = None  # classification or regression
    classes: tuple[str, ...] | None = None  # class names, as data.classes names them
    columns: tuple[str, ...] | None = None  # tables: every column, the target included
    has_test_split: bool | None = None  # a test split of its own (x_test, y_test)


def _numbered(count: int) -> tuple[str, ...]:
    return tuple(str(i) for i in range(count))


# built-in source -> its facts, as automl.registry.SOURCES declares them (tests/test_preflight.py
# checks them against the loaded data)
BUILTIN_FACTS: dict[str, SourceFacts] = {
    name: SourceFacts(
        next(iter(entry.applies_to)),
        entry.details["task"],
        _numbered(entry.details["classes"]) if entry.details["classes"] else None,
        has_test_split=True if entry.details["test_split"] else None,
    )
    for name, entry in SOURCES.items()
    if "task" in entry.details
}


def describe_source(cfg: DataConfig) -> SourceFacts:
    """The facts of the source ``cfg`` names, reading as little of it as possible.

    Raises:
        DataError: the file cannot be read (one sentence naming it).
        NetworkRequired: a Keras data set that is not in the local cache.
    """
    if cfg.source in BUILTIN_FACTS:
        from automl.data.builtin import KERAS_FILES, _keras_paths

        if cfg.source in KERAS_FILES:
            _keras_paths(cfg.source)  # refuses, saying what to do, when the cache lacks it
        return BUILTIN_FACTS[cfg.source]
    path = Path(cfg.path or "")
    if cfg.source in ("csv", "parquet"):
        return _table_facts(path, cfg)
    if cfg.source == "images":
        from automl.data.images import image_classes

        return SourceFacts("image", "classification", tuple(image_classes(path)))
    if cfg.source == "texts":
        from automl.data.texts import load_text_folder

        arrays = load_text_folder(path, warn=False)  # the loading says it
        return SourceFacts("text", "classification", arrays.class_names)
    if cfg.source == "npz":
        return _npz_facts(path, cfg.task)
    return SourceFacts()  # python: the data arrives with the call


def _table_facts(path: Path, cfg: DataConfig) -> SourceFacts:
    from automl.data.tables import read_table, table_columns, table_modality

    columns = tuple(table_columns(path))
    task, classes = cfg.task, None
    if cfg.target in columns:  # its values tell the task and the classes
        target = read_table(path)[cfg.target].to_numpy()
        task, classes = _labels_facts(target, task)
    given = dict(cfg.columns)
    kinds = [(c, given.get(c, "numeric")) for c in columns if c != cfg.target]
    return SourceFacts(table_modality(kinds), task, classes, columns)


def _labels_facts(y: np.ndarray, task: str | None) -> tuple[str | None, tuple[str, ...] | None]:
    """The task (as :func:`automl.data.base.infer_task` infers it) and the class names."""
    from automl.data.base import infer_task

    try:
        task = infer_task(np.asarray(y), task)
    except DataError:
        return task, None  # loading says why, in its own words
    if task != "classification":
        return task, None
    import pandas as pd

    values = np.asarray(y)
    values = values[~np.asarray(pd.isna(values), dtype=bool)]
    try:  # named as the loader names them (automl.data.base.encode_labels)
        return task, tuple(str(c) for c in np.unique(values).tolist())
    except TypeError:  # mixed text and numbers: loading says why
        return task, None


def _npz_facts(path: Path, task: str | None) -> SourceFacts:
    """Shapes from the ``.npy`` headers inside the archive; the labels themselves (small)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = {Path(n).stem: n for n in archive.namelist()}
            if not {"x", "y"} <= set(names):
                raise DataError(
                    f"{path}: an .npz source needs arrays named x and y (and "
                    f"optionally x_test, y_test); found {', '.join(sorted(names))}"
                )
            with archive.open(names["x"]) as f:
                major, _ = np.lib.format.read_magic(f)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if major == 1
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, _ = read_header(f)
        with np.load(path, allow_pickle=False) as arrays:
            y = arrays["y"]
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(
            f"{path}: cannot read this .npz file ({error}); save it with "
            f"numpy.savez(path, x=..., y=...)"
        ) from None
    from automl.modalities import of_shape

    modality = of_shape(tuple(shape))
    task, classes = _labels_facts(y, task)
    return SourceFacts(modality, task, classes, has_test_split="x_test" in names)

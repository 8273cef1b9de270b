"""Load the data a space names: a built-in set, a file or folder, or objects from Python."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from automl.config import DataConfig
from automl.data.arrays import from_python, load_npz
from automl.data.base import Arrays
from automl.data.images import load_image_folder
from automl.data.tables import load_table
from automl.errors import DataError


def load_source(cfg: DataConfig | str, python_data: Any = None) -> Arrays:
    """The examples ``cfg`` names (a :class:`DataConfig`, or just a built-in source's name)."""
    if isinstance(cfg, str):
        cfg = DataConfig(source=cfg)
    arrays = _load(cfg, python_data)
    if cfg.test_path:
        arrays = with_test_file(arrays, cfg)
    return keep_classes(arrays, cfg.classes) if cfg.classes else arrays


def with_test_file(arrays: Arrays, cfg: DataConfig) -> Arrays:
    """``arrays`` with the test split read from ``data.split.test``'s file (read as the data
    is: the same columns, target and missing values), labels numbered as one."""
    import dataclasses

    from automl.data.base import labelled

    test = _load(dataclasses.replace(cfg, path=cfg.test_path, test_path=None), None)
    if test.modality != arrays.modality:
        raise DataError(
            f"data.split.test: {cfg.test_path} holds {test.modality} data, the data "
            f"{arrays.modality} data; give a test file like the data"
        )

    def names(part: Arrays, y):
        return np.array(part.class_names, dtype=object)[y] if part.class_names else y

    return labelled(
        arrays.x_train,
        names(arrays, arrays.y_train),
        test.x_train,
        names(test, test.y_train),
        modality=arrays.modality,
        task=arrays.task,
        where=str(cfg.test_path),
        columns=arrays.columns,
    )


def keep_classes(arrays: Arrays, classes: tuple[str, ...]) -> Arrays:
    """Only the examples of ``classes`` (by class name), labels renumbered 0..len-1."""
    import numpy as np

    from automl.data.base import labelled, take

    unknown = [c for c in classes if c not in arrays.class_names]
    if arrays.task != "classification" or unknown:
        raise DataError(
            f"data.classes: {unknown or list(classes)} are not classes of this data "
            f"(its classes: {', '.join(arrays.class_names) or 'none, a regression'})"
        )
    names = np.array(arrays.class_names, dtype=object)

    def part(x, y):
        keep = np.flatnonzero(np.isin(names[y], classes))
        return take(x, keep), names[y][keep].astype(str)

    x, y = part(arrays.x_train, arrays.y_train)
    x_test, y_test = part(arrays.x_test, arrays.y_test) if arrays.has_test_split else (None, None)
    return labelled(
        x,
        y,
        x_test,
        y_test,
        modality=arrays.modality,
        task="classification",
        where="data.classes",
        columns=arrays.columns,
    )


def _load(cfg: DataConfig, python_data: Any) -> Arrays:
    from automl.registry import SOURCES

    if python_data is not None:
        return from_python(
            python_data,
            target=cfg.target,
            column_types=dict(cfg.columns),
            task=cfg.task,
            missing=cfg.missing,
        )
    if cfg.source == "python":
        raise DataError("data.source is python: pass the data to automl.search(space, data=...)")
    if cfg.source not in SOURCES:
        raise DataError(f"unknown data source {cfg.source!r}")
    entry = SOURCES[cfg.source]
    if entry.details.get("file"):
        return entry.load()(cfg)
    arrays = entry.load()()
    if cfg.task and cfg.task != arrays.task:
        raise DataError(
            f"data.task: {cfg.source} is a {arrays.task} data set; remove "
            f"data.task or set it to {arrays.task}"
        )
    return arrays


# ---- the file kinds, each read from its data config (automl.registry.SOURCES names them) ------


def read_csv(cfg: DataConfig) -> Arrays:
    return load_table(
        Path(cfg.path or ""),
        target=cfg.target or "",
        column_types=dict(cfg.columns),
        task=cfg.task,
        missing=cfg.missing,
    )


read_parquet = read_csv  # load_table reads either by the file's suffix


def read_images(cfg: DataConfig) -> Arrays:
    return load_image_folder(
        Path(cfg.path or ""),
        image_size=cfg.image_size,
        channels=cfg.channels,
        memory_budget=cfg.memory_budget,
    )


def read_texts(cfg: DataConfig) -> Arrays:
    from automl.data.texts import load_text_folder

    return load_text_folder(Path(cfg.path or ""))


def read_npz(cfg: DataConfig) -> Arrays:
    return load_npz(Path(cfg.path or ""), task=cfg.task)

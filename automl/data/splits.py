"""Train / validation / test splits: stratified, fixed by a seed, the test split held out.

The source's own test split is the held-out test set when it has one; otherwise a seeded,
stratified fraction is set aside first. The validation split is then carved from what is left.
The test split is touched once, at selection. A manifest (sizes, class counts, a hash of the test
set) lets anyone check that the test set never changed between runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.config import DataConfig
from automl.data.base import Arrays, Features, num_examples, take
from automl.errors import DataError


@dataclass(frozen=True)
class Streamed:
    """Splits decoded to one file of uint8 pixels (:mod:`automl.data.streamed`): where it lies,
    and what each part holds (its image files, relative to the folder, and their SHA-256)."""

    pixels: str  # the .npy file's path
    names: dict[str, np.ndarray]  # part ("x_train" ...) -> file names relative to the folder
    sha256: dict[str, np.ndarray]  # part -> each file's SHA-256, hex
    # the training split's pixels: mean, variance, min, max (counted as they were decoded)
    train_stats: tuple[float, ...] = ()


@dataclass(frozen=True)
class Splits:
    x_train: Features
    y_train: np.ndarray
    x_val: Features
    y_val: np.ndarray
    x_test: Features
    y_test: np.ndarray
    task: str
    modality: str
    class_names: tuple[str, ...] = ()
    columns: tuple[tuple[str, str], ...] = ()
    # data.split.holdout: examples neither the search nor the selection sees; the winner is
    # scored on them once, an estimate free of the selection's optimism
    x_holdout: Features | None = None
    y_holdout: np.ndarray | None = None
    target_transform: str = "none"  # regression: data.target_transform (none or log)
    # an image folder past data.memory_budget: the x parts are file paths decoded to this
    # (height, width, channels) by automl.data.streamed.to_disk, which sets `streamed`
    file_pixels: tuple[int, int, int] | None = None
    streamed: Streamed | None = None  # x parts are memory maps of a pixel file on disk

    @property
    def has_holdout(self) -> bool:
        return self.y_holdout is not None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def manifest(self) -> dict:
        """Sizes, class counts and a fingerprint of the test split, for the parent MLflow run."""
        manifest = {
            "task": self.task,
            "modality": self.modality,
            "train_size": len(self.y_train),
            "val_size": len(self.y_val),
            "test_size": len(self.y_test),
            "test_sha256": self._fingerprint("x_test", self.x_test, self.y_test),
        }
        parts = [("train", self.y_train), ("val", self.y_val), ("test", self.y_test)]
        if self.y_holdout is not None:  # has_holdout
            assert self.x_holdout is not None  # the holdout's examples come with its labels
            manifest["holdout_size"] = len(self.y_holdout)
            manifest["holdout_sha256"] = self._fingerprint(
                "x_holdout", self.x_holdout, self.y_holdout
            )
            parts.append(("holdout", self.y_holdout))
        if self.task == "classification":
            for name, y in parts:
                manifest[f"{name}_class_counts"] = np.bincount(
                    y, minlength=self.num_classes
                ).tolist()
            manifest["classes"] = list(self.class_names)
        return manifest

    def _fingerprint(self, part: str, x: Features, y: np.ndarray) -> str:
        """A part's fingerprint: of its image files' digests where it is streamed from disk
        (reading its pixels back would cost a pass over the file), else of its examples."""
        if self.streamed is not None:
            return _fingerprint({"sha256": self.streamed.sha256[part]}, y)
        return _fingerprint(x, y)


def update_in_chunks(digest: Any, array: np.ndarray, rows: int = 4096) -> None:
    """``digest.update(array.tobytes())`` a few thousand rows at a time: the same digest, without
    a copy of the whole array (a memory map of a file larger than memory, say)."""
    for start in range(0, max(len(array), 1), rows):
        digest.update(np.ascontiguousarray(array[start : start + rows]).tobytes())


def _fingerprint(x: Features, y: np.ndarray) -> str:
    """SHA-256 of a split's examples and labels, to show which examples it held."""
    digest = hashlib.sha256()
    parts = x.items() if isinstance(x, dict) else [("x", x)]
    for name, part in sorted(parts, key=lambda kv: kv[0]):
        digest.update(name.encode())
        if part.dtype == object:
            digest.update(np.asarray(part).astype(str).tobytes())
        else:
            update_in_chunks(digest, part)
    digest.update(np.ascontiguousarray(y).tobytes())
    return digest.hexdigest()


def _split(
    y: np.ndarray, fraction_or_count: float | int, seed: int, stratify: bool, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """(kept indices, split-off indices), stratified by class when asked."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    labels = y if stratify else None
    if stratify:
        singles = np.flatnonzero(np.bincount(y) == 1)
        if len(singles):
            cls = int(singles[0])
            raise DataError(
                f"class {cls} has a single example, so it cannot be in both the "
                f"training and the {what} split; add examples or drop that class"
            )
    try:
        kept, taken = train_test_split(
            index, test_size=fraction_or_count, stratify=labels, random_state=seed
        )
    except ValueError as error:
        raise DataError(
            f"cannot split off the {what} split ({error}); use more data or a different fraction"
        ) from None
    return np.sort(kept), np.sort(taken)


def make_splits(arrays: Arrays, cfg: DataConfig) -> Splits:
    """Split ``arrays`` as ``cfg`` says; the same config gives the same splits everywhere."""
    stratify = arrays.task == "classification"
    x, y = arrays.x_train, arrays.y_train
    if cfg.target_transform == "log" and arrays.task == "regression" and float(np.min(y)) < 0:
        raise DataError(
            f"data.target_transform: log takes a target of 0 or more, and "
            f"{cfg.target or 'the target'} goes down to {float(np.min(y)):g}; remove "
            f"target_transform"
        )
    if cfg.test == "builtin":
        if not arrays.has_test_split:
            raise DataError(
                f"data.split.test: the {cfg.source} source has no test split of its "
                f"own; give a fraction such as 0.2"
            )
        assert arrays.x_test is not None and arrays.y_test is not None  # has_test_split
        x_test, y_test = arrays.x_test, arrays.y_test
    else:
        kept, test_index = _split(y, float(cfg.test), cfg.seed, stratify, "test")
        x_test, y_test = take(x, test_index), y[test_index]
        x, y = take(x, kept), y[kept]
    x_holdout = y_holdout = None
    if cfg.holdout:  # a fraction of all examples, as test is; drawn before anything else
        share = cfg.holdout / (1 - float(cfg.test)) if cfg.test != "builtin" else cfg.holdout
        kept, held = _split(y, share, (cfg.seed + 1) % 2**32, stratify, "holdout")
        x_holdout, y_holdout = take(x, held), y[held]
        x, y = take(x, kept), y[kept]
    if "train" in cfg.subsample and cfg.subsample["train"] < len(y):
        _, keep = _split(y, cfg.subsample["train"], cfg.seed, stratify, "subsample")
        x, y = take(x, keep), y[keep]
    if "test" in cfg.subsample and cfg.subsample["test"] < len(y_test):
        _, keep = _split(y_test, cfg.subsample["test"], cfg.seed, stratify, "test subsample")
        x_test, y_test = take(x_test, keep), y_test[keep]
    train_index, val_index = _split(y, cfg.validation, cfg.seed, stratify, "validation")
    if num_examples(x) < 4:
        raise DataError("fewer than 4 training examples; a search needs more data")
    return Splits(
        take(x, train_index),
        y[train_index],
        take(x, val_index),
        y[val_index],
        x_test,
        y_test,
        arrays.task,
        arrays.modality,
        arrays.class_names,
        arrays.columns,
        x_holdout,
        y_holdout,
        cfg.target_transform if arrays.task == "regression" else "none",
        arrays.file_pixels,
    )

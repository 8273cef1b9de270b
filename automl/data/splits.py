"""Train / validation / test splits: stratified, fixed by a seed, the test split held out.

The validation split is carved from the source's training part; the source's own test split is
the held-out test set, touched once, at selection. A manifest (sizes, class counts, a hash of the
test set) lets anyone check that the test set never changed between runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from automl.config import DataConfig
from automl.data.sources import Arrays


@dataclass(frozen=True)
class Splits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    def manifest(self) -> dict:
        """Sizes, class counts and a fingerprint of the test split, for the parent MLflow run."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.x_test).tobytes())
        digest.update(np.ascontiguousarray(self.y_test).tobytes())

        def counts(y: np.ndarray) -> list[int]:
            return np.bincount(y, minlength=self.num_classes).tolist()

        return {"train_size": len(self.y_train), "val_size": len(self.y_val),
                "test_size": len(self.y_test), "train_class_counts": counts(self.y_train),
                "val_class_counts": counts(self.y_val), "test_class_counts": counts(self.y_test),
                "test_sha256": digest.hexdigest()}


def _stratified_take(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` examples with the class proportions of ``y`` (sorted, reproducible)."""
    if n >= len(y):
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y,
                              random_state=int(rng.integers(2**31)))
    return np.sort(idx)


def make_splits(arrays: Arrays, cfg: DataConfig) -> Splits:
    """Split ``arrays`` as ``cfg`` says; the same config gives the same splits everywhere."""
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(cfg.seed)
    x, y = arrays.x_train, arrays.y_train
    x_test, y_test = arrays.x_test, arrays.y_test
    if "train" in cfg.subsample:
        keep = _stratified_take(y, cfg.subsample["train"], rng)
        x, y = x[keep], y[keep]
    if "test" in cfg.subsample:
        keep = _stratified_take(y_test, cfg.subsample["test"], rng)
        x_test, y_test = x_test[keep], y_test[keep]
    train_idx, val_idx = train_test_split(np.arange(len(y)), test_size=cfg.validation,
                                          stratify=y, random_state=cfg.seed)
    return Splits(x[train_idx], y[train_idx], x[val_idx], y[val_idx], x_test, y_test,
                  arrays.num_classes)

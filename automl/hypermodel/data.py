"""A hypermodel's data as KerasTuner takes it (``x, y``, ``validation_data``, splits), kept with
labels exactly as given and with automl's own splits beside them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.errors import DataError, UsageError

if TYPE_CHECKING:
    from automl.data.splits import Splits

# ---- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HypermodelData:
    """The user's examples split three ways, labels exactly as given (one-hot stays one-hot).

    ``splits`` holds the same rows as automl keeps them (class labels as 0..K-1), for the split
    manifest and the digest that a resumed search checks.
    """

    y_train: Any
    y_val: Any
    y_test: Any
    splits: "Splits"
    y_holdout: Any = None  # holdout_split's labels as given (None: no holdout)

    @property
    def x_train(self) -> Any:
        return self.splits.x_train

    @property
    def x_val(self) -> Any:
        return self.splits.x_val

    @property
    def x_test(self) -> Any:
        return self.splits.x_test


def prepare_data(
    data: Any,
    validation_data: Any = None,
    validation_split: float = 0.1,
    test_split: float = 0.2,
    seed: int = 0,
    holdout_split: float | None = None,
) -> HypermodelData:
    """Split ``data`` with automl's splits (stratified by class, seeded, test held out).

    Args:
        data: ``(x, y)``, ``(x, y, x_test, y_test)`` or a dict with ``x``, ``y`` and optionally
            ``x_test``, ``y_test``; ``x`` an array or a dict of arrays (one per model input).
        validation_data: ``(x_val, y_val)``, as ``tuner.search`` takes it; otherwise
            ``validation_split`` of the training examples is set aside.
        test_split: the fraction held out for selection when ``data`` has no test part.
        holdout_split: the fraction of all examples set aside before anything else, which
            neither the search nor the selection sees (None: no holdout).
    """
    from automl.config import DataConfig
    from automl.data.base import Arrays, num_examples, take
    from automl.data.splits import Splits, make_splits

    x, y, x_test, y_test = _unpack(data, "data=")
    x_val = y_val = None
    if validation_data is not None:
        x_val, y_val, _, _ = _unpack(tuple(validation_data)[:2], "validation_data=")
    parts = [y, y_test, y_val]
    labels, task, class_names = _class_labels([p for p in parts if p is not None])
    by_part = dict(zip([i for i, p in enumerate(parts) if p is not None], labels))
    has_test = x_test is not None
    cfg = DataConfig(
        source="python",
        validation=float(validation_split),
        test="builtin" if has_test else float(test_split),
        seed=int(seed),
        holdout=None if holdout_split is None else float(holdout_split),
    )
    if validation_data is None and not 0 < cfg.validation < 1:
        raise UsageError("validation_split must be between 0 and 1 (or give validation_data)")
    if not has_test and not 0 < float(test_split) < 1:
        raise UsageError("test_split must be between 0 and 1 (or give x_test and y_test)")
    if holdout_split is not None and not (
        0 < float(holdout_split) < 1 - (0 if has_test else float(test_split))
    ):
        raise UsageError(
            f"holdout_split must be a fraction that leaves room for training, "
            f"e.g. 0.1; found {holdout_split!r}"
        )
    # split the row numbers, so that x and y stay exactly as given
    rows = Arrays(
        np.arange(num_examples(x)),
        by_part[0],
        np.arange(num_examples(x_test)) if has_test else None,
        by_part.get(1),
        task,
        "signal",
        class_names,
    )
    try:
        index = make_splits(rows, cfg)
    except DataError:
        if task != "classification":
            raise
        # a class too small to stratify (one example): split without stratifying, as Keras does
        index = make_splits(
            Arrays(rows.x_train, rows.y_train, rows.x_test, rows.y_test, "regression", "signal"),
            cfg,
        )
    # every part of ``index`` holds row numbers (one array each)
    train, val = np.asarray(index.x_train), np.asarray(index.x_val)
    test_rows = np.asarray(index.x_test)
    if validation_data is not None:  # the carved-off validation rows go back to training
        train = np.sort(np.concatenate([train, val]))
    test_x, test_y = (x_test, y_test) if has_test else (x, y)
    test_labels = by_part[1] if has_test else by_part[0]
    if validation_data is not None:
        assert x_val is not None  # given with validation_data
        xv, yv, val_labels = x_val, y_val, by_part[2]
    else:
        xv, yv, val_labels = take(x, val), y[val], by_part[0][val]
    held = None if index.x_holdout is None else np.asarray(index.x_holdout)  # rows of x
    splits = Splits(
        take(x, train),
        by_part[0][train],
        xv,
        val_labels,
        take(test_x, test_rows),
        test_labels[test_rows],
        task,
        _modality(x),
        class_names,
        x_holdout=None if held is None else take(x, held),
        y_holdout=None if held is None else by_part[0][held],
    )
    return HypermodelData(
        y[train], yv, test_y[test_rows], splits, None if held is None else y[held]
    )


def _unpack(data: Any, where: str) -> tuple[Any, Any, Any, Any]:
    """(x, y, x_test, y_test) as numpy arrays (x may be a dict of arrays); tests may be None."""
    from automl.data.base import num_examples

    if isinstance(data, dict) and {"x", "y"} <= set(data):
        data = (data["x"], data["y"], data.get("x_test"), data.get("y_test"))
    if data is None:
        raise UsageError(
            f"{where} is required: (x, y), (x, y, x_test, y_test) or a dict with x and y"
        )
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 4):
        raise DataError(
            f"{where}: expected (x, y), (x, y, x_test, y_test) or a dict with x and "
            f"y, as numpy arrays; got {type(data).__name__} (a tf.data.Dataset or a "
            f"generator cannot be split: pass arrays)"
        )
    x, y, x_test, y_test = (*data, None, None)[:4]
    if (x_test is None) != (y_test is None):
        raise DataError(f"{where}: give both x_test and y_test, or neither")
    out: list[Any] = []
    for name, features, labels in (("", x, y), ("test ", x_test, y_test)):
        if features is None:
            out += [None, None]
            continue
        features = (
            {str(k): np.asarray(v) for k, v in features.items()}
            if isinstance(features, dict)
            else np.asarray(features)
        )
        labels = np.asarray(labels)
        if num_examples(features) != len(labels):
            raise DataError(
                f"{where}: {num_examples(features)} {name}examples but "
                f"{len(labels)} {name}labels; give one label per example"
            )
        out += [features, labels]
    return out[0], out[1], out[2], out[3]


def _class_labels(ys: list[np.ndarray]) -> tuple[list[np.ndarray], str, tuple[str, ...]]:
    """Labels as automl keeps them: classes 0..K-1 (from one-hot rows or class values), or the
    values themselves for a regression; with the task and the class names."""
    from automl.data.base import infer_task

    if all(y.ndim == 2 and y.shape[1] > 1 for y in ys) and all(
        np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all() for y in ys
    ):
        width = ys[0].shape[1]
        return [y.argmax(axis=1) for y in ys], "classification", tuple(map(str, range(width)))
    if all(y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1) for y in ys):
        flat = [y.reshape(-1) for y in ys]
        joined = np.concatenate(flat)
        if infer_task(joined, None) == "classification":
            classes, codes = np.unique(joined, return_inverse=True)
            cuts = np.cumsum([len(f) for f in flat])[:-1]
            return list(np.split(codes, cuts)), "classification", tuple(map(str, classes))
    return list(ys), "regression", ()


def _modality(x: Any) -> str:
    from automl.modalities import detect

    return detect(x) or "signal"  # a hypermodel takes any array; automl's own checks do not

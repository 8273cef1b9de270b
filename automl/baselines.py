"""Simple baselines fitted on the same split as the search, so a winner is seen in proportion.

A searched network that does not beat logistic regression on the same pixels is not a win
(issue 10 found one). Every search fits, in seconds on a CPU, the majority class (or the mean)
and a linear model (logistic regression, or ridge regression) on the flattened inputs of the
training and validation splits, and scores them on the test split (and the holdout, when there
is one) with the metric the winner is compared on: accuracy, or mean absolute error.

Example:
    >>> rows = fit_baselines(splits)
    >>> [(row["name"], round(row["test"], 3)) for row in rows]
    [('majority class', 0.112), ('logistic regression', 0.402)]

Tables add HistGradientBoosting (``gradient boosting``), what a data scientist tries first.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from automl.data.base import Features
from automl.data.splits import Splits

# baselines fit on every training row up to this many cells (rows x features), and on at
# least MIN_ROWS rows: a table of 40,000 rows fits whole, 60,000 images are cut to 20,000
MAX_CELLS = 4_000_000
MIN_ROWS = 20_000
# and never on more than MAX_FLOATS cells, which they hold as float64 (400 MB): 64x64 colour
# images are cut to 4,069 rows, MNIST keeps its 20,000 (the coordinator held 8 GB for the
# baselines of 24,000 such images before: benchmarks/large_data.py)
MAX_FLOATS = 50_000_000
SCORE_ROWS = 2_000  # test examples encoded and predicted at a time


def baseline_metric(task: str) -> str:
    """The metric baselines and winner are compared on: ``accuracy`` or ``mae``."""
    return "accuracy" if task == "classification" else "mae"


def _models(seed: int) -> dict[str, Any]:
    """Every baseline by name (a modality's ``BASELINES`` chooses among them); the linear ones
    fill missing numbers with the median and add a missing indicator, gradient boosting takes
    them as they are."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def linear(model: Any) -> Any:
        return make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            model,
        )

    def tfidf(model: Any) -> Any:  # raw texts in: TF-IDF of words and word pairs
        from sklearn.feature_extraction.text import TfidfVectorizer

        return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), model)

    return {
        "tf-idf logistic regression": tfidf(LogisticRegression(max_iter=1000, random_state=seed)),
        "tf-idf ridge regression": tfidf(Ridge(alpha=1.0)),
        "majority class": DummyClassifier(strategy="most_frequent"),
        "logistic regression": linear(LogisticRegression(max_iter=300, random_state=seed)),
        "mean": DummyRegressor(strategy="mean"),
        "linear regression": linear(Ridge(alpha=1.0)),
        "gradient boosting": (HistGradientBoostingClassifier, HistGradientBoostingRegressor),
    }


def fit_baselines(splits: Splits, seed: int = 0) -> list[dict[str, Any]]:
    """``[{"name", "metric", "test", "holdout"}]``: each baseline's score (holdout: or None).

    Which baselines: the modality's ``BASELINES`` for the task (:mod:`automl.modalities`)."""
    from automl.modalities import module

    train: Features
    if not isinstance(splits.x_train, dict) and splits.x_train.ndim > 1:  # signals, images
        train, y = _array_sample(splits, seed)
    else:
        train = _concat([splits.x_train, splits.x_val])
        y = np.concatenate([splits.y_train, splits.y_val])
    encode = _Encoder(train, dict(splits.columns))
    x = encode(train)
    cap = max(MIN_ROWS, MAX_CELLS // max(1, x.shape[1])) if x.ndim > 1 else len(y)  # texts: all
    if len(y) > cap:
        keep = np.random.default_rng(seed).choice(len(y), cap, replace=False)
        x, y = x[keep], y[keep]
    models = _models(seed)
    metric = baseline_metric(splits.task)
    rows = []
    for name in module(splits.modality).BASELINES[splits.task]:
        model = models[name]
        if isinstance(model, tuple):  # gradient boosting: (classifier, regressor)
            model = model[0 if splits.task == "classification" else 1](random_state=seed)
        model.fit(x, y)
        rows.append(
            {
                "name": name,
                "metric": metric,
                "test": _score(model, encode, splits.x_test, splits.y_test, metric),
                "holdout": _score(model, encode, splits.x_holdout, splits.y_holdout, metric)
                if splits.x_holdout is not None and splits.y_holdout is not None  # has_holdout
                else None,
            }
        )
    return rows


def verdict(
    score: float, baselines: dict[str, float], metric: str, part: str = "test"
) -> tuple[str, str] | None:
    """How the winner fares against the simple baselines, for the console and the report.

    Args:
        score: the winner's ``metric`` on ``part``.
        baselines: each baseline's score on ``part``, by name (``{"logistic regression": 0.95}``).
        metric: ``accuracy`` (higher is better) or ``mae`` (lower is better).
        part: the split the scores come from (``test`` or ``holdout``), named in the sentence.

    Returns:
        None when the winner beats every baseline; else ``(level, sentence)``: ``"warning"``
        when a baseline scores as well or better, or ``"note"`` when both are perfect (accuracy
        1, MAE 0), where the split cannot tell them apart and widening the space would not help.

    Example:
        >>> verdict(0.94, {"majority class": 0.1, "logistic regression": 0.953}, "accuracy")
        ('warning', 'the winner (accuracy 0.9400) does not beat logistic regression (0.9530,
        0.0130 better) on the test split; ...')
    """
    if not baselines or beats(score, list(baselines.values()), metric):
        return None
    better = max if metric == "accuracy" else min
    name = better(baselines, key=lambda n: baselines[n])
    best = baselines[name]
    if score == best == (1.0 if metric == "accuracy" else 0.0):
        return "note", (
            f"{name} also scores a perfect {metric} of {best:.4f} on the {part} "
            f"split, as the winner does: this data does not tell them apart, and "
            f"the simpler model may be all it needs"
        )
    margin = abs(best - score)
    by = f", {margin:.4f} better" if margin > TIE * max(1.0, abs(best)) else ""  # not for a tie
    return "warning", (
        f"the winner ({metric} {score:.4f}) does not beat {name} ({best:.4f}{by}) on "
        f"the {part} split; widen the space, train longer, or use {name}"
    )


def beats(score: float, scores: list[float], metric: str) -> bool:
    """Whether ``score`` is strictly better than every one of ``scores`` by ``metric``: higher
    for accuracy, lower for MAE. A tie does not beat, nor does a difference of float32 rounding
    (Keras measures in float32, scikit-learn in float64: 0.98550725 against 0.98550724 is the
    same 68 of 69 examples)."""
    if metric == "accuracy":
        return score > max(scores) + TIE
    return score < min(scores) - TIE * max(1.0, abs(min(scores)))


TIE = 1e-6  # scores closer than this are the same score


def _array_sample(splits: Splits, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the training and validation splits of signals or images, as many as the caps
    allow (``MAX_CELLS``, at least ``MIN_ROWS``, at most ``MAX_FLOATS``), chosen before they
    are copied (a split streamed from disk is read at those rows only, in file order)."""
    x_train, x_val = cast("np.ndarray", splits.x_train), cast("np.ndarray", splits.x_val)
    n_train, total = len(splits.y_train), len(splits.y_train) + len(splits.y_val)
    features = max(1, int(np.prod(x_train.shape[1:])))
    cap = max(1, min(max(MIN_ROWS, MAX_CELLS // features), MAX_FLOATS // features))
    keep = np.sort(np.random.default_rng(seed).choice(total, min(cap, total), replace=False))
    in_train, in_val = keep[keep < n_train], keep[keep >= n_train] - n_train
    x = np.concatenate([x_train[in_train], x_val[in_val]])
    return x, np.concatenate([splits.y_train[in_train], splits.y_val[in_val]])


def _score(model, encode: _Encoder, x: Features, y: np.ndarray, metric: str) -> float:
    """The baseline's score on ``x``, encoded and predicted ``SCORE_ROWS`` rows at a time."""
    if isinstance(x, dict):
        predicted = model.predict(encode(x))
    else:
        predicted = np.concatenate(
            [
                model.predict(encode(x[start : start + SCORE_ROWS]))
                for start in range(0, len(x), SCORE_ROWS)
            ]
        )
    if metric == "accuracy":
        return float(np.mean(predicted == y))
    return float(np.mean(np.abs(predicted - y)))


def _concat(parts: list[Features]) -> Features:
    if isinstance(parts[0], dict):
        return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    return np.concatenate(cast("list[np.ndarray]", parts))  # all arrays, as the first is


class _Encoder:
    """Features as one float matrix: signals and images flattened; table columns as numbers,
    categorical ones one-hot with the categories of the training data, dates as their parts,
    text columns as TF-IDF; texts (the text modality) stay strings, for the TF-IDF pipelines."""

    def __init__(self, train: Features, kinds: dict[str, str] | None = None) -> None:
        self.categories: dict[str, np.ndarray] = {}
        self.dates: dict[str, str] = {}  # a date column -> how it writes dates (ymd, dmy, mdy)
        self.texts: dict[str, Any] = {}  # a text column -> its fitted TfidfVectorizer
        if isinstance(train, dict):
            from automl.modalities.table import date_order

            for name, values in train.items():
                if (kinds or {}).get(name) == "datetime":
                    self.dates[name] = date_order(values) or "ymd"
                elif (kinds or {}).get(name) == "text":  # a table's text column: its TF-IDF
                    from sklearn.feature_extraction.text import TfidfVectorizer

                    self.texts[name] = TfidfVectorizer(
                        ngram_range=(1, 2), sublinear_tf=True, max_features=5_000
                    ).fit(values.astype(str))
                elif values.dtype.kind not in "fb":  # text or integer-coded categories
                    self.categories[name] = np.unique(values.astype(str))

    def __call__(self, x: Features) -> np.ndarray:
        if not isinstance(x, dict) and np.asarray(x).dtype.kind in "OU":  # texts, as they are
            return np.asarray(x, dtype=object)
        if not isinstance(x, dict):
            return np.asarray(x, dtype="float32").reshape(len(x), -1)
        columns = []
        for name, values in x.items():
            if name in self.texts:
                columns.append(self.texts[name].transform(values.astype(str)).toarray())
            elif name in self.dates:  # its parts, as the model reads them (NaN without a date)
                from automl.modalities.table import date_parts

                columns.append(date_parts(values, self.dates[name]))
            elif name in self.categories:
                columns.append(
                    (values.astype(str)[:, None] == self.categories[name][None, :]).astype(
                        "float32"
                    )
                )
            else:
                columns.append(np.asarray(values, dtype="float32")[:, None])
        return np.concatenate(columns, axis=1)


def regression_figures(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """``{"mae", "rmse", "r2"}`` of predictions, in the target's units (R2: 1 is perfect, 0 is
    the mean's score)."""
    y_true = np.asarray(y_true, dtype="float64")
    error = np.asarray(y_pred, dtype="float64") - y_true
    spread = float(np.sum((y_true - y_true.mean()) ** 2))
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "r2": 1.0 - float(np.sum(error**2)) / spread if spread else 0.0,
    }

"""KerasTuner users welcome: run a ``build_model(hp)`` (or a ``HyperModel``) under automl.

A KerasTuner user keeps the model-building code and hands it to :func:`search_hypermodel`
instead of a tuner. The ``hp`` the code receives is automl's :class:`HyperParameters`, which maps
KerasTuner's calls (``hp.Int``, ``hp.Float``, ``hp.Choice``, ``hp.Boolean``, ``hp.Fixed``,
``hp.conditional_scope`` ...) onto an Optuna trial, under KerasTuner's parameter names. The
search gets what ``automl.search`` gives a YAML space: an Optuna study in a storage that
resumes, a pruner, an MLflow parent run with one child run per trial and per-epoch metrics, the
top-K trials evaluated once on a held-out test split, the winner exported and registered.

    >>> import automl
    >>> def build_model(hp):
    ...     model = keras.Sequential([
    ...         keras.layers.Dense(hp.Int("units", min_value=32, max_value=512, step=32),
    ...                            activation=hp.Choice("activation", ["relu", "tanh"])),
    ...         keras.layers.Dense(10, activation="softmax")])
    ...     model.compile(optimizer=keras.optimizers.Adam(
    ...                       hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")),
    ...                   loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ...     return model
    >>> result = automl.search_hypermodel(build_model, data=(x, y), objective="val_accuracy",
    ...                                   max_trials=10, epochs=5)
    >>> result.best_params, result.test_metrics["accuracy"]
    >>> result.export("out/")

KerasTuner itself is never imported: ``kt.HyperModel`` subclasses and ``kt.Objective`` objects
work by their methods and attributes, and :class:`HyperModel` and :class:`Objective` here stand
in for them where KerasTuner is not installed (``from automl import hypermodel as kt``).

A user's ``build_model`` lives in their script or notebook, which automl's worker processes
cannot import: trials run here, in the calling process, one after another. The side-by-side
mapping from KerasTuner is in ``docs/from-keras-tuner.md``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from automl.defaults import DEFAULT_REPORTS_DIR
from automl.errors import AutomlError, DataError, TrialFailed, UsageError
from automl.ranking import rank_key

if TYPE_CHECKING:
    import optuna

    from automl.config import SpaceConfig
    from automl.data.splits import Splits
    from automl.result import SearchResult
    from automl.tracking.tracker import Tracker
    from automl.tuner.trial import Trained, TrialRun

SAMPLINGS = ("linear", "log", "reverse_log")
DEFAULT_OBJECTIVE = "default_objective"   # KerasTuner's name for "the float fit() returns"
HP_VALUES_ATTR = "hp_values"              # a trial's values as its build and fit saw them

# KerasTuner infers the direction of a metric named by a string; these are maximized
_MAX_METRICS = {"acc", "accuracy", "categorical_accuracy", "binary_accuracy",
                "sparse_categorical_accuracy", "top_k_categorical_accuracy",
                "sparse_top_k_categorical_accuracy", "auc", "precision", "recall",
                "true_positives", "true_negatives", "sensitivity_at_specificity",
                "specificity_at_sensitivity", "precision_at_recall", "recall_at_precision",
                "f1_score", "fbeta_score", "r2_score", "iou", "mean_iou", "one_hot_iou"}
_MIN_METRICS = {"loss", "ce", "mse", "mae", "mape", "msle", "rmse", "kld", "kl_divergence",
                "poisson", "logcosh", "log_cosh", "huber", "false_positives",
                "false_negatives", "cosine_similarity_loss"}
_MIN_SUFFIXES = ("loss", "error", "crossentropy", "hinge")


# ---- the objective ---------------------------------------------------------------------------


class Objective:
    """What to optimize, as KerasTuner's ``kt.Objective``: a metric name and "min" or "max".

    Example:
        >>> Objective("val_mean_absolute_error", direction="min")
    """

    def __init__(self, name: str, direction: str) -> None:
        self.name = name
        self.direction = direction

    def __repr__(self) -> str:
        return f"Objective(name={self.name!r}, direction={self.direction!r})"


def infer_direction(metric: str) -> str | None:
    """``"max"`` or ``"min"`` for a metric KerasTuner knows by name, None for others.

    Example:
        >>> infer_direction("val_accuracy"), infer_direction("val_loss")
        ('max', 'min')
    """
    name = metric.removeprefix("val_").removeprefix("weighted_")
    if name in _MAX_METRICS:
        return "max"
    if name in _MIN_METRICS or name.endswith(_MIN_SUFFIXES):
        return "min"
    return None


def objective_of(objective: Any) -> tuple[str, str]:
    """(metric name, ``"maximize"`` or ``"minimize"``) of KerasTuner's ``objective`` argument.

    Accepts None (minimize the float that ``fit`` returns, as KerasTuner does), a metric name
    (its direction inferred as KerasTuner infers it), or an object with ``name`` and
    ``direction`` such as ``kt.Objective("val_mae", "min")``.
    """
    if objective is None:
        return DEFAULT_OBJECTIVE, "minimize"
    if isinstance(objective, (list, tuple)):
        raise UsageError("objective: give one objective; KerasTuner sums a list of them, automl "
                         "optimizes one (pick the metric that matters, e.g. 'val_accuracy')")
    if isinstance(objective, str):
        direction = infer_direction(objective)
        if direction is None:
            raise UsageError(f"objective: cannot tell whether {objective!r} is better high or "
                             f"low; give kt.Objective({objective!r}, direction='min') (or 'max')")
        name = objective
    elif hasattr(objective, "name") and hasattr(objective, "direction"):
        name, direction = str(objective.name), str(objective.direction).lower()
    else:
        raise UsageError(f"objective: expected a metric name or kt.Objective(name, direction); "
                         f"got {type(objective).__name__}")
    directions = {"max": "maximize", "maximize": "maximize",
                  "min": "minimize", "minimize": "minimize"}
    if direction not in directions:
        raise UsageError(f"objective: the direction of {name!r} must be 'min' or 'max'; "
                         f"found {direction!r}")
    return name, directions[direction]


# ---- hyperparameters -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Numeric:
    """An ``hp.Int`` or ``hp.Float`` as KerasTuner defines it, and how Optuna samples it."""

    name: str
    kind: type                 # int or float
    low: float
    high: float
    step: float | None
    sampling: str
    default: Any

    @classmethod
    def of(cls, name: str, kind: type, min_value: Any, max_value: Any, step: Any,
           sampling: str | None, default: Any) -> "_Numeric":
        what = f"HyperParameters.{'Int' if kind is int else 'Float'}(name={name!r})"
        low, high = _number(min_value, kind, what, "min_value"), \
            _number(max_value, kind, what, "max_value")
        step = None if step is None else _number(step, kind, what, "step")
        sampling = (sampling or "linear").lower()
        if low > high:
            raise ValueError(f"{what}: min_value {low} is greater than max_value {high}")
        if sampling not in SAMPLINGS:
            raise ValueError(f"{what}: sampling must be one of {', '.join(SAMPLINGS)}; "
                             f"found {sampling!r}")
        if sampling != "linear" and low <= 0:
            raise ValueError(f"{what}: sampling={sampling!r} needs min_value > 0; found {low}")
        if sampling != "linear" and step is not None and step <= 1:
            raise ValueError(f"{what}: with sampling={sampling!r} the step multiplies, so it "
                             f"must be > 1; found {step}")
        if sampling == "linear" and step is not None and step <= 0:
            raise ValueError(f"{what}: step must be positive; found {step}")
        if kind is int and step is None and sampling == "linear":
            step = 1  # KerasTuner's Int walks whole numbers
        default = low if default is None else _number(default, kind, what, "default")
        return cls(name, kind, low, high, step, sampling, default)

    def grid(self) -> list:
        """KerasTuner's values for log or reverse_log sampling with a step (which multiplies)."""
        count = int(math.log(self.high / self.low, self.step) + 1e-8) + 1
        values = [self.low * self.step ** i for i in range(count)]
        if self.sampling == "reverse_log":
            values = [self.high + self.low - v for v in values]
        return sorted(self.kind(round(v) if self.kind is int else float(f"{v:.12g}"))
                      for v in values)

    def suggest(self, trial: "optuna.Trial", name: str) -> Any:
        """The value Optuna samples for this parameter, named ``name`` in the trial."""
        if self.step is not None and self.sampling != "linear":
            return trial.suggest_categorical(name, self.grid())
        if self.sampling == "linear":
            if self.kind is int:
                high = self.low + (self.high - self.low) // self.step * self.step
                return trial.suggest_int(name, self.low, high, step=self.step)
            if self.step is None:
                return trial.suggest_float(name, self.low, self.high)
            high = self.low + math.floor((self.high - self.low) / self.step + 1e-9) * self.step
            return trial.suggest_float(name, self.low, high, step=self.step)
        # log, or reverse_log: Optuna samples the mirror image log-uniformly (its params hold
        # min + max - value), so that values crowd towards max_value as KerasTuner's do
        if self.kind is int:
            value = trial.suggest_int(name, self.low, self.high, log=True)
        else:
            value = trial.suggest_float(name, self.low, self.high, log=True)
        return value if self.sampling == "log" else self.kind(self.low + self.high - value)


def _number(value: Any, kind: type, what: str, arg: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what}: {arg} must be a number; found {value!r}")
    if kind is int:
        if float(value) != int(value):
            raise ValueError(f"{what}: {arg} must be a whole number; found {value!r}")
        return int(value)
    return float(value)


class HyperParameters:
    """KerasTuner's ``hp``, mapped onto an Optuna trial.

    Each ``hp.Int/Float/Choice/Boolean`` call becomes an Optuna parameter of the same name
    (``trial.params["units"]``); ``hp.Fixed`` values are not searched. A parameter declared
    under a condition that does not hold (``parent_name``/``parent_values`` or
    ``conditional_scope``) is neither sampled nor recorded, and its call returns None, as in
    KerasTuner. Without a trial (``HyperParameters()``) every call returns its default, which
    is how KerasTuner's docs check that a ``build_model`` builds.

    Attributes:
        values: the active values by name, as the model code saw them.

    Example:
        >>> hp = HyperParameters(optuna.trial.FixedTrial({"units": 64, "model_type": "mlp"}))
        >>> hp.Int("units", min_value=32, max_value=512, step=32)
        64
        >>> model_type = hp.Choice("model_type", ["mlp", "cnn"])
        >>> with hp.conditional_scope("model_type", ["cnn"]):
        ...     hp.Int("filters", 8, 64)   # None: the parent is "mlp"
        >>> hp.values
        {'units': 64, 'model_type': 'mlp'}
    """

    def __init__(self, trial: "optuna.Trial | None" = None) -> None:
        self.trial = trial
        self.values: dict[str, Any] = {}
        self._declared: dict[str, str] = {}     # every name declared so far -> its kind
        self._conditions: list[tuple[str, tuple]] = []
        self._name_scopes: list[str] = []

    # ---- KerasTuner's hyperparameter types ---------------------------------------------------

    def Int(self, name: str, min_value: int, max_value: int, step: int | None = None,
            sampling: str = "linear", default: int | None = None,
            parent_name: str | None = None, parent_values: Any = None) -> int | None:
        """A whole number from ``min_value`` to ``max_value`` inclusive (see KerasTuner's)."""
        spec = _Numeric.of(name, int, min_value, max_value, step, sampling, default)
        return self._retrieve(name, "Int", spec.default, spec.suggest, parent_name,
                              parent_values)

    def Float(self, name: str, min_value: float, max_value: float, step: float | None = None,
              sampling: str = "linear", default: float | None = None,
              parent_name: str | None = None, parent_values: Any = None) -> float | None:
        """A real number from ``min_value`` to ``max_value`` (see KerasTuner's)."""
        spec = _Numeric.of(name, float, min_value, max_value, step, sampling, default)
        return self._retrieve(name, "Float", spec.default, spec.suggest, parent_name,
                              parent_values)

    def Choice(self, name: str, values: list, ordered: bool | None = None, default: Any = None,
               parent_name: str | None = None, parent_values: Any = None) -> Any:
        """One of ``values`` (all int, float, str or bool); the default is the first."""
        values = _choice_values(name, values)
        if default is not None and default not in values:
            raise ValueError(f"HyperParameters.Choice(name={name!r}): the default {default!r} "
                             f"is not one of {values}")
        default = values[0] if default is None else default
        return self._retrieve(name, "Choice", default,
                              lambda trial, full: trial.suggest_categorical(full, values),
                              parent_name, parent_values)

    def Boolean(self, name: str, default: bool = False, parent_name: str | None = None,
                parent_values: Any = None) -> bool | None:
        """True or False; the default is False."""
        return self._retrieve(name, "Boolean", bool(default),
                              lambda trial, full: trial.suggest_categorical(full, [False, True]),
                              parent_name, parent_values)

    def Fixed(self, name: str, value: Any, parent_name: str | None = None,
              parent_values: Any = None) -> Any:
        """A value that is not searched (recorded in :attr:`values` all the same)."""
        return self._retrieve(name, "Fixed", value, None, parent_name, parent_values)

    # ---- conditions and names ------------------------------------------------------------------

    @contextlib.contextmanager
    def conditional_scope(self, parent_name: str, parent_values: Any) -> Iterator[None]:
        """Parameters declared inside are active only while ``parent_name`` has one of
        ``parent_values``; inactive ones return None and are not sampled. The code inside
        runs either way, as in KerasTuner."""
        parent = self._full_name(parent_name)
        if parent not in self._declared:
            raise ValueError(f"`HyperParameter` named: {parent} not defined.")
        if isinstance(parent_values, (list, tuple, set)):
            parent_values = tuple(parent_values)
        else:
            parent_values = (parent_values,)
        self._conditions.append((parent, parent_values))
        try:
            yield
        finally:
            self._conditions.pop()

    @contextlib.contextmanager
    def name_scope(self, name: str) -> Iterator[None]:
        """Prefix the names declared inside with ``name/``."""
        self._name_scopes.append(name)
        try:
            yield
        finally:
            self._name_scopes.pop()

    def is_active(self, name: str) -> bool:
        """Whether ``name`` was declared with its conditions holding."""
        return self._full_name(name) in self.values

    # ---- reading values ------------------------------------------------------------------------

    def get(self, name: str) -> Any:
        """The value of an active parameter (ValueError: inactive; KeyError: never declared)."""
        full = self._full_name(name)
        if full in self.values:
            return self.values[full]
        if full in self._declared:
            raise ValueError(f"{full} is currently inactive.")
        raise KeyError(f"{full} does not exist.")

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: str) -> bool:
        return self._full_name(name) in self.values

    def __repr__(self) -> str:
        return f"HyperParameters({self.values})"

    # ---- internals -----------------------------------------------------------------------------

    def _full_name(self, name: str) -> str:
        return "/".join([*self._name_scopes, str(name)])

    def _active(self) -> bool:
        return all(parent in self.values and self.values[parent] in allowed
                   for parent, allowed in self._conditions)

    def _retrieve(self, name: str, kind: str, default: Any,
                  suggest: Callable[[Any, str], Any] | None, parent_name: str | None,
                  parent_values: Any) -> Any:
        scope = (self.conditional_scope(parent_name, parent_values) if parent_name is not None
                 else contextlib.nullcontext())
        with scope:
            full = self._full_name(name)
            self._declared.setdefault(full, kind)
            if not self._active():
                return None
            if full in self.values:  # declared before (a loop, or build then fit): same value
                return self.values[full]
            value = default if self.trial is None or suggest is None else suggest(self.trial,
                                                                                  full)
            self.values[full] = value
            return value


def _choice_values(name: str, values: Any) -> list:
    """KerasTuner's rules: a non-empty list of int, float, str or bool, all of one type."""
    values = list(values or [])
    if not values:
        raise ValueError(f"HyperParameters.Choice(name={name!r}): values must not be empty")
    kinds = {type(v) for v in values}
    if len(kinds) > 1:
        raise TypeError(f"HyperParameters.Choice(name={name!r}): the values must be of one "
                        f"type; found {sorted(k.__name__ for k in kinds)}")
    first = values[0]
    if isinstance(first, (np.integer, np.floating, np.str_, np.bool_)):
        values = [v.item() for v in values]
    elif not isinstance(first, (int, float, str, bool)):
        raise TypeError(f"HyperParameters.Choice(name={name!r}): values must be int, float, "
                        f"str or bool; found {type(first).__name__}")
    return values


# ---- hypermodels -----------------------------------------------------------------------------


class HyperModel:
    """KerasTuner's ``kt.HyperModel``: override ``build(hp)``, and ``fit`` to tune training.

    Example:
        >>> class MyHyperModel(HyperModel):
        ...     def build(self, hp):
        ...         return build_model(hp)
        ...     def fit(self, hp, model, *args, **kwargs):
        ...         return model.fit(*args, shuffle=hp.Boolean("shuffle"), **kwargs)
    """

    def __init__(self, name: str | None = None, tunable: bool = True) -> None:
        self.name = name
        self.tunable = tunable

    def build(self, hp: HyperParameters) -> Any:
        """Return a compiled ``keras.Model`` for the values ``hp`` gives."""
        raise NotImplementedError("override build(self, hp) to return a compiled keras model")

    def fit(self, hp: HyperParameters, model: Any, *args: Any, **kwargs: Any) -> Any:
        """Train ``model``; return its History, a dict of metrics or the objective's value."""
        return model.fit(*args, **kwargs)


class _FunctionHyperModel(HyperModel):
    """A plain ``build_model(hp)`` function as a hypermodel."""

    def __init__(self, build: Callable[[HyperParameters], Any]) -> None:
        super().__init__(getattr(build, "__name__", None))
        self._build = build

    def build(self, hp: HyperParameters) -> Any:
        return self._build(hp)


def as_hypermodel(hypermodel: Any) -> Any:
    """A hypermodel with ``build(hp)`` and ``fit(hp, model, ...)`` from what the user gave."""
    if isinstance(hypermodel, type):
        raise UsageError(f"hypermodel: pass an instance, {hypermodel.__name__}(), not the class")
    if callable(getattr(hypermodel, "build", None)):
        if not callable(getattr(hypermodel, "fit", None)):  # build only: fit as Keras fits
            hypermodel.fit = HyperModel.fit.__get__(hypermodel)
        return hypermodel
    if callable(hypermodel):
        return _FunctionHyperModel(hypermodel)
    raise UsageError(f"hypermodel: expected a build_model(hp) function or a HyperModel with "
                     f"build(hp); got {type(hypermodel).__name__}")


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


def prepare_data(data: Any, validation_data: Any = None, validation_split: float = 0.1,
                 test_split: float = 0.2, seed: int = 0,
                 holdout_split: float | None = None) -> HypermodelData:
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
    cfg = DataConfig(source="python", validation=float(validation_split),
                     test="builtin" if has_test else float(test_split), seed=int(seed),
                     holdout=None if holdout_split is None else float(holdout_split))
    if validation_data is None and not 0 < cfg.validation < 1:
        raise UsageError("validation_split must be between 0 and 1 (or give validation_data)")
    if not has_test and not 0 < float(test_split) < 1:
        raise UsageError("test_split must be between 0 and 1 (or give x_test and y_test)")
    if holdout_split is not None and not (
            0 < float(holdout_split) < 1 - (0 if has_test else float(test_split))):
        raise UsageError(f"holdout_split must be a fraction that leaves room for training, "
                         f"e.g. 0.1; found {holdout_split!r}")
    # split the row numbers, so that x and y stay exactly as given
    rows = Arrays(np.arange(num_examples(x)), by_part[0],
                  np.arange(num_examples(x_test)) if has_test else None,
                  by_part.get(1), task, "signal", class_names)
    try:
        index = make_splits(rows, cfg)
    except DataError:
        if task != "classification":
            raise
        # a class too small to stratify (one example): split without stratifying, as Keras does
        index = make_splits(Arrays(rows.x_train, rows.y_train, rows.x_test, rows.y_test,
                                   "regression", "signal"), cfg)
    train, val = index.x_train, index.x_val
    if validation_data is not None:  # the carved-off validation rows go back to training
        train = np.sort(np.concatenate([train, val]))
    test_x, test_y = (x_test, y_test) if has_test else (x, y)
    test_labels = by_part[1] if has_test else by_part[0]
    if validation_data is not None:
        xv, yv, val_labels = x_val, y_val, by_part[2]
    else:
        xv, yv, val_labels = take(x, val), y[val], by_part[0][val]
    held = index.x_holdout  # row numbers of x, as train's are (None: no holdout)
    splits = Splits(take(x, train), by_part[0][train], xv, val_labels,
                    take(test_x, index.x_test), test_labels[index.x_test], task,
                    _modality(x), class_names,
                    x_holdout=None if held is None else take(x, held),
                    y_holdout=None if held is None else by_part[0][held])
    return HypermodelData(y[train], yv, test_y[index.x_test], splits,
                          None if held is None else y[held])


def _unpack(data: Any, where: str) -> tuple[Any, Any, Any, Any]:
    """(x, y, x_test, y_test) as numpy arrays (x may be a dict of arrays); tests may be None."""
    from automl.data.base import num_examples

    if isinstance(data, dict) and {"x", "y"} <= set(data):
        data = (data["x"], data["y"], data.get("x_test"), data.get("y_test"))
    if data is None:
        raise UsageError(f"{where} is required: (x, y), (x, y, x_test, y_test) or a dict with "
                         f"x and y")
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 4):
        raise DataError(f"{where}: expected (x, y), (x, y, x_test, y_test) or a dict with x and "
                        f"y, as numpy arrays; got {type(data).__name__} (a tf.data.Dataset or a "
                        f"generator cannot be split: pass arrays)")
    x, y, x_test, y_test = (*data, None, None)[:4]
    if (x_test is None) != (y_test is None):
        raise DataError(f"{where}: give both x_test and y_test, or neither")
    out = []
    for name, features, labels in (("", x, y), ("test ", x_test, y_test)):
        if features is None:
            out += [None, None]
            continue
        features = ({str(k): np.asarray(v) for k, v in features.items()}
                    if isinstance(features, dict) else np.asarray(features))
        labels = np.asarray(labels)
        if num_examples(features) != len(labels):
            raise DataError(f"{where}: {num_examples(features)} {name}examples but "
                            f"{len(labels)} {name}labels; give one label per example")
        out += [features, labels]
    return out[0], out[1], out[2], out[3]


def _class_labels(ys: list[np.ndarray]) -> tuple[list[np.ndarray], str, tuple[str, ...]]:
    """Labels as automl keeps them: classes 0..K-1 (from one-hot rows or class values), or the
    values themselves for a regression; with the task and the class names."""
    from automl.data.base import infer_task

    if all(y.ndim == 2 and y.shape[1] > 1 for y in ys) and all(
            np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all() for y in ys):
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
    if isinstance(x, dict):
        return "table"
    return "image" if np.ndim(x) >= 3 else "signal"


# ---- one trial -------------------------------------------------------------------------------


def _best_epoch_callback(monitor: str, maximize: bool) -> Any:
    """A Keras callback that keeps the weights of the best epoch by ``monitor`` and puts them
    back when training ends: KerasTuner saves a trial's model at its best epoch too. Of epochs
    tied on ``monitor`` it keeps the one with the lower ``val_loss``, as automl's own trials do
    (:mod:`automl.ranking`); without a ``val_loss``, the first, as KerasTuner does."""
    import keras

    class BestEpoch(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.best: float | None = None
            self.best_loss: float | None = None  # val_loss at the best epoch, where logged
            self.weights: list | None = None

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = logs or {}
            value = logs.get(monitor)
            if value is None or not math.isfinite(float(value)):
                return
            loss = float(logs["val_loss"]) if logs.get("val_loss") is not None else None
            if self.best is None or (rank_key(float(value), loss, 0, maximize=maximize)
                                     < rank_key(self.best, self.best_loss, 0,
                                                maximize=maximize)):
                self.best, self.best_loss = float(value), loss
                self.weights = self.model.get_weights()

        def on_train_end(self, logs: Any = None) -> None:
            if self.weights is not None:
                self.model.set_weights(self.weights)

    return BestEpoch()


class HypermodelMaker:
    """Make a trial's model with a KerasTuner hypermodel: ``build(hp)``, then its ``fit``
    (``executions`` times), the :class:`~automl.tuner.trial.ModelMaker` of
    :func:`search_hypermodel`.

    The child MLflow run opens at the first epoch, when the values that ``build`` and ``fit``
    declared are known, so they become the run's params; the pruner sees the objective after
    every epoch of the first execution; the trial's value is the mean over executions of each
    one's best epoch; the best execution's model is the one kept.
    """

    def __init__(self, hypermodel: Any, data: HypermodelData, fit_kwargs: dict[str, Any], *,
                 objective: str, direction: str, executions: int, seed: int | None) -> None:
        self.hypermodel = hypermodel
        self.data = data
        self.fit_kwargs = fit_kwargs
        self.objective = objective
        self.maximize = direction == "maximize"
        self.executions = executions
        self.seed = seed
        self.hp = HyperParameters()

    def begin(self, trial: "optuna.Trial", run: "TrialRun") -> None:
        self.hp = HyperParameters(trial)

    def run_params(self) -> dict[str, Any]:
        return _jsonable(self.hp.values)

    def train(self, trial: "optuna.Trial", run: "TrialRun", prune: bool) -> "Trained":
        from automl.tuner.trial import Trained

        values, losses, best, epochs_run = [], [], None, 0
        for execution in range(self.executions):
            value, loss, model, epochs = self._execute(trial, run, execution, prune)
            values.append(value)
            losses.append(loss)
            epochs_run += epochs
            key = rank_key(value, loss, execution, maximize=self.maximize)
            if best is None or key < best[0]:
                best = (key, model)
        best_model = best[1]
        mean = float(np.mean(values))
        # the tie-breaker of trials with the same value (automl.ranking), where every
        # execution's value is a best epoch with a val_loss logged
        val_loss = None if None in losses else float(np.mean(losses))
        return Trained(values=mean, value=mean, val_loss=val_loss, model=best_model,
                       epochs_run=epochs_run,
                       metrics={f"best_{self.objective}": mean,
                                "params_count": float(best_model.count_params()),
                                "epochs_run": float(epochs_run)},
                       attrs={"execution_values": values,
                              "params_count": int(best_model.count_params()),
                              "epochs_run": epochs_run})

    def _execute(self, trial: "optuna.Trial", run: "TrialRun", execution: int,
                 prune: bool) -> tuple[float, float | None, Any, int]:
        """Build and fit one model; return its objective value, its val_loss at the best epoch
        (None where ``fit`` returned the value itself, or logged no val_loss), the model and its
        epochs."""
        import keras
        from optuna_integration import KerasPruningCallback

        from automl.training.callbacks import DivergenceGuard, EpochReporter

        if self.seed is not None:
            keras.utils.set_random_seed(self.seed + trial.number * self.executions + execution)
        model = _built(self.hypermodel, self.hp)
        guard = DivergenceGuard()
        best = _best_epoch_callback(self.objective, self.maximize)
        offset = run.epochs  # the epochs of earlier executions: MLflow steps run on

        def report(epoch: int, metrics: dict[str, float]) -> None:
            run.epoch(offset + epoch, metrics, epoch if execution == 0 else None)

        metric = self.objective.removeprefix("val_")
        callbacks = [guard, best, EpochReporter(report, metric)]
        if prune and execution == 0 and self.objective != DEFAULT_OBJECTIVE:  # one report a step
            callbacks.append(KerasPruningCallback(trial, self.objective))
        kwargs = dict(self.fit_kwargs)
        callbacks += _copies(kwargs.pop("callbacks", None) or [])
        results = self.hypermodel.fit(self.hp, model, self.data.x_train, self.data.y_train,
                                      validation_data=(self.data.x_val, self.data.y_val),
                                      callbacks=callbacks, **kwargs)
        if guard.reason:
            raise TrialFailed(guard.reason)
        value = _objective_value(results, self.objective, best.best, self.maximize)
        if not math.isfinite(value):
            raise TrialFailed(f"the objective {self.objective} is {value}")
        loss = best.best_loss if value == best.best else None  # the value is that epoch's
        return value, loss, model, run.epochs - offset

    def save(self, model: Any, path: Path) -> None:
        """The model as the user compiled it: the selection evaluates it with their metrics."""
        try:
            model.save(path)
        except Exception as error:
            raise TrialFailed(f"the model cannot be saved as a .keras file ({error}); "
                              f"custom layers need @keras.saving.register_keras_serializable()"
                              ) from error

    def closing(self, trial: "optuna.Trial", run: "TrialRun") -> None:
        trial.set_user_attr(HP_VALUES_ATTR, _jsonable(self.hp.values))
        run.log_text(json.dumps(_jsonable(self.hp.values), indent=2), "hyperparameters.json")


def _built(hypermodel: Any, hp: HyperParameters) -> Any:
    """``hypermodel.build(hp)``, checked to be a compiled Keras model (KerasTuner style)."""
    import keras

    model = hypermodel.build(hp)
    if not isinstance(model, keras.Model):
        raise UsageError(f"build(hp) must return a keras.Model; it returned "
                         f"{type(model).__name__}")
    if not getattr(model, "compiled", False) and getattr(model, "optimizer", None) is None:
        raise UsageError("build(hp) must compile the model it returns (model.compile(optimizer="
                         "..., loss=..., metrics=[...])), as KerasTuner requires")
    return model


def _copies(callbacks: list) -> list:
    """Fresh copies of the user's callbacks for each execution (KerasTuner copies them too)."""
    copies = []
    for callback in callbacks:
        try:
            copies.append(copy.deepcopy(callback))
        except Exception:
            copies.append(callback)
    return copies


def _objective_value(results: Any, objective: str, best_epoch: float | None,
                     maximize: bool) -> float:
    """The objective of one execution from what ``fit`` returned, as KerasTuner reads it: a
    number is the value; a dict holds it; a History (or nothing) gives its best epoch."""
    if isinstance(results, dict):
        if objective not in results:
            raise TrialFailed(f"fit returned metrics {sorted(results)} without the objective "
                              f"{objective!r}")
        return float(results[objective])
    if isinstance(results, (int, float, np.integer, np.floating)) and \
            not isinstance(results, bool):
        return float(results)
    if best_epoch is not None:
        return best_epoch
    history = getattr(results, "history", None)
    if isinstance(history, dict) and history.get(objective):
        values = [float(v) for v in history[objective]]
        return max(values) if maximize else min(values)
    if objective == DEFAULT_OBJECTIVE:
        raise TrialFailed("with no objective given, fit must return the value to minimize (a "
                          "float); or pass objective='val_accuracy' (or another logged metric)")
    logged = sorted(history) if isinstance(history, dict) else []
    raise TrialFailed(f"the objective {objective!r} was not logged"
                      + (f"; logged metrics: {', '.join(logged)}" if logged else
                         "; fit must return the History of model.fit, a dict or a float"))


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """Values as plain Python (numpy scalars to numbers), for Optuna's and MLflow's records."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in values.items()}


# ---- the search ------------------------------------------------------------------------------


def search_hypermodel(hypermodel: Any, data: Any = None, *, objective: Any = None,
                      max_trials: int = 10, executions_per_trial: int = 1,
                      directory: str | Path | None = None,
                      project_name: str = "untitled_project", overwrite: bool = False,
                      max_consecutive_failed_trials: int = 3, validation_data: Any = None,
                      validation_split: float = 0.1, test_split: float = 0.2,
                      holdout_split: float | None = None, top_k: int = 5,
                      sampler: str = "tpe", pruner: str = "median", seed: int | None = 0,
                      timeout: float | None = None, tracking_uri: str | None = None,
                      storage: str | None = None, reports_dir: str | Path | None = DEFAULT_REPORTS_DIR,
                      progress: bool = True, **fit_kwargs: Any) -> "SearchResult":
    """Search a KerasTuner-style hypermodel with automl's study, tracking, pruning and selection.

    Trials run in this process, one after another (a ``build_model`` defined in a notebook or
    script cannot be imported by worker processes).

    Args:
        hypermodel: ``build_model(hp)`` returning a compiled Keras model, or a hypermodel
            object with ``build(hp)`` and optionally ``fit(hp, model, *args, **kwargs)`` (a
            ``kt.HyperModel`` subclass, or :class:`HyperModel`).
        data: ``(x, y)``, ``(x, y, x_test, y_test)`` or a dict with those keys. Labels reach
            ``fit`` and ``evaluate`` as given (one-hot or class numbers).
        objective: a logged metric (``"val_accuracy"``), ``kt.Objective(name, "min"|"max")``,
            or None to minimize the float that ``fit`` returns (KerasTuner's default).
        max_trials: trials in the study in all, counting those of earlier runs it resumes.
        executions_per_trial: models trained per trial; the trial's value is their mean.
        directory, project_name: the study, its candidates and winner live in
            ``directory/project_name`` (``directory`` defaults to ``automl-runs``, whose
            ``mlflow.db`` is the default tracking store); the study is named ``project_name``.
        overwrite: start the project again; otherwise an existing one resumes.
        max_consecutive_failed_trials: stop the search when this many trials in a row fail.
        validation_data: ``(x_val, y_val)``; otherwise ``validation_split`` of the training
            examples (stratified by class) validates.
        test_split: the fraction held out to choose the winner when ``data`` has no test part.
        holdout_split: a fraction of the examples that neither the search nor the selection
            sees (as ``data.split.holdout``); the winner is evaluated on it once
            (``result.holdout_metrics``): the estimate free of the selection's optimism.
        top_k: how many of the best trials by validation are evaluated on the test split.
        sampler, pruner, seed, timeout, tracking_uri, storage, reports_dir, progress: as in
            :func:`automl.search` (``timeout`` in seconds).
        **fit_kwargs: passed to ``fit`` in every execution, as ``tuner.search`` passes them
            (``epochs``, ``batch_size``, ``callbacks`` ...; ``verbose`` defaults to 0).

    Returns:
        A :class:`~automl.result.SearchResult`: ``best_params`` by KerasTuner's names, the
        winner's test metrics, ``model``, ``export()``.

    Example:
        >>> result = automl.search_hypermodel(build_model, data=(x, y), objective="val_accuracy",
        ...                                   max_trials=20, epochs=10, project_name="helloworld")
        >>> result.model.predict(x[:5])
        >>> result.export("out/")
    """
    from automl.registry import PRUNERS, SAMPLERS
    from automl.tuner.quiet import import_tensorflow_quietly, quiet_libraries
    from automl.defaults import DEFAULT_RUN_DIR
    from automl.tuner.record import project_space

    quiet_libraries()
    hypermodel = as_hypermodel(hypermodel)
    objective_name, direction = objective_of(objective)
    for name, value in (("max_trials", max_trials), ("executions_per_trial",
                                                     executions_per_trial),
                        ("max_consecutive_failed_trials", max_consecutive_failed_trials),
                        ("top_k", top_k)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{name} must be a whole number of at least 1; found {value!r}")
    if sampler not in SAMPLERS or sampler == "grid":
        raise UsageError(f"sampler: choose from {', '.join(sorted(set(SAMPLERS) - {'grid'}))} (a grid "
                         f"needs the space before the first trial, which build_model only "
                         f"declares as it runs); found {sampler!r}")
    if pruner not in PRUNERS:
        raise UsageError(f"pruner: choose from {', '.join(sorted(PRUNERS))}; found {pruner!r}")
    if data is None and "x" in fit_kwargs:  # tuner.search(x=..., y=...) spelled that way
        data = (fit_kwargs.pop("x"), fit_kwargs.pop("y", None))
    fit_kwargs.setdefault("verbose", 0)
    prepared = prepare_data(data, validation_data, validation_split, test_split, seed or 0,
                            holdout_split)

    import_tensorflow_quietly()
    _dry_build(hypermodel)
    run_dir = Path(directory if directory is not None else DEFAULT_RUN_DIR)
    project = run_dir / project_name
    if overwrite and project.exists():
        shutil.rmtree(project)
    cfg = project_space(project_name, objective_name, direction, max_trials, sampler, pruner, seed,
                  max_consecutive_failed_trials, top_k, validation_split, test_split,
                  has_test=data_has_test(data), holdout=holdout_split)
    return _run(cfg, hypermodel, prepared, fit_kwargs, executions=executions_per_trial,
                run_dir=run_dir, project=project, overwrite=overwrite, timeout=timeout,
                tracking_uri=tracking_uri,
                storage=storage, reports_dir=Path(reports_dir) if reports_dir else None,
                progress=progress)


def data_has_test(data: Any) -> bool:
    """Whether ``data`` brought its own test part (``(x, y, x_test, y_test)`` or the keys)."""
    if isinstance(data, dict):
        return data.get("x_test") is not None
    return isinstance(data, (tuple, list)) and len(data) == 4


def _dry_build(hypermodel: Any) -> None:
    """Build once with every parameter at its default, before the study starts: a hypermodel
    that cannot build at all gets one message now, not a column of failed trials."""
    import keras

    try:
        _built(hypermodel, HyperParameters())
    except UsageError:
        raise
    except Exception as error:
        from automl.tuner.trial import short_reason

        raise UsageError(f"build(hp) fails with every hyperparameter at its default, before any "
                         f"trial: {short_reason(error)}") from error
    finally:
        keras.backend.clear_session()


def _run(cfg: "SpaceConfig", hypermodel: Any, data: HypermodelData, fit_kwargs: dict[str, Any],
         *, executions: int, run_dir: Path, project: Path, overwrite: bool,
         timeout: float | None,
         tracking_uri: str | None, storage: str | None, reports_dir: Path | None,
         progress: bool) -> "SearchResult":
    """Open (or resume) the study and the parent run, run the trials here, choose the winner."""
    from automl.data.snapshot import digest
    from automl.tracking.store import default_tracking_uri
    from automl.tracking.tracker import Tracker
    from automl.tuner.progress import SearchProgress
    from automl.tuner.record import read_project, write_project
    from automl.tuner.trial import TrialLifecycle
    from automl.tuner.runner import after_interrupt, study_settings
    from automl.tuner.study import (fail_dead_trials, finished_trials, open_storage, open_study,
                                    retry_interrupted)
    from automl.tuner.worker import run_trials

    search = cfg.search
    epochs = int(fit_kwargs.get("epochs", 1))
    storage_url = storage or str((project / "optuna.journal").resolve())
    store = open_storage(storage_url, search.max_retries, create=True)
    if overwrite and optuna_trials(store, cfg.name) is not None:  # a database keeps it: delete
        import optuna

        optuna.delete_study(study_name=cfg.name, storage=store)
    known = len(optuna_trials(store, cfg.name) or [])
    try:
        study = open_study(cfg.name, store, storage_url, search, epochs,
                           seed=None if search.seed is None else search.seed + known)
    except UsageError as error:
        raise UsageError(f"{error} (for a hypermodel: pass overwrite=True to start the project "
                         f"again, or another project_name)") from None
    sha256 = digest(data.splits)
    settings = read_project(study)
    _check_same_project(cfg, settings, sha256)

    tracker = Tracker(tracking_uri or default_tracking_uri(run_dir), cfg.name,
                      run_dir / "mlartifacts")
    params = {**study_settings(cfg), "data.source": "python (search_hypermodel)",
              "hypermodel": type(hypermodel).__name__ if not isinstance(
                  hypermodel, _FunctionHyperModel) else hypermodel.name,
              "executions_per_trial": executions,
              **{f"fit.{k}": v for k, v in fit_kwargs.items() if k != "callbacks"}}
    params = {k: v for k, v in params.items() if not k.startswith("space.")}
    parent = tracker.start_study(cfg.name, settings.get("parent_run_id"), params, None,
                                 {**data.splits.manifest(), "splits_sha256": sha256})
    write_project(study, cfg, parent, sha256)
    # what an earlier, killed or interrupted run of this project left behind
    fail_dead_trials(study, store, search.max_retries)
    retry_interrupted(study, search.max_retries)

    display = SearchProgress(search.trials, finished_trials(study), search.objective, epochs,
                             search.direction == "maximize", progress, timeout=timeout)
    maker = HypermodelMaker(hypermodel, data, fit_kwargs, objective=search.objective,
                            direction=search.direction, executions=executions, seed=search.seed)
    objective = TrialLifecycle(maker, tracker, project / "candidates", objective=search.objective,
                               direction=search.direction, top_k=cfg.select.top_k,
                               on_epoch=display.on_epoch)
    started = time.monotonic()
    interrupted = False
    try:
        with display:  # one trial after another in this process, as a worker runs them
            stopped = run_trials(study, store, search, objective, tracker, display.on_event,
                                 None, deadline=None if timeout is None else started + timeout)
    except KeyboardInterrupt:  # the trial was recorded as interrupted, queued for the next run
        stopped, interrupted = None, True
    if stopped:
        tracker.end_study("FAILED")
        raise AutomlError(stopped)
    if interrupted:
        after_interrupt(study, tracker)
    return finish_hypermodel_search(cfg, study, data, tracker, project, reports_dir, hypermodel,
                                    batch_size=fit_kwargs.get("batch_size"))


def optuna_trials(storage: Any, name: str) -> list | None:
    """The trials a storage holds for the study ``name`` (None: it has no such study)."""
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return None
    return storage.get_all_trials(study_id, deepcopy=False)


def _check_same_project(cfg: "SpaceConfig", settings: dict[str, Any], sha256: str) -> None:
    """A resumed project keeps its objective and its data, or its trials would not compare."""
    if not settings:
        return
    hint = "pass overwrite=True to start the project again, or another project_name"
    if settings.get("objective") != cfg.search.objective:
        raise UsageError(f"the project {cfg.name!r} was searched for {settings.get('objective')!r}"
                         f", not {cfg.search.objective!r}; {hint}")
    if settings.get("splits_sha256") not in (None, sha256):
        raise DataError(f"the project {cfg.name!r} was searched on other data (split sha256 "
                        f"{settings['splits_sha256'][:12]}, now {sha256[:12]}); {hint}")


# ---- choosing the winner ---------------------------------------------------------------------


def finish_hypermodel_search(cfg: "SpaceConfig", study: "optuna.Study", data: HypermodelData,
                             tracker: "Tracker", project: Path, reports_dir: Path | None,
                             hypermodel: Any, batch_size: int | None = None) -> "SearchResult":
    """The top-K trials on the test split, the winner saved, logged, registered, reported.

    As ``automl.tuner.runner.finish_search``, except that each candidate is evaluated with the
    user's own compile settings on the test labels as the user gave them; what follows the
    choice is :func:`automl.tuner.runner.conclude_search`, the same for both.
    """
    from automl.data.base import take
    from automl.selection import Selection, top_trials
    from automl.tuner.runner import conclude_search, trial_runs
    from automl.tuner.trial import candidate_path

    trials = study.get_trials(deepcopy=False)
    runs = trial_runs(trials, tracker)
    maximize = cfg.search.direction == "maximize"
    metric = cfg.test_metric
    rows, models = [], {}
    for trial in top_trials(study, cfg.select.top_k):
        path = candidate_path(project / "candidates", trial.number)
        if not path.exists():  # e.g. the folder was cleaned by hand
            continue
        model = _load_candidate(path, trial, hypermodel, data)
        results = model.evaluate(data.x_test, data.y_test, batch_size=batch_size, verbose=0,
                                 return_dict=True)
        test = {k: float(v) for k, v in results.items()}
        val_score = float(trial.values[0])
        test_score = test.get(metric, math.nan)  # a custom objective may have no test twin
        rows.append({"trial": trial.number, "val_score": val_score, "test_score": test_score,
                     "gap": val_score - test_score, "test": test,
                     "params": trial.user_attrs.get(HP_VALUES_ATTR, dict(trial.params))})
        models[trial.number] = (model, path)
    if not rows:
        tracker.end_study("FAILED")
        raise AutomlError("no trial completed with a saved model, so there is no winner; look "
                          "at the failed trials' reasons in the MLflow UI or result.trials")

    def rank(row: dict[str, Any]) -> tuple[float, float]:
        # best test score wins (none: best validation); the better validation breaks ties
        sign = 1 if maximize else -1
        test = row["test_score"]
        return (sign * test if math.isfinite(test) else -math.inf, sign * row["val_score"])

    winner = max(rows, key=rank)
    model, path = models[winner["trial"]]
    winner["holdout"] = {}
    if data.y_holdout is not None:  # once, the estimate no selection step has seen
        winner["holdout"] = {k: float(v) for k, v in model.evaluate(
            data.splits.x_holdout, data.y_holdout, batch_size=batch_size, verbose=0,
            return_dict=True).items()}
    selection = Selection(rows, winner, model, path)
    winner_path = project / "winner.keras"
    model = _with_input(model, take(data.x_test, np.arange(1)))
    model.save(winner_path)
    return conclude_search(cfg, study, data.splits, tracker, selection, runs, winner_path, model,
                           reports_dir, report=metric in winner["test"])


def _load_candidate(path: Path, trial: "optuna.trial.FrozenTrial", hypermodel: Any,
                    data: HypermodelData) -> Any:
    """A candidate's model from its file; one that Keras will not load as a whole (a Lambda
    layer, a custom layer not registered) is built again from its values and given the
    file's weights, as KerasTuner rebuilds its best models."""
    import keras
    from optuna.trial import FixedTrial

    from automl.data.base import take

    try:
        return keras.saving.load_model(path)
    except Exception:
        model = _built(hypermodel, HyperParameters(FixedTrial(dict(trial.params))))
        if not model.built:  # a Sequential without an Input: build it on one example
            model(take(data.x_test, np.arange(1)))
        model.load_weights(path)
        return model


def _with_input(model: Any, example: Any) -> Any:
    """``model``, or where ``model.input`` is undefined (a ``Sequential``: KerasTuner's docs
    build those, often without an ``Input``) a functional model of the same layers and weights
    behind an ``Input``, compiled as the user compiled it: exporting, serving and MLflow's
    signature read ``model.input``.

    ``example``: one example, for the input's shape.
    """
    import keras

    try:
        model.input
        return model
    except (AttributeError, ValueError):
        pass
    if isinstance(example, dict):
        return model
    example = np.asarray(example)
    inputs = keras.Input(shape=example.shape[1:], name="inputs",
                         dtype=None if example.dtype.kind == "f" else str(example.dtype))
    try:
        if isinstance(model, keras.Sequential):  # the same layers, as a functional model
            outputs = inputs
            for layer in model.layers:
                outputs = layer(outputs)
        else:
            outputs = model(inputs)
        wrapped = keras.Model(inputs, outputs, name=model.name)
        wrapped.compile_from_config(model.get_compile_config())
    except Exception:  # a model that will not take an Input: saved as the user built it
        return model
    return wrapped

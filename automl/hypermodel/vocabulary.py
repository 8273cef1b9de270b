"""KerasTuner's vocabulary, mapped onto Optuna: ``hp.Int``/``Float``/``Choice``/``Boolean``/``Fixed``
and ``conditional_scope`` on a trial (:class:`HyperParameters`), ``kt.HyperModel`` and
``kt.Objective`` stand-ins, and how an objective's name gives its direction."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.errors import UsageError

if TYPE_CHECKING:
    import optuna


SAMPLINGS = ("linear", "log", "reverse_log")
DEFAULT_OBJECTIVE = "default_objective"  # KerasTuner's name for "the float fit() returns"

# KerasTuner infers the direction of a metric named by a string; these are maximized
_MAX_METRICS = {
    "acc",
    "accuracy",
    "categorical_accuracy",
    "binary_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "auc",
    "precision",
    "recall",
    "true_positives",
    "true_negatives",
    "sensitivity_at_specificity",
    "specificity_at_sensitivity",
    "precision_at_recall",
    "recall_at_precision",
    "f1_score",
    "fbeta_score",
    "r2_score",
    "iou",
    "mean_iou",
    "one_hot_iou",
}
_MIN_METRICS = {
    "loss",
    "ce",
    "mse",
    "mae",
    "mape",
    "msle",
    "rmse",
    "kld",
    "kl_divergence",
    "poisson",
    "logcosh",
    "log_cosh",
    "huber",
    "false_positives",
    "false_negatives",
    "cosine_similarity_loss",
}
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
        raise UsageError(
            "objective: give one objective; KerasTuner sums a list of them, automl "
            "optimizes one (pick the metric that matters, e.g. 'val_accuracy')"
        )
    if isinstance(objective, str):
        direction = infer_direction(objective)
        if direction is None:
            raise UsageError(
                f"objective: cannot tell whether {objective!r} is better high or "
                f"low; give kt.Objective({objective!r}, direction='min') (or 'max')"
            )
        name = objective
    elif hasattr(objective, "name") and hasattr(objective, "direction"):
        name, direction = str(objective.name), str(objective.direction).lower()
    else:
        raise UsageError(
            f"objective: expected a metric name or kt.Objective(name, direction); "
            f"got {type(objective).__name__}"
        )
    directions = {
        "max": "maximize",
        "maximize": "maximize",
        "min": "minimize",
        "minimize": "minimize",
    }
    if direction not in directions:
        raise UsageError(
            f"objective: the direction of {name!r} must be 'min' or 'max'; found {direction!r}"
        )
    return name, directions[direction]


# ---- hyperparameters -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Numeric:
    """An ``hp.Int`` or ``hp.Float`` as KerasTuner defines it, and how Optuna samples it."""

    name: str
    kind: type  # int or float: the bounds and step are of that kind
    low: Any
    high: Any
    step: Any  # None: no step
    sampling: str
    default: Any

    @classmethod
    def of(
        cls,
        name: str,
        kind: type,
        min_value: Any,
        max_value: Any,
        step: Any,
        sampling: str | None,
        default: Any,
    ) -> "_Numeric":
        what = f"HyperParameters.{'Int' if kind is int else 'Float'}(name={name!r})"
        low, high = (
            _number(min_value, kind, what, "min_value"),
            _number(max_value, kind, what, "max_value"),
        )
        step = None if step is None else _number(step, kind, what, "step")
        sampling = (sampling or "linear").lower()
        if low > high:
            raise ValueError(f"{what}: min_value {low} is greater than max_value {high}")
        if sampling not in SAMPLINGS:
            raise ValueError(
                f"{what}: sampling must be one of {', '.join(SAMPLINGS)}; found {sampling!r}"
            )
        if sampling != "linear" and low <= 0:
            raise ValueError(f"{what}: sampling={sampling!r} needs min_value > 0; found {low}")
        if sampling != "linear" and step is not None and step <= 1:
            raise ValueError(
                f"{what}: with sampling={sampling!r} the step multiplies, so it "
                f"must be > 1; found {step}"
            )
        if sampling == "linear" and step is not None and step <= 0:
            raise ValueError(f"{what}: step must be positive; found {step}")
        if kind is int and step is None and sampling == "linear":
            step = 1  # KerasTuner's Int walks whole numbers
        default = low if default is None else _number(default, kind, what, "default")
        return cls(name, kind, low, high, step, sampling, default)

    def grid(self) -> list:
        """KerasTuner's values for log or reverse_log sampling with a step (which multiplies)."""
        count = int(math.log(self.high / self.low, self.step) + 1e-8) + 1
        values = [self.low * self.step**i for i in range(count)]
        if self.sampling == "reverse_log":
            values = [self.high + self.low - v for v in values]
        return sorted(
            self.kind(round(v) if self.kind is int else float(f"{v:.12g}")) for v in values
        )

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
        value: float = (
            trial.suggest_int(name, self.low, self.high, log=True)
            if self.kind is int
            else trial.suggest_float(name, self.low, self.high, log=True)
        )
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

    def __init__(self, trial: "optuna.trial.BaseTrial | None" = None) -> None:
        self.trial = trial
        self.values: dict[str, Any] = {}
        self._declared: dict[str, str] = {}  # every name declared so far -> its kind
        self._conditions: list[tuple[str, tuple]] = []
        self._name_scopes: list[str] = []

    # ---- KerasTuner's hyperparameter types ---------------------------------------------------

    def Int(
        self,
        name: str,
        min_value: int,
        max_value: int,
        step: int | None = None,
        sampling: str = "linear",
        default: int | None = None,
        parent_name: str | None = None,
        parent_values: Any = None,
    ) -> int | None:
        """A whole number from ``min_value`` to ``max_value`` inclusive (see KerasTuner's)."""
        spec = _Numeric.of(name, int, min_value, max_value, step, sampling, default)
        return self._retrieve(name, "Int", spec.default, spec.suggest, parent_name, parent_values)

    def Float(
        self,
        name: str,
        min_value: float,
        max_value: float,
        step: float | None = None,
        sampling: str = "linear",
        default: float | None = None,
        parent_name: str | None = None,
        parent_values: Any = None,
    ) -> float | None:
        """A real number from ``min_value`` to ``max_value`` (see KerasTuner's)."""
        spec = _Numeric.of(name, float, min_value, max_value, step, sampling, default)
        return self._retrieve(name, "Float", spec.default, spec.suggest, parent_name, parent_values)

    def Choice(
        self,
        name: str,
        values: list,
        ordered: bool | None = None,
        default: Any = None,
        parent_name: str | None = None,
        parent_values: Any = None,
    ) -> Any:
        """One of ``values`` (all int, float, str or bool); the default is the first."""
        values = _choice_values(name, values)
        if default is not None and default not in values:
            raise ValueError(
                f"HyperParameters.Choice(name={name!r}): the default {default!r} "
                f"is not one of {values}"
            )
        default = values[0] if default is None else default
        return self._retrieve(
            name,
            "Choice",
            default,
            lambda trial, full: trial.suggest_categorical(full, values),
            parent_name,
            parent_values,
        )

    def Boolean(
        self,
        name: str,
        default: bool = False,
        parent_name: str | None = None,
        parent_values: Any = None,
    ) -> bool | None:
        """True or False; the default is False."""
        return self._retrieve(
            name,
            "Boolean",
            bool(default),
            lambda trial, full: trial.suggest_categorical(full, [False, True]),
            parent_name,
            parent_values,
        )

    def Fixed(
        self, name: str, value: Any, parent_name: str | None = None, parent_values: Any = None
    ) -> Any:
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
        return all(
            parent in self.values and self.values[parent] in allowed
            for parent, allowed in self._conditions
        )

    def _retrieve(
        self,
        name: str,
        kind: str,
        default: Any,
        suggest: Callable[[Any, str], Any] | None,
        parent_name: str | None,
        parent_values: Any,
    ) -> Any:
        scope = (
            self.conditional_scope(parent_name, parent_values)
            if parent_name is not None
            else contextlib.nullcontext()
        )
        with scope:
            full = self._full_name(name)
            self._declared.setdefault(full, kind)
            if not self._active():
                return None
            if full in self.values:  # declared before (a loop, or build then fit): same value
                return self.values[full]
            value = default if self.trial is None or suggest is None else suggest(self.trial, full)
            self.values[full] = value
            return value


def _choice_values(name: str, values: Any) -> list:
    """KerasTuner's rules: a non-empty list of int, float, str or bool, all of one type."""
    values = list(values or [])
    if not values:
        raise ValueError(f"HyperParameters.Choice(name={name!r}): values must not be empty")
    kinds = {type(v) for v in values}
    if len(kinds) > 1:
        raise TypeError(
            f"HyperParameters.Choice(name={name!r}): the values must be of one "
            f"type; found {sorted(k.__name__ for k in kinds)}"
        )
    first = values[0]
    if isinstance(first, (np.integer, np.floating, np.str_, np.bool_)):
        values = [v.item() for v in values]
    elif not isinstance(first, (int, float, str, bool)):
        raise TypeError(
            f"HyperParameters.Choice(name={name!r}): values must be int, float, "
            f"str or bool; found {type(first).__name__}"
        )
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


class FunctionHyperModel(HyperModel):
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
        return FunctionHyperModel(hypermodel)
    raise UsageError(
        f"hypermodel: expected a build_model(hp) function or a HyperModel with "
        f"build(hp); got {type(hypermodel).__name__}"
    )

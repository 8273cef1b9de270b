"""What a user's data is, decided by rules and said with reasons: the task, and each column's kind.

A zero-config search (:mod:`automl.zero_config`) shows these decisions as its plan before it
trains; a space file's search uses the same task rule (:func:`task_of`). Each decision names
the setting that overrides it.

The task follows AutoGluon's ``infer_problem_type``: a target of two values is binary; text or
booleans are classes; whole numbers are classes when they repeat (distinct values at most 10%
of the rows, 5% above 1,000 rows, and at most 1,000 of them); anything else is a regression.

Column kinds follow one ordered table, :data:`COLUMN_RULES`: the first rule that takes a column
decides. Dates and text come before id-like, since both are unique in most rows too.

Example:
    >>> task_of(np.array(["yes", "no", "yes"])).line()
    'task: binary classification, because the target has 2 values (override: --task regression)'
    >>> [d.choice for d in column_kinds(pd.DataFrame({"id": range(50), "x": [1.5] * 25 + [2.0] * 25}))]
    ['ignored', 'numeric']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

MAX_CLASSES = 1_000  # whole-number targets with more distinct values are a regression
ID_MIN_ROWS = 20  # below this many rows, nothing is called an id for being unique
TEXT_MIN_WORDS = 3.0
SKEWED = 1.0  # a regression target more skewed than this (and 0 or more) is modelled as a log  # words per value on average, for a column of strings to be free text


@dataclass(frozen=True)
class Decision:
    """One thing the plan decided: what, the choice, why, and how to decide otherwise."""

    subject: str  # "task", "column 'city'"
    choice: str  # "binary classification", "categorical", "ignored"
    reason: str  # "the target has 2 values"
    override: str = ""  # "--task regression", "data.columns: {city: numeric}"

    def line(self) -> str:
        """``subject: choice, because reason (override: ...)``, one line of the plan."""
        override = f" (override: {self.override})" if self.override else ""
        return f"{self.subject}: {self.choice}, because {self.reason}{override}"


# ---- the task ------------------------------------------------------------------------------------


def task_of(y: np.ndarray, task: str | None = None) -> Decision:
    """The task of target values ``y`` (``choice`` starts with ``classification``'s kind or is
    ``regression``), or ``task`` as the user set it.

    ``Decision.choice`` is ``binary classification``, ``multiclass classification`` or
    ``regression``; :func:`task_name` maps it to the config's name.
    """
    y = np.asarray(y).reshape(-1)
    if task:
        return Decision("task", _kind_of_task(task, y), "it was set", "")
    kept = y[~_missing(y)]
    values = np.unique(kept.astype(str)) if kept.dtype.kind == "O" else np.unique(kept)
    rows = max(1, len(kept))
    count = len(values)
    if count == 2:
        numbers = kept.dtype.kind in "iuf"
        return Decision(
            "task",
            "binary classification",
            "the target has 2 values",
            "--task regression" if numbers else "",
        )
    if kept.dtype.kind in "OUSb":
        return Decision(
            "task",
            "multiclass classification",
            f"the target holds text ({count} distinct values)",
            "",
        )
    whole = kept.dtype.kind in "iu" or bool(np.all(np.mod(values, 1) == 0))
    share = 0.05 if rows > 1_000 else 0.1
    if whole and count <= min(MAX_CLASSES, share * rows):
        return Decision(
            "task",
            "multiclass classification",
            f"the target has {count} whole-number values, repeated across {rows} rows",
            "--task regression",
        )
    why = (
        "the target has fractional values"
        if not whole
        else f"the target has {count} distinct whole numbers in {rows} rows, too many for classes"
    )
    return Decision("task", "regression", why, "--task classification")


def target_transform_of(y: np.ndarray) -> Decision | None:
    """``log`` for a regression target of values 0 or more whose distribution is skewed to the
    right (skewness above :data:`SKEWED`) and less skewed as ``log(1 + y)``; None otherwise."""
    values = np.asarray(y, dtype="float64").reshape(-1)
    values = values[~np.isnan(values)]
    if len(values) < 3 or values.min() < 0:
        return None
    skew, log_skew = _skewness(values), _skewness(np.log1p(values))
    if skew <= SKEWED or abs(log_skew) >= skew:
        return None
    return Decision(
        "target",
        "modelled as log(1 + y), predictions in its own units",
        f"it is 0 or more and skewed (skewness {skew:.1f}, {log_skew:.1f} as log(1 + y))",
        "data.target_transform: none",
    )


def _skewness(values: np.ndarray) -> float:
    spread = values.std()
    return float(np.mean(((values - values.mean()) / spread) ** 3)) if spread else 0.0


def task_name(decision: Decision) -> str:
    """``classification`` or ``regression``, the config's name for the decided task."""
    return "regression" if decision.choice == "regression" else "classification"


def _kind_of_task(task: str, y: np.ndarray) -> str:
    if task == "regression":
        return "regression"
    count = len(np.unique(y[~_missing(y)].astype(str)))
    return "binary classification" if count == 2 else "multiclass classification"


def _missing(values: np.ndarray) -> np.ndarray:
    """Where ``values`` is empty: NaN, None (and pandas' NA)."""
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


# ---- columns -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnFacts:
    """What the rules read of one column."""

    name: str
    rows: int
    missing: int
    distinct: int  # distinct filled values
    numeric: bool  # numbers or booleans
    whole: bool  # integers (or floats that are all whole)
    words: float  # words per filled value on average (strings), else 0
    sorted_or_range: bool  # increasing, or exactly the numbers first..first+rows-1
    date_order: str | None = None  # strings written as dates: ymd, dmy or mdy
    example: str = ""  # a filled value, as the table writes it


def column_facts(series: pd.Series) -> ColumnFacts:
    """The facts of one column of a table, as :data:`COLUMN_RULES` read them."""
    filled = series.dropna()
    numeric = series.dtype.kind in "iufb"
    words, order = 0.0, None
    if not numeric and len(filled):
        from automl.modalities.table import date_order

        words = float(filled.astype(str).str.split().str.len().mean())
        order = date_order(filled.to_numpy())
    whole, ordered = False, False
    if numeric and len(filled) and series.dtype.kind != "b":
        values = filled.to_numpy(dtype="float64")
        whole = bool(np.all(np.mod(values, 1) == 0))
        span = values.max() - values.min() + 1
        ordered = bool(np.all(np.diff(values) > 0)) or (whole and span == len(series))
    return ColumnFacts(
        name=str(series.name),
        rows=len(series),
        missing=int(series.isna().sum()),
        distinct=int(filled.nunique()),
        numeric=numeric,
        whole=whole,
        words=words,
        sorted_or_range=ordered,
        date_order=order,
        example=str(filled.iloc[0]) if len(filled) else "",
    )


def _empty(f: ColumnFacts) -> str | None:
    return "every value is missing" if f.distinct == 0 else None


def _constant(f: ColumnFacts) -> str | None:
    return "it has the same value in every row" if f.distinct == 1 else None


DATE_ORDERS = {"ymd": "year first", "dmy": "day first", "mdy": "month first"}


def _datetime(f: ColumnFacts) -> str | None:
    if f.date_order is None:
        return None
    return (
        f"it holds dates ({DATE_ORDERS[f.date_order]}, e.g. {f.example!r}), learned as years "
        f"since 1970, month, day, weekday and hour"
    )


def _text(f: ColumnFacts) -> str | None:
    if f.numeric or f.words < TEXT_MIN_WORDS or f.distinct <= 0.01 * f.rows:
        return None
    return f"it is free text ({f.words:.1f} words a value on average), tokenized inside the model"


def _identifier(f: ColumnFacts) -> str | None:
    if f.rows < ID_MIN_ROWS:
        return None
    if f.numeric and f.whole and f.distinct == f.rows and f.sorted_or_range:
        return "it numbers the rows (a whole number of its own in every row), like an id"
    if not f.numeric and f.distinct > max(ID_MIN_ROWS, f.rows / 2):
        return (
            f"it has a value of its own in most rows ({f.distinct} values in {f.rows} rows), "
            f"so as a category it tells the model nothing about new rows"
        )
    return None


def _numeric(f: ColumnFacts) -> str | None:
    return "it holds numbers" if f.numeric else None


def _categorical(f: ColumnFacts) -> str | None:
    return f"it holds {f.distinct} distinct labels"


# the first rule that answers decides a column's kind (one of config.records.COLUMN_KINDS)
COLUMN_RULES: tuple[tuple[str, str, Callable[[ColumnFacts], str | None]], ...] = (
    ("empty", "ignore", _empty),
    ("constant", "ignore", _constant),
    ("datetime", "datetime", _datetime),
    ("text", "text", _text),
    ("id-like", "ignore", _identifier),
    ("numeric", "numeric", _numeric),
    ("categorical", "categorical", _categorical),
)
CHOICE_WORDS = {
    "ignore": "ignored",
    "numeric": "numeric",
    "categorical": "categorical",
    "datetime": "a date",
    "text": "text",
}


@dataclass(frozen=True)
class ColumnDecision(Decision):
    column: str = ""  # the column's name, as the table spells it
    kind: str = "numeric"  # the data.columns value (config.records.COLUMN_KINDS)
    rule: str = ""  # the rule of COLUMN_RULES that decided
    missing: int = 0


def column_kinds(
    frame: pd.DataFrame, target: str | None = None, given: dict[str, str] | None = None
) -> list[ColumnDecision]:
    """One decision per column of ``frame`` except ``target``, in the frame's order.

    ``given``: the kinds the user set (``data.columns``), which win over the rules.
    """
    given = given or {}
    decisions = []
    for name in frame.columns:
        if name == target:
            continue
        facts = column_facts(frame[name])
        if str(name) in given:
            kind = given[str(name)]
            rule, reason = "set", "it was set"
        else:
            rule, kind, reason = next(
                (rule, kind, why) for rule, kind, test in COLUMN_RULES if (why := test(facts))
            )
        if kind != "ignore" and facts.missing:
            filled = {
                "numeric": "filled with the training mean, with a missing indicator",
                "datetime": "filled with the training mean, with a missing indicator",
                "text": "read as empty texts",
            }.get(kind, "kept as a category of their own")
            reason += f"; {facts.missing} missing values {filled}"
        other = {
            "numeric": "categorical",
            "categorical": "ignore",
            "datetime": "ignore",
            "text": "ignore",
            "ignore": "numeric" if facts.numeric else "categorical",
        }[kind]
        decisions.append(
            ColumnDecision(
                subject=f"column {name!r}",
                column=str(name),
                choice=CHOICE_WORDS[kind],
                reason=reason,
                override="" if rule == "set" else f"data.columns: {{{name}: {other}}}",
                kind=kind,
                rule=rule,
                missing=facts.missing,
            )
        )
    return decisions


def with_reasons(decisions: list[Decision], limit: int = 12) -> list[str]:
    """The plan's lines: every decision that is not plain, then the plain columns (numeric or
    categorical, without missing values) counted by kind; at most ``limit`` listed columns."""
    plain: dict[str, list[str]] = {"numeric": [], "categorical": []}
    listed = []
    for d in decisions:
        if isinstance(d, ColumnDecision) and d.rule in plain and not d.missing:
            plain[d.rule].append(repr(d.column))
        else:
            listed.append(d)
    lines = [d.line() for d in listed[:limit]]
    if len(listed) > limit:
        lines.append(f"... and {len(listed) - limit} more columns (automl init writes them all)")
    for kind, names in plain.items():
        if names:
            more = f" and {len(names) - 6} more" if len(names) > 6 else ""
            lines.append(f"{kind} columns without missing values: {', '.join(names[:6])}{more}")
    return lines

"""The values every argument of the space language may take: one table, two readers.

Each key a space file may set (an optimizer's ``beta_1``, a schedule's ``drop``, an initializer's
``mode``, a model's ``dropout``) has a :class:`Domain` here. ``config.py`` checks every fixed or
searched value against it before anything trains, and ``schema.py`` writes the same domain into
the JSON Schema, so the validator and the schema cannot disagree about a value (a property test,
``tests/test_schema_agrees.py``, generates spaces and checks that they do not).

Example:
    >>> OPTIMIZER_ARGS["beta_1"].problem(1.5)
    'expects a number in [0, 1); found 1.5'
    >>> OPTIMIZER_ARGS["beta_1"].schema()
    {'type': 'number', 'minimum': 0, 'exclusiveMaximum': 1}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Domain:
    """The values one argument may take.

    Args:
        kind: ``number``, ``integer``, ``bool``, ``enum`` or ``text`` (any string).
        low, high: bounds of a number or integer (``math.inf`` for none).
        low_open, high_open: whether the bound itself is excluded.
        values: the names an ``enum`` takes.
        hint: appended to a refusal, to say why (``"; a learning rate must be above 0"``).
    """

    kind: str
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    values: tuple[str, ...] = ()
    hint: str = ""

    @property
    def numeric(self) -> bool:
        return self.kind in ("number", "integer")

    def describe(self) -> str:
        """``a number in (0, 1]``, ``true or false``, ``one of fan_avg, fan_in, fan_out``."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "enum":
            return "one of " + ", ".join(self.values)
        if self.kind == "text":
            return "a text value"
        what = "a whole number" if self.kind == "integer" else "a number"
        if self.low == -math.inf and self.high == math.inf:
            return f"{what} (finite)"
        if self.high == math.inf:
            return f"{what} {'above' if self.low_open else 'at least'} {_show(self.low)}"
        lo, hi = ("(" if self.low_open else "["), (")" if self.high_open else "]")
        return f"{what} in {lo}{_show(self.low)}, {_show(self.high)}{hi}"

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is outside the domain (``"expects ...; found ..."``), or None."""
        if self.accepts(value):
            return None
        return f"expects {self.describe()}; found {value!r}{self.hint}"

    def accepts(self, value: Any) -> bool:
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "enum":
            return isinstance(value, str) and value in self.values
        if self.kind == "text":
            return isinstance(value, str) and bool(value)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        if not math.isfinite(value) or (self.kind == "integer" and not float(value).is_integer()):
            return False  # 3.0 is a whole number, as JSON Schema counts them
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def schema(self) -> dict[str, Any]:
        """The same domain as a JSON Schema (draft 2020-12) fragment."""
        if self.kind == "bool":
            return {"type": "boolean"}
        if self.kind == "enum":
            return {"enum": list(self.values)}
        if self.kind == "text":
            return {"type": "string", "minLength": 1}
        out: dict[str, Any] = {"type": self.kind}
        if self.low != -math.inf:
            out["exclusiveMinimum" if self.low_open else "minimum"] = _show(self.low)
        if self.high != math.inf:
            out["exclusiveMaximum" if self.high_open else "maximum"] = _show(self.high)
        return out


def _show(bound: float) -> int | float:
    return int(bound) if float(bound).is_integer() else bound


def number(
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
) -> Domain:
    return Domain("number", low, high, low_open, high_open, hint=hint)


def integer(low: float = -math.inf, high: float = math.inf) -> Domain:
    return Domain("integer", low, high)


def enum(*values: str) -> Domain:
    return Domain("enum", values=tuple(sorted(values)))


BOOL = Domain("bool")
TEXT = Domain("text")
FINITE = number()
POSITIVE = number(0, low_open=True)
NON_NEGATIVE = number(0)
FRACTION = number(0, 1)  # [0, 1]
OPEN_FRACTION = number(0, 1, low_open=True, high_open=True)  # (0, 1)
PROPER_FRACTION = number(0, 1, high_open=True)  # [0, 1)
SHARE = number(0, 1, low_open=True)  # (0, 1]
LEARNING_RATE = number(
    0, low_open=True, hint="; a learning rate is above 0, typically 1e-4 to 1e-1"
)
SEED = integer(0, 2**32 - 1)

# ---- training.optimizer: <name>: {argument: value} -------------------------------------------
OPTIMIZER_ARGS: dict[str, Domain] = {
    "learning_rate": LEARNING_RATE,
    "clipnorm": POSITIVE,
    "clipvalue": POSITIVE,
    "beta_1": PROPER_FRACTION,
    "beta_2": PROPER_FRACTION,
    "epsilon": number(0, 1, low_open=True),
    "amsgrad": BOOL,
    "weight_decay": number(0, 1),
    "momentum": PROPER_FRACTION,
    "nesterov": BOOL,
    "rho": PROPER_FRACTION,
    "centered": BOOL,
    "initial_accumulator_value": NON_NEGATIVE,
}

# ---- training.schedule: <name>: {argument: value}; some names mean different things ----------
SCHEDULE_ARGS: dict[str, Domain] = {
    "warmup_epochs": integer(0, 10_000),
    "alpha": FRACTION,  # the final rate as a fraction of the first
    "first_decay_epochs": integer(1, 10_000),
    "t_mul": number(0, 100, low_open=True),
    "m_mul": SHARE,
    "drop": SHARE,
    "every_epochs": integer(1, 10_000),
    "decay_rate": SHARE,  # exponential: the factor per epoch
    "power": number(0, 100, low_open=True),
    "end_factor": FRACTION,
    "peak_epoch_fraction": OPEN_FRACTION,
    "start_factor": SHARE,
    "factor": OPEN_FRACTION,
    "patience": integer(1, 10_000),
    "min_factor": SHARE,
}
# (schedule, argument) pairs whose domain differs from the table above
SCHEDULE_ARG_OVERRIDES: dict[tuple[str, str], Domain] = {
    ("inverse_time", "decay_rate"): number(0, 1000, low_open=True),  # lr / (1 + rate x epoch)
}

# ---- model.initializer: <name>: {argument: value} ----------------------------------------------
INITIALIZER_ARGS: dict[str, Domain] = {
    "gain": POSITIVE,
    "mean": FINITE,
    "stddev": POSITIVE,
    "minval": FINITE,
    "maxval": FINITE,
    "scale": POSITIVE,
    "mode": enum("fan_in", "fan_out", "fan_avg"),
    "distribution": enum("truncated_normal", "untruncated_normal", "uniform"),
    "value": FINITE,
    "seed": SEED,
}

# ---- model.architecture: <family>: {argument: value} -------------------------------------------
ARCHITECTURE_ARGS: dict[str, Domain] = {
    "layers": integer(1, 1000),
    "units": integer(1, 1_000_000),
    "shrink": SHARE,
    "blocks": integer(1, 1000),
    "filters": integer(1, 1_000_000),
    "kernel_size": integer(1, 1000),
    "dense_units": integer(0, 1_000_000),
    "pooling": enum("max", "avg", "none"),
    "head": enum("flatten", "gap"),
    "residual": BOOL,
    # texts (and sequences): bow, cnn over embeddings, rnn, transformer
    "mode": enum("multi_hot", "count"),
    "embedding_dim": integer(1, 100_000),
    "cell": enum("gru", "lstm"),
    "bidirectional": BOOL,
    "heads": integer(1, 256),
    "key_dim": integer(1, 100_000),
    "ff_units": integer(1, 1_000_000),
    # transfer
    "weights": enum("imagenet", "none"),
    "unfreeze": integer(0, 100_000),
    "fine_tune_lr_factor": SHARE,
    "input_size": integer(32, 1024),
    "features_layer": TEXT,
}

# ---- model: key: value (``per_item``: also a list, one value per block) ------------------------
MODEL_ARGS: dict[str, Domain] = {
    "dropout": PROPER_FRACTION,
    "spatial_dropout": BOOL,
    "l1": number(0, 1),
    "l2": number(0, 1),
    "bias_l1": number(0, 1),
    "bias_l2": number(0, 1),
    "activity_l1": number(0, 1),
    "activity_l2": number(0, 1),
    "batch_norm": BOOL,
    "batch_norm_position": enum("before", "after"),
    "batch_norm_momentum": PROPER_FRACTION,
}
PER_ITEM = {"dropout"}  # dropout: [0.1, 0.2, 0.3] sets each block's own rate

# ---- training: key: value --------------------------------------------------------------------
TRAINING_ARGS: dict[str, Domain] = {
    "learning_rate": LEARNING_RATE,
    "batch_size": integer(1, 1 << 20),
    "epochs": integer(1, 100_000),
    "early_stopping": integer(0, 100_000),
    "label_smoothing": PROPER_FRACTION,
    # classes weighted by the inverse of their frequency in the training split (or not)
    "class_weight": enum("none", "balanced"),
    "mixed_precision": BOOL,
    "jit_compile": BOOL,
    "deterministic": BOOL,
}
SWITCHES = ("mixed_precision", "jit_compile", "deterministic")  # fixed for a whole search

# ---- data.augment: key: value ------------------------------------------------------------------
AUGMENT_ARGS: dict[str, Domain] = {
    "shift": integer(0, 10_000),
    "crop": integer(0, 10_000),
    "scale": FRACTION,
    "rotation": FRACTION,
    "translation": FRACTION,
    "zoom": FRACTION,
    "contrast": FRACTION,
    "brightness": FRACTION,
    "cutout": FRACTION,
    "gaussian_noise": number(0, 100),
    "mixup": number(0, 10),
    "flip": enum("horizontal", "vertical", "horizontal_and_vertical", "none"),
    "token_dropout": PROPER_FRACTION,
}

# ---- data.text: how texts are tokenized (searched, as data.augment is) -------------------------
TEXT_ARGS: dict[str, Domain] = {
    "vocabulary": integer(3, 10_000_000),  # tokens kept, most frequent first (with pad and UNK)
    "sequence_length": integer(1, 100_000),  # tokens a text is cut or padded to (unset: from data)
    "ngrams": integer(1, 3),  # 2: word pairs too
    "split": enum("word", "character"),  # character: for languages written without spaces
}


def schedule_arg(schedule: str, argument: str) -> Domain:
    """The domain of one schedule's argument (``decay_rate`` means two things)."""
    return SCHEDULE_ARG_OVERRIDES.get((schedule, argument), SCHEDULE_ARGS[argument])


# ---- the fixed settings of data:, search: and select: (config.sections and the schema) --------
STUDY_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}"  # name: (a study, an experiment)
DURATION = r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*"  # search.timeout: 90, 90s, 10m, 1h
# data.memory_budget: 512MB, 4GB, 1.5TB (binary units: 1GB = 1024**3 bytes), or auto
SIZE = r"\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B)\s*"
SIZE_UNITS = {"KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}
IMAGE_SIDE = integer(1, 4096)  # data.image_size: [height, width]
CHANNELS = (1, 3, 4)  # data.channels: grey, RGB, RGBA
SUBSAMPLE = integer(10, 10**9)  # data.subsample.train / .test
TRIALS = integer(1, 1_000_000)  # search.trials
WORKERS = integer(0, 1024)  # search.workers (or auto)
MAX_RETRIES = integer(0, 100)  # search.max_retries
MAX_FAILURES = integer(1, 10**6)  # search.max_consecutive_failures
TOP_K = integer(1, 1000)  # select.top_k

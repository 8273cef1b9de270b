"""The typed config a space file becomes: :class:`SpaceConfig` and its sections, and the fixed
vocabulary of the format (section keys, losses, objectives, built-in sources)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from automl.config.reader import Document
from automl.errors import ConfigError
from automl.registry import SOURCES
from automl.space import Group

TOP_KEYS = {"name", "description", "data", "model", "training", "search", "select"}
DATA_KEYS = {
    "source",
    "csv",
    "parquet",
    "images",
    "texts",
    "npz",
    "target",
    "columns",
    "task",
    "missing",
    "target_transform",
    "image_size",
    "channels",
    "memory_budget",
    "classes",
    "split",
    "seed",
    "subsample",
    "augment",
    "text",
}
SPLIT_KEYS = {"validation", "test", "holdout"}
# tables: what data.columns may call a column
COLUMN_KINDS = {
    "numeric": "numbers, normalized (booleans too)",
    "categorical": "labels, one-hot",
    "datetime": "dates as text (2021-03-04, 04/03/2021): years since 1970, month, day, "
    "weekday and hour",
    "text": "free text, tokenized inside the model (data.text); a table of one text column "
    "is a text data set",
    "ignore": "left out",
}
# tables: what data.missing does with empty cells
MISSING_POLICIES = {
    "refuse": "stop with the column that has them",
    "drop": "drop the rows that have them",
    "impute": "fill them inside the model (numbers: the training mean, with a missing "
    "indicator; categories: a category of their own)",
}
# regression: how the model sees the target (its predictions are always in the target's units)
TARGET_TRANSFORMS = {
    "none": "the target as it is (standardized inside the model)",
    "log": "log(1 + y): for a skewed target of positive values (prices, counts); the loss is "
    "the squared error of log(1 + y), the predictions are back in y's units",
}
TRAINING_KEYS = {
    "optimizer",
    "learning_rate",
    "schedule",
    "batch_size",
    "epochs",
    "early_stopping",
    "label_smoothing",
    "class_weight",
    "loss",
    "mixed_precision",
    "jit_compile",
    "deterministic",
}
# task -> the losses a space may choose (the first is the default)
LOSSES = {
    "classification": ("categorical_crossentropy", "categorical_focal_crossentropy"),
    "regression": ("mse", "mae", "huber", "log_cosh"),
}
SEARCH_KEYS = {
    "sampler",
    "pruner",
    "trials",
    "timeout",
    "budget",
    "objective",
    "direction",
    "seed",
    "enqueue",
    "workers",
    "max_retries",
    "max_consecutive_failures",
}
SELECT_KEYS = {"top_k", "ensemble"}
# data sources, from automl.registry.SOURCES: the built-in sets, the file kinds (key -> what the
# path names), those with a test split of their own
BUILTIN_SOURCES = {name for name, e in SOURCES.items() if e.factory and not e.details.get("file")}
FILE_SOURCES = {name: e.summary for name, e in SOURCES.items() if e.details.get("file")}
OWN_TEST_SPLIT = {name for name, e in SOURCES.items() if e.details.get("test_split")}
OBJECTIVES = {"val_accuracy": "maximize", "val_loss": "minimize", "val_mae": "minimize"}
# more objectives a Pareto search may add after the first (validation) one
SECONDARY_OBJECTIVES = {**OBJECTIVES, "params_count": "minimize", "trial_seconds": "minimize"}
TASK_OBJECTIVES = {
    "classification": ("val_accuracy", "val_loss"),
    "regression": ("val_loss", "val_mae"),
}


@dataclass(frozen=True)
class DataConfig:
    source: str = "mnist1d"  # a built-in name, csv, parquet, images, npz or python
    path: str | None = None  # the file or folder of csv/parquet/images/npz
    target: str | None = None  # tables: the label column
    columns: tuple[tuple[str, str], ...] = ()  # tables: (column, one of COLUMN_KINDS)
    task: str | None = None  # classification or regression; inferred when None
    missing: str = "refuse"  # tables: one of MISSING_POLICIES
    target_transform: str = "none"  # regression: one of TARGET_TRANSFORMS
    image_size: tuple[int, int] | None = None  # images: resize to (height, width)
    channels: int | None = None  # images: 1 (grey), 3 (RGB) or 4
    # bytes of decoded examples held in memory; past it image folders stream from disk.
    # None: auto (automl.data.budget.default_budget, from this machine's memory)
    memory_budget: int | None = None
    classes: tuple[str, ...] = ()  # keep only these classes (by name), e.g. digits 0-4
    validation: float = 0.1
    test: str | float = "builtin"  # "builtin" (the source's own test split) or a fraction
    test_path: str | None = None  # data.split.test as a file: the test split, read as the data
    holdout: float | None = None  # a fraction set aside from search and selection alike
    seed: int = 0
    subsample: dict[str, int] = field(default_factory=dict)  # {"train": n, "test": n}


@dataclass(frozen=True)
class SearchConfig:
    sampler: str = "tpe"
    pruner: str = "median"
    trials: int = 30
    timeout: float | None = None  # seconds: no trial starts after this long
    # seconds from start to registered winner and report: trials still running near its end
    # stop at an epoch boundary and count as complete (cut), leaving time for selection
    budget: float | None = None
    objective: str = "val_accuracy"  # set from the task when the file leaves it out
    direction: str = "maximize"
    objective_given: bool = False
    seed: int | None = 0
    enqueue: tuple[dict[str, Any], ...] = ()
    # a Pareto search: (name, direction) of each objective after the first, e.g. params_count
    more_objectives: tuple[tuple[str, str], ...] = ()
    workers: int | str = 1  # worker processes on this machine, "auto", or 0: this one
    max_retries: int = 2  # how often a trial whose worker died is run again
    max_consecutive_failures: int = 3  # stop when this many trials in a row fail with errors

    @property
    def directions(self) -> list[str]:
        return [self.direction] + [d for _, d in self.more_objectives]

    @property
    def objective_names(self) -> list[str]:
        return [self.objective] + [n for n, _ in self.more_objectives]


@dataclass(frozen=True)
class SelectConfig:
    top_k: int = 5
    # the winner is the average of the top-K models' predictions, scored once on the test
    # split (an honest figure: no choice among the candidates is made on the test split)
    ensemble: bool = False


@dataclass(frozen=True)
class SpaceConfig:
    """A validated search-space file."""

    name: str
    data: DataConfig
    search: SearchConfig
    select: SelectConfig
    space: Group  # the searched tree: data.augment, model, training
    file: str | None = None
    text: str | None = None  # the file as written, logged to MLflow as an artifact
    tree: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    # ``tree``: the document as read, with the overrides applied; workers rebuild the config
    # from it (it is plain JSON), so any process that can read the study can join it
    lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    overridden: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def error(self, key: str, message: str) -> ConfigError:
        """A refusal naming the file, the line of ``key`` and the key, as validation gives."""
        return Document(self.file, None, self.lines, self.overridden).error(key, message)

    @property
    def test_metric(self) -> str:
        """The metric the held-out test split is compared on (the objective without ``val_``)."""
        return self.search.objective.removeprefix("val_")

    def describe(self) -> list[tuple[str, str]]:
        """(parameter name, domain) for every searched dimension."""
        return [(p.path, p.describe()) for p in self.space.parameters()]

"""The search-space file as typed, validated config.

Loading happens in two steps, both before anything trains:

1. :func:`read_yaml` reads the file safely as YAML 1.2 (``1e-3`` is a float, ``yes`` is a string),
   refuses duplicate keys, tags, several documents, alias bombs and absurd nesting, and remembers
   the line of every key so errors can point at it.
2. :func:`load_space` checks every section against the vocabulary the builders understand and
   returns a :class:`SpaceConfig`.

Every problem raises :class:`~automl.errors.ConfigError` naming the file, line, key path, what was
found and what is allowed, with a "did you mean" for misspelt names.

Example:
    >>> cfg = load_space("search_spaces/mnist1d.yaml", overrides={"trials": 5})
    >>> cfg.search.trials
    5
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from automl import domains
from automl.domains import Domain
from automl.errors import ConfigError, allowed_list, did_you_mean
from automl.models.builder import ACTIVATIONS, MODEL_KEYS
from automl.registry import (AUGMENTATIONS, COMMON_OPTIMIZER_ARGS, FAMILIES, INITIALIZERS,
                             OPTIMIZERS, PRUNERS, SAMPLERS, SCHEDULES)
from automl.space import Branch, Choice, Fixed, Group, Node, Range, Sequence, parse_space

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_NODES = 100_000

TOP_KEYS = {"name", "description", "data", "model", "training", "search", "select"}
DATA_KEYS = {"source", "csv", "parquet", "images", "npz", "target", "columns", "task", "missing",
             "image_size", "channels", "classes", "split", "seed", "subsample", "augment"}
SPLIT_KEYS = {"validation", "test", "holdout"}
FLIPS = {"horizontal", "vertical", "horizontal_and_vertical", "none"}
TRAINING_KEYS = {"optimizer", "learning_rate", "schedule", "batch_size", "epochs", "early_stopping",
                 "label_smoothing", "loss", "mixed_precision", "jit_compile", "deterministic"}
# task -> the losses a space may choose (the first is the default)
LOSSES = {"classification": ("categorical_crossentropy", "categorical_focal_crossentropy"),
          "regression": ("mse", "mae", "huber", "log_cosh")}
SEARCH_KEYS = {"sampler", "pruner", "trials", "timeout", "objective", "direction", "seed",
               "enqueue", "workers", "max_retries", "max_consecutive_failures"}
SELECT_KEYS = {"top_k", "ensemble"}
BUILTIN_SOURCES = {"mnist1d", "digits", "breast_cancer", "wine", "iris", "diabetes", "mnist",
                   "fashion_mnist", "cifar10", "cifar100"}
BUILTIN_TEST_SPLIT = {"mnist1d", "mnist", "fashion_mnist", "cifar10", "cifar100"}
FILE_SOURCES = {"csv": "a .csv file", "parquet": "a .parquet file",
                "images": "a folder with one sub-folder of images per class",
                "npz": "an .npz file with arrays x and y"}
# objective -> its direction; which task has it
OBJECTIVES = {"val_accuracy": "maximize", "val_loss": "minimize", "val_mae": "minimize"}
# more objectives a Pareto search may add after the first (validation) one
SECONDARY_OBJECTIVES = {**OBJECTIVES, "params_count": "minimize", "trial_seconds": "minimize"}
TASK_OBJECTIVES = {"classification": ("val_accuracy", "val_loss"),
                   "regression": ("val_loss", "val_mae")}


# --------------------------------------------------------------------------------------------
# Typed config


@dataclass(frozen=True)
class DataConfig:
    source: str = "mnist1d"          # a built-in name, csv, parquet, images, npz or python
    path: str | None = None          # the file or folder of csv/parquet/images/npz
    target: str | None = None        # tables: the label column
    columns: tuple[tuple[str, str], ...] = ()  # tables: (column, numeric|categorical|ignore)
    task: str | None = None          # classification or regression; inferred when None
    missing: str = "refuse"          # tables: refuse or drop rows with missing values
    image_size: tuple[int, int] | None = None  # images: resize to (height, width)
    channels: int | None = None      # images: 1 (grey), 3 (RGB) or 4
    classes: tuple[str, ...] = ()    # keep only these classes (by name), e.g. digits 0-4
    validation: float = 0.1
    test: str | float = "builtin"    # "builtin" (the source's own test split) or a fraction
    holdout: float | None = None     # a fraction set aside from search and selection alike
    seed: int = 0
    subsample: dict[str, int] = field(default_factory=dict)  # {"train": n, "test": n}


@dataclass(frozen=True)
class SearchConfig:
    sampler: str = "tpe"
    pruner: str = "median"
    trials: int = 30
    timeout: float | None = None      # seconds
    objective: str = "val_accuracy"  # set from the task when the file leaves it out
    direction: str = "maximize"
    objective_given: bool = False
    seed: int | None = 0
    enqueue: tuple[dict[str, Any], ...] = ()
    # a Pareto search: (name, direction) of each objective after the first, e.g. params_count
    more_objectives: tuple[tuple[str, str], ...] = ()
    workers: int | str = 1            # worker processes on this machine, "auto", or 0: this one
    max_retries: int = 2              # how often a trial whose worker died is run again
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
    space: Group                  # the searched tree: data.augment, model, training
    file: str | None = None
    text: str | None = None       # the file as written, logged to MLflow as an artifact
    tree: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    # ``tree``: the document as read, with the overrides applied; workers rebuild the config
    # from it (it is plain JSON), so any process that can read the study can join it
    lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    overridden: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def error(self, key: str, message: str) -> ConfigError:
        """A refusal naming the file, the line of ``key`` and the key, as validation gives."""
        return _Doc(self.file, None, self.lines, self.overridden).error(key, message)

    @property
    def test_metric(self) -> str:
        """The metric the held-out test split is compared on (the objective without ``val_``)."""
        return self.search.objective.removeprefix("val_")

    def describe(self) -> list[tuple[str, str]]:
        """(parameter name, domain) for every searched dimension."""
        return [(p.path, p.describe()) for p in self.space.parameters()]


# --------------------------------------------------------------------------------------------
# Reading YAML safely


@dataclass
class _Doc:
    """A parsed file: its plain tree plus the line of every key path, for error messages."""

    file: str | None
    tree: Any
    lines: dict[str, int] = field(default_factory=dict)
    overridden: frozenset[str] = frozenset()  # key paths given as options, not in the file

    def error(self, path: str, message: str) -> ConfigError:
        if path in self.overridden:  # point at the option the user gave, not at the file
            return ConfigError(message, key=f"{path} (given as an option)")
        line = None
        probe = path
        while probe and line is None:  # the nearest enclosing key or list item with a line
            line = self.lines.get(probe)
            probe = probe[:probe.rindex("[")] if probe.endswith("]") else probe.rpartition(".")[0]
        return ConfigError(message, file=self.file, key=path or None, line=line)


_FLOAT_SPECIAL = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
_STANDARD_TAG = re.compile(r"^tag:yaml\.org,2002:(str|int|float|bool|null|map|seq)$")


def read_yaml(text: str, file: str | None = None) -> _Doc:
    """Parse YAML 1.2 text into plain Python values, remembering the line of every key."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    def fail(message: str, line: int | None = None) -> ConfigError:
        return ConfigError(message, file=file, line=line)

    if len(text.encode()) > MAX_FILE_BYTES:
        raise fail(f"the file is {len(text.encode()):,} bytes, too large to be a search space "
                   f"(limit {MAX_FILE_BYTES:,}); point at the space file, not at data")
    try:
        documents = list(YAML(typ="safe", pure=True).compose_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise fail(f"this is not valid YAML ({problem}); check the indentation and quoting "
                   f"there", line=mark.line + 1 if mark else None) from None
    except YAMLError as exc:
        raise fail(f"this is not valid YAML ({exc})") from None
    except RecursionError:  # thousands of nested brackets: the parser itself gives up
        raise fail(f"nesting goes far deeper than {MAX_DEPTH} levels; a space file is a few "
                   f"levels deep, flatten the structure") from None
    if len(documents) != 1 or documents[0] is None:
        raise fail("a space file holds exactly one YAML document; found "
                   f"{len(documents) if documents and documents[0] is not None else 'none'}"
                   + ("; remove the '---' separators" if len(documents) > 1 else ""))
    doc = _Doc(file, None)
    count = [0]

    def build(node: Any, path: str, depth: int, stack: tuple[int, ...]) -> Any:
        count[0] += 1
        line = node.start_mark.line + 1
        if count[0] > MAX_NODES:
            raise fail(f"the file expands to more than {MAX_NODES:,} values (an alias bomb?); "
                       f"write the space without repeated aliases", line)
        if depth > MAX_DEPTH or id(node) in stack:
            raise fail(f"nesting goes deeper than {MAX_DEPTH} levels (a recursive anchor?) at "
                       f"{path or 'the top'}; flatten the structure", line)
        if not _STANDARD_TAG.match(node.tag or ""):
            raise fail(f"{path or 'the document'}: the tag {node.tag!r} is not allowed; space "
                       f"files use plain values only", line)
        kind = node.tag.rpartition(":")[2]
        stack = stack + (id(node),)
        if kind == "map":
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = build(key_node, path, depth + 1, stack)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise fail(f"{path or 'the document'}: keys must be plain names", line)
                key_path = f"{path}.{key}" if path else str(key)
                if key in result or str(key) in map(str, result):
                    raise fail(f"the key {key_path!r} appears twice; keep one of them",
                               key_node.start_mark.line + 1)
                doc.lines[key_path] = key_node.start_mark.line + 1
                # branch options are named without 'choice' in parameter names
                doc.lines.setdefault(key_path.replace(".choice.", "."), doc.lines[key_path])
                result[key] = build(value_node, key_path, depth + 1, stack)
            return result
        if kind == "seq":
            items = []
            for i, item in enumerate(node.value):
                doc.lines[f"{path}[{i}]"] = item.start_mark.line + 1
                items.append(build(item, f"{path}[{i}]", depth + 1, stack))
            return items
        return _scalar(kind, node.value)

    doc.tree = build(documents[0], "", 0, ())
    if not isinstance(doc.tree, dict):
        raise fail("a space file is a mapping with sections like data:, model:, training:, "
                   "search:; found a single value")
    return doc


def _scalar(kind: str, value: str) -> Any:
    if kind == "null":
        return None
    if kind == "bool":
        return value.lower() == "true"
    if kind == "int":
        value = value.replace("_", "")
        return int(value, 0) if value[:2].lower() in ("0x", "0o") else int(value)
    if kind == "float":
        special = _FLOAT_SPECIAL.get(value.lower())
        return special if special is not None else float(value.replace("_", ""))
    return value


# --------------------------------------------------------------------------------------------
# Validation helpers


def _check_keys(doc: _Doc, section: Any, allowed: set[str], path: str) -> dict[str, Any]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise doc.error(path, f"expects a mapping of settings ({allowed_list(allowed)}); "
                              f"found {section!r}")
    for key in section:
        if key not in allowed:
            raise doc.error(f"{path}.{key}" if path else str(key),
                            f"unknown key {key!r}{did_you_mean(key, allowed)} (allowed: "
                            f"{allowed_list(allowed)})")
    return section


class _Checker:
    """Checks every value a node of the model/training/augment tree can take against its domain.

    The domains come from :mod:`automl.domains`, the same table the JSON Schema is written from.
    """

    def __init__(self, doc: _Doc) -> None:
        self.doc = doc

    def value(self, node: Node | None, domain: Domain, per_item: bool = False) -> None:
        """Every value ``node`` can take lies in ``domain`` (``per_item``: or a list of such)."""
        if node is None:
            return
        if per_item and isinstance(node, Sequence):
            for item in node.items:
                self.value(item, domain)
            return
        if per_item and isinstance(node, Fixed) and isinstance(node.value, list):
            for i, item in enumerate(node.value):
                self.value(Fixed(f"{node.path}[{i}]", item), domain)
            return
        if isinstance(node, (Group, Branch, Sequence)):
            raise self.doc.error(node.path, f"expects {domain.describe()} (or a searched "
                                            f"{'range' if domain.numeric else 'choice'})")
        if isinstance(node, Range):
            if not domain.numeric:
                raise self.doc.error(node.path, f"expects {domain.describe()}; a range "
                                                f"({node.kind}:) cannot search it, use choice:")
            if domain.kind == "integer" and node.kind != "int":
                raise self.doc.error(node.path, "expects whole numbers; use int: instead of float:")
        values = list(node.bounds) if isinstance(node, Range) else node.possible_values()
        for value in values:
            problem = domain.problem(value)
            if problem:
                if domain.kind == "enum":
                    problem += did_you_mean(value, domain.values)
                raise self.doc.error(node.path, problem)

    def names(self, node: Node | None, allowed: Iterable[str], what: str) -> None:
        """A name (or a choice of names, or a branch of named options) from ``allowed``."""
        if node is None:
            return
        allowed = set(allowed)
        if isinstance(node, (Group, Range, Sequence)):
            raise self.doc.error(node.path, f"expects {what} name ({allowed_list(allowed)})")
        for value in node.possible_values() or []:
            if value not in allowed:
                # a branch option is a key of its own: point at its line
                path = f"{node.path}.{value}" if isinstance(node, Branch) else node.path
                raise self.doc.error(path, f"unknown {what} {value!r}"
                                           f"{did_you_mean(value, allowed)} (allowed: "
                                           f"{allowed_list(allowed)})")

    def options(self, node: Node | None, table: dict[str, set[str]], what: str,
                domain: Callable[[str, str], Domain], extra_args: set[str] = frozenset(),
                check: Callable[[Group], None] | None = None,
                needs_options: dict[str, str] | None = None) -> None:
        """A name from ``table``, or a branch whose options are such names with arguments.

        Args:
            domain: ``(option, argument) -> Domain`` of each argument an option sets.
            needs_options: option names that cannot stand alone -> the fix to suggest.
        """
        if node is None:
            return
        self.names(node, table, what)
        if not isinstance(node, Branch):
            for name in node.possible_values() or []:
                if name in (needs_options or {}):
                    raise self.doc.error(node.path, f"{name} needs options of its own: "
                                                    f"{needs_options[name]}")
            return
        for name, option in node.options.items():
            if name in (needs_options or {}) and not option.children:
                raise self.doc.error(option.path, f"{name} needs options of its own: "
                                                  f"{needs_options[name]}")
            if name == "custom":  # a custom builder takes params of its own
                if check:
                    check(option)
                continue
            _check_keys(self.doc, {k: None for k in option.children},
                        table[name] | set(extra_args), option.path)
            for argument, child in option.children.items():
                if argument not in ("epochs", "factors", "base"):  # checked by ``check``
                    self.value(child, domain(name, argument))
            if check:
                check(option)


CUSTOM_FIX = "write architecture: {choice: {custom: {builder: my_models:build}}}"
TRANSFER_FIX = "write architecture: {choice: {transfer: {base: MobileNetV2}}} (or a .keras file)"


def _check_model(doc: _Doc, model: Group) -> None:
    c = _Checker(doc)
    _check_keys(doc, {k: None for k in model.children}, MODEL_KEYS, "model")

    def check_arch(option: Group) -> None:
        if option.path.endswith(".transfer"):
            _check_transfer(doc, option)
        elif option.path.endswith(".custom"):
            _check_custom(doc, option)

    c.options(model.get("architecture"), FAMILIES.args(), "architecture",
              lambda family, arg: FAMILIES[family].args[arg], check=check_arch,
              needs_options={"custom": CUSTOM_FIX, "transfer": TRANSFER_FIX})
    c.options(model.get("initializer"), INITIALIZERS.args(), "initializer",
              lambda name, arg: INITIALIZERS[name].args[arg], check=_initializer_check(doc))
    c.names(model.get("activation"), ACTIVATIONS, "activation")
    for key, domain in domains.MODEL_ARGS.items():
        c.value(model.get(key), domain, per_item=key in domains.PER_ITEM)


def _initializer_check(doc: _Doc) -> Callable[[Group], None]:
    def check(option: Group) -> None:
        low, high = option.get("minval"), option.get("maxval")
        if isinstance(low, Fixed) and isinstance(high, Fixed) and \
                isinstance(low.value, (int, float)) and isinstance(high.value, (int, float)) \
                and low.value >= high.value:
            raise doc.error(high.path, f"maxval ({high.value}) must be above minval "
                                       f"({low.value})")
    return check


def _check_custom(doc: _Doc, option: Group) -> None:
    from automl.models.builder import import_builder

    builder = option.get("builder")
    if not isinstance(builder, Fixed) or not isinstance(builder.value, str):
        raise doc.error(f"{option.path}.builder", f"a custom architecture names its function "
                                                  f"as builder: module:function; {CUSTOM_FIX}")
    try:
        import_builder(builder.value, search_dirs=_space_dirs(doc))
    except ValueError as error:
        raise doc.error(f"{option.path}.builder", str(error)) from None


def _space_dirs(doc: _Doc) -> list[str]:
    """Where relative paths and builder modules are looked up after the current folder."""
    return [str(Path(doc.file).resolve().parent)] if doc.file else []


def _check_transfer(doc: _Doc, option: Group) -> None:
    base = option.get("base")
    if not isinstance(base, (Fixed, Choice)):
        raise doc.error(f"{option.path}.base", "a transfer architecture names its base: a Keras "
                                               "Applications network (MobileNetV2), a .keras file, "
                                               "or study:NAME (the winner of an earlier study)")
    for value in base.possible_values():
        value = str(value)
        if value.endswith(".keras"):
            found = _resolve_path(doc, value, f"{option.path}.base", "a saved .keras model")
            if isinstance(base, Fixed):  # found beside the space file: trials load it there
                base.value = str(Path(found).resolve())
        elif not value.startswith("study:"):
            import keras

            if not callable(getattr(keras.applications, value, None)):
                names = [n for n in dir(keras.applications) if n[:1].isupper()]
                raise doc.error(f"{option.path}.base", f"unknown Keras Applications network "
                                                       f"{value!r}{did_you_mean(value, names)}")


def _check_training(doc: _Doc, training: Group) -> None:
    c = _Checker(doc)
    _check_keys(doc, {k: None for k in training.children}, TRAINING_KEYS, "training")

    def check_schedule(option: Group) -> None:
        if not option.path.endswith(".piecewise"):
            return
        epochs, factors = option.get("epochs"), option.get("factors")
        bounds = epochs.value if isinstance(epochs, Fixed) else [10, 20]
        ok = isinstance(bounds, list) and bounds == sorted(bounds) and all(
            isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in bounds)
        if factors is None:
            count = len(bounds) + 1 if ok else -1
        elif isinstance(factors, Fixed) and isinstance(factors.value, list) and all(
                domains.POSITIVE.accepts(f) for f in factors.value):
            count = len(factors.value)
        else:
            count = -1  # searched as a whole, or not positive numbers
        if not ok or count != len(bounds) + 1:
            raise doc.error(option.path, "piecewise takes increasing epochs: [10, 20] and one "
                                         "more factor than epochs: [1.0, 0.1, 0.01]")

    c.options(training.get("optimizer"), OPTIMIZERS.args(), "optimizer",
              lambda name, arg: OPTIMIZERS[name].args[arg], extra_args=COMMON_OPTIMIZER_ARGS)
    c.options(training.get("schedule"), SCHEDULES.args(), "schedule",
              lambda name, arg: SCHEDULES[name].args[arg], check=check_schedule)
    for key, domain in domains.TRAINING_ARGS.items():
        node = training.get(key)
        if key in domains.SWITCHES and node is not None and not isinstance(node, Fixed):
            raise doc.error(node.path, "is on or off for the whole search, not searched; write "
                                       "true or false")
        c.value(node, domain)
    c.names(training.get("loss"), LOSSES["classification"] + LOSSES["regression"], "loss")


def _check_augment(doc: _Doc, augment: Group) -> None:
    c = _Checker(doc)
    _check_keys(doc, {k: None for k in augment.children}, set(AUGMENTATIONS), "data.augment")
    for key, domain in domains.AUGMENT_ARGS.items():
        c.value(augment.get(key), domain)


# --------------------------------------------------------------------------------------------
# Sections


def parse_duration(value: Any, key: str, doc: _Doc) -> float | None:
    """``90``, ``"90s"``, ``"10m"``, ``"1.5h"`` -> seconds; ``None`` for no limit."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(value))
    if isinstance(value, str) and match and float(match.group(1)) > 0:
        return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    raise doc.error(key, f"expects a duration like 90s, 10m or 1h; found {value!r}")


def _int_setting(doc: _Doc, value: Any, key: str, low: int, high: int = 10**9) -> int:
    if not domains.integer(low, high).accepts(value):
        raise doc.error(key, f"expects a whole number from {low} to {high:,}; found {value!r}")
    return int(value)


def _name_setting(doc: _Doc, value: Any, key: str, allowed: set[str], what: str) -> str:
    if value not in allowed:
        raise doc.error(key, f"unknown {what} {value!r}{did_you_mean(value, allowed)} "
                             f"(allowed: {allowed_list(allowed)})")
    return value


def _resolve_path(doc: _Doc, value: Any, key: str, what: str) -> str:
    """A path as written, relative to the current folder or else to the space file's folder."""
    if not isinstance(value, str) or not value:
        raise doc.error(key, f"expects the path of {what}; found {value!r}")
    path = Path(value).expanduser()
    if not path.exists() and doc.file and not path.is_absolute():
        beside = Path(doc.file).parent / path
        if beside.exists():
            path = beside
    if not path.exists():
        raise doc.error(key, f"{value} does not exist (looked in the current folder"
                             f"{' and beside the space file' if doc.file else ''}); give the "
                             f"path of {what}")
    return str(path)


def _data_config(doc: _Doc, data: dict[str, Any]) -> DataConfig:
    data = _check_keys(doc, data, DATA_KEYS, "data")
    files = [key for key in FILE_SOURCES if key in data]
    if len(files) > 1 or (files and "source" in data):
        raise doc.error("data", "name one source: source: <built-in name>, or one of csv:, "
                                "parquet:, images:, npz: with a path")
    path = None
    if files:
        source = files[0]
        path = _resolve_path(doc, data[source], f"data.{source}", FILE_SOURCES[source])
    else:
        source = _name_setting(doc, data.get("source", "mnist1d"), "data.source",
                               BUILTIN_SOURCES | {"python"}, "data source")
    target = data.get("target")
    if source in ("csv", "parquet") and not isinstance(target, str):
        raise doc.error("data.target", "a table needs its label column: target: <column name>")
    columns = _check_keys(doc, data.get("columns"), set(map(str, data.get("columns") or {})),
                          "data.columns")
    for name, kind in columns.items():
        _name_setting(doc, kind, f"data.columns.{name}", {"numeric", "categorical", "ignore"},
                      "column type")
    task = data.get("task")
    if task is not None:
        _name_setting(doc, task, "data.task", {"classification", "regression"}, "task")
    missing = _name_setting(doc, data.get("missing", "refuse"), "data.missing",
                            {"refuse", "drop"}, "missing-value policy")
    image_size = data.get("image_size")
    if image_size is not None:
        if not (isinstance(image_size, list) and len(image_size) == 2 and
                all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096
                    for v in image_size)):
            raise doc.error("data.image_size", f"expects [height, width] in pixels, e.g. "
                                               f"[64, 64]; found {image_size!r}")
        image_size = tuple(image_size)
    channels = data.get("channels")
    if channels is not None and channels not in (1, 3, 4):
        raise doc.error("data.channels", f"expects 1 (grey), 3 (RGB) or 4 (RGBA); found "
                                         f"{channels!r}")

    classes = data.get("classes", [])
    if not isinstance(classes, list) or len(classes) == 1 or \
            not all(isinstance(c, (str, int)) and not isinstance(c, bool) for c in classes):
        raise doc.error("data.classes", f"expects a list of at least two class labels to keep, "
                                        f"e.g. [0, 1, 2]; found {classes!r}")
    split = _check_keys(doc, data.get("split"), SPLIT_KEYS, "data.split")
    validation = split.get("validation", 0.1)
    if isinstance(validation, bool) or not isinstance(validation, (int, float)) \
            or not 0 < validation < 1:
        raise doc.error("data.split.validation", f"expects a fraction between 0 and 1 (e.g. "
                                                 f"0.1); found {validation!r}")
    has_own_test = source in BUILTIN_TEST_SPLIT or source in ("npz", "python")
    test = split.get("test", "builtin" if has_own_test else 0.2)
    if test == "builtin":
        if source not in BUILTIN_TEST_SPLIT and source not in ("npz", "python"):
            raise doc.error("data.split.test", f"the {source} source has no test split of its "
                                               f"own; give a fraction such as 0.2")
    elif isinstance(test, bool) or not isinstance(test, (int, float)) or not 0 < test < 1 \
            or test + validation >= 1:
        raise doc.error("data.split.test", f"expects 'builtin' or a fraction between 0 and 1 "
                                           f"that leaves room for training; found {test!r}")
    holdout = split.get("holdout")
    if holdout is not None and (isinstance(holdout, bool) or not isinstance(holdout, (int, float))
                                or not 0 < holdout < 1 or
                                holdout + validation + (test if test != "builtin" else 0) >= 1):
        raise doc.error("data.split.holdout", f"expects a fraction between 0 and 1 that leaves "
                                              f"room for training, e.g. 0.1; found {holdout!r}")
    subsample = _check_keys(doc, data.get("subsample"), {"train", "test"}, "data.subsample")
    for key, value in subsample.items():
        _int_setting(doc, value, f"data.subsample.{key}", 10)
    seed = _int_setting(doc, data.get("seed", 0), "data.seed", 0, 2**32 - 1)
    return DataConfig(source=source, path=path, target=target,
                      columns=tuple((str(k), v) for k, v in columns.items()), task=task,
                      missing=missing, image_size=image_size, channels=channels,
                      classes=tuple(str(c) for c in classes),
                      validation=float(validation), test=test, seed=seed,
                      holdout=None if holdout is None else float(holdout),
                      subsample=dict(subsample))


def _search_config(doc: _Doc, search: dict[str, Any]) -> SearchConfig:
    search = _check_keys(doc, search, SEARCH_KEYS, "search")
    objective = search.get("objective", "val_accuracy")
    more: list[tuple[str, str]] = []
    if isinstance(objective, list):  # a Pareto search over several objectives
        if len(objective) < 2 or len(set(map(str, objective))) != len(objective):
            raise doc.error("search.objective", "a list of objectives names two or more "
                                                "different ones, e.g. [val_accuracy, params_count]")
        directions = search.get("direction") or [None] * len(objective)
        if not isinstance(directions, list) or len(directions) != len(objective):
            raise doc.error("search.direction", "give one direction per objective, e.g. "
                                                "[maximize, minimize]")
        for name, way in zip(objective[1:], directions[1:]):
            _name_setting(doc, name, "search.objective", set(SECONDARY_OBJECTIVES), "objective")
            way = way or SECONDARY_OBJECTIVES[name]
            _name_setting(doc, way, "search.direction", {"maximize", "minimize"}, "direction")
            more.append((name, way))
        search = {**search, "objective": objective[0], "direction": directions[0]
                  or OBJECTIVES.get(objective[0], "maximize")}
        objective = objective[0]
    if objective not in OBJECTIVES:
        raise doc.error("search.objective", f"unknown objective {objective!r}"
                                            f"{did_you_mean(objective, OBJECTIVES)} (allowed: "
                                            f"{allowed_list(OBJECTIVES)}, all measured on the "
                                            f"validation split)")
    direction = search.get("direction", OBJECTIVES.get(objective, "maximize"))
    _name_setting(doc, direction, "search.direction", {"maximize", "minimize"}, "direction")
    for name, way in [(objective, direction), *more]:
        natural = SECONDARY_OBJECTIVES[name]
        if way != natural:  # val_loss maximized would search for the worst model
            raise doc.error("search.direction", f"{name} is {natural[:-1]}ed, not {way[:-1]}ed; "
                                                f"write direction: {natural} or leave "
                                                f"direction out")
    seed = search.get("seed", 0)
    if seed is not None:
        seed = _int_setting(doc, seed, "search.seed", 0, 2**32 - 1)
    enqueue = search.get("enqueue", [])
    if not isinstance(enqueue, list) or not all(isinstance(e, dict) for e in enqueue):
        raise doc.error("search.enqueue", "expects a list of mappings from parameter name to "
                                          "value, tried first")
    workers = search.get("workers", 1)
    if workers != "auto" and (isinstance(workers, bool) or not isinstance(workers, int)
                              or not 0 <= workers <= 1024):
        raise doc.error("search.workers", f"expects a number of worker processes from 1 to 1024, "
                                          f"0 (trials in this process) or auto; found {workers!r}")
    return SearchConfig(
        sampler=_name_setting(doc, search.get("sampler", SAMPLERS.default), "search.sampler",
                              SAMPLERS, "sampler"),
        pruner=_name_setting(doc, search.get("pruner", PRUNERS.default), "search.pruner",
                             PRUNERS, "pruner"),
        trials=_int_setting(doc, search.get("trials", 30), "search.trials", 1, 1_000_000),
        timeout=parse_duration(search.get("timeout"), "search.timeout", doc),
        objective=objective, direction=direction, seed=seed, enqueue=tuple(enqueue),
        objective_given="objective" in search, more_objectives=tuple(more), workers=workers,
        max_retries=_int_setting(doc, search.get("max_retries", 2), "search.max_retries", 0, 100),
        max_consecutive_failures=_int_setting(doc, search.get("max_consecutive_failures", 3),
                                              "search.max_consecutive_failures", 1, 10**6))


def _study_name(doc: _Doc, name: Any) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", name):
        raise doc.error("name", f"expects a study name of letters, digits, '-', '_' or '.' "
                                f"(e.g. mnist1d-cnn); found {name!r}")
    return name


def _check_enqueue(doc: _Doc, space: Group, enqueue: tuple[dict[str, Any], ...]) -> None:
    """Each configuration tried first names searched parameters, with values they can take."""
    searched = {param.path: param for param in space.parameters()}
    for i, configuration in enumerate(enqueue):
        for name, value in configuration.items():
            key = f"search.enqueue[{i}].{name}"
            param = searched.get(str(name))
            if param is None:
                raise doc.error(key, f"{name!r} is not a searched parameter"
                                     f"{did_you_mean(name, searched)} (automl validate lists "
                                     f"them)")
            if isinstance(param, Range):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
                    param.low <= value <= param.high and (param.kind != "int" or
                                                          isinstance(value, int))
                allowed = param.describe()
            else:
                options = param.possible_values() or []
                ok = any(value == option and type(value) is type(option) or
                         (isinstance(value, (int, float)) and isinstance(option, (int, float))
                          and not isinstance(value, bool) and value == option)
                         for option in options)
                allowed = "one of " + ", ".join(map(repr, options))
            if not ok:
                raise doc.error(key, f"{value!r} is outside the space; {name} takes {allowed}")


def _check_grid(doc: _Doc, space: Group) -> None:
    """The grid sampler enumerates values: every searched value must be discrete and small."""
    for param in space.parameters():
        if isinstance(param, Range) and param.size() > 1000:
            raise doc.error(param.path, "the grid sampler needs discrete values; give this range "
                                        "a step (or a choice of values), or use another sampler")


def space_from_tree(doc: _Doc, text: str | None = None) -> SpaceConfig:
    """Validate a parsed document and build the typed config."""
    tree = _check_keys(doc, doc.tree, TOP_KEYS, "")
    default_name = Path(doc.file).stem if doc.file else "automl"
    name = _study_name(doc, tree.get("name", default_name))
    if not isinstance(tree.get("description", ""), str):
        raise doc.error("description", "expects one line of text saying what the space is for")
    data_tree = tree.get("data") or {}
    data = _data_config(doc, data_tree)

    searched = {"data": {"augment": (data_tree.get("augment") or {})},
                "model": tree.get("model") or {}, "training": tree.get("training") or {}}
    for key in ("model", "training"):
        if not isinstance(searched[key], dict):
            raise doc.error(key, f"expects a mapping of settings; found {searched[key]!r}")
    space = parse_space(searched, "", doc.error)
    assert isinstance(space, Group)
    augment = space.children["data"].get("augment")
    if not isinstance(augment, Group):
        raise doc.error("data.augment", f"expects a mapping of augmentations "
                                        f"({allowed_list(AUGMENTATIONS)})")
    _check_augment(doc, augment)
    _check_model(doc, space.children["model"])
    _check_training(doc, space.children["training"])

    search = _search_config(doc, tree.get("search"))
    _check_enqueue(doc, space, search.enqueue)
    if search.sampler == "grid":
        _check_grid(doc, space)
    select = _check_keys(doc, tree.get("select"), SELECT_KEYS, "select")
    top_k = _int_setting(doc, select.get("top_k", 5), "select.top_k", 1, 1000)
    ensemble = select.get("ensemble", False)
    if not isinstance(ensemble, bool):
        raise doc.error("select.ensemble", f"must be true or false, not {ensemble!r}")
    return SpaceConfig(name=name, data=data, search=search,
                       select=SelectConfig(top_k, ensemble),
                       space=space, file=doc.file, text=text, tree=doc.tree,
                       lines=dict(doc.lines), overridden=doc.overridden)


def load_space(source: str | Path | dict, overrides: dict[str, Any] | None = None) -> SpaceConfig:
    """Read and validate a search space.

    Args:
        source: a path to a YAML file, the name of a ready space (``"mnist1d"``, see
            ``automl spaces``), or the same structure as a dict.
        overrides: values that replace keys of the ``search:`` section (``trials``, ``timeout``,
            ``sampler``, ...), as the CLI's ``--trials`` and the Python API's keywords do.

    Raises:
        ConfigError: naming the file, line and key of the first problem found.
    """
    if isinstance(source, dict):
        doc, text = _Doc(None, source), None
    else:
        path = Path(source)
        if not path.exists():  # the name of a ready space, as the CLI takes it: "mnist1d"
            from automl.catalog import ready_spaces, suggest_ready_space

            path = ready_spaces().get(str(source), path)
            close = None if path.exists() else suggest_ready_space(str(source))
            if close:
                raise ConfigError(f"no such space file or ready space; did you mean {close!r}? "
                                  f"(automl spaces lists them)", file=str(source))
        if not path.is_file():
            hint = " (it is a folder)" if path.is_dir() else ""
            raise ConfigError(f"no such space file{hint}; give the path of a YAML file or the "
                              f"name of a ready space such as mnist1d (automl spaces lists "
                              f"them)", file=str(source))
        source = path
        text = path.read_text(encoding="utf-8", errors="replace")
        doc = read_yaml(text, str(source))
    if overrides:
        tree = dict(doc.tree)
        section = tree.get("search")
        search = dict(section) if isinstance(section, dict) else {}
        given = {key: value for key, value in overrides.items() if value is not None}
        search.update(given)
        tree["search"] = search
        doc = replace(doc, tree=tree, overridden=frozenset(f"search.{k}" for k in given))
    return space_from_tree(doc, text)


def config_from_tree(tree: dict[str, Any], file: str | None = None,
                     text: str | None = None) -> SpaceConfig:
    """The config of a document that was validated before (a worker rebuilding its study's)."""
    return space_from_tree(_Doc(file, tree), text)

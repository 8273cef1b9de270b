"""A search straight from the data: the space a user would otherwise write, decided from the
data's facts and said as a plan with reasons.

:func:`plan_search` reads the data once (a CSV or Parquet file, a folder of images with one
sub-folder per class, an ``.npz``, a DataFrame or arrays), decides the task and each column's
kind (:mod:`automl.inference`), and writes a space tree: the data section, the modality's
default space (``default_space`` in :mod:`automl.modalities`), the search and selection. That
tree is an ordinary space: ``automl search DATA`` runs it, ``automl init DATA`` writes it as
a commented YAML file that validates and runs the same trials.

Example:
    >>> plan = plan_search("churn.csv", target="churn")
    >>> print("\\n".join(plan.lines()))
    task: binary classification, because the target has 2 values
    column 'customer_id': ignored, because it numbers the rows ...
    >>> cfg = load_space(plan.tree)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from automl.errors import UsageError
from automl.inference import (
    ColumnDecision,
    Decision,
    column_kinds,
    target_transform_of,
    task_name,
    task_of,
)

DEFAULT_BUDGET = "10m"
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".gz", ".bz2", ".xz", ".zip")
METRICS = {  # --metric -> the search objective
    "accuracy": "val_accuracy",
    "loss": "val_loss",
    "mae": "val_mae",
}
SPACE_SUFFIXES = (".yaml", ".yml", ".json")
IMBALANCE = 0.2  # a rarest class below this share of the most common: class weights searched
ENSEMBLE_ROWS = 10_000  # up to this many examples, the winner averages the top trials


@dataclass(frozen=True)
class DataFacts:
    """The size facts a modality's default space is scaled to."""

    modality: str  # table, image, signal or text
    task: str  # classification or regression
    rows: int  # examples to train, validate and test on
    classes: int = 0  # classification: how many
    shape: tuple[int, ...] = ()  # one example (signals, images)
    numeric_columns: int = 0  # tables
    categorical_columns: int = 0


@dataclass
class Plan:
    """What a zero-config search will do: its space tree, and the decisions behind it."""

    tree: dict[str, Any]
    facts: DataFacts
    decisions: list[Decision] = field(default_factory=list)
    python_data: Any = None  # data given in memory, passed to the search beside the tree

    def lines(self) -> list[str]:
        """The plan as printed before training, one decision a line."""
        from automl.inference import with_reasons

        f = self.facts
        size = f"{f.rows} rows" if f.modality == "table" else f"{f.rows} {f.modality}s"
        shape = f" of {'x'.join(map(str, f.shape))}" if f.shape else ""
        split = dict(self.tree["data"].get("split", {}))
        test = split.get("test")
        test_file = f"; the test split is {Path(test).name}" if isinstance(test, str) else ""
        if test_file:
            del split["test"]
        parts = " and ".join(f"{v:.0%} for {k}" for k, v in split.items())
        stratified = ", stratified by class" if f.task == "classification" else ""
        lines = [f"data: {size}{shape}; {parts} set aside{stratified}{test_file}"]
        lines += with_reasons(self.decisions)
        return lines


def is_data_path(value: str | Path) -> bool:
    """Whether ``automl search VALUE`` names data (a table, an ``.npz``, a folder) rather than
    a space file or a ready space: a folder, or a file named as data (which need not exist:
    then the search says so, as for data)."""
    path = Path(value)
    if path.is_dir():
        return True
    name = path.name.lower()
    return not name.endswith(SPACE_SUFFIXES) and (
        name.endswith(TABLE_SUFFIXES) or name.endswith(".npz")
    )


def plan_search(
    data: Any,
    *,
    target: str | None = None,
    task: str | None = None,
    metric: str | None = None,
    name: str | None = None,
    test: str | Path | None = None,
    budget: str | float | None = DEFAULT_BUDGET,
    seed: int = 0,
) -> Plan:
    """Decide the space for ``data`` (see the module's docstring).

    Args:
        data: a path (CSV/Parquet file, image folder, ``.npz``), a pandas DataFrame (with
            ``target``), ``(x, y)`` arrays, or a dict with ``x``/``y`` keys.
        target: a table's label column (required for tables).
        task: ``classification`` or ``regression``, over the inferred one.
        metric: ``accuracy``, ``loss`` or ``mae``: what the search maximizes or minimizes.
        name: the study's name (default: the file's or folder's name).
        test: a file of the same kind as ``data`` to score the winner on, instead of a split.
        budget: how long the search may start trials (``"10m"``, seconds).
        seed: the split's and the sampler's seed.

    Raises:
        UsageError: the data cannot be searched as given, in one sentence naming what to do.
    """
    if task not in (None, "classification", "regression"):
        raise UsageError(f"--task expects classification or regression; found {task!r}")
    if metric is not None and metric not in METRICS:
        raise UsageError(f"--metric expects one of {', '.join(METRICS)}; found {metric!r}")
    if isinstance(data, (str, Path)):
        plan = _plan_path(Path(data), target, task)
    else:
        plan = _plan_python(data, target, task)
    tree = plan.tree
    tree["name"] = name or tree["name"]
    tree["data"]["seed"] = seed
    if test is not None:
        tree["data"]["split"] = {"validation": 0.15, "test": _path_text(Path(test))}
    tree["search"] = {
        "sampler": "tpe",
        "pruner": "median",
        "trials": 200,
        "seed": seed,
        "objective": METRICS[metric]
        if metric
        else ("val_accuracy" if plan.facts.task == "classification" else "val_loss"),
        "enqueue": tree.pop("enqueue", []),
    }
    if budget is not None:
        tree["search"]["budget"] = budget if isinstance(budget, str) else float(budget)
    small = plan.facts.rows <= ENSEMBLE_ROWS
    tree["select"] = {"top_k": 3, "ensemble": small}
    if small:
        plan.decisions.append(
            Decision(
                "winner",
                "the average of the top 3 trials",
                f"the data is small ({plan.facts.rows} examples): an average of several "
                f"models is steadier than any one of them",
                "select.ensemble: false in a space file",
            )
        )
    return plan


# ---- from a path ---------------------------------------------------------------------------------


def _plan_path(path: Path, target: str | None, task: str | None) -> Plan:
    if not path.exists():
        raise UsageError(
            f"{path} does not exist; give a CSV or Parquet table, a folder of images with one "
            f"sub-folder per class, or an .npz file"
        )
    name = study_name_of(path)
    if path.is_dir():
        from automl.data.texts import is_text_folder

        if is_text_folder(path):
            return _plan_texts(path, name, target, task)
        return _plan_images(path, name, target, task)
    if path.name.lower().endswith(".npz"):
        return _plan_arrays_file(path, name, target, task)
    return _plan_table_file(path, name, target, task)


def study_name_of(path: Path) -> str:
    """A study name from a file's or folder's name: ``Churn data.csv`` -> ``churn-data``."""
    from automl.modalities.table import ascii_slug

    stem = path.resolve().name
    for suffix in sorted(TABLE_SUFFIXES + (".npz",), key=len, reverse=True):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    for suffix in (".csv", ".tsv", ".txt"):  # churn.csv.gz
        stem = stem.removesuffix(suffix)
    slug = ascii_slug(stem, empty="data").lower().replace("_", "-")
    return re.sub(r"-+", "-", slug)


def _plan_table_file(path: Path, name: str, target: str | None, task: str | None) -> Plan:
    from automl.data.tables import _is_parquet, read_table

    frame = read_table(path)
    key = "parquet" if _is_parquet(path) else "csv"
    plan = _plan_frame(frame, target, task, str(path))
    plan.tree["data"] = {key: _path_text(path), **plan.tree["data"]}
    plan.tree["name"] = name
    return plan


def _plan_frame(frame: Any, target: str | None, task: str | None, where: str) -> Plan:
    """A table's plan: the task from its target, a kind for each column, the default space."""
    from automl.errors import did_you_mean

    columns = [str(c) for c in frame.columns]
    if not len(frame):
        raise UsageError(f"{where}: the table has no rows; give a table with one row per example")
    if target is None:
        raise UsageError(
            f"{where}: name the label column with --target (target= in Python); the "
            f"columns are {', '.join(columns[:12])}{' ...' if len(columns) > 12 else ''}"
        )
    if target not in frame.columns:
        raise UsageError(
            f"{where}: no column {target!r}{did_you_mean(target, columns)}; the columns are "
            f"{', '.join(columns[:12])}{' ...' if len(columns) > 12 else ''}"
        )
    if len(columns) == 1:
        raise UsageError(
            f"{where}: the table holds only the target {target!r}; give the columns to "
            f"predict it from"
        )
    y = frame[target].to_numpy()
    labelled_rows = int((~frame[target].isna()).sum())
    if labelled_rows == 0:
        raise UsageError(f"{where}: the target {target!r} is empty in every row")
    decided = task_of(y, task)
    if task_name(decided) == "regression" and frame[target].dtype.kind not in "iufb":
        raise UsageError(
            f"{where}: the target {target!r} holds text (e.g. {frame[target].dropna().iloc[0]!r}), "
            f"which cannot be regressed; drop --task regression"
        )
    distinct = frame[target].dropna().nunique()
    if distinct < 2:
        raise UsageError(
            f"{where}: the target {target!r} has a single value "
            f"({frame[target].dropna().iloc[0]!r}); a model needs at least two to tell apart"
        )
    decisions: list[Decision] = [decided]
    transform = target_transform_of(y) if task_name(decided) == "regression" else None
    if transform:
        decisions.append(transform)
    unlabelled = len(frame) - labelled_rows
    if unlabelled:
        decisions.append(
            Decision(
                "rows",
                f"{unlabelled} left out",
                "the target is empty in them",
                "fill the target in those rows",
            )
        )
    kinds = column_kinds(frame, target)
    decisions += kinds
    used = [d for d in kinds if d.kind != "ignore"]
    if not used:
        raise UsageError(
            f"{where}: no column is left to learn from (every one is ignored: "
            f"{'; '.join(d.line() for d in kinds[:3])}); set a column's kind with data.columns "
            f"in a space file (automl init writes one)"
        )
    t = task_name(decided)
    classes = int(distinct) if t == "classification" else 0
    imbalance = None
    if t == "classification":
        counts = frame[target].dropna().astype(str).value_counts()
        imbalance = (str(counts.index[-1]), int(counts.iloc[-1]), int(counts.iloc[0]))
    from automl.data.tables import table_modality

    modality = table_modality([(d.column, d.kind) for d in kinds])  # one text column: texts
    facts = DataFacts(
        modality=modality,
        task=t,
        rows=labelled_rows,
        classes=classes,
        numeric_columns=sum(d.kind == "numeric" for d in kinds),
        categorical_columns=sum(d.kind == "categorical" for d in kinds),
    )
    data = {
        "target": target,
        "task": t,
        "columns": {d.column: d.kind for d in kinds},
        "missing": "impute",
        **({"target_transform": "log"} if transform else {}),
        "split": _split(labelled_rows),
    }
    tree = with_default_space(modality, data, facts)
    if imbalance and imbalance[1] < IMBALANCE * imbalance[2]:
        rare, few, most = imbalance
        tree["training"]["class_weight"] = {"choice": ["none", "balanced"]}
        decisions.append(
            Decision(
                "class weights",
                "searched (none or balanced)",
                f"the rarest class {rare!r} has {few} rows against {most} of the most common",
                "training.class_weight in a space file",
            )
        )
    return Plan(tree, facts, decisions)


def _split(rows: int) -> dict[str, float]:
    """Validation and test fractions: larger for small data, so each split can score."""
    return {"validation": 0.2, "test": 0.2} if rows < 1_000 else {"validation": 0.15, "test": 0.2}


def _folder_of_classes(path: Path, kind: str, target: str | None, task: str | None) -> None:
    """A folder's classes are its sub-folders: refuse --target and --task regression."""
    if target is not None:
        raise UsageError(f"{path}: {kind}'s labels are its sub-folders' names; drop --target")
    if task == "regression":
        raise UsageError(f"{path}: {kind} holds classes; drop --task regression")


def _folder_task(classes: int, of: str) -> Decision:
    kind = "multiclass classification" if classes > 2 else "binary classification"
    return Decision("task", kind, f"the folder has {classes} {of}")


def _plan_images(path: Path, name: str, target: str | None, task: str | None) -> Plan:
    from automl.data.images import load_image_folder

    _folder_of_classes(path, "an image folder", target, task)
    arrays = load_image_folder(path, image_size=None, channels=None)
    shape = arrays.example_shape
    facts = DataFacts("image", "classification", len(arrays.y_train), arrays.num_classes, shape)
    decisions = [
        _folder_task(facts.classes, "class sub-folders"),
        Decision("images", f"{shape[0]}x{shape[1]}, {shape[2]} channel(s)", "most images are"),
    ]
    return _plan_of(name, {"images": _path_text(path)}, facts, decisions)


def _plan_texts(path: Path, name: str, target: str | None, task: str | None) -> Plan:
    from automl.data.texts import load_text_folder

    _folder_of_classes(path, "a text folder", target, task)
    arrays = load_text_folder(path, warn=False)  # the search's loading says it
    facts = DataFacts("text", "classification", len(arrays.y_train), arrays.num_classes)
    words = [len(str(t).split()) for t in arrays.x_train]
    decisions = [
        _folder_task(facts.classes, "class sub-folders of .txt files"),
        Decision(
            "texts",
            f"{len(words)} files, {int(np.median(words))} words at the median",
            "texts longer than the sequence length (the 90th percentile, "
            f"{int(np.percentile(words, 90))} words) are cut there",
        ),
    ]
    return _plan_of(name, {"texts": _path_text(path)}, facts, decisions)


def _plan_arrays_file(path: Path, name: str, target: str | None, task: str | None) -> Plan:
    from automl.data.arrays import load_npz

    arrays = load_npz(path, task=task)
    return _plan_arrays(arrays, name, {"npz": _path_text(path)}, task, arrays.y_train)


def _plan_arrays(
    arrays: Any, name: str, data: dict[str, Any], task: str | None, y: np.ndarray
) -> Plan:
    shape = tuple(int(s) for s in np.asarray(arrays.x_train).shape[1:])
    decided = task_of(y, task)
    facts = DataFacts(arrays.modality, arrays.task, len(arrays.y_train), arrays.num_classes, shape)
    transform = target_transform_of(arrays.y_train) if arrays.task == "regression" else None
    if transform:
        data = {**data, "target_transform": "log"}
    described = (
        Decision("examples", "texts", "they are strings")
        if arrays.modality == "text"
        else Decision(
            "examples",
            f"{arrays.modality}s of shape {shape}",
            "of their shape" + (" (examples, length)" if len(shape) == 1 else ""),
        )
    )
    decisions = [decided, *([transform] if transform else []), described]
    return _plan_of(name, {**data, "task": arrays.task}, facts, decisions)


def _plan_of(name: str, data: dict[str, Any], facts: DataFacts, decisions: list) -> Plan:
    tree = with_default_space(name, {**data, "split": _split(facts.rows)}, facts)
    return Plan(tree, facts, decisions)


def with_default_space(name: str, data: dict[str, Any], facts: DataFacts) -> dict[str, Any]:
    """A space tree: ``data`` with the modality's default space (its augmentation joins the
    data section)."""
    from automl.modalities import module

    space = module(facts.modality).default_space(facts)
    augment = space.pop("data", {})
    return {"name": name, "data": {**data, **augment}, **space}


# ---- from Python ---------------------------------------------------------------------------------


def _plan_python(data: Any, target: str | None, task: str | None) -> Plan:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        plan = _plan_frame(data, target, task, "the DataFrame")
        plan.tree["data"] = {"source": "python", **plan.tree["data"]}
        plan.tree["name"] = "dataframe"
        plan.python_data = data
        return plan
    from automl.data.arrays import from_python

    arrays = from_python(data, target=target, column_types={}, task=task, missing="refuse")
    plan = _plan_arrays(arrays, "arrays", {"source": "python"}, task, _raw_labels(data))
    plan.python_data = data
    return plan


def _raw_labels(data: Any) -> np.ndarray:
    if isinstance(data, dict):
        return np.asarray(data.get("y", data.get("y_train")))
    return np.asarray(data[1])


def _path_text(path: Path) -> str:
    """A path as a space file names it: as given (relative paths stay relative)."""
    return str(path)


# ---- the plan as a space file ------------------------------------------------------------------


def space_yaml(plan: Plan, command: str) -> str:
    """The plan's space as a commented YAML file: the decisions as comments, then the tree,
    which validates and runs the same trials (same space, configurations tried first, seed).

    Small settings are written on one line (``dropout: {float: [0.0, 0.4]}``), the rest as
    blocks; each table column gets its decision's reason as a comment beside it."""
    import yaml

    header = [
        f"# written by: {command}",
        "# A zero-config search's space, for you to edit; `automl search <this file>` runs the",
        "# same trials. What was decided, and why:",
    ]
    header += [f"#   {line}" for line in plan.lines()]
    tree = dict(plan.tree)
    columns = tree.get("data", {}).get("columns")
    if columns:
        tree["data"] = {**tree["data"], "columns": _Block(columns)}
    body = yaml.dump(
        tree, Dumper=_space_dumper(), sort_keys=False, width=100, allow_unicode=True
    ).splitlines()
    if columns:
        reasons = column_lines(plan.decisions)
        start = body.index("  columns:") + 1
        for i, name in enumerate(columns):
            if reasons.get(name):
                body[start + i] += f"  # {reasons[name].split(';')[0]}"
    return "\n".join(header + body) + "\n"


class _Block(dict):
    """A mapping written as a block, one key a line, whatever its size (data.columns)."""


def _space_dumper() -> type:
    """A YAML dumper that writes small mappings and flat lists on one line (built on first
    use: yaml is imported lazily)."""
    import yaml

    class SpaceDumper(yaml.SafeDumper):
        def represent_dict(self, data):
            leaf = (
                not isinstance(data, _Block)
                and len(data) <= 3
                and all(not isinstance(v, dict) for v in data.values())
            )
            return self.represent_mapping("tag:yaml.org,2002:map", data, flow_style=leaf)

        def represent_list(self, data):
            flat = all(not isinstance(v, (dict, list)) for v in data)
            return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)

    SpaceDumper.add_representer(dict, SpaceDumper.represent_dict)
    SpaceDumper.add_representer(_Block, SpaceDumper.represent_dict)
    SpaceDumper.add_representer(list, SpaceDumper.represent_list)
    return SpaceDumper


def column_lines(decisions: list[Decision]) -> dict[str, str]:
    """A table column's name -> its decision's reason (for comments beside ``data.columns``)."""
    return {d.column: d.reason for d in decisions if isinstance(d, ColumnDecision)}

"""Does the space fit its data? Checked before anything is written or trained.

A space file is validated on its own first (``config.py``). :func:`preflight` then learns what
the data source is without loading it (:mod:`automl.data.facts`: modality, task, classes,
columns) and refuses an architecture or augmentation that cannot take this data, an objective,
loss or label smoothing the task does not have, classes the data lacks, a target column the
table lacks. ``automl validate`` and ``automl search`` both run it, so validate never calls
valid what search refuses. Once data from Python is loaded, :func:`fit_space_to_data` runs the
same checks on it. Every refusal names the file, line and key.
"""

from __future__ import annotations

from dataclasses import replace

from automl.config import LOSSES, OBJECTIVES, TASK_OBJECTIVES, SpaceConfig
from automl.data.base import Arrays
from automl.data.facts import SourceFacts, describe_source
from automl.data.splits import Splits
from automl.errors import did_you_mean
from automl.registry import AUGMENTATIONS, FAMILIES
from automl.space import Branch


def preflight(cfg: SpaceConfig) -> SpaceConfig:
    """``cfg`` checked against its data source's facts (objective set from the task if known).

    Raises:
        ConfigError: naming the file, line and key to fix.
        DataError, NetworkRequired: the source itself cannot be read.
    """
    return fit_space(cfg, describe_source(cfg.data))


def fit_space_to_data(cfg: SpaceConfig, arrays: Arrays | Splits) -> SpaceConfig:
    """The same checks on loaded data (data passed from Python has no facts before)."""
    columns = tuple(name for name, _ in arrays.columns) if arrays.columns else None
    facts = SourceFacts(
        arrays.modality,
        arrays.task,
        arrays.class_names or None,
        None,
        getattr(arrays, "has_test_split", True),
    )  # Splits: always
    return fit_space(cfg, facts, check_classes=False, columns=columns)


def fit_space(
    cfg: SpaceConfig,
    facts: SourceFacts,
    check_classes: bool = True,
    columns: tuple[str, ...] | None = None,
) -> SpaceConfig:
    """Refuse what does not fit ``facts``; what is not known yet (None) is left for later."""
    where = f"{facts.modality} data ({cfg.data.path or cfg.data.source})"
    if facts.modality:
        _check_modality(cfg, facts.modality, where)
    if facts.columns is not None:
        _check_columns(cfg, facts.columns)
    if facts.has_test_split is False and cfg.data.test == "builtin" and not cfg.data.test_path:
        cfg = _own_test_split(cfg)
    if check_classes and facts.classes is not None and cfg.data.classes:
        unknown = [c for c in cfg.data.classes if c not in facts.classes]
        if unknown:
            raise cfg.error(
                "data.classes",
                f"{', '.join(unknown)} "
                f"{'is not a class' if len(unknown) == 1 else 'are not classes'}"
                f" of this data (its classes: "
                f"{_short(facts.classes)})",
            )
    if facts.task is None:
        return cfg
    if cfg.data.classes and facts.task != "classification":
        raise cfg.error(
            "data.classes", "keeps classes, but this data is a regression; remove data.classes"
        )
    if (
        cfg.data.task
        and cfg.data.task != facts.task
        and cfg.data.source not in ("csv", "parquet", "npz", "python")
    ):
        raise cfg.error(
            "data.task",
            f"{cfg.data.source} is a {facts.task} data set; remove "
            f"data.task or set it to {facts.task}",
        )
    return _check_task(cfg, facts.task)


def _own_test_split(cfg: SpaceConfig) -> SpaceConfig:
    """Data without a test split of its own: 20% held out, unless the file asked for its own."""
    written = ((cfg.tree or {}).get("data") or {}).get("split") or {}
    if isinstance(written, dict) and written.get("test") == "builtin":
        raise cfg.error(
            "data.split.test",
            "this data has no test split of its own (no x_test "
            "and y_test); give a fraction such as 0.2",
        )
    return replace(cfg, data=replace(cfg.data, test=0.2))


def _check_modality(cfg: SpaceConfig, modality: str, where: str) -> None:
    arch = cfg.space.group("model").get("architecture")
    families = arch.possible_values() if arch is not None else ["mlp"]
    for family in families or []:
        if family not in FAMILIES or not FAMILIES[family].fits(modality):
            fits = sorted(FAMILIES.names(modality))
            key = (
                f"model.architecture.{family}" if isinstance(arch, Branch) else "model.architecture"
            )
            raise cfg.error(
                key, f"the {family} family cannot take {where}; use one of {', '.join(fits)}"
            )
    for name in cfg.space.group("data").group("augment").children:
        if not AUGMENTATIONS[name].fits(modality):
            raise cfg.error(
                f"data.augment.{name}",
                f"{name} does not apply to {where}; it "
                f"applies to "
                f"{', '.join(sorted(AUGMENTATIONS[name].applies_to))}",
            )


def _check_columns(cfg: SpaceConfig, columns: tuple[str, ...]) -> None:
    target = cfg.data.target
    if target is not None and target not in columns:
        raise cfg.error(
            "data.target",
            f"the table has no column {target!r}"
            f"{did_you_mean(target, columns)} (its columns: "
            f"{_short(columns)})",
        )
    for name, _ in cfg.data.columns:
        if name not in columns:
            raise cfg.error(
                f"data.columns.{name}",
                f"the table has no column {name!r}{did_you_mean(name, columns)}",
            )


def _check_task(cfg: SpaceConfig, task: str) -> SpaceConfig:
    training = cfg.space.group("training")
    loss = training.get("loss")
    if cfg.data.target_transform != "none" and task != "regression":
        raise cfg.error(
            "data.target_transform",
            f"applies to a regression, and this data is a {task}; remove target_transform",
        )
    if cfg.data.target_transform == "log" and loss is not None:
        raise cfg.error(
            "training.loss",
            "with data.target_transform: log the loss is the squared error of log(1 + y); "
            "remove training.loss",
        )
    for name in (loss.possible_values() or []) if loss is not None else []:
        if name not in LOSSES[task]:
            raise cfg.error(
                "training.loss",
                f"{name} is not a {task} loss; use one of {', '.join(LOSSES[task])}",
            )
    smoothing = training.get("label_smoothing")
    if (
        task == "regression"
        and smoothing is not None
        and (smoothing.possible_values() or [1]) != [0]
    ):
        raise cfg.error(
            "training.label_smoothing",
            "smooths class labels, and this data is a regression; remove label_smoothing",
        )
    weights = training.get("class_weight")
    if (
        task == "regression"
        and weights is not None
        and (weights.possible_values() or []) != ["none"]
    ):
        raise cfg.error(
            "training.class_weight",
            "weights classes, and this data is a regression; remove class_weight",
        )
    search = cfg.search
    allowed = TASK_OBJECTIVES[task]
    for name, _ in search.more_objectives:
        if name.startswith("val_") and name not in allowed:
            raise cfg.error(
                "search.objective",
                f"{name} is not measured for {task}; use one of {', '.join(allowed)}",
            )
    if not search.objective_given:
        objective = allowed[0]
        search = replace(search, objective=objective, direction=OBJECTIVES[objective])
    elif search.objective not in allowed:
        raise cfg.error(
            "search.objective",
            f"{search.objective} is not measured for {task}; use one of {', '.join(allowed)}",
        )
    return replace(cfg, search=search)


def _short(names, limit: int = 8) -> str:
    names = list(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(map(str, names[:limit])) + more

"""The fixed sections of a space file (``data:``, ``search:``) and the settings they hold, read
into their records with one refusal per problem."""

from __future__ import annotations

import re
from typing import Any

from automl import domains
from automl.config.reader import Document
from automl.config.records import (
    BUILTIN_SOURCES,
    COLUMN_KINDS,
    DATA_KEYS,
    FILE_SOURCES,
    MISSING_POLICIES,
    OBJECTIVES,
    OWN_TEST_SPLIT,
    SEARCH_KEYS,
    SECONDARY_OBJECTIVES,
    SPLIT_KEYS,
    TARGET_TRANSFORMS,
    DataConfig,
    SearchConfig,
)
from automl.config.values import (
    check_keys,
    int_setting,
    name_setting,
    parse_duration,
    parse_size,
    resolve_path,
)
from automl.errors import allowed_list, did_you_mean
from automl.registry import PRUNERS, SAMPLERS
from automl.space import Group, Range


def data_config(doc: Document, data: dict[str, Any] | None) -> DataConfig:
    data = check_keys(doc, data, DATA_KEYS, "data")
    files = [key for key in FILE_SOURCES if key in data]
    if len(files) > 1 or (files and "source" in data):
        raise doc.error(
            "data",
            f"name one source: source: <built-in name>, or one of "
            f"{', '.join(k + ':' for k in FILE_SOURCES)} with a path",
        )
    path = None
    if files:
        source = files[0]
        path = resolve_path(doc, data[source], f"data.{source}", FILE_SOURCES[source])
    else:
        source = name_setting(
            doc,
            data.get("source", "mnist1d"),
            "data.source",
            BUILTIN_SOURCES | {"python"},
            "data source",
        )
    target = data.get("target")
    if source in ("csv", "parquet") and not isinstance(target, str):
        raise doc.error("data.target", "a table needs its label column: target: <column name>")
    columns = check_keys(
        doc, data.get("columns"), set(map(str, data.get("columns") or {})), "data.columns"
    )
    for name, kind in columns.items():
        name_setting(doc, kind, f"data.columns.{name}", set(COLUMN_KINDS), "column type")
    task = data.get("task")
    if task is not None:
        name_setting(doc, task, "data.task", {"classification", "regression"}, "task")
    missing = name_setting(
        doc,
        data.get("missing", "refuse"),
        "data.missing",
        set(MISSING_POLICIES),
        "missing-value policy",
    )
    target_transform = name_setting(
        doc,
        data.get("target_transform", "none"),
        "data.target_transform",
        set(TARGET_TRANSFORMS),
        "target transform",
    )
    if target_transform != "none" and task == "classification":
        raise doc.error(
            "data.target_transform", "applies to a regression; drop it for a classification"
        )
    image_size = data.get("image_size")
    if image_size is not None:
        if not (
            isinstance(image_size, list)
            and len(image_size) == 2
            and all(domains.IMAGE_SIDE.accepts(v) and isinstance(v, int) for v in image_size)
        ):
            raise doc.error(
                "data.image_size",
                f"expects [height, width] in pixels, e.g. [64, 64]; found {image_size!r}",
            )
        image_size = tuple(image_size)
    channels = data.get("channels")
    if channels is not None and channels not in domains.CHANNELS:
        raise doc.error(
            "data.channels", f"expects 1 (grey), 3 (RGB) or 4 (RGBA); found {channels!r}"
        )

    classes = data.get("classes", [])
    if (
        not isinstance(classes, list)
        or len(classes) == 1
        or not all(isinstance(c, (str, int)) and not isinstance(c, bool) for c in classes)
    ):
        raise doc.error(
            "data.classes",
            f"expects a list of at least two class labels to keep, "
            f"e.g. [0, 1, 2]; found {classes!r}",
        )
    split = check_keys(doc, data.get("split"), SPLIT_KEYS, "data.split")
    validation = split.get("validation", 0.1)
    if (
        isinstance(validation, bool)
        or not isinstance(validation, (int, float))
        or not 0 < validation < 1
    ):
        raise doc.error(
            "data.split.validation",
            f"expects a fraction between 0 and 1 (e.g. 0.1); found {validation!r}",
        )
    has_own_test = source in OWN_TEST_SPLIT
    test = split.get("test", "builtin" if has_own_test else 0.2)
    test_path = None
    if isinstance(test, str) and test != "builtin":  # a file of its own, read as the data is
        if source not in FILE_SOURCES:
            raise doc.error(
                "data.split.test",
                f"a test file goes with a data file ({', '.join(k + ':' for k in FILE_SOURCES)}); give "
                "'builtin' or a fraction such as 0.2",
            )
        test_path = resolve_path(doc, test, "data.split.test", FILE_SOURCES[source])
        test = "builtin"
    elif test == "builtin":
        if source not in OWN_TEST_SPLIT:
            raise doc.error(
                "data.split.test",
                f"the {source} source has no test split of its own; give a fraction such as 0.2",
            )
    elif (
        isinstance(test, bool)
        or not isinstance(test, (int, float))
        or not 0 < test < 1
        or test + validation >= 1
    ):
        raise doc.error(
            "data.split.test",
            f"expects 'builtin', a fraction between 0 and 1 "
            f"that leaves room for training, or a test file; found {test!r}",
        )
    holdout = split.get("holdout")
    if holdout is not None and (
        isinstance(holdout, bool)
        or not isinstance(holdout, (int, float))
        or not 0 < holdout < 1
        or holdout + validation + (test if test != "builtin" else 0) >= 1
    ):
        raise doc.error(
            "data.split.holdout",
            f"expects a fraction between 0 and 1 that leaves "
            f"room for training, e.g. 0.1; found {holdout!r}",
        )
    subsample = check_keys(doc, data.get("subsample"), {"train", "test"}, "data.subsample")
    for key, value in subsample.items():
        int_setting(doc, value, f"data.subsample.{key}", domains.SUBSAMPLE)
    seed = int_setting(doc, data.get("seed", 0), "data.seed", domains.SEED)
    return DataConfig(
        source=source,
        path=path,
        target=target,
        columns=tuple((str(k), v) for k, v in columns.items()),
        task=task,
        missing=missing,
        target_transform=target_transform,
        image_size=image_size,
        channels=channels,
        memory_budget=parse_size(data.get("memory_budget"), "data.memory_budget", doc),
        classes=tuple(str(c) for c in classes),
        validation=float(validation),
        test=test,
        test_path=test_path,
        seed=seed,
        holdout=None if holdout is None else float(holdout),
        subsample=dict(subsample),
    )


def search_config(doc: Document, search: dict[str, Any] | None) -> SearchConfig:
    search = check_keys(doc, search, SEARCH_KEYS, "search")
    objective = search.get("objective", "val_accuracy")
    more: list[tuple[str, str]] = []
    if isinstance(objective, list):  # a Pareto search over several objectives
        if len(objective) < 2 or len(set(map(str, objective))) != len(objective):
            raise doc.error(
                "search.objective",
                "a list of objectives names two or more "
                "different ones, e.g. [val_accuracy, params_count]",
            )
        directions = search.get("direction") or [None] * len(objective)
        if not isinstance(directions, list) or len(directions) != len(objective):
            raise doc.error(
                "search.direction", "give one direction per objective, e.g. [maximize, minimize]"
            )
        for name, way in zip(objective[1:], directions[1:]):
            name_setting(doc, name, "search.objective", set(SECONDARY_OBJECTIVES), "objective")
            way = way or SECONDARY_OBJECTIVES[name]
            name_setting(doc, way, "search.direction", {"maximize", "minimize"}, "direction")
            more.append((name, way))
        search = {
            **search,
            "objective": objective[0],
            "direction": directions[0] or OBJECTIVES.get(objective[0], "maximize"),
        }
        objective = objective[0]
    if objective not in OBJECTIVES:
        raise doc.error(
            "search.objective",
            f"unknown objective {objective!r}"
            f"{did_you_mean(objective, OBJECTIVES)} (allowed: "
            f"{allowed_list(OBJECTIVES)}, all measured on the "
            f"validation split)",
        )
    direction = search.get("direction", OBJECTIVES.get(objective, "maximize"))
    name_setting(doc, direction, "search.direction", {"maximize", "minimize"}, "direction")
    for name, way in [(objective, direction), *more]:
        natural = SECONDARY_OBJECTIVES[name]
        if way != natural:  # val_loss maximized would search for the worst model
            raise doc.error(
                "search.direction",
                f"{name} is {natural[:-1]}ed, not {way[:-1]}ed; "
                f"write direction: {natural} or leave "
                f"direction out",
            )
    seed = search.get("seed", 0)
    if seed is not None:
        seed = int_setting(doc, seed, "search.seed", domains.SEED)
    enqueue = search.get("enqueue", [])
    if not isinstance(enqueue, list) or not all(isinstance(e, dict) for e in enqueue):
        raise doc.error(
            "search.enqueue", "expects a list of mappings from parameter name to value, tried first"
        )
    workers = search.get("workers", 1)
    if workers != "auto" and (
        isinstance(workers, bool)
        or not isinstance(workers, int)
        or not domains.WORKERS.accepts(workers)
    ):
        raise doc.error(
            "search.workers",
            f"expects a number of worker processes from 1 to 1024, "
            f"0 (trials in this process) or auto; found {workers!r}",
        )
    return SearchConfig(
        sampler=name_setting(
            doc, search.get("sampler", SAMPLERS.default), "search.sampler", SAMPLERS, "sampler"
        ),
        pruner=name_setting(
            doc, search.get("pruner", PRUNERS.default), "search.pruner", PRUNERS, "pruner"
        ),
        trials=int_setting(doc, search.get("trials", 30), "search.trials", domains.TRIALS),
        timeout=parse_duration(search.get("timeout"), "search.timeout", doc),
        budget=parse_duration(search.get("budget"), "search.budget", doc),
        objective=objective,
        direction=direction,
        seed=seed,
        enqueue=tuple(enqueue),
        objective_given="objective" in search,
        more_objectives=tuple(more),
        workers=workers,
        max_retries=int_setting(
            doc, search.get("max_retries", 2), "search.max_retries", domains.MAX_RETRIES
        ),
        max_consecutive_failures=int_setting(
            doc,
            search.get("max_consecutive_failures", 3),
            "search.max_consecutive_failures",
            domains.MAX_FAILURES,
        ),
    )


def study_name(doc: Document, name: Any) -> str:
    if not isinstance(name, str) or not re.fullmatch(domains.STUDY_NAME, name):
        raise doc.error(
            "name",
            f"expects a study name of letters, digits, '-', '_' or '.' "
            f"(e.g. mnist1d-cnn); found {name!r}",
        )
    return name


def check_enqueue(doc: Document, space: Group, enqueue: tuple[dict[str, Any], ...]) -> None:
    """Each configuration tried first names searched parameters, with values they can take."""
    searched = {param.path: param for param in space.parameters()}
    for i, configuration in enumerate(enqueue):
        for name, value in configuration.items():
            key = f"search.enqueue[{i}].{name}"
            param = searched.get(str(name))
            if param is None:
                raise doc.error(
                    key,
                    f"{name!r} is not a searched parameter"
                    f"{did_you_mean(name, searched)} (automl validate lists "
                    f"them)",
                )
            if isinstance(param, Range):
                ok = (
                    isinstance(value, (int, float))
                    and not isinstance(value, bool)
                    and param.low <= value <= param.high
                    and (param.kind != "int" or isinstance(value, int))
                )
                allowed = param.describe()
            else:
                options = param.possible_values() or []
                ok = any(
                    value == option
                    and type(value) is type(option)
                    or (
                        isinstance(value, (int, float))
                        and isinstance(option, (int, float))
                        and not isinstance(value, bool)
                        and value == option
                    )
                    for option in options
                )
                allowed = "one of " + ", ".join(map(repr, options))
            if not ok:
                raise doc.error(key, f"{value!r} is outside the space; {name} takes {allowed}")


def check_grid(doc: Document, space: Group) -> None:
    """The grid sampler enumerates values: every searched value must be discrete and small."""
    for param in space.parameters():
        if isinstance(param, Range) and param.size() > 1000:
            raise doc.error(
                param.path,
                "the grid sampler needs discrete values; give this range "
                "a step (or a choice of values), or use another sampler",
            )

"""A JSON Schema of the space format, for editors (``automl schema > automl-space.schema.json``).

Written from the tables the validator reads: the vocabularies (``config.py``, the builders) and
the argument domains (:mod:`automl.domains`). So a value the schema refuses, ``automl validate``
refuses too, and the other way round (``tests/test_schema_agrees.py`` generates spaces with
Hypothesis and checks it). What a schema cannot say stays with ``automl validate`` alone: that a
file exists, that a range's low bound is below its high bound, that a custom builder imports,
that the data fits the architecture.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from typing import Any

from automl import config, domains
from automl.domains import Domain
from automl.models.builder import ACTIVATIONS
from automl.registry import (
    COMMON_OPTIMIZER_ARGS,
    FAMILIES,
    INITIALIZERS,
    OPTIMIZERS,
    PRUNERS,
    SAMPLERS,
    SCHEDULES,
    Registry,
)

NUMBER = {"type": "number"}
MODIFIERS = {"log": {"type": "boolean"}, "step": {"type": "number", "exclusiveMinimum": 0}}


def _object(
    properties: dict[str, Any], description: str = "", nullable: bool = False, **more: Any
) -> dict[str, Any]:
    """A mapping of exactly these keys (``nullable``: or an empty ``key:``, which YAML reads as
    null and a space file treats as no settings)."""
    out = {
        "type": ["object", "null"] if nullable else "object",
        "additionalProperties": False,
        "properties": properties,
        **more,
    }
    if description:
        out["description"] = description
    return out


def _pair(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "prefixItems": [item, item], "minItems": 2, "maxItems": 2}


def searched(domain: Domain, per_item: bool = False) -> dict[str, Any]:
    """A value of ``domain``: fixed, or searched with the forms that fit it.

    Numbers take ``int:`` ranges (and ``float:`` ranges when not whole numbers only), names take
    ``choice:`` lists, true/false takes ``bool: true``. ``per_item``: also a list of such values.
    """
    forms = [domain.schema()]
    if domain.numeric:
        whole = {**domain.schema(), "type": "integer"}
        forms.append(
            _object(
                {
                    "int": _pair(whole),
                    **MODIFIERS,
                    "step": {"type": "integer", "exclusiveMinimum": 0},
                },
                required=["int"],
            )
        )
        if domain.kind == "number":
            forms.append(
                _object({"float": _pair(domain.schema()), **MODIFIERS}, required=["float"])
            )
    forms.append(
        _object(
            {
                "choice": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": domain.schema(),
                }
            },
            required=["choice"],
        )
    )
    if domain.kind == "bool":
        forms.append(_object({"bool": {"const": True}}, required=["bool"]))
    if per_item:
        forms.append({"type": "array", "items": {"anyOf": list(forms)}})
    return {"anyOf": forms}


def named(
    table: dict[str, set[str]],
    domain: Callable[[str, str], Domain],
    extra: Set[str] = frozenset(),
    required: dict[str, str] | None = None,
    open_options: Set[str] = frozenset(),
) -> dict[str, Any]:
    """A name from ``table``, a choice of names, or a branch of named options with arguments.

    Args:
        domain: ``(option, argument) -> Domain``.
        required: options that need one argument (and so cannot be named bare) -> that argument.
        open_options: options that also take arguments of the user's own (``custom``).
    """
    required = required or {}
    bare = domains.enum(*(name for name in table if name not in required))
    options = {}
    for name, args in table.items():
        properties = {arg: searched(domain(name, arg)) for arg in sorted(args | set(extra))}
        option = _object(properties)
        if name in open_options:
            option["additionalProperties"] = True
        if name in required:
            option["required"] = [required[name]]
            option["type"] = "object"
        else:
            option["type"] = ["object", "null"]
        options[name] = option
    branch = _object({"choice": _object(options, minProperties=1)}, required=["choice"])
    return {"anyOf": [searched(bare), branch]}


def _schedule_arg(name: str, arg: str) -> Domain:
    if arg == "epochs":
        return domains.Domain("integer", 1, 10_000)  # written as a list; see below
    if arg == "factors":
        return domains.POSITIVE
    return domains.schedule_arg(name, arg)


def _registered_arg(registry: Registry) -> Callable[[str, str], Domain]:
    """``(name, argument) -> Domain`` read from a registry whose arguments all have a domain."""

    def domain(name: str, arg: str) -> Domain:
        found = registry[name].args[arg]
        # None is for a list or value checked on its own (schedules); initializer and optimizer
        # arguments all have a domain
        assert found is not None, f"{registry.kind} {name}: {arg} has no domain"
        return found

    return domain


def _architecture_arg(family: str, arg: str) -> Domain:
    return domains.TEXT if arg in ("base", "builder") else domains.ARCHITECTURE_ARGS[arg]


def space_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a space file."""
    fraction = {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}
    data = {
        "source": {"enum": sorted(config.BUILTIN_SOURCES | {"python"})},
        **{
            key: {"type": "string", "minLength": 1, "description": text}
            for key, text in config.FILE_SOURCES.items()
        },
        "target": {"type": "string"},
        "columns": {
            "type": ["object", "null"],
            "additionalProperties": {"enum": list(config.records.COLUMN_KINDS)},
        },
        "task": {"enum": ["classification", "regression"]},
        "missing": {"enum": sorted(config.records.MISSING_POLICIES)},
        "target_transform": {"enum": sorted(config.records.TARGET_TRANSFORMS)},
        "image_size": _pair(domains.IMAGE_SIDE.schema()),
        "channels": {"enum": list(domains.CHANNELS)},
        "memory_budget": {
            "anyOf": [{"const": "auto"}, {"type": "string", "pattern": f"^{domains.SIZE}$"}],
            "description": "decoded examples held in memory; past it image folders stream "
            "from disk",
        },
        "classes": {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 2},
        "split": _object(
            {
                "validation": fraction,
                "test": {
                    "anyOf": [{"const": "builtin"}, fraction, {"type": "string", "minLength": 1}]
                },
                "holdout": fraction,
            },
            nullable=True,
        ),
        "seed": domains.SEED.schema(),
        "subsample": _object(
            {"train": domains.SUBSAMPLE.schema(), "test": domains.SUBSAMPLE.schema()}, nullable=True
        ),
        "augment": _object(
            {key: searched(domain) for key, domain in domains.AUGMENT_ARGS.items()},
            "training batches only",
            nullable=True,
        ),
        "text": _object(
            {key: searched(domain) for key, domain in domains.TEXT_ARGS.items()},
            "texts: how they are tokenized inside the model",
            nullable=True,
        ),
    }
    architecture = named(
        FAMILIES.args(),
        _architecture_arg,
        required={"custom": "builder", "transfer": "base"},
        open_options={"custom"},
    )
    model = {
        "architecture": architecture,
        "initializer": named(INITIALIZERS.args(), _registered_arg(INITIALIZERS)),
        "activation": searched(domains.enum(*ACTIVATIONS)),
        **{
            key: searched(domain, per_item=key in domains.PER_ITEM)
            for key, domain in domains.MODEL_ARGS.items()
        },
    }
    schedule = named(SCHEDULES.args(), _schedule_arg)
    piecewise = schedule["anyOf"][1]["properties"]["choice"]["properties"]["piecewise"]
    piecewise["properties"]["epochs"] = {
        "type": "array",
        "minItems": 1,
        "items": {"type": "integer", "exclusiveMinimum": 0},
    }
    piecewise["properties"]["factors"] = {
        "type": "array",
        "minItems": 2,
        "items": {"type": "number", "exclusiveMinimum": 0},
    }
    losses = config.LOSSES["classification"] + config.LOSSES["regression"]
    training = {
        "optimizer": named(OPTIMIZERS.args(), _registered_arg(OPTIMIZERS), COMMON_OPTIMIZER_ARGS),
        "schedule": schedule,
        "loss": searched(domains.enum(*losses)),
        **{
            key: (domain.schema() if key in domains.SWITCHES else searched(domain))
            for key, domain in domains.TRAINING_ARGS.items()
        },
    }
    search = {
        "sampler": {"enum": sorted(SAMPLERS)},
        "pruner": {"enum": sorted(PRUNERS)},
        "trials": domains.TRIALS.schema(),
        "timeout": {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": f"^{domains.DURATION}$"},
            ]
        },
        "budget": {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": f"^{domains.DURATION}$"},
            ]
        },
        "objective": {
            "anyOf": [
                {"enum": sorted(config.OBJECTIVES)},
                {
                    "type": "array",
                    "minItems": 2,
                    "uniqueItems": True,
                    "prefixItems": [{"enum": sorted(config.OBJECTIVES)}],
                    "items": {"enum": sorted(config.SECONDARY_OBJECTIVES)},
                },
            ]
        },
        "direction": {
            "anyOf": [
                {"enum": ["maximize", "minimize"]},
                {"type": "array", "items": {"enum": ["maximize", "minimize", None]}},
            ]
        },
        "seed": {"anyOf": [domains.SEED.schema(), {"type": "null"}]},
        "enqueue": {"type": "array", "items": {"type": "object"}},
        "workers": {"anyOf": [domains.WORKERS.schema(), {"const": "auto"}]},
        "max_retries": domains.MAX_RETRIES.schema(),
        "max_consecutive_failures": domains.MAX_FAILURES.schema(),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "automl search space",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": f"^{domains.STUDY_NAME}$"},
            "description": {"type": "string"},
            "data": _object(data, nullable=True),
            "model": _object(model, nullable=True),
            "training": _object(training, nullable=True),
            "search": _object(search, nullable=True),
            "select": _object(
                {"top_k": domains.TOP_K.schema(), "ensemble": {"type": "boolean"}}, nullable=True
            ),
        },
    }

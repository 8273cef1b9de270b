"""A JSON Schema of the space format, for editors (``automl schema > automl-space.schema.json``).

Built from the same vocabulary tables that validation uses, so the two cannot drift apart. The
schema checks structure and names; value checks that need context (bounds, "did you mean") stay
with ``automl validate``.
"""

from __future__ import annotations

from typing import Any

from automl import config
from automl.models.builder import ACTIVATIONS, ARCHITECTURES, INITIALIZERS
from automl.training.optimizers import COMMON_OPTIMIZER_ARGS, OPTIMIZERS, SCHEDULES

NUMBER = {"type": "number"}


# training settings that are on or off for the whole search (not searched)
SWITCHES = ("mixed_precision", "jit_compile", "deterministic")

def searched(inner: dict[str, Any]) -> dict[str, Any]:
    """A value that is either fixed (``inner``) or searched with int/float/choice/bool."""
    return {"anyOf": [
        inner,
        {"type": "object", "required": ["int"], "additionalProperties": False,
         "properties": {"int": {"type": "array", "items": {"type": "integer"}, "minItems": 2,
                                "maxItems": 2}, "log": {"type": "boolean"},
                        "step": {"type": "integer", "exclusiveMinimum": 0}}},
        {"type": "object", "required": ["float"], "additionalProperties": False,
         "properties": {"float": {"type": "array", "items": NUMBER, "minItems": 2,
                                  "maxItems": 2}, "log": {"type": "boolean"},
                        "step": {"type": "number", "exclusiveMinimum": 0}}},
        {"type": "object", "required": ["choice"], "additionalProperties": False,
         "properties": {"choice": {"type": "array", "minItems": 1, "items": inner}}},
        {"type": "object", "required": ["bool"], "additionalProperties": False,
         "properties": {"bool": {"const": True}}},
    ]}


def named(table: dict[str, set[str]], extra: set[str] = frozenset()) -> dict[str, Any]:
    """A name from ``table``, a choice of names, or a branch of named options with arguments."""
    names = {"enum": sorted(table)}
    options = {name: {"type": ["object", "null"], "additionalProperties": False,
                      "properties": {arg: {} for arg in sorted(args | set(extra))}}
               for name, args in table.items()}
    branch = {"type": "object", "required": ["choice"], "additionalProperties": False,
              "properties": {"choice": {"type": "object", "minProperties": 1,
                                        "additionalProperties": False, "properties": options}}}
    return {"anyOf": [searched(names), branch]}


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    out = {"type": "object", "additionalProperties": False, "properties": properties}
    if description:
        out["description"] = description
    return out


def space_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a space file."""
    augment = {name: searched(NUMBER if name != "flip" else
                              {"enum": sorted(config.FLIPS) + [True, False]})
               for name in config.AUGMENTATIONS}
    data = {
        "source": {"enum": sorted(config.BUILTIN_SOURCES | {"python"})},
        **{key: {"type": "string", "description": text}
           for key, text in config.FILE_SOURCES.items()},
        "target": {"type": "string"},
        "columns": {"type": "object",
                    "additionalProperties": {"enum": ["numeric", "categorical", "ignore"]}},
        "task": {"enum": ["classification", "regression"]},
        "missing": {"enum": ["refuse", "drop"]},
        "image_size": {"type": "array", "items": {"type": "integer"}, "minItems": 2,
                       "maxItems": 2},
        "channels": {"enum": [1, 3, 4]},
        "classes": {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 2},
        "split": _object({"validation": NUMBER,
                          "test": {"anyOf": [{"const": "builtin"}, NUMBER]}}),
        "seed": {"type": "integer"},
        "subsample": _object({"train": {"type": "integer"}, "test": {"type": "integer"}}),
        "augment": _object(augment, "training batches only"),
    }
    arch_params = {name: searched({"type": ["number", "string"]}) for name in
                   sorted(set().union(*ARCHITECTURES.values()))}
    architecture = {"anyOf": [searched({"enum": sorted(ARCHITECTURES)}),
                              {"type": "object", "required": ["choice"],
                               "properties": {"choice": {
                                   "type": "object", "additionalProperties": False,
                                   "properties": {name: _object({p: arch_params[p]
                                                                 for p in sorted(params)})
                                                  for name, params in ARCHITECTURES.items()}}}}]}
    model = {"architecture": architecture,
             "initializer": named(INITIALIZERS),
             "activation": searched({"enum": sorted(ACTIVATIONS)}),
             "dropout": searched(NUMBER), "l1": searched(NUMBER), "l2": searched(NUMBER),
             "batch_norm": searched({"type": "boolean"}),
             "spatial_dropout": searched({"type": "boolean"}),
             "batch_norm_position": searched({"enum": ["before", "after"]}),
             **{key: searched(NUMBER) for key in ("bias_l1", "bias_l2", "activity_l1",
                                                  "activity_l2", "batch_norm_momentum")}}
    training = {"optimizer": named({k: v[1] for k, v in OPTIMIZERS.items()},
                                   COMMON_OPTIMIZER_ARGS),
                "schedule": named(SCHEDULES),
                **{key: searched(NUMBER) for key in config.TRAINING_KEYS
                   if key not in ("optimizer", "schedule", *SWITCHES)},
                **{key: {"type": "boolean"} for key in SWITCHES}}
    search = {"sampler": {"enum": sorted(config.SAMPLERS)},
              "pruner": {"enum": sorted(config.PRUNERS)},
              "trials": {"type": "integer", "minimum": 1},
              "timeout": {"anyOf": [NUMBER, {"type": "string", "pattern": r"^\d+(\.\d+)?[smh]?$"}]},
              "objective": {"anyOf": [{"enum": sorted(config.OBJECTIVES)},
                                      {"type": "array", "minItems": 2, "items": {
                                          "enum": sorted(config.SECONDARY_OBJECTIVES)}}]},
              "direction": {"anyOf": [{"enum": ["maximize", "minimize"]},
                                      {"type": "array", "items": {
                                          "enum": ["maximize", "minimize"]}}]},
              "seed": {"type": ["integer", "null"]},
              "enqueue": {"type": "array", "items": {"type": "object"}},
              "workers": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 1024},
                                    {"const": "auto"}]},
              "max_retries": {"type": "integer", "minimum": 0, "maximum": 100},
              "max_consecutive_failures": {"type": "integer", "minimum": 1}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "automl search space",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"},
            "description": {"type": "string"},
            "data": _object(data),
            "model": _object(model),
            "training": _object(training),
            "search": _object(search),
            "select": _object({"top_k": {"type": "integer", "minimum": 1}}),
        },
    }

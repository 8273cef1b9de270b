"""Checks that need the data: does the space fit what was loaded?

A space file is validated on its own first (``config.py``); once the data is loaded we know its
modality and task, and can refuse, before anything trains, an architecture or augmentation that
cannot take this data, or an objective the task does not measure.
"""

from __future__ import annotations

from dataclasses import replace

from automl.config import AUGMENTATIONS, LOSSES, OBJECTIVES, TASK_OBJECTIVES, SpaceConfig
from automl.data.base import Arrays
from automl.errors import ConfigError
from automl.models.builder import FAMILY_MODALITIES
from automl.space import Branch


def fit_space_to_data(cfg: SpaceConfig, arrays: Arrays) -> SpaceConfig:
    """Return ``cfg`` with its objective set from the task, or raise naming the key to fix."""

    def error(key: str, message: str) -> ConfigError:
        return ConfigError(message, file=cfg.file, key=key)

    kind = f"{arrays.modality} data ({cfg.data.source})"
    arch = cfg.space.children["model"].get("architecture")
    families = arch.possible_values() if arch is not None else ["mlp"]
    for family in families or []:
        if arrays.modality not in FAMILY_MODALITIES.get(family, set()):
            fits = sorted(f for f, m in FAMILY_MODALITIES.items() if arrays.modality in m)
            key = f"model.architecture.{family}" if isinstance(arch, Branch) else \
                "model.architecture"
            raise error(key, f"the {family} family cannot take {kind}; use one of "
                             f"{', '.join(fits)}")
    for name in cfg.space.children["data"].children["augment"].children:
        if arrays.modality not in AUGMENTATIONS[name]:
            raise error(f"data.augment.{name}", f"{name} does not apply to {kind}; it applies "
                                                f"to {', '.join(sorted(AUGMENTATIONS[name]))}")

    loss = cfg.space.children["training"].get("loss")
    for name in (loss.possible_values() or []) if loss is not None else []:
        if name not in LOSSES[arrays.task]:
            raise error("training.loss", f"{name} is not a {arrays.task} loss; use one of "
                                         f"{', '.join(LOSSES[arrays.task])}")

    search = cfg.search
    allowed = TASK_OBJECTIVES[arrays.task]
    for name, _ in search.more_objectives:
        if name.startswith("val_") and name not in allowed:
            raise error("search.objective", f"{name} is not measured for {arrays.task}; use one "
                                            f"of {', '.join(allowed)}")
    if not search.objective_given:
        objective = allowed[0]
        search = replace(search, objective=objective, direction=OBJECTIVES[objective])
    elif search.objective not in allowed:
        raise error("search.objective", f"{search.objective} is not measured for {arrays.task}; "
                                        f"use one of {', '.join(allowed)}")
    return replace(cfg, search=search)

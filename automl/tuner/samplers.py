"""The samplers and pruners a space names, one small factory each.

:data:`automl.registry.SAMPLERS` and :data:`automl.registry.PRUNERS` list them by name and point
here; :func:`automl.tuner.study.open_study` calls them. A sampler factory takes the search's
settings, the space (the grid sampler needs it) and a seed; a pruner factory takes the first
epoch it may prune at and the most epochs a trial runs.

Example:
    >>> from automl.registry import SAMPLERS
    >>> SAMPLERS.create("random", search, space, seed=0)
    <optuna.samplers._random.RandomSampler object at ...>
"""

from __future__ import annotations

import importlib.util
import warnings

import optuna

from automl.config import SearchConfig
from automl.errors import UsageError
from automl.space import Group, Range

# ---- samplers: (search settings, space, seed) -> an Optuna sampler ---------------------------


def tpe(search: SearchConfig, space: Group | None, seed: int | None) -> optuna.samplers.BaseSampler:
    # multivariate TPE models the parameters jointly, which suits conditional spaces;
    # group=True keeps it working when branches switch parameters on and off
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed,
            multivariate=True,
            group=True,
            n_startup_trials=min(10, max(search.trials // 3, 2)),
        )


def random(
    search: SearchConfig, space: Group | None, seed: int | None
) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


def qmc(search: SearchConfig, space: Group | None, seed: int | None) -> optuna.samplers.BaseSampler:
    return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)


def nsga2(
    search: SearchConfig, space: Group | None, seed: int | None
) -> optuna.samplers.BaseSampler:
    return optuna.samplers.NSGAIISampler(seed=seed)


def grid(
    search: SearchConfig, space: Group | None, seed: int | None
) -> optuna.samplers.BaseSampler:
    return optuna.samplers.GridSampler(grid_of(space), seed=seed)


def cmaes(
    search: SearchConfig, space: Group | None, seed: int | None
) -> optuna.samplers.BaseSampler:
    _require("cmaes", "the cmaes sampler", "pip install cmaes")
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


def gp(search: SearchConfig, space: Group | None, seed: int | None) -> optuna.samplers.BaseSampler:
    _require("torch", "the gp sampler", "pip install torch (the CPU build is enough)")
    return optuna.samplers.GPSampler(seed=seed)


def _require(module: str, what: str, how: str) -> None:
    """Optional samplers need extra packages; say which, instead of failing inside Optuna."""
    if importlib.util.find_spec(module) is None:
        raise UsageError(
            f"{what} needs the {module} package, which is not installed; {how}, "
            f"or choose another search.sampler"
        )


def grid_of(space: Group | None) -> dict[str, list]:
    """Every searched value of ``space`` as a list, for the grid sampler."""
    import numpy as np

    values_of: dict[str, list] = {}
    for param in space.parameters() if space else []:
        if isinstance(param, Range):
            step = param.step or 1
            values = np.arange(param.low, param.high + step / 2, step)
            values_of[param.path] = [int(v) if param.kind == "int" else float(v) for v in values]
        else:
            choices = param.possible_values()
            assert choices is not None  # parameters() gives ranges (above), choices and branches
            values_of[param.path] = list(choices)
    return values_of


# ---- pruners: (first epoch to prune at, most epochs) -> an Optuna pruner ---------------------


def median(warmup: int, max_epochs: int) -> optuna.pruners.BasePruner:
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)


def percentile(warmup: int, max_epochs: int) -> optuna.pruners.BasePruner:
    return optuna.pruners.PercentilePruner(25.0, n_startup_trials=5, n_warmup_steps=warmup)


def successive_halving(warmup: int, max_epochs: int) -> optuna.pruners.BasePruner:
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=warmup)


def hyperband(warmup: int, max_epochs: int) -> optuna.pruners.BasePruner:
    return optuna.pruners.HyperbandPruner(min_resource=warmup, max_resource=max_epochs)


def nop(warmup: int, max_epochs: int) -> optuna.pruners.BasePruner:
    return optuna.pruners.NopPruner()

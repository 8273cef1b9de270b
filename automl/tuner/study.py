"""Create or resume the Optuna study of a space: storage, sampler and pruner by name."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from automl.config import SearchConfig
from automl.space import Group, Range
from automl.errors import UsageError

INTERRUPTED = "interrupted: the process running this trial stopped before it finished"


def default_storage_url(run_root: Path) -> str:
    """The embedded storage: one SQLite file (one process at a time) under the run folder."""
    return f"sqlite:///{(run_root / 'optuna.db').resolve()}"


def make_sampler(search: SearchConfig, space: Group | None = None) -> optuna.samplers.BaseSampler:
    """The sampler named in the space; ``space`` is needed by the grid sampler."""
    samplers = optuna.samplers
    if search.sampler == "random":
        return samplers.RandomSampler(seed=search.seed)
    if search.sampler == "qmc":  # quasi-random: covers the space evenly
        return samplers.QMCSampler(seed=search.seed, warn_independent_sampling=False)
    if search.sampler == "nsga2":
        return samplers.NSGAIISampler(seed=search.seed)
    if search.sampler == "grid":
        return samplers.GridSampler(grid_of(space), seed=search.seed)
    if search.sampler == "cmaes":
        _require("cmaes", "the cmaes sampler", "pip install cmaes")
        return samplers.CmaEsSampler(seed=search.seed, warn_independent_sampling=False)
    if search.sampler == "gp":
        _require("torch", "the gp sampler", "pip install torch (the CPU build is enough)")
        return samplers.GPSampler(seed=search.seed)
    # multivariate TPE models the parameters jointly, which suits conditional spaces;
    # group=True keeps it working when branches switch parameters on and off
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=search.seed, multivariate=True, group=True,
                                          n_startup_trials=min(10, max(search.trials // 3, 2)))


def _require(module: str, what: str, how: str) -> None:
    """Optional samplers need extra packages; say which, instead of failing inside Optuna."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise UsageError(f"{what} needs the {module} package, which is not installed; {how}, "
                         f"or choose another search.sampler")


def grid_of(space: Group | None) -> dict[str, list]:
    """Every searched value of ``space`` as a list, for the grid sampler."""
    import numpy as np

    grid: dict[str, list] = {}
    for param in space.parameters() if space else []:
        if isinstance(param, Range):
            step = param.step or 1
            values = np.arange(param.low, param.high + step / 2, step)
            grid[param.path] = [int(v) if param.kind == "int" else float(v) for v in values]
        else:
            grid[param.path] = list(param.possible_values())
    return grid


def make_pruner(search: SearchConfig, max_epochs: int) -> optuna.pruners.BasePruner:
    """The pruner named in the space (none in a Pareto search: Optuna cannot prune those)."""
    warmup = max(max_epochs // 5, 1)
    if search.more_objectives:
        return optuna.pruners.NopPruner()
    if search.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)
    if search.pruner == "percentile":
        return optuna.pruners.PercentilePruner(25.0, n_startup_trials=5, n_warmup_steps=warmup)
    if search.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=warmup)
    if search.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=warmup, max_resource=max_epochs)
    return optuna.pruners.NopPruner()


def open_study(name: str, storage_url: str, search: SearchConfig, max_epochs: int,
               space: Group | None = None) -> optuna.Study:
    """Load the study called ``name`` if the storage has it (resume), else create it."""
    try:
        storage = optuna.storages.RDBStorage(storage_url)
    except Exception as exc:
        raise UsageError(f"cannot open the Optuna storage {storage_url} ({exc}); check the "
                         f"path or URL") from None
    study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                directions=search.directions,
                                sampler=make_sampler(search, space),
                                pruner=make_pruner(search, max_epochs))
    found = [d.name.lower() for d in study.directions]
    if found != search.directions:
        raise UsageError(f"the study {name!r} in {storage_url} was created to "
                         f"{' and '.join(found)} its objectives, the space now says "
                         f"{' and '.join(search.directions)}; give the space another name "
                         f"(name: in the file) or delete the run folder")
    return study


def recover_interrupted(study: optuna.Study) -> int:
    """Retry the trials a stopped process left behind.

    A killed process leaves its trial RUNNING; mark it failed as interrupted. Every interrupted
    trial (killed, or stopped with Ctrl-C) that was not retried yet has its params queued again.
    Only safe with the embedded, single-process storage: there no other worker can be running.
    """
    storage = study._storage  # the storage API (public) of this study's storage object
    retried = set(study.user_attrs.get("retried_trials", []))
    count = 0
    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.RUNNING:
            storage.set_trial_user_attr(trial._trial_id, "fail_reason", INTERRUPTED)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        elif trial.user_attrs.get("fail_reason") != INTERRUPTED or trial.number in retried:
            continue
        retried.add(trial.number)
        if trial.params:
            study.enqueue_trial(trial.params, skip_if_exists=False)
        count += 1
    study.set_user_attr("retried_trials", sorted(retried))
    return count


def finished_trials(study: optuna.Study) -> int:
    """Trials that count against the budget: all that ended, except interrupted ones."""
    done = 0
    for trial in study.get_trials(deepcopy=False):
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            done += 1
        elif trial.state == TrialState.FAIL and trial.user_attrs.get("fail_reason") != INTERRUPTED:
            done += 1
    return done

"""automl: Keras hyperparameter search from a YAML space, tracked in MLflow.

    >>> import automl
    >>> result = automl.search("search_spaces/mnist1d.yaml", trials=20, timeout="10m")
    >>> result.test_metrics, result.best_params
    >>> result.export("out/")

Importing automl is cheap: pandas, Optuna, MLflow and TensorFlow load when first needed.
"""

from __future__ import annotations

import warnings
from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# public name -> the module that defines it (imported on first use)
_EXPORTS = {
    "search": "automl.tuner.runner",
    "select": "automl.tuner.runner",
    "rerun": "automl.tuner.runner",
    "search_hypermodel": "automl.hypermodel",
    "load": "automl.tuner.load",
    "load_space": "automl.config",
    "SpaceConfig": "automl.config",
    "SearchResult": "automl.result",
    "AutomlError": "automl.errors",
    "UsageError": "automl.errors",
    "ConfigError": "automl.errors",
    "DataError": "automl.errors",
    "TrialFailed": "automl.errors",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        with warnings.catch_warnings():
            # Optuna imports tqdm.auto, which in a notebook without ipywidgets warns to "update
            # jupyter and ipywidgets"; automl never draws tqdm's bars, so here that is noise
            warnings.filterwarnings("ignore", message="IProgress not found")
            module = import_module(_EXPORTS[name])
        return getattr(module, name)
    raise AttributeError(f"module 'automl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

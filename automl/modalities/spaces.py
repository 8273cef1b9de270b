"""The parts every modality's default space shares (``default_space`` in each modality's
module): a log-scaled range, the regularized model's keys, Adam with its schedule.

Each modality keeps what is its own (families, augmentation, the configurations tried first);
the shared parts are written once here, so that a rule chosen on many datasets (the learning
rate range, the weight decay, batch norm searched) is one change.

Example:
    >>> log_range(3e-4, 1e-2)
    {'float': [0.0003, 0.01], 'log': True}
"""

from __future__ import annotations

from typing import Any


def log_range(low: float, high: float) -> dict[str, Any]:
    """A float searched on a log scale between ``low`` and ``high``."""
    return {"float": [low, high], "log": True}


def regularized(
    families: dict[str, Any], activations: list[str], initializers: list[str], l2_low: float
) -> dict[str, Any]:
    """The ``model:`` section: ``families`` (name -> its settings) with the activation,
    initializer, dropout 0-0.4, L2 from ``l2_low`` to 1e-3 and batch norm searched."""
    return {
        "architecture": {"choice": families},
        "activation": {"choice": activations},
        "initializer": {"choice": initializers},
        "dropout": {"float": [0.0, 0.4]},
        "l2": log_range(l2_low, 1.0e-3),
        "batch_norm": {"bool": True},
    }


def adam_training(batch: list[int], epochs: int, patience: int) -> dict[str, Any]:
    """The ``training:`` section: Adam from 3e-4 to 1e-2, a constant or cosine schedule, the
    batch sizes ``batch``, ``epochs`` with early stopping after ``patience``."""
    return {
        "optimizer": {"choice": {"adam": {"learning_rate": log_range(3.0e-4, 1.0e-2)}}},
        "schedule": {"choice": ["constant", "cosine"]},
        "batch_size": {"choice": batch},
        "epochs": epochs,
        "early_stopping": patience,
    }

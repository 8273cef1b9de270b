"""The order of trials, best first: by the objective; on a tie, by the validation loss.

Small validation splits tie often: 69 rows of breast-cancer give an accuracy in steps of 1.4
points, and a dozen trials of one search may all score 1.0. Among trials with the same objective
value, the one with the lower validation loss (more confident where it is right, less where it is
wrong) ranks first; the earlier trial wins what is still tied. The selection's top K, the
candidate files kept during the search and the report's leaderboard all use this one order;
early stopping keeps a trial's best epoch by it too (``TieBreakingEarlyStopping``).

Example:
    >>> trials = [(0.98, 0.09, 0), (1.0, 0.05, 1), (1.0, 0.02, 2), (1.0, None, 3)]
    >>> [n for *_, n in sorted(trials, key=lambda t: rank_key(*t, maximize=True))]
    [2, 1, 3, 0]
"""

from __future__ import annotations

import math
from typing import Any

VAL_LOSS_ATTR = "val_loss"  # the trial's validation loss at its best epoch (a user attribute)


def rank_key(value: float, val_loss: float | None, number: int, *, maximize: bool) -> tuple:
    """Sort key of one trial, best first: its objective ``value``, then its ``val_loss`` (None or
    not finite: after every finite one), then its ``number``."""
    loss = val_loss if val_loss is not None and math.isfinite(val_loss) else math.inf
    return (-value if maximize else value, loss, number)


def trial_rank(trial: Any, *, maximize: bool) -> tuple:
    """:func:`rank_key` of a complete Optuna trial (its first objective value)."""
    return rank_key(
        trial.values[0], trial.user_attrs.get(VAL_LOSS_ATTR), trial.number, maximize=maximize
    )

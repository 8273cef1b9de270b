"""Stage 2 of the report: which trials went wrong, and how, in words.

Stopped trials, from what the study recorded:

* **diverged**: failed because the training loss became NaN or infinite (``fail_reason``);
* **vanishing / exploding gradients**: pruned by the gradient check (``prune_reason``);
* **pruned**: stopped by the study's pruner, its objective behind the other trials';
* **failed**: any other error (its recorded reason).

Over-fitting, from the per-epoch metrics of every complete or pruned trial (both rules stated
in the report itself):

* **train above validation**: at the last epoch, the training value of a higher-is-better
  test metric (accuracy) is at least :data:`GAP_LIMIT` above the validation value;
* **validation loss rising**: the last epoch's validation loss is at least :data:`RISE_LIMIT`
  (a fraction) above its lowest, reached at an earlier epoch, while the training loss went on
  falling (the last epoch's training loss is below its value at that earlier epoch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from optuna.trial import FrozenTrial, TrialState

from automl.report.collect import ReportData
from automl.tuner.study import fail_reason

GAP_LIMIT = 0.10
RISE_LIMIT = 0.10

OVERFITTING_RULES = (
    f"train above validation: at the last epoch the training {{metric}} is at least "
    f"{GAP_LIMIT:.2f} above the validation {{metric}} (only for a metric where higher is "
    f"better); validation loss rising: the last epoch's validation loss is at least "
    f"{RISE_LIMIT:.0%} above its lowest, reached at an earlier epoch, while the training loss "
    f"kept falling"
)


@dataclass(frozen=True)
class Finding:
    """One trial flagged, with what happened in one sentence."""

    trial: int
    state: str  # COMPLETE, PRUNED, FAIL
    kind: str  # diverged, vanishing gradients, exploding gradients, pruned, failed,
    #                   over-fitting
    detail: str
    epochs: int | None


def stopped(data: ReportData) -> list[Finding]:
    """Every pruned or failed trial, with why it stopped."""
    found = []
    for trial in data.trials:
        if trial.state == TrialState.PRUNED:
            kind, detail = _pruned(trial, data)
        elif trial.state == TrialState.FAIL:
            reason = fail_reason(trial)
            kind = "diverged" if reason.startswith("diverged") else "failed"
            detail = reason
        else:
            continue
        found.append(Finding(trial.number, trial.state.name, kind, detail, epochs_run(trial)))
    return found


def _pruned(trial: FrozenTrial, data: ReportData) -> tuple[str, str]:
    reason = trial.user_attrs.get("prune_reason")
    if reason:
        for kind in ("vanishing gradients", "exploding gradients"):
            if reason.startswith(kind):
                return kind, reason
        return "pruned", reason
    if not trial.intermediate_values:
        return "pruned", f"pruned by the {data.cfg.search.pruner} pruner before its first epoch"
    step = max(trial.intermediate_values)
    value = trial.intermediate_values[step]
    return "pruned", (
        f"pruned by the {data.cfg.search.pruner} pruner after epoch {step + 1}: "
        f"its {data.objective} ({value:.4f}) was behind the other trials' at that "
        f"epoch"
    )


def epochs_run(trial: FrozenTrial) -> int | None:
    """How many epochs a trial trained: recorded when it ended, else its reported epochs."""
    if "epochs_run" in trial.user_attrs:
        return int(trial.user_attrs["epochs_run"])
    if trial.intermediate_values:
        return max(trial.intermediate_values) + 1
    return None


def overfitting(data: ReportData) -> list[Finding]:
    """Complete and pruned trials whose curves show over-fitting (see the module's rules)."""
    metric = data.cfg.test_metric
    higher_is_better = data.maximize and data.objective == f"val_{metric}"
    found = []
    for trial in data.trials:
        curves = data.curves.get(trial.number)
        if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED) or not curves:
            continue
        checked: list[str | None] = []  # each rule's sign, or None where it sees none
        if higher_is_better:
            checked.append(
                train_above_val(curves.get(metric, []), curves.get(f"val_{metric}", []), metric)
            )
        checked.append(val_loss_rising(curves.get("loss", []), curves.get("val_loss", [])))
        signs = [s for s in checked if s]
        if signs:
            found.append(
                Finding(
                    trial.number,
                    trial.state.name,
                    "over-fitting",
                    "; ".join(signs),
                    epochs_run(trial),
                )
            )
    return found


def train_above_val(train: list[float], val: list[float], metric: str) -> str | None:
    """The sign of the first rule, in words, or None."""
    if not train or not val or len(train) != len(val):
        return None
    last_train, last_val = train[-1], val[-1]
    if not (math.isfinite(last_train) and math.isfinite(last_val)):
        return None
    if last_train - last_val < GAP_LIMIT:
        return None
    return (
        f"training {metric} {last_train:.4f} vs validation {last_val:.4f} at epoch "
        f"{len(train)} (gap {last_train - last_val:.4f} >= {GAP_LIMIT:.2f})"
    )


def val_loss_rising(train: list[float], val: list[float]) -> str | None:
    """The sign of the second rule, in words, or None."""
    if len(val) < 2 or len(train) != len(val):
        return None
    finite = [(v, i) for i, v in enumerate(val) if math.isfinite(v)]
    if not finite:
        return None
    lowest, best = min(finite)
    last = len(val) - 1
    if best == last or not all(math.isfinite(x) for x in (val[last], train[last], train[best])):
        return None
    rise = (val[last] - lowest) / abs(lowest) if lowest else math.inf
    if rise < RISE_LIMIT or train[last] >= train[best]:
        return None
    return (
        f"validation loss rose from {lowest:.4f} (epoch {best + 1}) to {val[last]:.4f} "
        f"(epoch {last + 1}, +{rise:.0%}) while the training loss fell from "
        f"{train[best]:.4f} to {train[last]:.4f}"
    )

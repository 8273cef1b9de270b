"""Stage 1 of the report: read what it shows from storage, never from a live process.

The Optuna study gives the trials (states, params, objective values, per-epoch objective,
reasons); the MLflow parent run gives the selection (``selection.json``: the candidates' test
scores and the winner) and the split manifest (``data_manifest.json``); each trial's child run
gives its per-epoch training and validation metrics. A search still running has no selection
yet, or an older one: a candidate without a recorded test score is shown as not tested yet.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from automl.config import SpaceConfig
from automl.ranking import trial_rank
from automl.tuner.record import spec_field
from automl.urls import redact

SELECTION_FILE = "selection.json"
MANIFEST_FILE = "data_manifest.json"


@dataclass(frozen=True)
class Tested:
    """One candidate's evaluation on the held-out test split."""

    trial: int
    val: float  # the objective on the validation split
    test: float  # the test metric (the objective without ``val_``)
    gap: float  # val - test
    metrics: dict[str, float]  # every test metric (loss, accuracy, ...)


@dataclass
class ReportData:
    """Everything the report shows, read once."""

    study: optuna.Study
    cfg: SpaceConfig
    trials: list[FrozenTrial]  # every trial, by number
    tested: dict[int, Tested]  # the candidates' test results, by trial
    winner: int | None  # the trial the last selection chose
    curves: dict[int, dict[str, list[float]]]  # trial -> metric -> one value per epoch
    manifest: dict[str, Any] | None  # sizes, class counts, digests of the splits
    run_dir: str | None  # the coordinator's run folder
    notes: list[str] = field(default_factory=list)  # what could not be read, in one line each
    holdout: dict[str, float] = field(default_factory=dict)  # the winner on the holdout
    # split ("test" or "holdout") -> baseline name ("logistic regression") -> its score
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    generated: str = ""
    members: list[int] = field(default_factory=list)  # an ensemble winner's trials
    ensemble: Tested | None = None  # that ensemble's own evaluation

    @property
    def won(self) -> Tested | None:
        """The winner's evaluation: the ensemble's, or the winning trial's (None before one)."""
        if self.ensemble is not None:
            return self.ensemble
        return self.tested.get(self.winner) if self.winner is not None else None

    @property
    def objective(self) -> str:
        return self.cfg.search.objective

    @property
    def maximize(self) -> bool:
        return self.cfg.search.direction == "maximize"

    def complete(self) -> list[FrozenTrial]:
        """Complete trials, best first by the (first) objective, in the order the selection ranks
        them (ties: the lower validation loss, then the earlier trial)."""
        done = [t for t in self.trials if t.state == TrialState.COMPLETE and t.values]
        return sorted(done, key=lambda t: trial_rank(t, maximize=self.maximize))

    def candidates(self) -> list[FrozenTrial]:
        """The top-K by validation now, and any trial the last selection tested, best first."""
        ranked = self.complete()
        top = {t.number for t in ranked[: self.cfg.select.top_k]} | set(self.tested)
        return [t for t in ranked if t.number in top]


def collect(
    study: optuna.Study, cfg: SpaceConfig, tracking_uri: str | None, parent_run_id: str | None
) -> ReportData:
    """Read the study and its MLflow runs into a :class:`ReportData`."""
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    data = ReportData(
        study=study,
        cfg=cfg,
        trials=trials,
        tested={},
        winner=None,
        curves={},
        manifest=None,
        run_dir=spec_field(study, "run_dir"),
        generated=datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    )
    if not tracking_uri or not parent_run_id:
        data.notes.append(
            "the study records no MLflow run, so test scores, learning curves "
            "and the split manifest are missing"
        )
        return data
    try:
        _read_mlflow(data, tracking_uri, parent_run_id)
    except Exception as exc:  # unreachable server, deleted run: the Optuna part still reports
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        data.notes.append(
            f"MLflow at {redact(tracking_uri)} could not be read ({redact(first)}), "
            f"so test scores, learning curves or the split manifest are missing"
        )
    return data


def curve_keys(cfg: SpaceConfig) -> list[str]:
    """The per-epoch metrics the report reads: training and validation loss and test metric."""
    metric = cfg.test_metric
    return list(dict.fromkeys(["loss", "val_loss", metric, f"val_{metric}"]))


def _read_mlflow(data: ReportData, tracking_uri: str, parent_run_id: str) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    names = {a.path for a in client.list_artifacts(parent_run_id)}
    with tempfile.TemporaryDirectory() as tmp, _no_progress_bars():
        if SELECTION_FILE in names:
            selection = json.loads(
                Path(client.download_artifacts(parent_run_id, SELECTION_FILE, tmp)).read_text()
            )
            data.tested = {
                row["trial"]: Tested(
                    row["trial"], row["val_score"], row["test_score"], row["gap"], row["test"]
                )
                for row in selection.get("candidates", [])
            }
            winner = selection.get("winner") or {}
            data.winner = winner.get("trial")
            if winner.get("members"):
                data.members = list(winner["members"])
                data.ensemble = Tested(
                    winner["trial"],
                    winner["val_score"],
                    winner["test_score"],
                    winner["gap"],
                    winner["test"],
                )
        if MANIFEST_FILE in names:
            data.manifest = json.loads(
                Path(client.download_artifacts(parent_run_id, MANIFEST_FILE, tmp)).read_text()
            )
    for key, value in client.get_run(parent_run_id).data.metrics.items():
        if key.startswith("holdout_"):
            data.holdout[key.removeprefix("holdout_")] = value
        elif key.startswith("baseline_"):  # baseline_<split>_<name>_<metric>
            part, _, name = key.removeprefix("baseline_").rpartition("_")[0].partition("_")
            data.baselines.setdefault(part, {})[name.replace("_", " ")] = value
    keys = curve_keys(data.cfg)
    for trial in data.trials:
        run_id = trial.user_attrs.get("mlflow_run_id")
        if run_id and trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING):
            data.curves[trial.number] = {key: _history(client, run_id, key) for key in keys}


@contextlib.contextmanager
def _no_progress_bars():
    """MLflow draws a progress bar for every download, even of one small file: not here."""
    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _history(client, run_id: str, key: str) -> list[float]:
    """One value per epoch (the step), in order; NaN where an epoch logged none."""
    points = {m.step: m.value for m in client.get_metric_history(run_id, key)}
    if not points:
        return []
    return [points.get(step, math.nan) for step in range(max(points) + 1)]

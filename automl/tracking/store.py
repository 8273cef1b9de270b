"""Which MLflow store a search logs to, its addresses, and finding a study's experiment in it."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.defaults import DEFAULT_RUN_DIR, UI_PORT
from automl.errors import UsageError
from automl.urls import redact

if TYPE_CHECKING:
    from mlflow.entities import Experiment

PARENT_TAG = "mlflow.parentRunId"
# MLflow 3's UI has read this experiment tag to tell a model training experiment from a GenAI
# one; 3.17's UI no longer does (its JavaScript derives the kind from the GenAI / Model training
# switch), so ui_url sets that switch with workflowType=machine_learning. The tag stays for the
# UIs that read it.
KIND_TAG, TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"
# a saved view of the runs table (columns to show), as the UI's "Views > Save as new view"
# stores it; ui_url opens on it
VIEW_KEY = "automl"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"


def default_tracking_uri(run_root: Path) -> str:
    return f"sqlite:///{(run_root / 'mlflow.db').resolve()}"


def is_server(tracking_uri: str) -> bool:
    """A tracking server (which has a UI of its own), not a store this machine opens."""
    return tracking_uri.startswith(("http://", "https://"))


def ui_url(base_url: str, experiment_id: str) -> str:
    """The address that opens the MLflow UI on the study's runs table: model training mode
    (not MLflow 3's GenAI overview), with the trial columns of automl's saved view."""
    return (
        f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs"
        f"?workflowType=machine_learning&viewStateShareKey={VIEW_KEY}"
    )


def ui_command(tracking_uri: str, experiment_id: str | None = None) -> str:
    """How to browse this tracking store: ``automl ui`` with the run folder (and, given the
    experiment, the address it will print), or the server's address for a tracking server."""
    if is_server(tracking_uri):
        base = redact(tracking_uri)
        return ui_url(base, experiment_id) if experiment_id else base
    command = "automl ui"
    path = Path(tracking_uri.removeprefix("sqlite:///"))
    if tracking_uri.startswith("sqlite:///") and path.name == "mlflow.db":
        run_dir = path.parent
        with contextlib.suppress(ValueError):  # shorten to a path relative to this folder
            run_dir = run_dir.relative_to(Path.cwd().resolve())
        if str(run_dir) != DEFAULT_RUN_DIR:
            command += f" --run-dir {run_dir}"
    else:
        command += f" --tracking-uri {redact(tracking_uri)}"
    if experiment_id is None:
        return command
    return f"{command}\n  then open {ui_url(f'http://127.0.0.1:{UI_PORT}', experiment_id)}"


def find_study(tracking_uri: str, study: str | None) -> "Experiment":
    """The study's experiment in this store; without a name, the study searched last."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    try:
        experiments = [e for e in client.search_experiments() if e.name != "Default"]
    except Exception as exc:
        raise UsageError(
            f"cannot read the MLflow store {redact(tracking_uri)} ({first_line(exc)})"
        ) from None
    if study is not None:
        found = [e for e in experiments if e.name == study]
        if not found:
            names = ", ".join(sorted(e.name for e in experiments)) or "none"
            raise UsageError(
                f"no study named {study!r} in the MLflow store "
                f"{redact(tracking_uri)}; studies there: {names}"
            )
        return found[0]
    if not experiments:
        raise UsageError(
            f"the MLflow store {redact(tracking_uri)} holds no study yet; run automl search first"
        )
    latest = client.search_runs(
        [e.experiment_id for e in experiments],
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if latest:
        return next(e for e in experiments if e.experiment_id == latest[0].info.experiment_id)
    return max(experiments, key=lambda e: e.creation_time or 0)


def runs_view(objective: str) -> dict[str, Any]:
    """The runs table's columns for a study: the architecture, the objective, the test score
    and gap of the candidates, epochs and seconds, the Optuna state (MLflow's saved-view state
    as the UI writes it)."""
    test = "test_" + objective.removeprefix("val_")
    return {
        "searchFilter": "",
        "orderByKey": "attributes.start_time",
        "orderByAsc": False,
        "startTime": "ALL",
        "lifecycleFilter": "Active",
        "datasetsFilter": [],
        "modelVersionFilter": "All Runs",
        "selectedColumns": [
            "attributes.`Dataset`",
            "attributes.`Models`",
            "params.`model.architecture`",
            f"metrics.`best_{objective}`",
            f"metrics.`{test}`",
            "metrics.`generalization_gap`",
            "metrics.`epochs_run`",
            "metrics.`trial_seconds`",
            "tags.`optuna.state`",
        ],
        "columnOrder": [],
        "columnWidths": {},
        "runsHiddenMode": "FIRST_10_RUNS",
        "viewMaximized": False,
        "runListHidden": False,
        "isAccordionReordered": False,
        "useGroupedValuesInCharts": True,
        "hideEmptyCharts": True,
        "groupBy": None,
        "groupsExpanded": {},
        "globalLineChartConfig": {
            "xAxisKey": "step",
            "lineSmoothness": 0,
            "selectedXAxisMetricKey": "",
        },
    }


def first_line(error: BaseException) -> str:
    return redact((str(error).strip().splitlines() or [type(error).__name__])[0])[:200]

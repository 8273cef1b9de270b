"""MLflow tracking: one parent run per study, one nested child run per trial.

Only this module talks to MLflow. It uses ``MlflowClient`` with explicit run ids (the fluent API's
active-run stack is per thread), except to log the winning model, which ``mlflow.keras`` does in
the context of the parent run.

The default store is embedded: an SQLite file and an artifact folder under the run folder, so a
search needs no server, and ``mlflow ui --backend-store-uri sqlite:///...`` browses it.
"""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path
from typing import Any

from automl.errors import UsageError
from automl.urls import redact

PARENT_TAG = "mlflow.parentRunId"
KIND_TAG, TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"
MAX_PARAM_LENGTH = 6000


def default_tracking_uri(run_root: Path) -> str:
    return f"sqlite:///{(run_root / 'mlflow.db').resolve()}"


def ui_command(tracking_uri: str) -> str:
    """The one command that opens the MLflow UI on this tracking store."""
    if tracking_uri.startswith(("http://", "https://")):
        return f"open {redact(tracking_uri)}"
    uri = tracking_uri
    cwd = Path.cwd().resolve()
    if uri.startswith("sqlite:///"):  # shorten to a path relative to the current folder
        path = Path(uri.removeprefix("sqlite:///"))
        try:
            uri = f"sqlite:///{path.relative_to(cwd)}"
        except ValueError:
            pass
    return f"mlflow ui --backend-store-uri {uri}"


def _flat_params(params: dict[str, Any]) -> dict[str, str]:
    return {k: str(v)[:MAX_PARAM_LENGTH] for k, v in params.items()}


class Tracker:
    """Logs one study and its trials to one MLflow experiment named after the study."""

    def __init__(self, tracking_uri: str, experiment: str, artifact_root: Path | None = None):
        import mlflow
        from mlflow.tracking import MlflowClient

        self.tracking_uri = tracking_uri
        mlflow.set_tracking_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri)
        try:
            found = self.client.get_experiment_by_name(experiment)
        except Exception as exc:  # unreachable server, unreadable file, ...
            raise UsageError(f"cannot reach the MLflow tracking store {redact(tracking_uri)} "
                             f"({redact(str(exc).splitlines()[0] if str(exc) else '')[:200]}); "
                             f"check --tracking-uri or start the server") from None
        if found is None:
            location = artifact_root.resolve().as_uri() if artifact_root else None
            self.experiment_id = self.client.create_experiment(experiment, location)
        else:
            if found.lifecycle_stage == "deleted":
                self.client.restore_experiment(found.experiment_id)
            self.experiment_id = found.experiment_id
        if found is None or found.tags.get(KIND_TAG) != TRAINING_KIND:
            # without it, MLflow 3's UI opens the experiment on its GenAI overview (traces)
            self.client.set_experiment_tag(self.experiment_id, KIND_TAG, TRAINING_KIND)
        self.parent_run_id: str | None = None

    @property
    def is_remote(self) -> bool:
        """A tracking server: workers on other machines reach its artifacts, not our files."""
        return self.tracking_uri.startswith(("http://", "https://"))

    # ---- the study ---------------------------------------------------------------------------

    def start_study(self, study_name: str, previous_run_id: str | None, params: dict[str, Any],
                    space_file: str | None, manifest: dict[str, Any]) -> str:
        """Open the parent run (the one of an earlier, resumed session when it still exists)."""
        run = None
        if previous_run_id:
            try:
                run = self.client.get_run(previous_run_id)
            except Exception:
                run = None
        if run is None:
            run = self.client.create_run(self.experiment_id, run_name=study_name,
                                         tags={"automl.study": study_name,
                                               "automl.kind": "study"})
            self.client.log_batch(run.info.run_id, params=[
                _param(k, v) for k, v in _flat_params(params).items()])
            if space_file:
                self.client.log_artifact(run.info.run_id, space_file)
            self.client.log_dict(run.info.run_id, manifest, "data_manifest.json")
        else:
            self.client.update_run(run.info.run_id, status="RUNNING")
        self.parent_run_id = run.info.run_id
        return self.parent_run_id

    def close_stranded(self, live_run_ids: set[str], reasons: dict[str, str]) -> int:
        """End the child runs a killed process left RUNNING (MLflow has no heartbeat).

        Args:
            live_run_ids: runs of trials still RUNNING in the study: left alone.
            reasons: run id -> why its trial failed, as the study recorded it.

        Returns:
            How many runs were marked KILLED.
        """
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{PARENT_TAG}` = '{self.parent_run_id}' and "
                          f"attributes.status = 'RUNNING'")
        closed = 0
        for run in runs:
            if run.info.run_id in live_run_ids:
                continue
            self.client.set_tag(run.info.run_id, "automl.fail_reason",
                                reasons.get(run.info.run_id,
                                            "interrupted: the process running this trial stopped"))
            self.client.set_terminated(run.info.run_id, status="KILLED")
            closed += 1
        return closed

    def end_study(self, status: str = "FINISHED") -> None:
        if self.parent_run_id:
            self.client.set_terminated(self.parent_run_id, status=status)

    # ---- trials ------------------------------------------------------------------------------

    def start_trial(self, number: int, params: dict[str, Any]) -> str:
        """A child run named ``trial-3 cnn`` (the number and the architecture branch)."""
        branch = params.get("model.architecture")
        run = self.client.create_run(
            self.experiment_id, run_name=f"trial-{number}" + (f" {branch}" if branch else ""),
            tags={PARENT_TAG: self.parent_run_id, "automl.kind": "trial",
                  "optuna.trial_number": str(number)})
        self.client.log_batch(run.info.run_id,
                              params=[_param(k, v) for k, v in _flat_params(params).items()])
        return run.info.run_id

    def tag_trial(self, run_id: str, **tags: object) -> None:
        """``automl.<key>`` tags on a trial's run (None values are left out)."""
        for key, value in tags.items():
            if value is not None:
                self.client.set_tag(run_id, f"automl.{key}", str(value))

    def log_text(self, run_id: str, text: str, name: str) -> None:
        self.client.log_text(run_id, text, name)

    def log_artifact(self, run_id: str, path: Path, folder: str) -> None:
        self.client.log_artifact(run_id, str(path), folder)

    def download_candidate(self, run_id: str, folder: Path) -> Path | None:
        """A trial's candidate model from the artifact store (None when it has none)."""
        import mlflow

        try:
            names = [a.path for a in self.client.list_artifacts(run_id, "candidate")]
        except Exception:
            return None
        if not names:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=names[0],
                                                    dst_path=str(folder / "downloaded"),
                                                    tracking_uri=self.tracking_uri)
        return Path(local)

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric
        import time

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()
                 if v is not None and math.isfinite(float(v))]
        if batch:
            self.client.log_batch(run_id, metrics=batch)

    def end_trial(self, run_id: str, state: str, reason: str | None = None,
                  metrics: dict[str, float] | None = None, outcome: str | None = None) -> None:
        """Close a child run with its Optuna state (COMPLETE, PRUNED or FAIL); ``outcome``
        (``val_accuracy=0.9812``, ``pruned at epoch 4``, ``failed``) joins its name, so that the
        runs list reads at a glance."""
        self.client.set_tag(run_id, "optuna.state", state)
        if outcome:
            self.client.update_run(run_id, name=f"{self.client.get_run(run_id).info.run_name} "
                                                f"{outcome}")
        if reason:
            self.client.set_tag(run_id, "automl.fail_reason", reason[:5000])
        if metrics:
            self.log_metrics(run_id, metrics)
        self.client.set_terminated(run_id, status="FAILED" if state == "FAIL" else "FINISHED")

    # ---- selection and the winner ------------------------------------------------------------

    def log_selection(self, table: list[dict[str, Any]], winner: dict[str, Any],
                      trial_runs: dict[int, str]) -> None:
        """Record each candidate's test metrics and gap, and the winner, on the parent run."""
        for row in table:
            number = row["trial"]
            metrics = {f"test_{k}": v for k, v in row["test"].items()}
            metrics["generalization_gap"] = row["gap"]
            if number in trial_runs:
                self.log_metrics(trial_runs[number], metrics)
            self.log_metrics(self.parent_run_id, {f"candidate_{number}_gap": row["gap"],
                                                  f"candidate_{number}_test": row["test_score"]})
        self.log_metrics(self.parent_run_id, {
            "winner_val": winner["val_score"], "winner_test": winner["test_score"],
            **{f"winner_test_{k}": v for k, v in winner["test"].items()}})
        self.client.set_tag(self.parent_run_id, "automl.winner_trial", str(winner["trial"]))
        self.client.set_tag(self.parent_run_id, "mlflow.note.content",
                            leaderboard_markdown(table, winner))
        self.client.log_dict(self.parent_run_id, {"candidates": table, "winner": winner},
                             "selection.json")

    def log_winner_model(self, model, x_example, registered_name: str,
                         alias: str = "champion") -> dict[str, str]:
        """Log the winner as an MLflow model, register it and point ``alias`` at the version.

        The model serves (``mlflow models serve -m models:/<name>@champion``), loads with
        ``mlflow.pyfunc`` (predicting from a DataFrame of raw columns) and with ``mlflow.keras``;
        it is logged with an input example (``x_example``: a few raw validation examples) and
        the signature inferred from it. See :func:`automl.export.log_mlflow_model`.
        """
        import mlflow

        from automl.export import log_mlflow_model

        # MLflow prints "Successfully registered model ..." itself: keep the terminal quiet
        with mlflow.start_run(run_id=self.parent_run_id), \
                contextlib.redirect_stderr(io.StringIO()):
            info = log_mlflow_model(model, x_example, registered_name=registered_name,
                                    pip_requirements=_requirements())
        version = str(info.registered_model_version)
        self.client.set_registered_model_alias(registered_name, alias, version)
        return {"model_uri": info.model_uri, "registered_model": registered_name,
                "version": version, "alias_uri": f"models:/{registered_name}@{alias}"}

    def log_artifacts(self, folder: Path, artifact_path: str) -> None:
        self.client.log_artifacts(self.parent_run_id, str(folder), artifact_path)


def leaderboard_markdown(table: list[dict[str, Any]], winner: dict[str, Any]) -> str:
    """The parent run's description: the candidates on the test split, and the winner."""
    lines = ["| trial | validation | test | gap |", "|---|---|---|---|"]
    for row in sorted(table, key=lambda r: r["test_score"], reverse=True):
        mark = " **winner**" if row["trial"] == winner["trial"] else ""
        lines.append(f"| {row['trial']}{mark} | {row['val_score']:.4f} | {row['test_score']:.4f} "
                     f"| {row['gap']:+.4f} |")
    return (f"Winner: trial {winner['trial']}, test {winner['test_score']:.4f} "
            f"(validation {winner['val_score']:.4f}).\n\nThe top trials by validation, each "
            f"evaluated once on the held-out test split:\n\n" + "\n".join(lines))


def _param(key: str, value: str):
    from mlflow.entities import Param

    return Param(key, value)


def _requirements() -> list[str]:
    """Pinned requirements of the logged model (given, so MLflow does not spend time guessing):
    what the served model imports: Keras and the TensorFlow build installed here, NumPy, pandas
    and cloudpickle (which stored the serving class)."""
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for packages in (("keras",), ("tensorflow-cpu", "tensorflow"), ("numpy",), ("pandas",),
                     ("cloudpickle",)):
        for package in packages:  # the first of these that is installed
            try:
                reqs.append(f"{package}=={version(package)}")
                break
            except PackageNotFoundError:
                continue
    return reqs

"""The runs of a study: one parent run per study, one nested child run per trial, their params,
per-epoch metrics (written by a background thread), datasets, tags and the selection.

It uses ``MlflowClient`` with explicit run ids (the fluent API's active-run stack is per thread).
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.errors import UsageError
from automl.result import winner_name, winner_role
from automl.tracking.store import (
    KIND_TAG,
    PARENT_TAG,
    TRAINING_KIND,
    VIEW_TAG,
    first_line,
    is_server,
    runs_view,
)
from automl.urls import redact

if TYPE_CHECKING:
    from automl.data.splits import Splits

MAX_PARAM_LENGTH = 6000


def _rounded(value: float) -> float:
    """A metric with the digits a float32 has (0.3, not 0.30000001192092896)."""
    return float(f"{value:.7g}")


def _flat_params(params: dict[str, Any]) -> dict[str, str]:
    return {k: str(v)[:MAX_PARAM_LENGTH] for k, v in params.items()}


class Tracker:
    """Logs one study and its trials to one MLflow experiment named after the study."""

    def __init__(self, tracking_uri: str, experiment: str, artifact_root: Path | None = None):
        import mlflow
        from mlflow.tracking import MlflowClient

        from automl.empty_store import seed_sqlite_store

        self.tracking_uri = tracking_uri
        seed_sqlite_store(tracking_uri)  # a new embedded store: a copy, not two seconds of DDL
        mlflow.set_tracking_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri)
        try:
            found = self.client.get_experiment_by_name(experiment)
        except Exception as exc:  # unreachable server, unreadable file, ...
            raise UsageError(
                f"cannot reach the MLflow tracking store {redact(tracking_uri)} "
                f"({redact(str(exc).splitlines()[0] if str(exc) else '')[:200]}); "
                f"check --tracking-uri or start the server"
            ) from None
        if found is None:
            # a server keeps the artifacts itself, where workers on other machines reach them
            location = (
                artifact_root.resolve().as_uri()
                if artifact_root and not is_server(tracking_uri)
                else None
            )
            self.experiment_id = self.client.create_experiment(experiment, location)
        else:
            if found.lifecycle_stage == "deleted":
                self.client.restore_experiment(found.experiment_id)
            self.experiment_id = found.experiment_id
        if found is None or found.tags.get(KIND_TAG) != TRAINING_KIND:
            self.client.set_experiment_tag(self.experiment_id, KIND_TAG, TRAINING_KIND)
        self.parent_run_id: str | None = None
        self._names: dict[str, str] = {}  # run id -> the name its outcome is appended to
        self._datasets: dict[int, list] = {}  # id(splits) -> their MLflow dataset entities
        # per-epoch metrics: written in order by one background thread (see log_metrics)
        self._queue: queue.Queue[tuple[str, list]] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._failures: dict[str, str] = {}  # run id -> why some of its metrics were lost

    @property
    def is_remote(self) -> bool:
        """A tracking server: workers on other machines reach its artifacts, not our files."""
        return is_server(self.tracking_uri)

    # ---- the study ---------------------------------------------------------------------------

    def start_study(
        self,
        study_name: str,
        previous_run_id: str | None,
        params: dict[str, Any],
        space_file: str | None,
        manifest: dict[str, Any],
    ) -> str:
        """Open the parent run (the one of an earlier, resumed session when it still exists)."""
        run = None
        if previous_run_id:
            try:
                run = self.client.get_run(previous_run_id)
            except Exception:
                run = None
        if run is None:
            run = self.client.create_run(
                self.experiment_id,
                run_name=study_name,
                tags={"automl.study": study_name, "automl.kind": "study"},
            )
            self.client.log_batch(
                run.info.run_id, params=[_param(k, v) for k, v in _flat_params(params).items()]
            )
            if space_file:
                self.client.log_artifact(run.info.run_id, space_file)
            self.client.log_dict(run.info.run_id, manifest, "data_manifest.json")
        else:
            self.client.update_run(run.info.run_id, status="RUNNING")
        self.parent_run_id = run.info.run_id
        objective = str(params.get("search.objective") or "val_loss")
        now = int(time.time() * 1000)
        self.client.set_experiment_tag(
            self.experiment_id,
            VIEW_TAG,
            json.dumps(
                {
                    "name": "automl trials",
                    "createdAt": now,
                    "updatedAt": now,
                    "state": json.dumps(runs_view(objective)),
                }
            ),
        )
        return self.parent_run_id

    def log_splits(
        self, run_id: str, splits: "Splits", source: str | None = None, test: bool = True
    ) -> None:
        """Log the splits as the run's MLflow datasets (the runs table's Dataset column):
        ``train``, ``validation`` and, unless ``test`` is False (trials never see it), ``test``.

        Args:
            run_id: the run that used them.
            splits: the arrays; their digests and schemas are computed once per process.
            source: where they come from (the split snapshot file, or its artifact URI).
            test: also log the held-out test split.
        """
        from mlflow.entities import DatasetInput, InputTag

        key = id(splits)
        if key not in self._datasets:
            self._datasets[key] = [
                (_dataset(name, x, y, source), context)
                for name, context, x, y in (
                    ("train", "training", splits.x_train, splits.y_train),
                    ("validation", "validation", splits.x_val, splits.y_val),
                    ("test", "testing", splits.x_test, splits.y_test),
                )
            ]
        inputs = [
            DatasetInput(entity, [InputTag("mlflow.data.context", context)])
            for entity, context in self._datasets[key]
            if test or context != "testing"
        ]
        self.client.log_inputs(run_id, datasets=inputs)

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
            f"attributes.status = 'RUNNING'",
        )
        closed = 0
        for run in runs:
            if run.info.run_id in live_run_ids:
                continue
            self.client.set_tag(
                run.info.run_id,
                "automl.fail_reason",
                reasons.get(run.info.run_id, "interrupted: the process running this trial stopped"),
            )
            self.client.set_terminated(run.info.run_id, status="KILLED")
            closed += 1
        return closed

    def end_study(self, status: str = "FINISHED") -> None:
        if self.parent_run_id:
            self.client.set_terminated(self.parent_run_id, status=status)

    # ---- trials ------------------------------------------------------------------------------

    def start_trial(
        self,
        number: int,
        params: dict[str, Any],
        config: dict[str, Any] | None = None,
        **tags: object,
    ) -> str:
        """A child run named ``trial-3 cnn`` (the number and the architecture branch).

        Args:
            number: the Optuna trial number.
            params: the sampled values (flat names), logged as the run's params.
            config: the resolved configuration the trial trains, logged as ``config.json``.
            tags: ``automl.<key>`` tags (None values are left out), e.g. ``worker_host``.
        """
        branch = params.get("model.architecture")
        name = f"trial-{number}" + (f" {branch}" if branch else "")
        run = self.client.create_run(
            self.experiment_id,
            run_name=name,
            tags={
                PARENT_TAG: self.parent_run_id,
                "automl.kind": "trial",
                "optuna.trial_number": str(number),
                "optuna.state": "RUNNING",
                **{f"automl.{k}": str(v) for k, v in tags.items() if v is not None},
            },
        )
        run_id = run.info.run_id
        self._names[run_id] = name
        self.client.log_batch(
            run_id, params=[_param(k, v) for k, v in _flat_params(params).items()]
        )
        if config is not None:
            self.client.log_text(run_id, json.dumps(config, indent=2, default=str), "config.json")
        return run_id

    def tag_trial(self, run_id: str, **tags: object) -> None:
        """``automl.<key>`` tags on a trial's run, in one call (None values are left out)."""
        from mlflow.entities import RunTag

        batch = [RunTag(f"automl.{k}", str(v)) for k, v in tags.items() if v is not None]
        if batch:
            self.client.log_batch(run_id, tags=batch)

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
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path=names[0],
            dst_path=str(folder / "downloaded"),
            tracking_uri=self.tracking_uri,
        )
        return Path(local)

    def log_metrics(
        self, run_id: str, metrics: dict[str, float], step: int | None = None, wait: bool = True
    ) -> None:
        """Log metrics in one batch (non-finite values are left out).

        Args:
            run_id: the run.
            metrics: name -> value, rounded to the digits a float32 has.
            step: the epoch (0 when None).
            wait: False queues the batch and returns at once (per-epoch metrics: training goes
                on while a background thread writes it); :meth:`end_trial` waits for what is
                queued. (MLflow's own asynchronous logging would cost each ended run a second:
                ``set_terminated`` stops its queue, which polls once a second.)
        """
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [
            Metric(k, _rounded(float(v)), now, step or 0)
            for k, v in metrics.items()
            if v is not None and math.isfinite(float(v))
        ]
        if not batch:
            return
        if wait:
            self.client.log_batch(run_id, metrics=batch)
            return
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_queued, daemon=True, name="automl-mlflow-metrics"
            )
            self._writer.start()
        self._queue.put((run_id, batch))

    def _write_queued(self) -> None:
        """The background thread: write queued batches, one at a time, in order."""
        while True:
            run_id, batch = self._queue.get()
            try:
                self.client.log_batch(run_id, metrics=batch)
            except Exception as error:  # reported by flush, never raised into training
                self._failures.setdefault(run_id, first_line(error))
            finally:
                self._queue.task_done()

    def flush(self, run_id: str) -> None:
        """Wait until the queued metrics are written; metrics of the run that could not be
        written are reported on stderr (the worker's log), not raised: a lost point of a
        curve never fails a trial."""
        self._queue.join()
        failure = self._failures.pop(run_id, None)
        if failure:
            print(
                f"automl: some per-epoch metrics of MLflow run {run_id} were not written "
                f"({failure})",
                file=sys.stderr,
            )

    def end_trial(
        self,
        run_id: str,
        state: str,
        reason: str | None = None,
        metrics: dict[str, float] | None = None,
        outcome: str | None = None,
    ) -> None:
        """Close a child run with its Optuna state (COMPLETE, PRUNED or FAIL); ``outcome``
        (``val_accuracy=0.9812``, ``pruned at epoch 4``, ``failed``) joins its name, so that the
        runs list reads at a glance."""
        from mlflow.entities import Metric, RunTag

        self.flush(run_id)
        tags = [RunTag("optuna.state", state)]
        if outcome:  # the run's name is its mlflow.runName tag
            name = self._names.pop(run_id, None) or self.client.get_run(run_id).info.run_name
            tags.append(RunTag("mlflow.runName", f"{name} {outcome}"))
        if reason:
            tags.append(RunTag("automl.fail_reason", reason[:5000]))
        now = int(time.time() * 1000)
        batch = [
            Metric(k, _rounded(float(v)), now, 0)
            for k, v in (metrics or {}).items()
            if v is not None and math.isfinite(float(v))
        ]
        self.client.log_batch(run_id, metrics=batch, tags=tags)
        self.client.set_terminated(run_id, status="FAILED" if state == "FAIL" else "FINISHED")

    # ---- selection and the winner ------------------------------------------------------------

    def log_selection(
        self, table: list[dict[str, Any]], winner: dict[str, Any], trial_runs: dict[int, str]
    ) -> None:
        """Record each candidate's test metrics and gap, and the winner, on the parent run."""
        parent = self._parent()
        for row in table:
            number = row["trial"]
            metrics = {f"test_{k}": v for k, v in row["test"].items()}
            metrics["generalization_gap"] = row["gap"]
            if number in trial_runs:
                self.log_metrics(trial_runs[number], metrics)
            self.log_metrics(
                parent,
                {
                    f"candidate_{number}_gap": row["gap"],
                    f"candidate_{number}_test": row["test_score"],
                },
            )
        self.log_metrics(
            parent,
            {
                "winner_val": winner["val_score"],
                "winner_test": winner["test_score"],
                **{f"winner_test_{k}": v for k, v in winner["test"].items()},
            },
        )
        self.client.set_tag(parent, "automl.winner_trial", str(winner["trial"]))
        if len(winner.get("members", [])) > 1:
            self.client.set_tag(
                parent, "automl.winner_ensemble", ",".join(map(str, winner["members"]))
            )
        self.client.set_tag(parent, "mlflow.note.content", leaderboard_markdown(table, winner))
        self.client.log_dict(parent, {"candidates": table, "winner": winner}, "selection.json")
        from automl.report.curves import log_learning_curves

        log_learning_curves(
            self.client,
            parent,
            {row["trial"]: trial_runs[row["trial"]] for row in table if row["trial"] in trial_runs},
            winner["trial"],
        )

    def log_artifacts(self, folder: Path, artifact_path: str) -> None:
        self.client.log_artifacts(self._parent(), str(folder), artifact_path)

    def _parent(self) -> str:
        """The parent run's id: :meth:`start_study` opened it before anything is logged there."""
        if self.parent_run_id is None:
            raise RuntimeError("no study run: call start_study first")
        return self.parent_run_id


def leaderboard_markdown(table: list[dict[str, Any]], winner: dict[str, Any]) -> str:
    """The parent run's description: the candidates on the test split, and the winner."""
    lines = ["| trial | validation | test | gap |", "|---|---|---|---|"]
    members = winner.get("members", [])
    for row in sorted(table, key=lambda r: r["test_score"], reverse=True):
        role = winner_role(row["trial"], winner["trial"], members)
        mark = f" **{role}**" if role == "winner" else f" {role}" if role else ""
        lines.append(
            f"| {row['trial']}{mark} | {row['val_score']:.4f} | {row['test_score']:.4f} "
            f"| {row['gap']:+.4f} |"
        )
    name = winner_name(winner["trial"], members)
    return (
        f"Winner: {name}, test {winner['test_score']:.4f} "
        f"(validation {winner['val_score']:.4f}).\n\nThe top trials by validation, each "
        f"evaluated once on the held-out test split:\n\n" + "\n".join(lines)
    )


def _param(key: str, value: str):
    from mlflow.entities import Param

    return Param(key, value)


def _dataset(name: str, x: Any, y: Any, source: str | None):
    """One split as an MLflow dataset entity: name, digest, schema and row count, where MLflow
    can describe the arrays (else name and source only)."""
    import numpy as np
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source import DatasetSource
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.data.numpy_dataset import from_numpy

    origin: DatasetSource = CodeDatasetSource({})
    if source:
        import warnings

        from mlflow.data.dataset_source_registry import resolve_dataset_source

        # MLflow warns that a file path "can be interpreted in multiple ways" (it registers the
        # local-file source twice) before picking the only one there is
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            origin = resolve_dataset_source(source)
    if isinstance(x, np.memmap):  # images streamed from disk: MLflow's digest would read it all
        return MetaDataset(origin, name=name)._to_mlflow_entity()  # type: ignore[abstract]
    try:
        features = (
            {k: np.asarray(v) for k, v in x.items()} if isinstance(x, dict) else np.asarray(x)
        )
        return from_numpy(
            features, source=origin, targets=np.asarray(y), name=name
        )._to_mlflow_entity()
    except Exception:  # arrays MLflow cannot describe (e.g. mixed objects)
        # MLflow's MetaDataset leaves Dataset.profile abstract in its annotations; Dataset is no
        # ABC, so it instantiates (and its profile is None)
        return MetaDataset(origin, name=name)._to_mlflow_entity()  # type: ignore[abstract]

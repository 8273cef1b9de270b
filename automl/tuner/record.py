"""A search's record: what automl keeps in an Optuna study's user attrs, in one place.

Three keys, each written and read only here:

- ``automl`` (:data:`SPEC`): a :class:`StudySpec`, written by ``automl search`` as it starts, so
  that any worker, on any machine, can join the study (the space, the split snapshot and its
  digest, the parent MLflow run).
- ``automl_hypermodel`` (:data:`PROJECT`): the settings of a project that
  :func:`automl.search_hypermodel` ran (no YAML space: the hypermodel declares its parameters).
- ``automl_selection`` (:data:`SELECTION`): the chosen winner, written when a search (or
  ``automl select``) has selected it: the candidates with their test metrics, the winner, its
  ``.keras`` file, its MLflow model, the data's task and the baselines. :func:`automl.load`
  rebuilds a result from it without retraining.

The storage itself stays plain Optuna: ``optuna-dashboard <storage>`` reads it.

Example:
    >>> publish(study, spec)            # the coordinator, at the start
    >>> read_spec(study).parent_run_id  # a worker joining
    >>> read_selection(study)["winner_trial"]
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.errors import DataError, UsageError
from automl.urls import redact

if TYPE_CHECKING:
    import optuna

    from automl.config import SpaceConfig
    from automl.selection import Selection

SPEC = "automl"
PROJECT = "automl_hypermodel"
SELECTION = "automl_selection"
BUDGET = "automl_training_ends"  # time.time() at which trials stop at an epoch boundary


# ---- the spec: how a worker joins -----------------------------------------------------------


@dataclass(frozen=True)
class StudySpec:
    space: dict[str, Any]  # {"tree": document, "file": path, "text": the file as written}
    splits_sha256: str
    snapshot: str  # the split snapshot on the coordinator's machine
    snapshot_artifact: str | None  # the same file in the MLflow artifact store (runs:/...)
    parent_run_id: str
    tracking_uri: str  # redacted: a worker given no --tracking-uri uses it if it can
    run_dir: str  # the coordinator's run folder (transfer bases, candidates)

    def config(self) -> "SpaceConfig":
        """The space as the coordinator validated it (the data-dependent parts come later)."""
        from automl.config import config_from_tree

        return config_from_tree(self.space["tree"], self.space.get("file"), self.space.get("text"))


def publish(study: "optuna.Study", spec: StudySpec) -> None:
    study.set_user_attr(SPEC, asdict(spec))


def read_spec(study: "optuna.Study") -> StudySpec:
    value = study.user_attrs.get(SPEC)
    if not isinstance(value, dict):
        raise UsageError(
            f"the study {study.study_name!r} was not started by automl search (it "
            f"has no automl settings); start it with automl search SPACE first"
        )
    return StudySpec(**value)


def spec_field(study: "optuna.Study", name: str) -> Any:
    """One field of the study's spec, or None when the study has none (yet)."""
    value = study.user_attrs.get(SPEC)
    return value.get(name) if isinstance(value, dict) else None


def check_same_data(study: "optuna.Study", sha256: str) -> None:
    """A study keeps its data: resuming it on other splits would mix incomparable trials."""
    recorded = spec_field(study, "splits_sha256")
    if recorded not in (None, sha256):
        raise DataError(
            f"the study {study.study_name!r} was searched on other data (split "
            f"sha256 {recorded[:12]}, now {sha256[:12]}); give the search another "
            f"name (--name {study.study_name}-2, or name: in a space file), or restore "
            f"the data"
        )


# ---- a hypermodel project's settings ---------------------------------------------------------


def write_project(
    study: "optuna.Study", cfg: "SpaceConfig", parent_run_id: str, sha256: str
) -> None:
    """Keep a :func:`automl.search_hypermodel` project's search settings (read back by
    :func:`project_config`)."""
    search = cfg.search
    study.set_user_attr(
        PROJECT,
        {
            "parent_run_id": parent_run_id,
            "splits_sha256": sha256,
            "objective": search.objective,
            "direction": search.direction,
            "sampler": search.sampler,
            "pruner": search.pruner,
            "trials": search.trials,
            "seed": search.seed,
            "max_consecutive_failures": search.max_consecutive_failures,
            "top_k": cfg.select.top_k,
            "validation": cfg.data.validation,
            "test": cfg.data.test,
            "holdout": cfg.data.holdout,
        },
    )


def read_project(study: "optuna.Study") -> dict[str, Any]:
    """The project's settings as :func:`write_project` kept them ({} for a new project)."""
    found = study.user_attrs.get(PROJECT)
    return found if isinstance(found, dict) else {}


def is_project(study: "optuna.Study") -> bool:
    return PROJECT in study.user_attrs


def project_space(
    name: str,
    objective: str,
    direction: str,
    trials: int,
    sampler: str,
    pruner: str,
    seed: int | None,
    max_failures: int,
    top_k: int,
    validation: float,
    test: float,
    has_test: bool,
    holdout: float | None = None,
) -> "SpaceConfig":
    """A :class:`SpaceConfig` for a hypermodel project: its search settings, and no YAML space
    (the hypermodel declares its parameters as it runs)."""
    from automl.config import DataConfig, SearchConfig, SelectConfig, SpaceConfig
    from automl.space import Group

    search = SearchConfig(
        sampler=sampler,
        pruner=pruner,
        trials=trials,
        objective=objective,
        direction=direction,
        objective_given=True,
        seed=seed,
        max_consecutive_failures=max_failures,
    )
    data = DataConfig(
        source="python",
        validation=validation,
        test="builtin" if has_test else test,
        holdout=holdout,
    )
    return SpaceConfig(
        name=name, data=data, search=search, select=SelectConfig(top_k=top_k), space=Group("")
    )


def project_config(study: "optuna.Study") -> "SpaceConfig":
    """The :class:`SpaceConfig` of a project that :func:`automl.search_hypermodel` ran, from
    its study (what ``automl.load`` needs besides the recorded selection).

    Example:
        >>> project_config(study).search.objective
        'val_accuracy'
    """
    found = read_project(study)
    if "objective" not in found:
        raise UsageError(f"the study {study.study_name!r} was not run by search_hypermodel")
    test = found.get("test", 0.2)
    return project_space(
        study.study_name,
        found["objective"],
        found["direction"],
        found["trials"],
        found["sampler"],
        found["pruner"],
        found["seed"],
        found["max_consecutive_failures"],
        found["top_k"],
        found["validation"],
        0.2 if test == "builtin" else test,
        has_test=test == "builtin",
        holdout=found.get("holdout"),
    )


def parent_run_id(study: "optuna.Study") -> str | None:
    """The MLflow parent run an earlier run of this study (search or project) started."""
    return spec_field(study, "parent_run_id") or read_project(study).get("parent_run_id")


# ---- the selection: the winner and its candidates ------------------------------------------


def record_selection(
    study: "optuna.Study",
    cfg: "SpaceConfig",
    task: str,
    modality: str,
    selection: "Selection",
    model_path: Path,
    mlflow_info: dict[str, str],
    report_dir: Path | None,
    baselines: Sequence[dict[str, Any]] = (),
) -> None:
    """Keep what :func:`automl.load` needs in the study's user attrs (JSON, passwords redacted).

    Args:
        task, modality: the data's (they decide the objective when the space left it out).
        selection: the evaluated candidates and the winner.
        model_path: the winner's ``.keras`` file.
        mlflow_info: tracking URI, parent run, registered model and version, as logged.
        report_dir: where the report was written, if it was.
        baselines: the simple models' scores (:func:`automl.baselines.fit_baselines`).
    """
    record = {
        "task": task,
        "modality": modality,
        "objective": cfg.search.objective,
        "candidates": selection.candidates,
        "winner_trial": selection.winner["trial"],
        "winner": selection.winner,
        "model_path": str(Path(model_path).resolve()),
        "mlflow": {k: redact(str(v)) for k, v in mlflow_info.items() if v is not None},
        "report_dir": str(Path(report_dir).resolve()) if report_dir else None,
        "baselines": list(baselines),
        "selected_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    study.set_user_attr(SELECTION, json.loads(json.dumps(record, default=plain_json)))


def read_selection(study: "optuna.Study") -> dict[str, Any]:
    """The recorded selection ({} before a winner is chosen)."""
    return study.user_attrs.get(SELECTION) or {}


def plain_json(value: Any) -> Any:
    """numpy scalars and paths as JSON values."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


# ---- any automl study -----------------------------------------------------------------------


def searched_config(study: "optuna.Study") -> "SpaceConfig":
    """The config of a study that automl.search or automl.search_hypermodel ran, fitted to its
    data as the search fitted it (see :func:`study_config`)."""
    if is_project(study):
        return project_config(study)
    return study_config(study)


def study_config(study: "optuna.Study") -> "SpaceConfig":
    """The space that ``automl search`` searched, fitted to its data as the search fitted it.

    The objective may depend on the data (``val_loss`` for a regression when the space names
    none); the data's task comes from the recorded selection or from the split snapshot's
    header, so the data is never loaded.
    """
    from automl.data.checks import fit_space
    from automl.data.facts import SourceFacts

    spec = read_spec(study)
    cfg = spec.config()
    record = read_selection(study)
    task, modality = record.get("task"), record.get("modality")
    if task is None:
        task, modality = _snapshot_task(Path(spec.snapshot))
    if task is None:  # no selection yet and the snapshot is elsewhere: the space as written
        return cfg
    return fit_space(cfg, SourceFacts(modality, task, has_test_split=True), check_classes=False)


def _snapshot_task(path: Path) -> tuple[str | None, str | None]:
    """(task, modality) from a split snapshot's header, without reading its arrays."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["__meta__"]))
        return meta.get("task"), meta.get("modality")
    except (OSError, ValueError, KeyError):
        return None, None


# ---- the budget ------------------------------------------------------------------------------


def set_training_end(study: "optuna.Study", ends_at: float | None) -> None:
    """Keep when trials must stop (``time.time()``), so that workers on any machine stop at
    the same time; None: no budget (a resumed search without one clears it)."""
    study.set_user_attr(BUDGET, ends_at)


def training_end(study: "optuna.Study") -> float | None:
    """When trials must stop at an epoch boundary (``time.time()``), or None."""
    value = study.user_attrs.get(BUDGET)
    return float(value) if value is not None else None

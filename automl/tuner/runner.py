"""One search, end to end: config -> data -> study -> trials -> selection -> export -> report.

:func:`search` is the Python API; the CLI's ``automl search`` calls it with the same arguments.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.config import SpaceConfig, load_space
from automl.errors import AutomlError
from automl.result import SearchResult
from automl.space import Choice, Fixed, Range

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_RUN_DIR = "automl-runs"
DEFAULT_REPORTS_DIR = "reports"
CHAMPION_ALIAS = "champion"


def search(space: str | Path | dict, *, data: Any = None, trials: int | None = None,
           timeout: str | float | None = None, sampler: str | None = None,
           pruner: str | None = None, seed: int | None = None,
           run_dir: str | Path = DEFAULT_RUN_DIR, tracking_uri: str | None = None,
           storage: str | None = None, reports_dir: str | Path | None = DEFAULT_REPORTS_DIR,
           progress: bool = True) -> SearchResult:
    """Run (or resume) the search a space file describes and return the winner.

    Args:
        space: a space file (``search_spaces/mnist1d.yaml``) or the same structure as a dict.
        data: the examples, instead of the space's ``data:`` source: ``(x, y)``,
            ``(x, y, x_test, y_test)``, a dict with those keys, a pandas DataFrame (its label
            column named by ``data.target`` in the space) or a ``tf.data.Dataset`` of (x, y).
        trials, timeout, sampler, pruner, seed: override the file's ``search:`` keys
            (``timeout`` as seconds or ``"90s"``, ``"10m"``, ``"1h"``).
        run_dir: the folder that holds the Optuna storage, the MLflow store and the candidate
            models. Running the same space again with the same folder resumes its study.
        tracking_uri: an MLflow tracking URI; by default an SQLite file in ``run_dir``.
        storage: an Optuna storage URL; by default an SQLite file in ``run_dir``.
        reports_dir: where ``<study>/`` with the summary, trials CSV and plots goes
            (None: no report).
        progress: show the progress display.

    Returns:
        A :class:`~automl.result.SearchResult`.

    Example:
        >>> import automl
        >>> result = automl.search("search_spaces/mnist1d.yaml", trials=20, timeout="10m")
        >>> result.test_metrics["accuracy"]
        0.97...
        >>> result.export("out/")
    """
    overrides = {"trials": trials, "timeout": timeout, "sampler": sampler, "pruner": pruner,
                 "seed": seed}
    cfg = load_space(space, overrides)
    return run_search(cfg, data=data, run_dir=Path(run_dir), tracking_uri=tracking_uri,
                      storage=storage,
                      reports_dir=Path(reports_dir) if reports_dir is not None else None,
                      progress=progress)


def resolve_study_bases(cfg: SpaceConfig, run_dir: Path) -> SpaceConfig:
    """Transfer bases named ``study:NAME`` -> the path of that study's winner in ``run_dir``."""
    import copy

    from automl.errors import ConfigError
    from automl.models.transfer import resolve_base_path
    from automl.space import Branch

    arch = cfg.space.children["model"].get("architecture")
    if not isinstance(arch, Branch) or "transfer" not in arch.options:
        return cfg
    cfg = copy.deepcopy(cfg)
    option = cfg.space.children["model"].children["architecture"].options["transfer"]
    base = option.get("base")
    check_pretrained_weights(option)
    if isinstance(base, Fixed) and str(base.value).startswith("study:"):
        path = resolve_base_path(str(base.value), run_dir)
        if not path.is_file():
            raise ConfigError(f"the study {base.value[6:]!r} has no winner in {run_dir} yet; run "
                              f"its search first (automl search <its space> --run-dir {run_dir})",
                              file=cfg.file, key=base.path)
        base.value = str(path.resolve())
    return cfg


def check_pretrained_weights(option) -> None:
    """ImageNet weights must already be in the Keras cache: find out now, not in every trial."""
    from automl.models.transfer import MIN_APPLICATION_SIZE, no_downloads, resolve_base_path

    base, weights = option.get("base"), option.get("weights")
    names = [str(v) for v in base.possible_values()] if base is not None else []
    wanted = weights.possible_values() if weights is not None else ["imagenet"]
    if "imagenet" not in wanted:
        return
    for name in names:
        if resolve_base_path(name) is None:  # a Keras Applications network
            import keras

            with no_downloads():  # raises NetworkRequired, saying which file is missing
                getattr(keras.applications, name)(
                    include_top=False, weights="imagenet",
                    input_shape=(MIN_APPLICATION_SIZE, MIN_APPLICATION_SIZE, 3))
            keras.backend.clear_session()


def max_epochs(cfg: SpaceConfig) -> int:
    """The most epochs any trial can run (the pruners' resource budget)."""
    from automl.training.fit import DEFAULT_EPOCHS

    node = cfg.space.children["training"].get("epochs")
    if isinstance(node, Range):
        return int(node.high)
    if isinstance(node, (Fixed, Choice)):
        return int(max(node.possible_values()))
    return DEFAULT_EPOCHS


def study_settings(cfg: SpaceConfig) -> dict[str, Any]:
    """The parent run's params: how the study searches, and on what data."""
    s, d = cfg.search, cfg.data
    return {"search.sampler": s.sampler, "search.pruner": s.pruner, "search.trials": s.trials,
            "search.timeout_s": s.timeout, "search.objective": s.objective,
            "search.direction": s.direction, "search.seed": s.seed,
            "select.top_k": cfg.select.top_k, "data.source": d.source,
            "data.path": d.path, "data.target": d.target, "data.validation": d.validation,
            "data.test": d.test, "data.seed": d.seed,
            "space.size": cfg.space.size(), "space.dimensions": len(cfg.describe())}


def quiet_libraries() -> None:
    """Keep the terminal for the progress display: libraries log warnings and errors only."""
    import logging
    import os
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", module="(mlflow|optuna|keras|tensorflow).*")
    for name in ("optuna", "mlflow", "absl", "tensorflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def run_search(cfg: SpaceConfig, *, data: Any = None, run_dir: Path,
               tracking_uri: str | None = None,
               storage: str | None = None, reports_dir: Path | None = None,
               progress: bool = True) -> SearchResult:
    """Run the search of an already validated config (see :func:`search`)."""
    quiet_libraries()
    from automl.data import load_source, make_splits
    from automl.data.checks import fit_space_to_data
    from automl.tuner.progress import SearchProgress
    from automl.tuner.study import (default_storage_url, finished_trials, open_study,
                                     recover_interrupted)
    from automl.tuner.worker import WorkerJob, run_in_workers
    from automl.tracking import Tracker, default_tracking_uri

    cfg = resolve_study_bases(cfg, run_dir)
    # data first: a data problem stops the search before anything is written
    arrays = load_source(cfg.data, python_data=data)
    cfg = fit_space_to_data(cfg, arrays)
    splits = make_splits(arrays, cfg.data)
    run_dir.mkdir(parents=True, exist_ok=True)
    study_dir = run_dir / cfg.name

    epochs = max_epochs(cfg)
    storage_url = storage or default_storage_url(run_dir)
    study = open_study(cfg.name, storage_url, cfg.search, epochs, cfg.space)
    recover_interrupted(study)
    if not study.trials:
        for params in cfg.search.enqueue:
            study.enqueue_trial(params)

    tracker = Tracker(tracking_uri or default_tracking_uri(run_dir), cfg.name,
                      run_dir / "mlartifacts")
    parent = tracker.start_study(cfg.name, study.user_attrs.get("mlflow_parent_run_id"),
                                 study_settings(cfg), cfg.file, splits.manifest())
    study.set_user_attr("mlflow_parent_run_id", parent)

    def next_job(batch: int, seconds_left: float | None) -> WorkerJob | None:
        remaining = cfg.search.trials - finished_trials(study)
        if remaining <= 0:
            return None
        seed = None if cfg.search.seed is None else cfg.search.seed + len(study.trials)
        return WorkerJob(cfg, splits, storage_url, tracker.tracking_uri,
                         str(run_dir / "mlartifacts"), parent, str(study_dir / "candidates"),
                         min(batch, remaining), seconds_left, seed)

    display = SearchProgress(cfg.search.trials, finished_trials(study), cfg.search.objective,
                             epochs, cfg.search.direction == "maximize", progress)
    try:
        with display:
            finished = run_in_workers(next_job, display.on_event,
                                      lambda: recover_interrupted(study), cfg.search.timeout)
    except AutomlError:
        tracker.end_study("FAILED")
        raise
    if not finished:
        print("interrupted: choosing the winner among the trials finished so far")
    return finish_search(cfg, study, splits, tracker, study_dir, reports_dir)


def finish_search(cfg: SpaceConfig, study, splits, tracker, study_dir: Path,
                  reports_dir: Path | None) -> SearchResult:
    """The top-K trials on the test split, the winner saved, logged, registered, reported."""
    from automl.data.base import take
    from automl.selection import select_winner

    selection = select_winner(study, splits, study_dir / "candidates", cfg.select.top_k,
                              cfg.test_metric)
    winner_path = study_dir / "winner.keras"
    shutil.copyfile(selection.model_path, winner_path)
    trial_runs = {t.number: t.user_attrs["mlflow_run_id"] for t in study.trials
                  if "mlflow_run_id" in t.user_attrs}
    tracker.log_selection(selection.candidates, selection.winner, trial_runs)
    example = take(splits.x_val, np.arange(min(5, len(splits.y_val))))
    mlflow_info = tracker.log_winner_model(selection.model, example, cfg.name, CHAMPION_ALIAS)
    mlflow_info.update({"tracking_uri": tracker.tracking_uri,
                        "parent_run_id": tracker.parent_run_id,
                        "experiment_id": tracker.experiment_id})

    winner = selection.winner
    result = SearchResult(
        study_name=cfg.name, best_params=winner["params"], winner_trial=winner["trial"],
        val_metrics={cfg.search.objective: winner["val_score"]},
        test_metrics=winner["test"], candidates=candidates_frame(selection.candidates),
        trials=trials_frame(study, selection.candidates, cfg), model_path=winner_path,
        mlflow=mlflow_info, _model=selection.model)
    if reports_dir is not None:
        from automl.report import write_report

        result.report_dir = write_report(result, study, cfg, reports_dir / cfg.name)
        tracker.log_artifacts(result.report_dir, "report")
    tracker.end_study()
    return result


def candidates_frame(rows: list[dict[str, Any]]) -> "pd.DataFrame":
    import pandas as pd

    frame = pd.DataFrame([{"trial": r["trial"], "val": r["val_score"], "test": r["test_score"],
                           "gap": r["gap"]} for r in rows])
    return frame.sort_values("test", ascending=False).reset_index(drop=True)


def trials_frame(study, candidates: list[dict[str, Any]], cfg: SpaceConfig) -> "pd.DataFrame":
    """One row per trial: number, state, objective, test metric (candidates), params, duration."""
    frame = study.trials_dataframe(attrs=("number", "state", "value", "duration", "params",
                                          "user_attrs"))
    if frame.empty:
        return frame
    names = cfg.search.objective_names
    frame = frame.rename(columns={"value": names[0],
                                  **{f"values_{i}": name for i, name in enumerate(names)}})
    tests = {r["trial"]: r["test_score"] for r in candidates}
    frame.insert(3, f"test_{cfg.test_metric}", frame["number"].map(tests).astype(float))
    frame["duration"] = frame["duration"].dt.total_seconds()
    frame = frame.drop(columns=["user_attrs_seconds"] + [f"user_attrs_{n}" for n in names],
                       errors="ignore")  # the same figures as columns of their own
    frame = frame.rename(columns={"duration": "seconds"})
    frame.columns = [c.removeprefix("user_attrs_") for c in frame.columns]
    return frame

"""``search_hypermodel``: a KerasTuner hypermodel searched the automl way, and its winner chosen
with the user's own compile settings."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.defaults import DEFAULT_REPORTS_DIR
from automl.errors import AutomlError, DataError, UsageError
from automl.hypermodel.data import HypermodelData, prepare_data
from automl.hypermodel.maker import HP_VALUES_ATTR, HypermodelMaker, built_model
from automl.hypermodel.vocabulary import (
    FunctionHyperModel,
    HyperParameters,
    as_hypermodel,
    objective_of,
)

if TYPE_CHECKING:
    import optuna

    from automl.config import SpaceConfig
    from automl.result import SearchResult
    from automl.tracking.tracker import Tracker

# ---- the search ------------------------------------------------------------------------------


def search_hypermodel(
    hypermodel: Any,
    data: Any = None,
    *,
    objective: Any = None,
    max_trials: int = 10,
    executions_per_trial: int = 1,
    directory: str | Path | None = None,
    project_name: str = "untitled_project",
    overwrite: bool = False,
    max_consecutive_failed_trials: int = 3,
    validation_data: Any = None,
    validation_split: float = 0.1,
    test_split: float = 0.2,
    holdout_split: float | None = None,
    top_k: int = 5,
    sampler: str = "tpe",
    pruner: str = "median",
    seed: int | None = 0,
    timeout: float | None = None,
    tracking_uri: str | None = None,
    storage: str | None = None,
    reports_dir: str | Path | None = DEFAULT_REPORTS_DIR,
    progress: bool = True,
    **fit_kwargs: Any,
) -> "SearchResult":
    """Search a KerasTuner-style hypermodel with automl's study, tracking, pruning and selection.

    Trials run in this process, one after another (a ``build_model`` defined in a notebook or
    script cannot be imported by worker processes).

    Args:
        hypermodel: ``build_model(hp)`` returning a compiled Keras model, or a hypermodel
            object with ``build(hp)`` and optionally ``fit(hp, model, *args, **kwargs)`` (a
            ``kt.HyperModel`` subclass, or :class:`HyperModel`).
        data: ``(x, y)``, ``(x, y, x_test, y_test)`` or a dict with those keys. Labels reach
            ``fit`` and ``evaluate`` as given (one-hot or class numbers).
        objective: a logged metric (``"val_accuracy"``), ``kt.Objective(name, "min"|"max")``,
            or None to minimize the float that ``fit`` returns (KerasTuner's default).
        max_trials: trials in the study in all, counting those of earlier runs it resumes.
        executions_per_trial: models trained per trial; the trial's value is their mean.
        directory, project_name: the study, its candidates and winner live in
            ``directory/project_name`` (``directory`` defaults to ``automl-runs``, whose
            ``mlflow.db`` is the default tracking store); the study is named ``project_name``.
        overwrite: start the project again; otherwise an existing one resumes.
        max_consecutive_failed_trials: stop the search when this many trials in a row fail.
        validation_data: ``(x_val, y_val)``; otherwise ``validation_split`` of the training
            examples (stratified by class) validates.
        test_split: the fraction held out to choose the winner when ``data`` has no test part.
        holdout_split: a fraction of the examples that neither the search nor the selection
            sees (as ``data.split.holdout``); the winner is evaluated on it once
            (``result.holdout_metrics``): the estimate free of the selection's optimism.
        top_k: how many of the best trials by validation are evaluated on the test split.
        sampler, pruner, seed, timeout, tracking_uri, storage, reports_dir, progress: as in
            :func:`automl.search` (``timeout`` in seconds).
        **fit_kwargs: passed to ``fit`` in every execution, as ``tuner.search`` passes them
            (``epochs``, ``batch_size``, ``callbacks`` ...; ``verbose`` defaults to 0).

    Returns:
        A :class:`~automl.result.SearchResult`: ``best_params`` by KerasTuner's names, the
        winner's test metrics, ``model``, ``export()``.

    Example:
        >>> result = automl.search_hypermodel(build_model, data=(x, y), objective="val_accuracy",
        ...                                   max_trials=20, epochs=10, project_name="helloworld")
        >>> result.model.predict(x[:5])
        >>> result.export("out/")
    """
    from automl.defaults import DEFAULT_RUN_DIR
    from automl.registry import PRUNERS, SAMPLERS
    from automl.tuner.quiet import import_tensorflow_quietly, quiet_libraries
    from automl.tuner.record import project_space

    quiet_libraries()
    hypermodel = as_hypermodel(hypermodel)
    objective_name, direction = objective_of(objective)
    for name, value in (
        ("max_trials", max_trials),
        ("executions_per_trial", executions_per_trial),
        ("max_consecutive_failed_trials", max_consecutive_failed_trials),
        ("top_k", top_k),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{name} must be a whole number of at least 1; found {value!r}")
    if sampler not in SAMPLERS or sampler == "grid":
        raise UsageError(
            f"sampler: choose from {', '.join(sorted(set(SAMPLERS) - {'grid'}))} (a grid "
            f"needs the space before the first trial, which build_model only "
            f"declares as it runs); found {sampler!r}"
        )
    if pruner not in PRUNERS:
        raise UsageError(f"pruner: choose from {', '.join(sorted(PRUNERS))}; found {pruner!r}")
    if data is None and "x" in fit_kwargs:  # tuner.search(x=..., y=...) spelled that way
        data = (fit_kwargs.pop("x"), fit_kwargs.pop("y", None))
    fit_kwargs.setdefault("verbose", 0)
    prepared = prepare_data(
        data, validation_data, validation_split, test_split, seed or 0, holdout_split
    )

    import_tensorflow_quietly()
    _dry_build(hypermodel)
    run_dir = Path(directory if directory is not None else DEFAULT_RUN_DIR)
    project = run_dir / project_name
    if overwrite and project.exists():
        shutil.rmtree(project)
    cfg = project_space(
        project_name,
        objective_name,
        direction,
        max_trials,
        sampler,
        pruner,
        seed,
        max_consecutive_failed_trials,
        top_k,
        validation_split,
        test_split,
        has_test=data_has_test(data),
        holdout=holdout_split,
    )
    return _run(
        cfg,
        hypermodel,
        prepared,
        fit_kwargs,
        executions=executions_per_trial,
        run_dir=run_dir,
        project=project,
        overwrite=overwrite,
        timeout=timeout,
        tracking_uri=tracking_uri,
        storage=storage,
        reports_dir=Path(reports_dir) if reports_dir else None,
        progress=progress,
    )


def data_has_test(data: Any) -> bool:
    """Whether ``data`` brought its own test part (``(x, y, x_test, y_test)`` or the keys)."""
    if isinstance(data, dict):
        return data.get("x_test") is not None
    return isinstance(data, (tuple, list)) and len(data) == 4


def _dry_build(hypermodel: Any) -> None:
    """Build once with every parameter at its default, before the study starts: a hypermodel
    that cannot build at all gets one message now, not a column of failed trials."""
    import keras

    try:
        built_model(hypermodel, HyperParameters())
    except UsageError:
        raise
    except Exception as error:
        from automl.tuner.trial import short_reason

        raise UsageError(
            f"build(hp) fails with every hyperparameter at its default, before any "
            f"trial: {short_reason(error)}"
        ) from error
    finally:
        keras.backend.clear_session()


def _run(
    cfg: "SpaceConfig",
    hypermodel: Any,
    data: HypermodelData,
    fit_kwargs: dict[str, Any],
    *,
    executions: int,
    run_dir: Path,
    project: Path,
    overwrite: bool,
    timeout: float | None,
    tracking_uri: str | None,
    storage: str | None,
    reports_dir: Path | None,
    progress: bool,
) -> "SearchResult":
    """Open (or resume) the study and the parent run, run the trials here, choose the winner."""
    from automl.data.snapshot import digest
    from automl.tracking.store import default_tracking_uri
    from automl.tracking.tracker import Tracker
    from automl.tuner.record import read_project, write_project
    from automl.tuner.runner import after_interrupt, resume, study_settings, train_here
    from automl.tuner.study import open_storage, open_study
    from automl.tuner.trial import TrialLifecycle

    search = cfg.search
    epochs = int(fit_kwargs.get("epochs", 1))
    storage_url = storage or str((project / "optuna.journal").resolve())
    store = open_storage(storage_url, search.max_retries, create=True)
    if overwrite and optuna_trials(store, cfg.name) is not None:  # a database keeps it: delete
        import optuna

        optuna.delete_study(study_name=cfg.name, storage=store)
    known = len(optuna_trials(store, cfg.name) or [])
    try:
        study = open_study(
            cfg.name,
            store,
            storage_url,
            search,
            epochs,
            seed=None if search.seed is None else search.seed + known,
        )
    except UsageError as error:
        raise UsageError(
            f"{error} (for a hypermodel: pass overwrite=True to start the project "
            f"again, or another project_name)"
        ) from None
    sha256 = digest(data.splits)
    settings = read_project(study)
    _check_same_project(cfg, settings, sha256)

    tracker = Tracker(
        tracking_uri or default_tracking_uri(run_dir), cfg.name, run_dir / "mlartifacts"
    )
    params = {
        **study_settings(cfg),
        "data.source": "python (search_hypermodel)",
        "hypermodel": type(hypermodel).__name__
        if not isinstance(hypermodel, FunctionHyperModel)
        else hypermodel.name,
        "executions_per_trial": executions,
        **{f"fit.{k}": v for k, v in fit_kwargs.items() if k != "callbacks"},
    }
    params = {k: v for k, v in params.items() if not k.startswith("space.")}
    parent = tracker.start_study(
        cfg.name,
        settings.get("parent_run_id"),
        params,
        None,
        {**data.splits.manifest(), "splits_sha256": sha256},
    )
    write_project(study, cfg, parent, sha256)
    display = resume(study, store, search, epochs, progress, timeout)
    maker = HypermodelMaker(
        hypermodel,
        data,
        fit_kwargs,
        objective=search.objective,
        direction=search.direction,
        executions=executions,
        seed=search.seed,
    )
    lifecycle = TrialLifecycle(
        maker,
        tracker,
        project / "candidates",
        objective=search.objective,
        direction=search.direction,
        top_k=cfg.select.top_k,
        on_epoch=display.on_epoch,
    )
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        with display:  # one trial after another in this process, as a worker runs them
            finished = train_here(
                study, store, search, lifecycle, tracker, display.on_event, None, deadline
            )
    except AutomlError:
        tracker.end_study("FAILED")
        raise
    if not finished:
        after_interrupt(study, tracker)
    return finish_hypermodel_search(
        cfg,
        study,
        data,
        tracker,
        project,
        reports_dir,
        hypermodel,
        batch_size=fit_kwargs.get("batch_size"),
    )


def optuna_trials(storage: Any, name: str) -> list | None:
    """The trials a storage holds for the study ``name`` (None: it has no such study)."""
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return None
    return storage.get_all_trials(study_id, deepcopy=False)


def _check_same_project(cfg: "SpaceConfig", settings: dict[str, Any], sha256: str) -> None:
    """A resumed project keeps its objective and its data, or its trials would not compare."""
    if not settings:
        return
    hint = "pass overwrite=True to start the project again, or another project_name"
    if settings.get("objective") != cfg.search.objective:
        raise UsageError(
            f"the project {cfg.name!r} was searched for {settings.get('objective')!r}"
            f", not {cfg.search.objective!r}; {hint}"
        )
    if settings.get("splits_sha256") not in (None, sha256):
        raise DataError(
            f"the project {cfg.name!r} was searched on other data (split sha256 "
            f"{settings['splits_sha256'][:12]}, now {sha256[:12]}); {hint}"
        )


# ---- choosing the winner ---------------------------------------------------------------------


def finish_hypermodel_search(
    cfg: "SpaceConfig",
    study: "optuna.Study",
    data: HypermodelData,
    tracker: "Tracker",
    project: Path,
    reports_dir: Path | None,
    hypermodel: Any,
    batch_size: int | None = None,
) -> "SearchResult":
    """The top-K trials on the test split, the winner saved, logged, registered, reported.

    As ``automl.tuner.conclude.finish_search``, except that each candidate is evaluated with the
    user's own compile settings on the test labels as the user gave them; what follows the
    choice is :func:`automl.tuner.conclude.conclude_search`, the same for both.
    """
    from automl.data.base import take
    from automl.selection import Selection, top_trials
    from automl.tuner.conclude import conclude_search, trial_runs
    from automl.tuner.trial import candidate_path

    trials = study.get_trials(deepcopy=False)
    runs = trial_runs(trials, tracker)
    maximize = cfg.search.direction == "maximize"
    metric = cfg.test_metric
    rows, models = [], {}
    for trial in top_trials(study, cfg.select.top_k):
        path = candidate_path(project / "candidates", trial.number)
        if not path.exists():  # e.g. the folder was cleaned by hand
            continue
        model = _load_candidate(path, trial, hypermodel, data)
        results = model.evaluate(
            data.x_test, data.y_test, batch_size=batch_size, verbose=0, return_dict=True
        )
        test = {k: float(v) for k, v in results.items()}
        val_score = float(trial.values[0])
        test_score = test.get(metric, math.nan)  # a custom objective may have no test twin
        rows.append(
            {
                "trial": trial.number,
                "val_score": val_score,
                "test_score": test_score,
                "gap": val_score - test_score,
                "test": test,
                "params": trial.user_attrs.get(HP_VALUES_ATTR, dict(trial.params)),
            }
        )
        models[trial.number] = (model, path)
    if not rows:
        tracker.end_study("FAILED")
        raise AutomlError(
            "no trial completed with a saved model, so there is no winner; look "
            "at the failed trials' reasons in the MLflow UI or result.trials"
        )

    def rank(row: dict[str, Any]) -> tuple[float, float]:
        # best test score wins (none: best validation); the better validation breaks ties
        sign = 1 if maximize else -1
        test = row["test_score"]
        return (sign * test if math.isfinite(test) else -math.inf, sign * row["val_score"])

    winner = max(rows, key=rank)
    model, path = models[winner["trial"]]
    winner["holdout"] = {}
    if data.y_holdout is not None:  # once, the estimate no selection step has seen
        winner["holdout"] = {
            k: float(v)
            for k, v in model.evaluate(
                data.splits.x_holdout,
                data.y_holdout,
                batch_size=batch_size,
                verbose=0,
                return_dict=True,
            ).items()
        }
    selection = Selection(rows, winner, model, path)
    winner_path = project / "winner.keras"
    model = _with_input(model, take(data.x_test, np.arange(1)))
    model.save(winner_path)
    return conclude_search(
        cfg,
        study,
        data.splits,
        tracker,
        selection,
        runs,
        winner_path,
        model,
        reports_dir,
        report=metric in winner["test"],
    )


def _load_candidate(
    path: Path, trial: "optuna.trial.FrozenTrial", hypermodel: Any, data: HypermodelData
) -> Any:
    """A candidate's model from its file; one that Keras will not load as a whole (a Lambda
    layer, a custom layer not registered) is built again from its values and given the
    file's weights, as KerasTuner rebuilds its best models."""
    import keras
    from optuna.trial import FixedTrial

    from automl.data.base import take

    try:
        return keras.saving.load_model(path)
    except Exception:
        model = built_model(hypermodel, HyperParameters(FixedTrial(dict(trial.params))))
        if not model.built:  # a Sequential without an Input: build it on one example
            model(take(data.x_test, np.arange(1)))
        model.load_weights(path)
        return model


def _with_input(model: Any, example: Any) -> Any:
    """``model``, or where ``model.input`` is undefined (a ``Sequential``: KerasTuner's docs
    build those, often without an ``Input``) a functional model of the same layers and weights
    behind an ``Input``, compiled as the user compiled it: exporting, serving and MLflow's
    signature read ``model.input``.

    ``example``: one example, for the input's shape.
    """
    import keras

    try:
        _ = model.input  # raises where the model has no input yet
        return model
    except (AttributeError, ValueError):
        pass
    if isinstance(example, dict):
        return model
    example = np.asarray(example)
    inputs = keras.Input(
        shape=example.shape[1:],
        name="inputs",
        dtype=None if example.dtype.kind == "f" else str(example.dtype),
    )
    try:
        if isinstance(model, keras.Sequential):  # the same layers, as a functional model
            outputs = inputs
            for layer in model.layers:
                outputs = layer(outputs)
        else:
            outputs = model(inputs)
        wrapped = keras.Model(inputs, outputs, name=model.name)
        wrapped.compile_from_config(model.get_compile_config())
    except Exception:  # a model that will not take an Input: saved as the user built it
        return model
    return wrapped

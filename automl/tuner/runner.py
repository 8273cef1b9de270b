"""One search, end to end: config -> data -> study -> trials -> selection -> export -> report.

:func:`search` is the Python API; the CLI's ``automl search`` calls it with the same arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from automl.config import SpaceConfig, load_space
from automl.defaults import DEFAULT_REPORTS_DIR, DEFAULT_RUN_DIR
from automl.errors import AutomlError, UsageError
from automl.result import SearchResult
from automl.tuner.quiet import quiet_libraries
from automl.tuner.study import default_storage_url
from automl.urls import redact


def search(
    space: str | Path | dict | None = None,
    *,
    data: Any = None,
    target: str | None = None,
    task: str | None = None,
    metric: str | None = None,
    name: str | None = None,
    test: str | Path | None = None,
    budget: str | float | None = None,
    trials: int | None = None,
    timeout: str | float | None = None,
    sampler: str | None = None,
    pruner: str | None = None,
    seed: int | None = None,
    workers: int | str | None = None,
    run_dir: str | Path = DEFAULT_RUN_DIR,
    tracking_uri: str | None = None,
    storage: str | None = None,
    reports_dir: str | Path | None = DEFAULT_REPORTS_DIR,
    progress: bool = True,
) -> SearchResult:
    """Run (or resume, or join) a search and return the winner: the search a space file
    describes, or, without one, a search straight from ``data`` whose space is decided from
    the data's facts (the zero-config search: see :mod:`automl.zero_config`).

    Trials run in worker processes (``python -m automl worker``), never by re-importing the
    calling script, so this works from a script without a main guard, from stdin, from
    ``python -c`` and from a notebook alike.

    Args:
        space: a space file (``search_spaces/mnist1d.yaml``) or the same structure as a dict;
            None (or a data file or folder in its place) for a zero-config search of ``data``.
        data: the examples. With a space: instead of its ``data:`` source, ``(x, y)``,
            ``(x, y, x_test, y_test)``, a dict with those keys, a pandas DataFrame (its label
            column named by ``data.target`` in the space) or a ``tf.data.Dataset`` of (x, y).
            Without one: also a path (a CSV or Parquet file, a folder of images with one
            sub-folder per class, an ``.npz``).
        target, task, metric, name, test, budget: the zero-config search's settings: the
            label column, ``classification`` or ``regression`` over the inferred task,
            ``accuracy``/``loss``/``mae`` to optimize, the study's name (default: the file's),
            a test file to score the winner on, how long to start trials (default ``"10m"``).
        trials, timeout, sampler, pruner, seed, workers: override the file's ``search:`` keys
            (``timeout`` as seconds or ``"90s"``, ``"10m"``, ``"1h"``; ``workers`` as a number
            of processes on this machine or ``"auto"``).
        run_dir: the folder that holds the Optuna storage, the MLflow store and the candidate
            models. Running the same space again with the same folder resumes its study.
        tracking_uri: an MLflow tracking URI; by default an SQLite file in ``run_dir``.
        storage: an Optuna storage: a journal file path or a database URL; by default
            ``run_dir/optuna.journal``.
        reports_dir: where ``<study>/`` with the summary, trials CSV and plots goes
            (None: no report).
        progress: show the progress display (and a zero-config search's plan).

    Returns:
        A :class:`~automl.result.SearchResult`.

    Example:
        >>> import automl
        >>> result = automl.search("search_spaces/mnist1d.yaml", trials=20, timeout="10m")
        >>> result.test_metrics["accuracy"]
        0.97...
        >>> result = automl.search(data="churn.csv", target="churn", budget="5m")
        >>> result.export("out/")
    """
    overrides = {
        "trials": trials,
        "timeout": timeout,
        "sampler": sampler,
        "pruner": pruner,
        "seed": seed,
        "workers": workers,
    }
    from automl.zero_config import is_data_path

    zero = space is None or (not isinstance(space, dict) and is_data_path(space))
    settings = {"target": target, "task": task, "metric": metric, "name": name, "test": test}
    if not zero:
        overrides["budget"] = budget
        given = [key for key, value in settings.items() if value is not None]
        if given:
            raise UsageError(
                f"{', '.join(given)}: only for a search straight from data; a space file "
                f"sets them in its data: and search: sections"
            )
        assert space is not None  # else zero
        cfg = load_space(space, overrides)
    else:
        if space is not None and data is not None:
            raise UsageError(
                "give the data once: automl.search(data=...) or automl.search(path), not both"
            )
        cfg, data = space_from_data(
            space if space is not None else data,
            run_dir=Path(run_dir),
            budget=budget,
            overrides=overrides,
            progress=progress,
            **settings,
        )
    return run_search(
        cfg,
        data=data,
        run_dir=Path(run_dir),
        tracking_uri=tracking_uri,
        storage=storage,
        reports_dir=Path(reports_dir) if reports_dir is not None else None,
        progress=progress,
    )


def space_from_data(
    data: Any,
    *,
    run_dir: Path,
    budget: str | float | None,
    overrides: dict[str, Any],
    progress: bool,
    **settings: Any,
) -> tuple[SpaceConfig, Any]:
    """A zero-config search's config: the plan for ``data``, printed, its space written to
    ``run_dir/<study>/space.yaml`` (logged with the parent run, as a space file is) and read
    back; and the data to pass the search (None: the space names the file)."""
    from automl.zero_config import DEFAULT_BUDGET, plan_search, space_yaml

    seed = overrides.get("seed")
    plan = plan_search(
        data,
        budget=budget if budget is not None else DEFAULT_BUDGET,
        seed=0 if seed is None else seed,
        **settings,
    )
    folder = run_dir / plan.tree["name"]
    folder.mkdir(parents=True, exist_ok=True)
    from automl.config.records import FILE_SOURCES

    for key in FILE_SOURCES:  # the stored file names its data wherever
        if key in plan.tree["data"]:
            plan.tree["data"][key] = str(Path(plan.tree["data"][key]).resolve())
    test = plan.tree["data"].get("split", {}).get("test")
    if isinstance(test, str):
        plan.tree["data"]["split"]["test"] = str(Path(test).resolve())
    path = folder / "space.yaml"
    path.write_text(space_yaml(plan, "a zero-config search (automl search DATA)"), encoding="utf-8")
    if progress:
        print(f"plan for {plan.tree['name']!r} (its space: {path}):")
        for line in plan.lines():
            print(f"  {line}")
    return load_space(path, overrides), plan.python_data


def select(
    study: str,
    *,
    storage: str | None = None,
    tracking_uri: str | None = None,
    run_dir: str | Path = DEFAULT_RUN_DIR,
    reports_dir: str | Path | None = DEFAULT_REPORTS_DIR,
) -> SearchResult:
    """Choose, register and report the winner of a study whose workers ran elsewhere.

    The same as the end of :func:`search`: the top-K trials by validation are evaluated once on
    the held-out test split. Candidate models come from ``run_dir`` or, for trials run on other
    machines, from the MLflow artifact store.

    Example:
        >>> automl.select("mnist1d", storage="postgresql://automl@db/optuna",
        ...               tracking_uri="http://mlflow:5000")
    """
    from automl.tracking.tracker import Tracker
    from automl.tuner.handoff import join_study

    run_dir = Path(run_dir)
    joined = join_study(study, storage or default_storage_url(run_dir), tracking_uri, run_dir)
    tracker = Tracker(joined.tracking_uri, joined.cfg.name)
    tracker.parent_run_id = joined.spec.parent_run_id
    from automl.tuner.conclude import finish_search

    return finish_search(
        joined.cfg,
        joined.study,
        joined.splits,
        tracker,
        run_dir / joined.cfg.name,
        Path(reports_dir) if reports_dir is not None else None,
    )


def rerun(
    study: str,
    trial: int,
    *,
    storage: str | None = None,
    tracking_uri: str | None = None,
    run_dir: str | Path = DEFAULT_RUN_DIR,
) -> dict[str, Any]:
    """Train one recorded trial again, from its parameters and seed, in this process.

    Returns:
        ``{"trial", "objective", "recorded", "rerun", "difference"}``: the validation objective
        the study recorded and the one this run reached.

    Example:
        >>> automl.rerun("mnist1d", 3)["difference"]
        0.0
    """
    quiet_libraries()
    from optuna.trial import FixedTrial, TrialState

    from automl.training import device
    from automl.training.fit import fit_trial
    from automl.tuner.handoff import join_study

    run_dir = Path(run_dir)
    joined = join_study(study, storage or default_storage_url(run_dir), tracking_uri, run_dir)
    cfg, splits = joined.cfg, joined.splits
    record = next((t for t in joined.study.get_trials(deepcopy=False) if t.number == trial), None)
    if record is None or record.state != TrialState.COMPLETE:
        state = "does not exist" if record is None else f"is {record.state.name.lower()}"
        raise UsageError(
            f"trial {trial} of the study {study!r} {state}; rerun a complete trial "
            f"(automl trials lists them)"
        )
    device.configure()
    params = cfg.space.sample(FixedTrial(record.params))
    outcome = fit_trial(
        params,
        splits,
        objective=cfg.search.objective,
        direction=cfg.search.direction,
        seed=(cfg.search.seed or 0) + trial,
    )
    recorded = float(record.values[0])
    return {
        "trial": trial,
        "objective": cfg.search.objective,
        "recorded": recorded,
        "rerun": outcome.best_value,
        "difference": outcome.best_value - recorded,
    }


def study_settings(cfg: SpaceConfig) -> dict[str, Any]:
    """The parent run's params: how the study searches, and on what data."""
    s, d = cfg.search, cfg.data
    return {
        "search.sampler": s.sampler,
        "search.pruner": s.pruner,
        "search.trials": s.trials,
        "search.timeout_s": s.timeout,
        "search.objective": s.objective,
        "search.direction": s.direction,
        "search.seed": s.seed,
        "search.workers": s.workers,
        "search.max_retries": s.max_retries,
        "select.top_k": cfg.select.top_k,
        "data.source": d.source,
        "data.path": d.path,
        "data.target": d.target,
        "data.validation": d.validation,
        "data.test": d.test,
        "data.seed": d.seed,
        "space.size": cfg.space.size(),
        "space.dimensions": len(cfg.describe()),
    }


def run_search(
    cfg: SpaceConfig,
    *,
    data: Any = None,
    run_dir: Path,
    tracking_uri: str | None = None,
    storage: str | None = None,
    reports_dir: Path | None = None,
    progress: bool = True,
) -> SearchResult:
    """Run the search of an already validated config (see :func:`search`).

    This process coordinates: it checks the space against the data and builds each kind of
    model once (a dry build), prepares the study, then workers train, then it selects the
    winner.
    """
    quiet_libraries()
    import time

    from automl.data import load_source, make_splits
    from automl.data.checks import fit_space_to_data, preflight
    from automl.data.snapshot import digest, write_snapshot
    from automl.data.streamed import to_disk
    from automl.models.transfer import check_pretrained_weights, resolve_study_bases
    from automl.tracking.store import default_tracking_uri
    from automl.tracking.tracker import Tracker
    from automl.tuner.pool import LocalPool, plan_workers
    from automl.tuner.record import StudySpec, check_same_data, parent_run_id, publish
    from automl.tuner.study import (
        fail_dead_trials,
        max_epochs,
        open_storage,
        open_study,
        trials_to_start,
    )

    started = time.time()  # the budget counts from here
    cfg = resolve_study_bases(cfg, run_dir)
    check_pretrained_weights(cfg)
    if data is None:  # what automl validate checks: the space against its source's facts
        cfg = preflight(cfg)
    # data first: a data problem stops the search before anything is written
    arrays = load_source(cfg.data, python_data=data)
    cfg = fit_space_to_data(cfg, arrays)
    splits = make_splits(arrays, cfg.data)
    study_dir = run_dir / cfg.name
    splits = to_disk(splits, study_dir / "data", progress)  # an image folder past the budget
    from automl.training import device
    from automl.training.dry_build import dry_build

    device.configure()  # GPU memory growth before TensorFlow first touches a GPU, here too
    dry_build(cfg, splits)  # a model Keras cannot build: one message now, not failed trials
    sha256 = digest(splits)
    run_dir.mkdir(parents=True, exist_ok=True)
    search_cfg = cfg.search

    epochs = max_epochs(cfg)
    storage_url = storage or default_storage_url(run_dir)
    store = open_storage(storage_url, search_cfg.max_retries, create=True)
    study = open_study(cfg.name, store, storage_url, search_cfg, epochs, cfg.space)
    check_same_data(study, sha256)
    previous = parent_run_id(study)

    tracker = Tracker(
        tracking_uri or default_tracking_uri(run_dir), cfg.name, run_dir / "mlartifacts"
    )
    manifest = {**splits.manifest(), "splits_sha256": sha256}
    parent = tracker.start_study(cfg.name, previous, study_settings(cfg), cfg.file, manifest)
    snapshot = write_snapshot(splits, study_dir / "data", sha256)
    artifact = None
    if tracker.is_remote:  # workers on other machines download the splits from here
        tracker.log_artifact(parent, snapshot, "data")
        if splits.streamed is not None:  # and the pixels, beside it
            tracker.log_artifact(parent, Path(splits.streamed.pixels), "data")
        artifact = f"runs:/{parent}/data/{snapshot.name}"
    tracker.log_splits(parent, splits, source=str(snapshot.resolve()))  # the Dataset column
    publish(
        study,
        StudySpec(
            space={"tree": cfg.tree, "file": cfg.file, "text": cfg.text},
            splits_sha256=sha256,
            snapshot=str(snapshot.resolve()),
            snapshot_artifact=artifact,
            parent_run_id=parent,
            tracking_uri=redact(tracker.tracking_uri),
            run_dir=str(run_dir.resolve()),
        ),
    )
    if not study.trials:
        for params in search_cfg.enqueue:
            study.enqueue_trial(params)
    search_cfg = within_budget(study, search_cfg, started)
    display = resume(study, store, search_cfg, epochs, progress, search_cfg.timeout)

    def next_seed() -> int | None:  # a stream of its own for each process that trains
        return None if search_cfg.seed is None else search_cfg.seed + len(study.trials)

    if search_cfg.workers == 0:

        def train(seconds_left: float | None) -> bool:
            return run_here(
                cfg,
                splits,
                store,
                storage_url,
                tracker,
                run_dir.resolve(),
                display.on_event,
                next_seed(),
                seconds_left,
            )
    else:
        plan = plan_workers(search_cfg.workers)

        def on_crash(worker, code: int) -> None:  # its trial is failed as killed, and retried
            fail_dead_trials(
                study, store, search_cfg.max_retries, dead=worker, why=f"exit code {code}"
            )

        pool = LocalPool(
            study_name=cfg.name,
            storage_url=storage_url,
            tracking_uri=tracker.tracking_uri,
            run_dir=run_dir.resolve(),
            workers=plan.workers,
            threads=plan.threads,
            gpus=plan.gpus,
            on_event=display.on_event,
            budget_left=lambda: trials_to_start(study, search_cfg.trials),
            on_crash=on_crash,
            seed=next_seed(),
        )

        def train(seconds_left: float | None) -> bool:
            pool.timeout = seconds_left
            return pool.run()

    try:
        with display:
            finished = train_until_spent(study, store, search_cfg, train)
    except AutomlError:
        tracker.end_study("FAILED")
        raise
    if not finished:
        after_interrupt(study, tracker)
    from automl.tuner.conclude import finish_search

    return finish_search(cfg, study, splits, tracker, study_dir, reports_dir)


def budget_reserve(budget: float) -> float:
    """Seconds of a budget kept for what follows the trials (selection, registration, report):
    a tenth, between 10 s and 2 minutes."""
    return min(120.0, max(10.0, 0.1 * budget))


def within_budget(study, search_cfg, started: float):
    """``search_cfg`` with its timeout inside the budget, and the time trials stop at recorded
    for every worker (:func:`automl.tuner.record.set_training_end`)."""
    import dataclasses
    import time

    from automl.tuner.record import set_training_end

    if search_cfg.budget is None:
        set_training_end(study, None)
        return search_cfg
    ends_at = started + search_cfg.budget - budget_reserve(search_cfg.budget)
    set_training_end(study, ends_at)
    left = max(0.0, ends_at - time.time())
    timeout = left if search_cfg.timeout is None else min(search_cfg.timeout, left)
    return dataclasses.replace(search_cfg, timeout=timeout)


def after_interrupt(study, tracker) -> None:
    """Ctrl-C or ``kill`` stopped the training: say what happens next. With a trial complete the
    search goes on to choose its winner among them; with none there is nothing to choose from,
    so the parent run ends as KILLED and KeyboardInterrupt goes on up (``automl search`` exits
    with 130)."""
    from optuna.trial import TrialState

    if any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        print("interrupted: choosing the winner among the trials finished so far")
        return
    tracker.end_study("KILLED")
    print(
        "interrupted before any trial completed, so there is no winner yet; the same search "
        "again resumes the study and runs the interrupted trials first"
    )
    raise KeyboardInterrupt


def train_until_spent(study, store, search_cfg, train: Callable[[float | None], bool]) -> bool:
    """Call ``train(seconds_left)`` (this machine's workers, or this process) until the budget
    is spent; False when the user pressed Ctrl-C.

    Trials that workers elsewhere (another search on the study, ``automl worker``) are running
    are waited for. One of them may end without counting (Ctrl-C on that search, its worker
    killed) and come back to the queue as a retry after this machine's workers have stopped:
    then this machine trains again, so that the study ends with the trials it was asked for.
    """
    import time

    from automl.tuner.study import trials_to_start, wait_for_running

    deadline = None if search_cfg.timeout is None else time.monotonic() + search_cfg.timeout
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        before = [t.state for t in study.get_trials(deepcopy=False)]
        if not train(left):
            return False
        try:
            wait_for_running(study, store, search_cfg.max_retries)
        except KeyboardInterrupt:
            return False
        out_of_time = deadline is not None and time.monotonic() >= deadline
        if out_of_time or trials_to_start(study, search_cfg.trials) == 0:
            return True
        if [t.state for t in study.get_trials(deepcopy=False)] == before:
            return True  # nothing moved: whatever holds it up, another round would not help


def run_here(
    cfg: SpaceConfig,
    splits,
    store,
    storage_url: str,
    tracker,
    run_dir: Path,
    on_event,
    seed: int | None,
    seconds_left: float | None,
) -> bool:
    """``workers: 0``: the trials run in this process, one after another, as a worker would run
    them. A breakpoint in a custom builder stops there; what a worker process adds (a fresh
    process every few trials, a trial that crashes Python failed and retried) is given up.
    False when the user pressed Ctrl-C (see :func:`train_here`).
    """
    import os
    import time

    from automl.training.fit import process_settings_kept
    from automl.tuner import quiet
    from automl.tuner.events import WorkerReady
    from automl.tuner.objective import Objective
    from automl.tuner.study import WorkerId, max_epochs, open_study

    quiet.settle_log(run_dir / cfg.name / "logs" / f"search-{os.getpid()}.log")
    # its own sampler, seeded as a first worker's: workers 0 and 1 sample the same stream
    study = open_study(
        cfg.name,
        store,
        storage_url,
        cfg.search,
        max_epochs(cfg),
        cfg.space,
        create=False,
        seed=seed,
    )
    me = WorkerId.this_process()
    objective = Objective(
        cfg,
        splits,
        tracker,
        run_dir / cfg.name / "candidates",
        worker=me,
        on_epoch=on_event,
        upload_candidates=tracker.is_remote,
    )
    on_event(WorkerReady(me.pid, me.host, me.started, "this process"))
    deadline = None if seconds_left is None else time.monotonic() + seconds_left
    with process_settings_kept():  # the caller's precision policy and determinism
        return train_here(
            study, store, cfg.search, objective, tracker, on_event, quiet.log_path(), deadline
        )


def resume(study, store, search_cfg, epochs: int, progress: bool, timeout: float | None):
    """Ready a study to train (fresh, resumed or joined): fail and retry the trials that an
    earlier, killed run on this machine left running, queue again those Ctrl-C interrupted,
    and return the progress display that counts from what the study holds."""
    from automl.tuner.progress import SearchProgress
    from automl.tuner.study import fail_dead_trials, finished_trials, retry_interrupted

    fail_dead_trials(study, store, search_cfg.max_retries)
    retry_interrupted(study, search_cfg.max_retries)
    return SearchProgress(
        search_cfg.trials,
        finished_trials(study),
        search_cfg.objective,
        epochs,
        search_cfg.direction == "maximize",
        progress,
        timeout=timeout,
    )


def train_here(
    study, store, search_cfg, lifecycle, tracker, on_event, log: Path | None, deadline
) -> bool:
    """The study's trials in this process, one after another (``workers: 0``, and every
    hypermodel search), until the budget or ``deadline`` (``time.monotonic()``) is spent;
    False when the user pressed Ctrl-C (the trial was recorded as interrupted, and queued for
    a retry).

    Raises:
        AutomlError: the study was stopped because its trials keep failing.
    """
    from automl.tuner.worker import run_trials

    try:
        stopped = run_trials(
            study, store, search_cfg, lifecycle, tracker, on_event, log, deadline=deadline
        )
    except KeyboardInterrupt:
        return False
    if stopped:
        raise AutomlError(stopped)
    return True

"""Shared fixtures: tiny real searches (MNIST-1D subsets, 1-2 epochs) in temporary folders."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parent.parent


# The files that start processes or run several searches, slowest first (`--durations=0`, 2
# cores). pytest-xdist hands out one file at a time to whichever worker is free (`--dist
# loadfile --no-loadscope-reorder` in pyproject.toml); given out first, they run beside the quick
# files instead of leaving one worker alone with them at the end.
SLOWEST_FIRST = (
    "test_interrupt.py",
    "test_distributed.py",
    "test_launch.py",
    "test_export.py",
    "test_hypermodel.py",
    "test_reproducible.py",
    "test_search_e2e.py",
    "test_techniques.py",
    "test_report.py",
    "test_tracking.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # the rest keep their order


def study_in(run_dir: Path, name: str):
    """The Optuna study a search wrote to ``run_dir`` (the embedded journal storage)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(Path(run_dir) / "optuna.journal")))
    return optuna.load_study(study_name=name, storage=storage)


def wait_until(what: str, condition, *processes, timeout: float = 240):
    """Poll ``condition()`` until it returns something true, and return that; fail naming
    ``what`` when ``timeout`` seconds pass, or with a process's output when one of ``processes``
    (``subprocess.Popen``) ends first. A ``KeyError`` (a study not created yet) counts as false."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            found = condition()
        except KeyError:
            found = None
        if found:
            return found
        for process in processes:
            assert process.poll() is None, f"{what}: {process.communicate()[0]}"
        time.sleep(0.25)  # each look may read a whole study: leave the cores to the processes
    raise AssertionError(f"timed out waiting until {what}")


def tiny_space(name: str = "tiny", trials: int = 3, **changes) -> dict:
    """A small but complete space: both families, searched dropout/batch norm/optimizer."""
    space = {
        "name": name,
        "data": {
            "source": "mnist1d",
            "subsample": {"train": 500, "test": 200},
            "augment": {"shift": {"int": [0, 2]}, "gaussian_noise": 0.05},
        },
        "model": {
            "architecture": {
                "choice": {
                    "cnn": {"blocks": 1, "filters": 8, "kernel_size": 3},
                    "mlp": {"layers": 1, "units": 16},
                }
            },
            "dropout": {"float": [0.0, 0.3]},
            "batch_norm": {"bool": True},
        },
        "training": {
            "optimizer": {
                "choice": {
                    "adam": {"learning_rate": {"float": [1e-3, 1e-2], "log": True}},
                    "sgd": {"learning_rate": 0.05, "momentum": 0.9},
                }
            },
            "schedule": {"choice": ["constant", "cosine"]},
            "batch_size": 64,
            "epochs": 2,
        },
        "search": {"trials": trials, "seed": 1},
        "select": {"top_k": 2},
    }
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            space[section][field] = value
        else:
            space[section] = value
    return space


def fit_first(space: dict, data=None, callbacks: list | None = None):
    """Train, in this process, the configuration of ``space`` a dry build tries first: the real
    loader, splits, builder and ``fit_trial`` a search's trial runs, without the search around
    them (for tests about data and models; searches are tested where they matter).

    Returns:
        ``(outcome, splits, cfg)``: the :class:`~automl.training.fit.FitOutcome`, the splits and
        the config as fitted to the data.
    """
    from automl.config import load_space
    from automl.data import load_source, make_splits
    from automl.data.checks import fit_space_to_data, preflight
    from automl.training.dry_build import FirstValues
    from automl.training.fit import fit_trial

    cfg = load_space(space)
    if data is None:
        cfg = preflight(cfg)
    arrays = load_source(cfg.data, python_data=data)
    cfg = fit_space_to_data(cfg, arrays)
    splits = make_splits(arrays, cfg.data)
    outcome = fit_trial(
        cfg.space.sample(FirstValues()),
        splits,
        objective=cfg.search.objective,
        direction=cfg.search.direction,
        seed=0,
        callbacks=callbacks,
    )
    return outcome, splits, cfg


@pytest.fixture
def run_cli():
    """Run the automl command in a subprocess: (exit code, stdout, stderr)."""
    import subprocess

    def run(*args: str, cwd: Path | None = None, timeout: float = 600):
        proc = subprocess.run(
            [sys.executable, "-m", "automl.cli", *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        return proc.returncode, proc.stdout, proc.stderr

    return run


SHARED_STUDY = "shared"


@pytest.fixture(scope="session")
def shared_search(tmp_path_factory) -> Path:
    """The folder of one tiny finished search that any test may read but never change.

    The search runs once per test session, also when pytest-xdist spreads the files over
    several processes (they share a folder keyed by the run's id, and a lock): the tests of
    the results (load, report, export, serving, the MLflow UI) need a finished search, not a
    search each. Its run folder is ``<folder>/runs``, its reports ``<folder>/reports``;
    ``automl.load(SHARED_STUDY, run_dir=folder / "runs")`` gives its result.
    """
    import fcntl

    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    root = (
        tmp_path_factory.getbasetemp().parent / f"shared-{run_id}"
        if run_id
        else tmp_path_factory.getbasetemp() / "shared"
    )
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first process searches, the others wait
        if not (root / "done").exists():
            import automl

            space = tiny_space(SHARED_STUDY, trials=4)
            # its trials train here (workers: 0), where TensorFlow is loaded already: worker
            # processes would each load it again, and test_search_e2e.py tests them
            automl.search(
                space,
                workers=0,
                run_dir=root / "runs",
                reports_dir=root / "reports",
                progress=False,
            )
            (root / "done").write_text("ok")
    return root


@pytest.fixture
def logged():
    """The messages the ``automl`` logger writes during a test (whatever its handlers)."""
    records: list[str] = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = lambda record: records.append(record.getMessage())
    logger = logging.getLogger("automl")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)

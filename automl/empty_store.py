"""A new embedded MLflow store in milliseconds instead of seconds.

MLflow creates an SQLite store by running its whole history of schema migrations, about two
seconds of CPU for every new run folder. The result is the same file each time, so the first
store a machine makes with a given MLflow version is kept as a template (in automl's cache
folder) and later ones are copies of it.

The only thing in that file that depends on where it was made is the artifact folder of MLflow's
``Default`` experiment (``<working folder>/mlruns/0``, which automl itself never uses); a copy
gets the path MLflow would have written.

Example:
    >>> seed_sqlite_store("sqlite:////tmp/runs/mlflow.db")  # the file now exists, migrated
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

SQLITE_PREFIX = "sqlite:///"


def seed_sqlite_store(tracking_uri: str) -> None:
    """Create the SQLite store ``tracking_uri`` names as a copy of the cached empty store.

    Does nothing for other URIs, for a file that exists (never overwritten, also when another
    process creates it at the same moment) and wherever the template cannot be made (MLflow
    then creates the store itself, as it always did).
    """
    if not tracking_uri.startswith(SQLITE_PREFIX):
        return
    target = Path(tracking_uri[len(SQLITE_PREFIX) :])
    if target.exists() or not target.parent.is_dir():
        return
    try:
        template = _template()
        staged = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(template.path, staged)
        _point_default_experiment(staged, template.mlruns, str(Path("mlruns").resolve()))
        try:
            os.link(staged, target)  # fails if the file appeared meanwhile: never clobber
        except FileExistsError:
            pass
        finally:
            staged.unlink(missing_ok=True)
    except (OSError, sqlite3.Error):
        return


class _Template:
    def __init__(self, path: Path, mlruns: str):
        self.path, self.mlruns = path, mlruns


def _template() -> _Template:
    """The cached empty store of this MLflow version, made on first use."""
    import mlflow

    from automl.data.builtin import cache_dir

    folder = cache_dir() / "mlflow-empty-stores"
    path = folder / f"mlflow-{mlflow.__version__}.db"
    # made in a folder of its own, whose mlruns path a copy replaces
    maker = folder / f"made-in-{mlflow.__version__}"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            staged = Path(tmp) / "store.db"
            _create_with_mlflow(staged, maker)
            os.replace(staged, path)  # atomic: a killed process never leaves half a template
    return _Template(path, str((maker / "mlruns").resolve()))


def _create_with_mlflow(path: Path, cwd: Path) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    # the artifact root MLflow gives a store it opens from `cwd`
    store = SqlAlchemyStore(f"{SQLITE_PREFIX}{path}", str(cwd / "mlruns"))
    store.engine.dispose()


def _point_default_experiment(store: Path, made_in: str, here: str) -> None:
    with sqlite3.connect(store) as db:
        db.execute(
            "UPDATE experiments SET artifact_location = replace(artifact_location, ?, ?) "
            "WHERE experiment_id = 0",
            (made_in, here),
        )
    db.close()

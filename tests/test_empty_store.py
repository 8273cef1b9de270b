"""A new embedded MLflow store is a copy of a cached empty one: the same schema and migration
version as the store MLflow makes itself, the Default experiment where MLflow would put it, and
never written over an existing store."""

from __future__ import annotations

import sqlite3

from automl.empty_store import seed_sqlite_store


def schema(path) -> tuple:
    """Tables and indexes, the migration version, the experiments. MLflow's own migrations
    write a table's constraints in no fixed order (two stores it makes differ so): the lines of
    each statement are compared as a set."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT type, name, sql FROM sqlite_master")
        tables = sorted(
            (kind, name, frozenset(line.strip(" ,\t") for line in (sql or "").split("\n")))
            for kind, name, sql in rows
        )
        version = db.execute("SELECT version_num FROM alembic_version").fetchall()
        default = db.execute("SELECT name, artifact_location FROM experiments").fetchall()
    db.close()
    return tables, version, default


def test_a_copied_store_is_the_store_mlflow_makes(tmp_path, monkeypatch):
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    monkeypatch.setenv("AUTOML_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    mlflows = tmp_path / "by-mlflow.db"
    SqlAlchemyStore(f"sqlite:///{mlflows}", str(tmp_path / "mlruns")).engine.dispose()
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    seed_sqlite_store(f"sqlite:///{first}")  # makes the template, then copies it
    seed_sqlite_store(f"sqlite:///{second}")  # a copy only
    assert schema(first) == schema(mlflows) == schema(second)
    assert schema(second)[2] == [("Default", str(tmp_path / "mlruns" / "0"))]


def test_an_existing_store_is_never_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOML_CACHE", str(tmp_path / "cache"))
    store = tmp_path / "mlflow.db"
    store.write_bytes(b"a user's store")
    seed_sqlite_store(f"sqlite:///{store}")
    assert store.read_bytes() == b"a user's store"
    seed_sqlite_store("http://127.0.0.1:5000")  # a server: nothing to make
    assert list(tmp_path.iterdir()) == [store]

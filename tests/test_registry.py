"""Choices by name come from one table each (automl.registry): the validator, the JSON Schema and
``automl search --help`` agree with the tables, and what an entry says it applies to is what
``automl validate`` enforces."""

from __future__ import annotations

from pathlib import Path

import pytest

from automl.config import load_space
from automl.errors import ConfigError
from automl.registry import (
    AUGMENTATIONS,
    FAMILIES,
    INITIALIZERS,
    OPTIMIZERS,
    PRUNERS,
    SAMPLERS,
    SCHEDULES,
    SOURCES,
    Registry,
)
from automl.schema import space_schema

ROOT = Path(__file__).resolve().parent.parent
TABLES = [SAMPLERS, PRUNERS, OPTIMIZERS, SCHEDULES, INITIALIZERS, AUGMENTATIONS, FAMILIES, SOURCES]


def _space(search: str = "", augment: str = "") -> dict:
    return {
        "name": "r",
        "data": {"source": "mnist1d", **({"augment": augment} if augment else {})},
        "model": {"architecture": "mlp"},
        "training": {"epochs": 1},
        **({"search": search} if search else {}),
    }


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.kind)
def test_every_entry_loads_its_factory_and_declares_its_domains(table: Registry):
    assert len(table) >= 5 and (table.default is None or table.default in table)
    for entry in table.values():
        assert entry.summary and entry.name == entry.name.strip()
        if entry.factory:
            assert callable(entry.load()), entry
        for argument, domain in entry.args.items():
            assert domain is None or domain.describe(), (entry.name, argument)


def test_help_names_every_sampler_and_pruner_the_validator_accepts(run_cli):
    code, out, _ = run_cli("search", "--help")
    text = " ".join(out.split())  # argparse wraps the help at the terminal's width
    assert code == 0
    for table in (SAMPLERS, PRUNERS):
        for name in table:
            load_space(_space({table.kind: name}))  # the validator accepts it ...
            assert name in text, name  # ... and the help names it
        with pytest.raises(ConfigError, match=f"unknown {table.kind} 'nope'"):
            load_space(_space({table.kind: "nope"}))
    assert "tpe (default)" in text and "median (default)" in text


def test_the_schema_lists_the_tables_names():
    schema = space_schema()
    data = schema["properties"]["data"]["properties"]
    files = {name for name, entry in SOURCES.items() if entry.details.get("file")}
    assert set(data["source"]["enum"]) == set(SOURCES) - files and files <= set(data)
    search = schema["properties"]["search"]["properties"]
    assert search["sampler"]["enum"] == sorted(SAMPLERS)
    assert search["pruner"]["enum"] == sorted(PRUNERS)
    augment = schema["properties"]["data"]["properties"]["augment"]["properties"]
    assert set(augment) == set(AUGMENTATIONS)


def test_mixup_on_a_table_is_refused_by_validate(run_cli, tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    pd.DataFrame(
        {"a": rng.normal(size=40), "b": rng.normal(size=40), "y": rng.integers(0, 2, 40)}
    ).to_csv(tmp_path / "t.csv", index=False)
    space = tmp_path / "s.yaml"
    space.write_text(
        "name: mix\ndata:\n  csv: t.csv\n  target: y\n  augment:\n    mixup: 0.2\n"
        "model: {architecture: mlp}\n"
    )
    code, out, err = run_cli("validate", str(space), cwd=tmp_path)
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "line 6" in lines[0] and "data.augment.mixup" in lines[0]
    assert "does not apply to table data" in lines[0] and "image, signal" in lines[0]
    assert AUGMENTATIONS["mixup"].applies_to == {"image", "signal"}
    # what still applies to tables passes
    space.write_text(space.read_text().replace("mixup: 0.2", "gaussian_noise: 0.1"))
    code, out, err = run_cli("validate", str(space), cwd=tmp_path)
    assert code == 0, err


def test_validate_refuses_a_transfer_base_the_run_folder_lacks(run_cli, tmp_path):
    runs = tmp_path / "runs"
    for study in ("digits-base", "mnist1d"):
        (runs / study).mkdir(parents=True)
        (runs / study / "winner.keras").write_bytes(b"")  # only its presence is read
    (runs / "unfinished").mkdir()  # no winner: not offered
    space = tmp_path / "t.yaml"
    space.write_text(
        (ROOT / "search_spaces" / "transfer.yaml")
        .read_text()
        .replace("study:mnist1d-base", "study:digits-bsae")
    )
    code, out, err = run_cli("validate", "t.yaml", "--run-dir", "runs", cwd=tmp_path)
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= 300, lines
    assert "model.architecture.transfer.base" in lines[0] and "'digits-bsae'" in lines[0]
    assert "did you mean 'digits-base'?" in lines[0]
    assert "it holds digits-base, mnist1d" in lines[0] and "unfinished" not in lines[0]
    # the right name validates
    space.write_text(space.read_text().replace("study:digits-bsae", "study:digits-base"))
    code, out, err = run_cli("validate", "t.yaml", "--run-dir", "runs", cwd=tmp_path)
    assert code == 0, err


# ---- the docs' tables of names list exactly the registries' names ---------------------------

DOC = ROOT / "docs" / "search-spaces.md"
MODALITY_WORDS = {
    "signals": {"signal"},
    "images": {"image"},
    "tables": {"table"},
    "texts": {"text"},
    "all": {"signal", "image", "table", "text"},
}


def _section(text: str, heading: str) -> str:
    start = text.index(heading + "\n")
    level = heading.split(" ")[0]
    rest = text[start + len(heading) :]
    ends = [i for i in (rest.find(f"\n{'#' * n} ") for n in range(1, len(level) + 1)) if i >= 0]
    return rest[: min(ends)] if ends else rest


def _rows(section: str) -> list[list[str]]:
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        for line in section.splitlines()
        if line.startswith("| ")
    ]
    return rows[1:]  # without the header


def _names(cell: str) -> set[str]:
    """The backticked names of a cell, without what parentheses say about them."""
    import re

    return set(re.findall(r"`([a-z0-9_]+)`", re.sub(r"\([^)]*\)", "", cell)))


def _row(section: str, key: str) -> list[str]:
    return next(row for row in _rows(section) if row[0] == f"`{key}`")


def test_the_docs_list_exactly_the_registries_names():
    text = DOC.read_text(encoding="utf-8")
    augment = _rows(_section(text, "### `data.augment`"))
    assert set().union(*(_names(row[0]) for row in augment)) == set(AUGMENTATIONS)
    for row in augment:  # and what each applies to
        fits = set().union(*(MODALITY_WORDS.get(w.strip(), set()) for w in row[1].split(",")))
        for name in _names(row[0]):
            assert fits == (AUGMENTATIONS[name].applies_to or MODALITY_WORDS["all"]), (name, row[1])
    families = _rows(_section(text, "### `model.architecture`"))
    assert set().union(*(_names(row[0]) for row in families)) == set(FAMILIES)
    model, training = _section(text, "## `model`"), _section(text, "## `training`")
    assert _names(_row(model, "initializer")[2]) == set(INITIALIZERS)
    assert _names(_row(training, "optimizer")[2]) == set(OPTIMIZERS)
    schedules = _rows(_section(text, "### `training.schedule`"))
    assert {row[0].strip("`") for row in schedules} == set(SCHEDULES)
    search = _section(text, "## `search`")
    assert _names(_row(search, "sampler")[2]) == set(SAMPLERS)
    assert _names(_row(search, "pruner")[2]) == set(PRUNERS)

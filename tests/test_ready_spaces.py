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
CHAINED = {"transfer.yaml": "digits_base.yaml"}  # transfer needs its base study first


def quick(path: Path) -> dict:
    """The space as written, shortened: a subset of the data, 2 epochs, 1 trial."""
    tree = read_yaml(path.read_text(), str(path)).tree
    tree["data"].setdefault("subsample", {})["train"] = 300
    tree["training"]["epochs"] = 2
    tree["search"].update({"trials": 1, "timeout": None})
    return tree


def test_every_space_file_is_covered():
    assert {p.name for p in SPACES} >= {"mnist1d.yaml", "digits.yaml", "breast_cancer.yaml",
                                        "digits_base.yaml", "transfer.yaml"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One run folder for all: transfer finds the base study that digits_base left there."""
    return tmp_path_factory.mktemp("ready") / "runs"


@pytest.mark.parametrize("path", SPACES, ids=[p.stem for p in SPACES])
def test_ready_space_smoke_search(path, runs):
    if path.name in CHAINED:
        base = quick(ROOT / "search_spaces" / CHAINED[path.name])
        if not (runs / base["name"] / "winner.keras").is_file():  # transfer run on its own
            automl.search(base, run_dir=runs, reports_dir=None, progress=False)
    result = automl.search(quick(path), run_dir=runs, reports_dir=None, progress=False)
    assert len(result.trials) == 1
    assert result.test_metrics  # the winner was evaluated on the held-out split

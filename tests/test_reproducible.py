"""The same space and seed samples the same parameters in the same order, in a worker process or
in the search's own (``workers: 0``); with
deterministic ops on, a CPU run repeats its metrics, and ``automl rerun`` reproduces a trial."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import tiny_space

import automl

ROOT = Path(__file__).resolve().parent.parent


def deterministic_space() -> dict:
    space = tiny_space("repro", trials=2)
    space["training"]["deterministic"] = True
    space["search"].update({"seed": 3, "workers": 1})
    return space


@pytest.fixture(scope="module")
def twice(tmp_path_factory):
    root = tmp_path_factory.mktemp("repro")
    # once in a worker process, once in this process (workers: 0): the same stream either way
    first, second = (
        automl.search(
            deterministic_space(),
            run_dir=root / name,
            reports_dir=None,
            progress=False,
            workers=workers,
        )
        for name, workers in (("a", 1), ("b", 0))
    )
    return root, first, second


def test_same_seed_samples_the_same_parameters_in_the_same_order(twice):
    _, first, second = twice
    columns = [c for c in first.trials.columns if c.startswith("params_")]
    assert columns
    pd.testing.assert_frame_equal(
        first.trials.sort_values("number")[columns].reset_index(drop=True),
        second.trials.sort_values("number")[columns].reset_index(drop=True),
    )


def test_deterministic_ops_repeat_the_metrics(twice):
    _, first, second = twice
    assert list(first.trials.sort_values("number")["val_accuracy"]) == list(
        second.trials.sort_values("number")["val_accuracy"]
    )
    assert first.test_metrics == second.test_metrics


def test_a_search_in_this_process_leaves_its_tensorflow_settings_as_they_were(twice):
    from tensorflow.python.framework import config as tf_config

    assert not tf_config.is_op_determinism_enabled()  # the in-process search turned it on


def test_rerun_reproduces_a_recorded_trial(twice):
    root, first, _ = twice
    out = automl.rerun("repro", 1, run_dir=root / "a")
    assert out["recorded"] == pytest.approx(
        float(first.trials.set_index("number").loc[1, "val_accuracy"])
    )
    assert abs(out["difference"]) <= 1e-6
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "automl",
            "rerun",
            "--study",
            "repro",
            "--trial",
            "0",
            "--run-dir",
            str(root / "a"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "trial 0: val_accuracy recorded" in proc.stdout and "difference +0.00e+00" in proc.stdout

"""GPU paths: memory growth, mixed precision, XLA, two workers per GPU, out-of-memory trials.

These run where a GPU is present (the device machine some sessions are lent) and skip here,
saying why.
"""

from __future__ import annotations

import pytest
from conftest import study_in, tiny_space

import automl
from automl.tuner.pool import plan_workers, visible_gpus

pytestmark = pytest.mark.skipif(
    not visible_gpus(), reason="no NVIDIA GPU on this machine (nvidia-smi lists none)"
)


def test_auto_plans_two_workers_per_gpu():
    plan = plan_workers("auto")
    assert plan.workers == 2 * len(visible_gpus()) and plan.gpus == visible_gpus()


def test_two_workers_share_a_gpu_with_mixed_precision_and_xla(tmp_path):
    space = tiny_space("gpu", trials=4)
    space["training"].update({"mixed_precision": True, "jit_compile": True})
    space["search"]["workers"] = 2 * len(visible_gpus())
    result = automl.search(space, run_dir=tmp_path / "runs", reports_dir=None, progress=False)
    trials = study_in(tmp_path / "runs", "gpu").trials
    assert all(t.state.name == "COMPLETE" for t in trials)
    assert len({t.user_attrs["worker"]["pid"] for t in trials}) >= 2
    assert result.test_metrics["accuracy"] > 0.1


def test_a_trial_out_of_gpu_memory_fails_with_the_reason_and_the_study_goes_on(tmp_path):
    space = tiny_space("oom", trials=2)
    space["model"] = {
        "architecture": {"choice": {"mlp": {"layers": 1, "units": {"choice": [2**31, 16]}}}}
    }
    space["search"].update(
        {"enqueue": [{"model.architecture.mlp.units": 2**31}, {"model.architecture.mlp.units": 16}]}
    )
    automl.search(space, run_dir=tmp_path / "runs", reports_dir=None, progress=False)
    trials = study_in(tmp_path / "runs", "oom").trials
    assert trials[0].state.name == "FAIL"
    assert trials[0].user_attrs["fail_reason"].startswith("out of memory while training")
    assert trials[1].state.name == "COMPLETE"

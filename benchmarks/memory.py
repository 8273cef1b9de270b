"""Memory across a long search: does resident memory stay flat from trial to trial?

Two ways of running the same trials (the MNIST-1D CNN of search_spaces/mnist1d.yaml, fixed
params, a few epochs each), measured as resident memory (RSS) after each trial:

* in one process, with ``keras.backend.clear_session()`` and ``gc.collect()`` after each trial;
* as automl runs them: batches of trials in recycled worker processes (RSS of the worker, as
  logged to MLflow as the ``rss_mb`` metric of each trial).

    python benchmarks/memory.py --trials 50 --epochs 2 --out reports/curated/memory.md
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

PARAMS = {
    "data": {"augment": {"shift": 2, "gaussian_noise": 0.05}},
    "model": {
        "architecture": {
            "name": "cnn",
            "blocks": 3,
            "filters": 32,
            "kernel_size": 5,
            "pooling": "max",
            "head": "flatten",
        },
        "batch_norm": True,
        "dropout": 0.1,
    },
    "training": {
        "optimizer": {"name": "adam", "learning_rate": 1e-3},
        "schedule": "cosine",
        "batch_size": 64,
    },
}


def in_process(trials: int, epochs: int) -> list[float]:
    code = f"""
import gc, json, keras
from automl.config import DataConfig
from automl.data import load_source, make_splits
from automl.training.fit import fit_trial
from automl.tuner.trial import rss_mb
params = {PARAMS!r}
params["training"]["epochs"] = {epochs}
splits = make_splits(load_source("mnist1d"), DataConfig())
out = []
for i in range({trials}):
    fit_trial(params, splits, objective="val_accuracy", direction="maximize", seed=i)
    keras.backend.clear_session(); gc.collect()
    out.append(rss_mb())
print(json.dumps(out))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    import json

    return json.loads(result.stdout.strip().splitlines()[-1])


def with_workers(trials: int, epochs: int) -> list[float]:
    from mlflow.tracking import MlflowClient

    import automl

    space = {
        "name": "memory",
        "data": {"source": "mnist1d", "augment": {"shift": 2, "gaussian_noise": 0.05}},
        "model": {
            "architecture": {
                "choice": {
                    "cnn": {
                        "blocks": 3,
                        "filters": 32,
                        "kernel_size": 5,
                        "pooling": "max",
                        "head": "flatten",
                    }
                }
            },
            "batch_norm": True,
            "dropout": {"float": [0.1, 0.1001]},
        },
        "training": {
            "optimizer": "adam",
            "learning_rate": 1e-3,
            "schedule": "cosine",
            "batch_size": 64,
            "epochs": epochs,
            "early_stopping": 0,
        },
        "search": {"trials": trials, "pruner": "none"},
        "select": {"top_k": 1},
    }
    with tempfile.TemporaryDirectory() as tmp:
        result = automl.search(space, run_dir=tmp, reports_dir=None, progress=False)
        client = MlflowClient(result.mlflow["tracking_uri"])
        runs = client.search_runs(
            [result.mlflow["experiment_id"]], filter_string="tags.`automl.kind` = 'trial'"
        )
        by_trial = sorted(
            (int(r.data.tags["optuna.trial_number"]), r.data.metrics["rss_mb"]) for r in runs
        )
        return [rss for _, rss in by_trial]


def growth_per_trial(rss: list[float]) -> float:
    """Median increase from one trial to the next (skipping the first, which warms up)."""
    steps = [b - a for a, b in zip(rss[1:], rss[2:])]
    return statistics.median(steps) if steps else 0.0


def peak_growth(rss: list[float], start: int = 5) -> float:
    """How far the peak RSS from trial ``start`` on rises above trial ``start``'s, as a fraction
    (the target: under 10% from trial 5 to trial 50)."""
    base = rss[min(start, len(rss)) - 1]
    return max(rss[start - 1 :] or [base]) / base - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    one = in_process(args.trials, args.epochs)
    workers = with_workers(args.trials, args.epochs)
    gc.collect()
    lines = [
        "# Memory across trials",
        "",
        f"`python benchmarks/memory.py --trials {args.trials} --epochs {args.epochs}` "
        f"({os.cpu_count()} CPU cores)",
        "",
        "| way of running | RSS after trial 1 | max RSS | last RSS | median growth per trial "
        f"| peak from trial 5 to {args.trials} over trial 5 |",
        "|---|---|---|---|---|---|",
        f"| one process, clear_session + gc | {one[0]:.0f} MB | {max(one):.0f} MB | "
        f"{one[-1]:.0f} MB | {growth_per_trial(one):+.1f} MB | {peak_growth(one):+.1%} |",
        f"| automl: recycled workers | {workers[0]:.0f} MB | {max(workers):.0f} MB | "
        f"{workers[-1]:.0f} MB | {growth_per_trial(workers):+.1f} MB | "
        f"{peak_growth(workers):+.1%} |",
        "",
        f"Target (issue 10): automl's peak RSS from trial 5 to trial 50 at most 10% above trial "
        f"5's: {'met' if peak_growth(workers) < 0.10 else 'NOT met'} "
        f"({peak_growth(workers):+.1%}).",
        "",
        "In one process memory grows with every trial for as long as the search runs; automl "
        "starts a fresh worker process every 10 trials, so its memory falls back at trials 11, "
        "21, ... and stays below the peak of the first batch however long the search is.",
        "",
        "RSS per trial, one process: " + ", ".join(f"{v:.0f}" for v in one),
        "",
        "RSS per trial, recycled workers: " + ", ".join(f"{v:.0f}" for v in workers),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()

"""What ``training.deterministic: true`` costs: one MNIST-1D CNN trial with and without it.

Deterministic ops are switched on per process, so each setting trains in a fresh process, in
turns, several times; we compare the median training time of the same configuration and check
that two deterministic runs give the same validation accuracy.

    python benchmarks/determinism.py            # 3 runs per setting, 10 epochs

Results go to ``reports/curated/determinism.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "curated" / "determinism.md"

DRIVER = """
import json, sys, time
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
from automl.config import load_space
from automl.data import load_source, make_splits
from automl.training import device
from automl.training.fit import fit_trial

deterministic, epochs = sys.argv[1] == "1", int(sys.argv[2])
cfg = load_space("search_spaces/mnist1d.yaml")
splits = make_splits(load_source(cfg.data), cfg.data)
device.configure()
# one configuration of the default space, the same in every run: a CNN that learns
params = cfg.space.sample(optuna.trial.FixedTrial({
    "data.augment.shift": 2, "data.augment.gaussian_noise": 0.05, "model.architecture": "cnn",
    "model.architecture.cnn.blocks": 3, "model.architecture.cnn.filters": 32,
    "model.architecture.cnn.kernel_size": 5, "model.architecture.cnn.pooling": "max",
    "model.architecture.cnn.head": "flatten", "model.initializer": "he_normal",
    "model.activation": "relu", "model.dropout": 0.1, "model.l1": 1e-8, "model.l2": 1e-6,
    "model.batch_norm": True, "training.optimizer": "adam",
    "training.optimizer.adam.learning_rate": 0.003, "training.schedule": "cosine",
    "training.batch_size": 64}))
params["training"].update({"epochs": epochs, "early_stopping": 0, "deterministic": deterministic})
started = time.perf_counter()
outcome = fit_trial(params, splits, objective="val_accuracy", direction="maximize", seed=0)
print("RESULT " + json.dumps({"seconds": time.perf_counter() - started,
                              "val_accuracy": outcome.best_value}))
"""


def run(deterministic: bool, epochs: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, "1" if deterministic else "0", str(epochs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if not line:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(line[0].removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    results: dict[bool, list[dict]] = {False: [], True: []}
    for _ in range(args.runs):  # in turns, so that machine noise hits both alike
        for deterministic in (False, True):
            results[deterministic].append(run(deterministic, args.epochs))
            print(deterministic, results[deterministic][-1], flush=True)
    off = statistics.median(r["seconds"] for r in results[False])
    on = statistics.median(r["seconds"] for r in results[True])
    repeats = {r["val_accuracy"] for r in results[True]}
    lines = [
        "# The cost of deterministic ops",
        "",
        f"`python benchmarks/determinism.py` ({args.runs} runs per setting, in turns, "
        f"{args.epochs} epochs of one configuration of the default MNIST-1D space: a 3-block "
        f"CNN with 32 filters, Adam, batch 64; 2 CPU cores).",
        "",
        "| training.deterministic | median seconds | validation accuracies |",
        "|---|---|---|",
        f"| false | {off:.1f} | {sorted({r['val_accuracy'] for r in results[False]})} |",
        f"| true | {on:.1f} | {sorted(repeats)} |",
        "",
        f"Deterministic ops cost {on / off - 1:+.0%} of training time here; the "
        f"deterministic runs gave {len(repeats)} distinct validation "
        f"accurac{'y' if len(repeats) == 1 else 'ies'}.",
    ]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

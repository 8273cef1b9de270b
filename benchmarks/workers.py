"""One worker against two on the same machine.

1. The search: ``search_spaces/mnist1d.yaml`` in a fresh process per configuration, the same
   seed and time budget (the trial count is set high so that time is what runs out), one after
   the other. We count the trials that finished (complete or pruned) and take the winner's test
   accuracy as the search selected it. What the sampler happens to pick differs between runs
   (big or small models, pruned early or not), so this figure is noisy.
2. The throughput: the same fixed configuration (a 3-block CNN, 4 epochs, no pruning) trained
   ``--fixed-trials`` times: pure work per second, no sampling luck.

    python benchmarks/workers.py                    # 10 minutes each, 1 and 2 workers
    python benchmarks/workers.py --minutes 3 --workers 1 2 4

Results go to ``reports/curated/workers.md`` and ``workers.json``. Quote them with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "curated"

DRIVER = """
import json, sys, time
import automl
from optuna.storages.journal import JournalFileBackend, JournalStorage
import optuna

space, workers, minutes, seed, run_dir = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
started = time.monotonic()
result = automl.search(space, workers=workers, timeout=minutes * 60, trials=10_000, seed=seed,
                       run_dir=run_dir, reports_dir=None, progress=False)
wall = time.monotonic() - started
study = optuna.load_study(study_name=result.study_name,
                          storage=JournalStorage(JournalFileBackend(run_dir + "/optuna.journal")))
states = [t.state.name for t in study.trials]
print("RESULT " + json.dumps({
    "workers": workers, "wall_s": wall, "complete": states.count("COMPLETE"),
    "pruned": states.count("PRUNED"), "failed": states.count("FAIL"),
    "fail_reasons": [t.user_attrs.get("fail_reason") for t in study.trials
                     if t.state.name == "FAIL"],
    "test_accuracy": result.test_metrics["accuracy"], "winner_trial": result.winner_trial}))
"""

FIXED = """
import json, sys, time
import automl

workers, trials, run_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
space = {"name": "throughput",
         "data": {"source": "mnist1d", "augment": {"shift": 2, "gaussian_noise": 0.05}},
         "model": {"architecture": {"choice": {"cnn": {"blocks": 3, "filters": 32,
                                                       "kernel_size": 5}}},
                   "batch_norm": True, "dropout": 0.1},
         "training": {"optimizer": "adam", "batch_size": 64, "epochs": 4, "early_stopping": 0},
         "search": {"trials": trials, "pruner": "none", "seed": 0, "workers": workers},
         "select": {"top_k": 1}}
started = time.monotonic()
result = automl.search(space, run_dir=run_dir, reports_dir=None, progress=False)
print("RESULT " + json.dumps({"workers": workers, "trials": trials,
                              "wall_s": time.monotonic() - started,
                              "trial_median_s": float(result.trials["seconds"].median())}))
"""


def run(driver: str, *args: object) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.run(
            [sys.executable, "-c", driver, *map(str, args), folder],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not line:
        raise SystemExit(f"{args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[0].removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fixed-trials", type=int, default=12)
    args = parser.parse_args()
    fixed = []
    for workers in args.workers:
        fixed.append(run(FIXED, workers, args.fixed_trials))
        print(fixed[-1], flush=True)
    rows = []
    for workers in args.workers:
        started = time.time()
        rows.append(
            run(DRIVER, ROOT / "search_spaces" / "mnist1d.yaml", workers, args.minutes, args.seed)
        )
        print(rows[-1], f"({time.time() - started:.0f} s)", flush=True)
    base = rows[0]
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    lines = [
        f"# Workers on one machine: {args.minutes:g} minutes of the default MNIST-1D search",
        "",
        f"`python benchmarks/workers.py --minutes {args.minutes:g}` on {machine}; seed "
        f"{args.seed}; one run per configuration, run one after the other.",
        "",
        "## The search",
        "",
        "| workers | trials finished (complete + pruned) | vs 1 worker | complete vs 1 "
        "worker | failed | winner's test accuracy | wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        done = r["complete"] + r["pruned"]
        ratio = done / max(base["complete"] + base["pruned"], 1)
        lines.append(
            f"| {r['workers']} | {done} ({r['complete']} + {r['pruned']}) | "
            f"{ratio:.2f}x | {r['complete'] / max(base['complete'], 1):.2f}x | "
            f"{r['failed']} {r['fail_reasons'] or ''} | {r['test_accuracy']:.4f} | "
            f"{r['wall_s']:.0f} s |"
        )
    lines += [
        "",
        f"## Throughput: one fixed configuration, {args.fixed_trials} trials",
        "",
        "| workers | threads each | wall time | vs 1 worker | median trial |",
        "|---|---|---|---|---|",
    ]
    cores = os.cpu_count() or 1
    for r in fixed:
        lines.append(
            f"| {r['workers']} | {max(cores // r['workers'], 1)} | {r['wall_s']:.0f} s "
            f"| {fixed[0]['wall_s'] / r['wall_s']:.2f}x | {r['trial_median_s']:.1f} s |"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "workers.md").write_text("\n".join(lines) + "\n")
    (OUT / "workers.json").write_text(
        json.dumps(
            {
                "machine": machine,
                "minutes": args.minutes,
                "seed": args.seed,
                "runs": rows,
                "throughput": fixed,
            },
            indent=2,
        )
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Small image sets: does automl's ready image space beat a simple baseline on the same split?

scikit-learn's 8x8 handwritten digits (offline), searched as the README runs it
(search_spaces/digits.yaml, all ten digits), with a new split and sampler seed per seed; the
winner's test accuracy against logistic regression on the same pixels and split (the baseline
every search fits).

    python benchmarks/small_images.py                        # 3 seeds, each search 4 minutes
    python benchmarks/small_images.py --budget 2m --seeds 0  # a quicker look

Results: ``reports/benchmarks/small_images.{md,json}``. The test split is small (360 images: one
image is 0.3 points), which is why the medians over seeds matter. The transfer example is
measured by ``transfer.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "reports" / "benchmarks"
SPACES = ROOT / "search_spaces"


def ready_space(name: str, seed: int, budget: float | None) -> dict:
    """A ready space as a tree, with its split and sampler seeded by ``seed``."""
    import yaml

    tree = yaml.safe_load((SPACES / f"{name}.yaml").read_text())
    tree["data"]["seed"] = seed
    tree["search"]["seed"] = seed
    if budget is not None:
        tree["search"]["timeout"] = f"{budget:.0f}s"
        tree["search"]["trials"] = 1000  # the budget is the limit
    return tree


def searched(tree: dict, run_dir: Path, workers: int | str) -> dict:
    """One search: the winner's test accuracy, the baselines on the same split, the trials."""
    import automl

    started = time.monotonic()
    result = automl.search(tree, run_dir=run_dir, reports_dir=None, progress=False, workers=workers)
    baselines = {row["name"]: row["test"] for row in result.baselines}
    return {
        "test": result.test_metrics["accuracy"],
        "logistic": baselines.get("logistic regression"),
        "majority": baselines.get("majority class"),
        "trials": int((result.trials["state"] == "COMPLETE").sum()),
        "seconds": round(time.monotonic() - started, 1),
    }


def run_seed(seed: int, budget: float | None, workers: int | str) -> dict:
    with tempfile.TemporaryDirectory(prefix="automl-small-images-") as folder:
        digits = searched(ready_space("digits", seed, budget), Path(folder), workers)
    return {"seed": seed, "digits": digits}


def median(rows: list[dict], task: str, key: str) -> float:
    return statistics.median(r[task][key] for r in rows)


def markdown(record: dict) -> str:
    rows = record["runs"]
    lines = [
        "# Small image sets: the ready digits space against a baseline",
        "",
        f"Command: `{record['command']}`  ",
        f"Machine: {record['cores']} CPU cores (shared); workers per search: "
        f"{record['workers']}; each search {record['budget']}.",
        "",
        "## digits.yaml (ten digits, 8x8): winner against logistic regression, same split",
        "",
        "| seed | winner test accuracy | logistic regression | margin | trials complete |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        d = r["digits"]
        lines.append(
            f"| {r['seed']} | {d['test']:.4f} | {d['logistic']:.4f} | "
            f"{d['test'] - d['logistic']:+.4f} | {d['trials']} |"
        )
    lines += [
        f"| **median** | **{median(rows, 'digits', 'test'):.4f}** | "
        f"**{median(rows, 'digits', 'logistic'):.4f}** | | |",
        "",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from search_quality import parse_budget  # beside this file

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--budget",
        type=parse_budget,
        default="4m",
        help="wall clock of each search (90s, 4m, ...; default 4m)",
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated (default 0,1,2)")
    parser.add_argument("--workers", default="1", help="per search (default 1, as the spaces)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder (default {OUT})")
    args = parser.parse_args(argv)
    workers = args.workers if args.workers == "auto" else int(args.workers)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        print(f"seed {seed} ...", flush=True)
        rows.append(run_seed(seed, args.budget, workers))
        print(json.dumps(rows[-1]), flush=True)
    argv = list(sys.argv[1:] if argv is None else argv)
    record = {
        "command": " ".join(["python benchmarks/small_images.py", *argv]),
        "cores": os.cpu_count(),
        "workers": args.workers,
        "budget": f"{args.budget:.0f} s",
        "runs": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "small_images.json").write_text(json.dumps(record, indent=1))
    (args.out / "small_images.md").write_text(markdown(record))
    print(markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())

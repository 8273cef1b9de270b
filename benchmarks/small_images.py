"""Small image sets: do automl's ready image spaces beat a simple baseline, and does transfer
learning beat training from scratch?

Two tasks on scikit-learn's 8x8 handwritten digits (offline), each searched as the README runs
it, with a new split and sampler seed per seed:

    digits    search_spaces/digits.yaml (all ten digits): the winner's test accuracy against
              logistic regression on the same pixels and split (the baseline every search fits)
    transfer  search_spaces/digits_base.yaml (digits 0-4), then search_spaces/transfer.yaml
              (fine-tune that winner on 200 examples of 5-9), against the same search from
              scratch (digits_base's CNN space, transfer.yaml's data and training, same budget)
              and against logistic regression on the same 200-example split

    python benchmarks/small_images.py                        # 3 seeds, each search 4 minutes
    python benchmarks/small_images.py --budget 2m --seeds 0  # a quicker look

Results: ``reports/benchmarks/small_images.{md,json}``. Test splits are small (360 and 40
images: one image is 0.3 and 2.5 points), which is why the medians over seeds matter.
"""

from __future__ import annotations

import argparse
import copy
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


def scratch_space(transfer: dict, base: dict) -> dict:
    """transfer.yaml's data and training with digits_base.yaml's CNN, trained from scratch."""
    tree = copy.deepcopy(transfer)
    tree["name"] = "scratch-digits"
    tree["description"] = "digits 5-9 from 200 examples, from scratch"
    tree["model"] = copy.deepcopy(base["model"])
    return tree


def searched(tree: dict, run_dir: Path, workers: int | str) -> dict:
    """One search: the winner's test accuracy, the baselines on the same split, the trials."""
    import automl

    started = time.monotonic()
    result = automl.search(tree, run_dir=run_dir, reports_dir=None, progress=False,
                           workers=workers)
    baselines = {row["name"]: row["test"] for row in result.baselines}
    return {"test": result.test_metrics["accuracy"],
            "logistic": baselines.get("logistic regression"),
            "majority": baselines.get("majority class"),
            "trials": int((result.trials["state"] == "COMPLETE").sum()),
            "seconds": round(time.monotonic() - started, 1)}


def run_seed(seed: int, budget: float | None, workers: int | str) -> dict:
    with tempfile.TemporaryDirectory(prefix="automl-small-images-") as folder:
        runs = Path(folder)
        digits = searched(ready_space("digits", seed, budget), runs / "digits", workers)
        base = ready_space("digits_base", seed, None)  # as the README runs it
        transfer = ready_space("transfer", seed, budget)
        searched(base, runs / "transfer", workers)
        fine_tuned = searched(transfer, runs / "transfer", workers)
        scratch = searched(scratch_space(transfer, base), runs / "scratch", workers)
    return {"seed": seed, "digits": digits, "transfer": fine_tuned, "scratch": scratch}


def median(rows: list[dict], task: str, key: str) -> float:
    return statistics.median(r[task][key] for r in rows)


def markdown(record: dict) -> str:
    rows = record["runs"]
    lines = [
        "# Small image sets: ready spaces against a baseline, transfer against scratch", "",
        f"Command: `{record['command']}`  ",
        f"Machine: {record['cores']} CPU cores (shared); workers per search: "
        f"{record['workers']}; each search {record['budget']}.", "",
        "## digits.yaml (ten digits, 8x8): winner against logistic regression, same split", "",
        "| seed | winner test accuracy | logistic regression | margin | trials complete |",
        "|---:|---:|---:|---:|---:|"]
    for r in rows:
        d = r["digits"]
        lines.append(f"| {r['seed']} | {d['test']:.4f} | {d['logistic']:.4f} | "
                     f"{d['test'] - d['logistic']:+.4f} | {d['trials']} |")
    lines += [f"| **median** | **{median(rows, 'digits', 'test'):.4f}** | "
              f"**{median(rows, 'digits', 'logistic'):.4f}** | | |", "",
              "## transfer.yaml (digits 5-9 from 200 examples): fine-tuned base, from scratch, "
              "logistic regression, same split", "",
              "| seed | transfer | from scratch | logistic regression | transfer trials | "
              "scratch trials |", "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        t, s = r["transfer"], r["scratch"]
        lines.append(f"| {r['seed']} | {t['test']:.4f} | {s['test']:.4f} | "
                     f"{t['logistic']:.4f} | {t['trials']} | {s['trials']} |")
    lines += [f"| **median** | **{median(rows, 'transfer', 'test'):.4f}** | "
              f"**{median(rows, 'scratch', 'test'):.4f}** | "
              f"**{median(rows, 'transfer', 'logistic'):.4f}** | | |", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from search_quality import parse_budget  # beside this file

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=parse_budget, default="4m",
                        help="wall clock of each search but digits_base's, which runs as its "
                             "space says (90s, 4m, ...; default 4m)")
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
    record = {"command": " ".join(["python benchmarks/small_images.py", *argv]),
              "cores": os.cpu_count(), "workers": args.workers, "budget": f"{args.budget:.0f} s",
              "runs": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "small_images.json").write_text(json.dumps(record, indent=1))
    (args.out / "small_images.md").write_text(markdown(record))
    print(markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())

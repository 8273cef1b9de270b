"""Transfer learning: does the README's transfer example beat training from scratch and a simple
baseline on the same few examples?

Per seed (a new split and sampler seed each), as the README runs it:

    base      search_spaces/mnist1d_base.yaml: a 1-D CNN learns MNIST-1D digits 0-4
    transfer  search_spaces/transfer.yaml: that winner fine-tuned on 200 signals of 5-9
    scratch   the same search from scratch: mnist1d_base.yaml's CNN space with transfer.yaml's
              data (the same 200 signals) and training, for the same time
    logistic  logistic regression on the same 200 signals (the baseline every search fits)

all scored on the package's own test signals of 5-9 (about 500; one signal is 0.2 points).

    python benchmarks/transfer.py                        # 3 seeds, about 25 minutes
    python benchmarks/transfer.py --budget 2m --seeds 0  # a quicker look

Results: ``reports/benchmarks/transfer.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # small_images, search_quality
from small_images import OUT, ready_space, searched  # noqa: E402


def scratch_space(transfer: dict, base: dict) -> dict:
    """transfer.yaml's data and training with mnist1d_base.yaml's CNN, trained from scratch."""
    import copy

    tree = copy.deepcopy(transfer)
    tree["name"] = "scratch-mnist1d"
    tree["description"] = "digits 5-9 from 200 signals, from scratch"
    tree["model"] = copy.deepcopy(base["model"])
    return tree


def run_seed(seed: int, budget: float | None, workers: int | str) -> dict:
    with tempfile.TemporaryDirectory(prefix="automl-transfer-") as folder:
        runs = Path(folder)
        base = ready_space("mnist1d_base", seed, None)  # as the README runs it
        transfer = ready_space("transfer", seed, budget)
        base_result = searched(base, runs / "transfer", workers)
        fine_tuned = searched(transfer, runs / "transfer", workers)
        scratch = searched(scratch_space(transfer, base), runs / "scratch", workers)
    return {"seed": seed, "base": base_result, "transfer": fine_tuned, "scratch": scratch}


def markdown(record: dict) -> str:
    rows = record["runs"]

    def middle(task: str, key: str) -> float:
        return statistics.median(r[task][key] for r in rows)

    lines = [
        "# Transfer learning: fine-tuned base against scratch and logistic regression",
        "",
        f"Command: `{record['command']}`  ",
        f"Machine: {record['cores']} CPU cores (shared); workers per search: "
        f"{record['workers']}; transfer and scratch searches {record['budget']} each.",
        "",
        "MNIST-1D digits 5-9 from 200 signals (160 train, 40 validation); test: the package's "
        "own test signals of 5-9. The base learned digits 0-4 (all their training signals).",
        "",
        "| seed | transfer | from scratch | logistic regression | transfer - scratch | "
        "base (0-4) | transfer trials | scratch trials |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        t, s, b = r["transfer"], r["scratch"], r["base"]
        lines.append(
            f"| {r['seed']} | {t['test']:.4f} | {s['test']:.4f} | {t['logistic']:.4f} "
            f"| {t['test'] - s['test']:+.4f} | {b['test']:.4f} | {t['trials']} | "
            f"{s['trials']} |"
        )
    lines += [
        f"| **median** | **{middle('transfer', 'test'):.4f}** | "
        f"**{middle('scratch', 'test'):.4f}** | **{middle('transfer', 'logistic'):.4f}** "
        f"| | {middle('base', 'test'):.4f} | | |",
        "",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from search_quality import parse_budget

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--budget",
        type=parse_budget,
        default=None,
        help="wall clock of the transfer and scratch searches (90s, 4m, ...; "
        "default: transfer.yaml's timeout); the base runs as its space says",
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated (default 0,1,2)")
    parser.add_argument("--workers", default="1", help="per search (default 1)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder (default {OUT})")
    args = parser.parse_args(argv)
    workers = args.workers if args.workers == "auto" else int(args.workers)
    budget = args.budget or parse_budget(ready_space("transfer", 0, None)["search"]["timeout"])
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        print(f"seed {seed} ...", flush=True)
        rows.append(run_seed(seed, budget, workers))
        print(json.dumps(rows[-1]), flush=True)
    argv = list(sys.argv[1:] if argv is None else argv)
    record = {
        "command": " ".join(["python benchmarks/transfer.py", *argv]),
        "cores": os.cpu_count(),
        "workers": args.workers,
        "budget": f"{budget:.0f} s",
        "runs": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "transfer.json").write_text(json.dumps(record, indent=1))
    (args.out / "transfer.md").write_text(markdown(record))
    print(markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())

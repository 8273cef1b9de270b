"""The embedded Optuna storage under several writers: journal file vs SQLite.

Each of N processes runs the storage traffic of automl trials without the training: ask (TPE
sampling over a small conditional space), 10 intermediate values, 4 user attrs, tell. We count
the operations that raised (SQLite's "database is locked" shows up here) and the trials per
second. ``automl`` uses the journal file for ``--workers N`` on one machine.

    python benchmarks/storage.py                       # 1, 2, 4 writers x 200 trials each
    python benchmarks/storage.py --writers 1 2 --trials 100

Results go to ``reports/curated/storage.md``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "reports" / "curated" / "storage.md"


def open_storage(kind: str, folder: Path):
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if kind == "journal":
        return JournalStorage(JournalFileBackend(str(folder / "optuna.journal")))
    return optuna.storages.RDBStorage(f"sqlite:///{folder / 'optuna.db'}")


def writer(kind: str, folder: str, trials: int, seed: int, results) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    errors = 0
    started = time.perf_counter()
    done = 0
    study = optuna.load_study(
        study_name="bench",
        storage=open_storage(kind, Path(folder)),
        sampler=optuna.samplers.TPESampler(seed=seed),
    )
    for _ in range(trials):
        try:
            trial = study.ask()
            family = trial.suggest_categorical("family", ["cnn", "mlp"])
            trial.suggest_float(f"{family}.lr", 1e-4, 1e-1, log=True)
            trial.suggest_int(f"{family}.width", 8, 256, log=True)
            for step in range(10):
                trial.report(step / 10, step)
            for key in ("mlflow_run_id", "worker", "seconds", "epochs_run"):
                trial.set_user_attr(key, f"{key}-{trial.number}")
            study.tell(trial, 0.5)
            done += 1
        except Exception:  # noqa: BLE001 - counted: this is what the benchmark measures
            errors += 1
    results.put((done, errors, time.perf_counter() - started))


def run(kind: str, writers: int, trials: int) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        optuna.create_study(study_name="bench", storage=open_storage(kind, Path(folder)))
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        started = time.perf_counter()
        processes = [
            context.Process(target=writer, args=(kind, folder, trials, i, results))
            for i in range(writers)
        ]
        for p in processes:
            p.start()
        outcomes = [results.get() for _ in processes]
        for p in processes:
            p.join()
        wall = time.perf_counter() - started
        stored = len(
            optuna.load_study(study_name="bench", storage=open_storage(kind, Path(folder))).trials
        )
    done = sum(o[0] for o in outcomes)
    return {
        "kind": kind,
        "writers": writers,
        "trials": done,
        "errors": sum(o[1] for o in outcomes),
        "stored": stored,
        "wall": wall,
        "per_s": done / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--trials", type=int, default=200, help="trials per writer")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for writers in args.writers:
        for kind in ("journal", "sqlite"):
            runs = [run(kind, writers, args.trials) for _ in range(args.repeats)]
            rows.append(
                {
                    **runs[0],
                    "per_s": statistics.median(r["per_s"] for r in runs),
                    "errors": sum(r["errors"] for r in runs),
                }
            )
            print(rows[-1])
    lines = [
        "# Optuna storage under several writers",
        "",
        f"`python benchmarks/storage.py` ({args.trials} trials per writer, median of "
        f"{args.repeats} runs; each trial: ask with TPE, 10 intermediate values, 4 user "
        "attrs, tell; no training). Machine: 2 CPU cores.",
        "",
        "| writers | storage | trials/s (median) | errors (all runs) |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['writers']} | {r['kind']} | {r['per_s']:.1f} | {r['errors']} |" for r in rows]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

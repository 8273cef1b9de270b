"""What bookkeeping costs a study: its wall time over the pure ``model.fit`` time of its trials.

Trials run in this process exactly as a worker runs them: automl's Objective (sampling, MLflow
child run with params, config, datasets and per-epoch metrics, pruning, candidate models saved),
an Optuna journal storage and the MLflow SQLite store in a temporary run folder, both on. For each
trial it times:

- the trial: the objective's whole call;
- pure training: the time inside ``model.fit`` less the time spent in automl's own callbacks
  there (the per-epoch MLflow logging and Optuna's report/prune), which is bookkeeping;
- bookkeeping: every Tracker call (MLflow) and every Optuna storage call, wherever made.

The figure is the median over trials of trial time / pure training time, and the study's: the
optimize loop's wall time / the sum of pure training times. What is neither training nor
bookkeeping is building and compiling the model, the input pipeline and saving candidates.

    python benchmarks/overhead.py                      # 6 trials of mnist1d, 8 epochs each
    python benchmarks/overhead.py --trials 10 --epochs 15 --tracking-uri http://127.0.0.1:5000

Results go to ``reports/curated/overhead.md``.
"""

from __future__ import annotations

import argparse
import copy
import functools
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "curated" / "overhead.md"
# the rest of a trial, timed apart: building and compiling the model, the training input
# pipeline, saving a candidate model, keras.backend.clear_session() and gc.collect() after it
WORK = ("build", "pipeline", "candidate", "clear_session", "gc")
sys.path.insert(0, str(ROOT))


class Clock:
    """Seconds spent per kind of work in the trial that is running."""

    def __init__(self) -> None:
        self.trial: dict[str, float] = defaultdict(float)
        self.depth: dict[str, int] = defaultdict(int)

    def timed(self, kind: str, function: Callable) -> Callable:
        """``function`` that adds its duration to ``kind`` (outermost call only)."""

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.depth[kind] += 1
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.depth[kind] -= 1
                if self.depth[kind] == 0:
                    self.trial[kind] += time.perf_counter() - started

        return wrapper

    def take(self) -> dict[str, float]:
        """This trial's seconds per kind; starts the next trial at zero."""
        taken, self.trial = dict(self.trial), defaultdict(float)
        return taken


def instrument(clock: Clock, tracker: Any, storage: Any) -> None:
    """Time ``model.fit``, automl's callbacks inside it, the tracker's and the storage's calls,
    and the rest of a trial: building the model, its input pipeline, saving a candidate, the
    clean-up after it (``clear_session``, ``gc``)."""
    import gc

    import keras
    from optuna_integration import KerasPruningCallback

    from automl.training import fit
    from automl.training.callbacks import EpochReporter
    from automl.tuner.objective import Objective

    keras.Model.fit = clock.timed("fit", keras.Model.fit)
    fit.compiled_model = clock.timed("build", fit.compiled_model)
    fit.training_batches = clock.timed("pipeline", fit.training_batches)
    Objective._keep_if_candidate = clock.timed("candidate", Objective._keep_if_candidate)
    keras.backend.clear_session = clock.timed("clear_session", keras.backend.clear_session)
    gc.collect = clock.timed("gc", gc.collect)
    for callback in (EpochReporter, KerasPruningCallback):
        callback.on_epoch_end = clock.timed("callbacks", callback.on_epoch_end)
    for name in dir(tracker):
        method = getattr(tracker, name)
        if not name.startswith("_") and callable(method):
            setattr(tracker, name, clock.timed("mlflow", method))
    for name in dir(storage):
        method = getattr(storage, name)
        if not name.startswith("_") and callable(method):
            setattr(storage, name, clock.timed("storage", method))


def run(space: str, trials: int, epochs: int, tracking_uri: str | None) -> dict[str, Any]:
    """Run the trials; per trial: seconds of the trial, pure training and bookkeeping."""
    from automl.tuner.quiet import import_tensorflow_quietly, quiet_libraries

    quiet_libraries()
    import_tensorflow_quietly()
    from optuna.trial import TrialState

    from automl.catalog import ready_spaces
    from automl.config import load_space
    from automl.data import load_source, make_splits
    from automl.data.checks import fit_space_to_data
    from automl.tracking.store import default_tracking_uri
    from automl.tracking.tracker import Tracker
    from automl.training import device
    from automl.tuner.objective import Objective
    from automl.tuner.study import max_epochs, open_storage, open_study
    from automl.tuner.worker import settle_memory

    path = ready_spaces().get(space, space)
    tree = copy.deepcopy(load_space(path).tree)
    tree["training"]["epochs"] = epochs
    cfg = load_space(tree, {"trials": trials, "pruner": "none"})
    arrays = load_source(cfg.data)
    cfg = fit_space_to_data(cfg, arrays)
    splits = make_splits(arrays, cfg.data)
    device.configure()
    clock = Clock()
    with tempfile.TemporaryDirectory(prefix="automl-overhead-") as folder:
        run_dir = Path(folder)
        uri = tracking_uri or default_tracking_uri(run_dir)
        tracker = Tracker(uri, f"overhead-{os.getpid()}", run_dir / "mlartifacts")
        tracker.start_study(
            cfg.name, None, {"search.objective": cfg.search.objective}, None, splits.manifest()
        )
        tracker.log_splits(tracker.parent_run_id, splits)
        url = str(run_dir / "optuna.journal")
        storage = open_storage(url, create=True)
        study = open_study(cfg.name, storage, url, cfg.search, max_epochs(cfg), cfg.space)
        objective = Objective(cfg, splits, tracker, run_dir / "candidates")
        settle_memory()  # as a worker does before its first trial
        instrument(clock, tracker, storage)
        rows: list[dict[str, Any]] = []

        def timed_objective(trial):
            clock.take()
            started = time.perf_counter()
            try:
                return objective(trial)
            finally:
                seconds = clock.take()
                rows.append(
                    {"trial": trial.number, "seconds": time.perf_counter() - started, **seconds}
                )

        started = time.perf_counter()
        study.optimize(timed_objective, n_trials=trials, gc_after_trial=True)  # as a worker
        wall = time.perf_counter() - started
        tracker.end_study()
        states = [t.state for t in study.trials]
    for row in rows:
        row["pure_fit"] = row.get("fit", 0.0) - row.get("callbacks", 0.0)
        row["bookkeeping"] = row.get("mlflow", 0.0) + row.get("storage", 0.0)
        row["ratio"] = row["seconds"] / row["pure_fit"]
    return {
        "rows": rows,
        "wall": wall,
        "complete": states.count(TrialState.COMPLETE),
        "tracking": "MLflow server" if tracking_uri else "embedded MLflow store (SQLite)",
    }


def report(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The Markdown page: the figure, then each trial's seconds."""
    rows = result["rows"]
    pure = sum(r["pure_fit"] for r in rows)
    median = statistics.median(r["ratio"] for r in rows)
    bookkeeping = sum(r["bookkeeping"] for r in rows)
    cleanup = sum(r.get("clear_session", 0.0) + r.get("gc", 0.0) for r in rows)
    load = os.getloadavg()[0]
    lines = [
        "# What bookkeeping costs a study",
        "",
        f"`python benchmarks/overhead.py --trials {args.trials} --epochs {args.epochs}` "
        f"(space {args.space}, pruning off, {result['tracking']} and the Optuna journal storage "
        f"on; {os.cpu_count()} CPU cores shared with other work: load average {load:.1f} "
        f"at the end, so the seconds are noisy).",
        "",
        f"- **Median trial time / pure `model.fit` time: {median:.3f}** (target at most 1.05).",
        f"- Study wall time / sum of pure `model.fit` time: "
        f"{result['wall'] / pure:.3f} ({result['wall']:.1f} s / {pure:.1f} s).",
        f"- Of which MLflow and Optuna storage calls: {bookkeeping:.2f} s in all, "
        f"{100 * bookkeeping / pure:.1f}% of pure training time "
        f"({bookkeeping / len(rows):.2f} s a trial). The rest, per trial: "
        + ", ".join(
            f"{kind} {statistics.median(r.get(kind, 0.0) for r in rows):.2f} s" for kind in WORK
        )
        + " (medians).",
        f"- Clean-up after each trial (`keras.backend.clear_session()` and `gc.collect()` in "
        f"the objective) is {100 * cleanup / pure:.1f}% of pure training time, the largest "
        f"part of the gap; the study's wall time also holds Optuna's own `gc_after_trial` "
        f"collection and its sampling between trials. Longer trials shrink every fixed cost.",
        "- Not counted: what happens once per worker or per search (starting a worker process "
        "and importing TensorFlow, the preflight and dry build, choosing and registering the "
        "winner).",
        "",
        "| trial | trial s | pure fit s | in-fit callbacks s | MLflow s | storage s | "
        + " | ".join(f"{kind} s" for kind in WORK)
        + " | ratio |",
        "|---" * (7 + len(WORK)) + "|",
    ]
    lines += [
        f"| {r['trial']} | {r['seconds']:.2f} | {r['pure_fit']:.2f} | "
        f"{r.get('callbacks', 0):.3f} | {r.get('mlflow', 0):.3f} | "
        f"{r.get('storage', 0):.3f} | "
        + " | ".join(f"{r.get(kind, 0):.2f}" for kind in WORK)
        + f" | {r['ratio']:.3f} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6, help="trials to run (default: 6)")
    parser.add_argument("--epochs", type=int, default=8, help="epochs per trial (default: 8)")
    parser.add_argument("--space", default="mnist1d", help="a ready space or a space file")
    parser.add_argument("--tracking-uri", help="an MLflow server instead of the embedded store")
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT}")
    args = parser.parse_args()
    result = run(args.space, args.trials, args.epochs, args.tracking_uri)
    page = report(result, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page)
    print(page)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

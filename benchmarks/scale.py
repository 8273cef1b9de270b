"""Load on one shared study: 1, 4, 16 and 64 worker processes against one PostgreSQL study that
already holds 100 or 5,000 trials, the fit replaced by a canned outcome of a few seconds.

The bookkeeping is real: each worker is automl's own trial loop (``worker.run_one`` through the
patient storage, the start lock, the budget check), Optuna's TPE sampler reading the whole
study, a child run per trial on a real ``mlflow server`` (params, three epochs of metrics, a
candidate file uploaded as an artifact, the run closed). Only the training is canned: the
workers sleep ``--fit-seconds`` in three epochs and import no TensorFlow. All workers of a run
load the study first and start together, so the start of 64 Python processes on 2 cores is not
counted as throughput.

Measured per run: trials per second (trials / the time from the first start to the last end),
the latency of asking for a trial (the stale-trial check, the sampler, the insert) and of
telling its outcome, the wait for the start lock, and whether every trial number is there once
with none lost or doubled.

    python benchmarks/scale.py                         # 1, 4, 16, 64 workers x 100 and 5,000
    python benchmarks/scale.py --workers 1,4 --sizes 100 --fit-seconds 1

Writes ``reports/benchmarks/scale.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
OUT = ROOT / "reports" / "benchmarks"


# ---- one canned worker (a process of its own: python benchmarks/scale.py --worker ...) --------


def canned_worker(args: argparse.Namespace) -> int:
    import types

    import optuna

    from automl.tracking.tracker import Tracker
    from automl.tuner.study import StartLock, WorkerId, open_storage, trials_to_start
    from automl.tuner.worker import run_one

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(args.storage)
    study = optuna.load_study(study_name=args.study, storage=storage)
    tracker = Tracker(args.tracking_uri, args.study)
    tracker.parent_run_id = args.parent
    me = WorkerId.this_process()
    candidates = Path(args.out) / "candidates"
    candidates.mkdir(parents=True, exist_ok=True)
    search = types.SimpleNamespace(trials=args.target)
    print("ready", flush=True)
    while not Path(args.go).exists():
        time.sleep(0.05)
    times: list[dict] = []
    stamp: dict[str, float] = {}

    def objective(trial: optuna.Trial) -> float:
        stamp["fit"] = time.perf_counter()
        x = trial.suggest_float("x", -3, 3)
        units = trial.suggest_int("units", 8, 256, log=True)
        trial.set_user_attr("worker", me.as_attr())
        run_id = tracker.start_trial(trial.number, trial.params, worker=f"{me.host}:{me.pid}")
        trial.set_user_attr("mlflow_run_id", run_id)
        value = -((x - 1) ** 2) - 0.001 * units
        for epoch in range(3):
            time.sleep(args.fit_seconds / 3)
            trial.report(value * (3 - epoch), epoch)
            tracker.log_metrics(
                run_id, {"val_loss": -value, "loss": -value}, step=epoch, wait=False
            )
        path = candidates / f"trial-{trial.number}.keras"
        path.write_bytes(os.urandom(2048))  # a small stand-in for the kept model
        tracker.log_artifact(run_id, path, "candidate")
        tracker.end_trial(run_id, "COMPLETE", None, {"val_loss": -value}, f"x={x:.3f}")
        stamp["fitted"] = time.perf_counter()
        return value

    lock = StartLock(storage, args.study)
    while True:
        began = time.perf_counter()
        lock.acquire()
        locked = time.perf_counter()
        if trials_to_start(study, search.trials) == 0:
            lock.release()
            break
        checked = time.perf_counter()
        frozen = run_one(study, storage, objective, lock.release)
        ended = time.perf_counter()
        times.append(
            {
                "trial": frozen.number,
                "lock_s": locked - began,
                "check_s": checked - locked,
                "ask_s": stamp["fit"] - checked,
                "tell_s": ended - stamp["fitted"],
                "start": time.time() - (ended - checked),
                "end": time.time(),
            }
        )
    lock.release()
    Path(args.out, f"times-{os.getpid()}.json").write_text(json.dumps(times))
    return 0


# ---- the driver -------------------------------------------------------------------------------


def preload(study, count: int) -> None:
    """``count`` complete trials of the same space, as if the study had run that long."""
    import random

    import optuna
    from optuna.distributions import FloatDistribution, IntDistribution

    rng = random.Random(0)
    distributions = {"x": FloatDistribution(-3, 3), "units": IntDistribution(8, 256, log=True)}
    trials = []
    for _ in range(count):
        x, units = rng.uniform(-3, 3), int(2 ** rng.uniform(3, 8))
        trials.append(
            optuna.trial.create_trial(
                params={"x": x, "units": units},
                distributions=distributions,
                value=-((x - 1) ** 2) - 0.001 * units,
                intermediate_values={0: 0.0, 1: 0.0, 2: 0.0},
            )
        )
    study.add_trials(trials)


def one_run(
    storage_url: str,
    tracking_uri: str,
    study_name: str,
    parent: str,
    workers: int,
    new_trials: int,
    fit_seconds: float,
    folder: Path,
) -> dict:
    import optuna

    from automl.tuner.study import finished_trials, open_storage

    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    before = {t.number for t in study.get_trials(deepcopy=False)}
    target = finished_trials(study) + new_trials
    go = folder / "go"
    env = {**os.environ, "AUTOML_STORAGE": storage_url, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                "--storage",
                storage_url,
                "--tracking-uri",
                tracking_uri,
                "--study",
                study_name,
                "--parent",
                parent,
                "--target",
                str(target),
                "--fit-seconds",
                str(fit_seconds),
                "--go",
                str(go),
                "--out",
                str(folder),
            ],
            stdout=subprocess.PIPE,
            stderr=open(folder / f"worker-{i}.log", "w"),
            text=True,
            env=env,
        )
        for i in range(workers)
    ]
    for process in processes:  # each says "ready" once it has loaded the study
        line = process.stdout.readline() if process.stdout else ""
        if line.strip() != "ready":
            raise RuntimeError(f"a worker failed to start: see {folder}/worker-*.log")
    ready_s = time.perf_counter() - started
    rss = sum(_rss_mb(p.pid) for p in processes)
    go.touch()
    codes = [p.wait(timeout=1800) for p in processes]
    times = [t for f in folder.glob("times-*.json") for t in json.loads(f.read_text())]
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    trials = study.get_trials(deepcopy=False)
    new = [t for t in trials if t.number not in before]
    numbers = [t.number for t in trials]
    window = max(t["end"] for t in times) - min(t["start"] for t in times) if times else 0.0

    def median_ms(key: str) -> float:
        return round(1000 * statistics.median(t[key] for t in times), 1) if times else 0.0

    def p95_ms(key: str) -> float:
        values = sorted(t[key] for t in times)
        return round(1000 * values[int(0.95 * (len(values) - 1))], 1) if values else 0.0

    return {
        "workers": workers,
        "study_size": len(before),
        "new_trials": len(new),
        "asked_for": new_trials,
        "exit_codes_ok": all(code == 0 for code in codes),
        "numbers_once": len(set(numbers)) == len(numbers),
        "lost_or_running": sum(t.state.name != "COMPLETE" for t in new),
        "trials_per_s": round(len(times) / window, 2) if window else 0.0,
        "ideal_per_s": round(workers / fit_seconds, 2),
        "ask_ms": median_ms("ask_s"),
        "ask_p95_ms": p95_ms("ask_s"),
        "tell_ms": median_ms("tell_s"),
        "lock_ms": median_ms("lock_s"),
        "check_ms": median_ms("check_s"),
        "start_s": round(ready_s, 1),
        "workers_rss_mb": round(rss),
    }


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            line = next(x for x in f if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,4,16,64")
    parser.add_argument("--sizes", default="100,5000", help="trials already in the study")
    parser.add_argument("--trials-per-worker", type=int, default=3)
    parser.add_argument("--fit-seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=OUT)
    # a canned worker's own arguments (the driver starts it with these)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for name in ("--storage", "--tracking-uri", "--study", "--parent", "--go"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument("--target", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return canned_worker(args)

    import optuna
    from servers import postgres_bin, start_mlflow_server, start_postgres

    from automl.tracking.tracker import Tracker
    from automl.tuner.study import open_storage

    if postgres_bin() is None:
        print("PostgreSQL is not installed: apt-get install postgresql", file=sys.stderr)
        return 2
    counts = [int(n) for n in args.workers.split(",")]
    sizes = [int(n) for n in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="automl-scale-") as tmp:
        root = Path(tmp)
        postgres = start_postgres(max_connections=4 * max(counts) + 50)
        server = None
        try:
            postgres.create_database("optuna")
            postgres.create_database("mlflow")
            server = start_mlflow_server(
                postgres.url("mlflow"), root / "artifacts", root / "mlflow.log", workers=2
            )
            url = postgres.url("optuna")
            for size in sizes:
                name = f"scale-{size}"
                study = optuna.create_study(study_name=name, storage=open_storage(url, create=True))
                loaded = time.perf_counter()
                preload(study, size)
                print(f"{name}: {size} trials preloaded in {time.perf_counter() - loaded:.0f}s")
                tracker = Tracker(server.url, name)
                parent = tracker.start_study(name, None, {}, None, {})
                for workers in counts:
                    folder = root / f"{name}-{workers}"
                    folder.mkdir()
                    row = one_run(
                        url,
                        server.url,
                        name,
                        parent,
                        workers,
                        args.trials_per_worker * workers,
                        args.fit_seconds,
                        folder,
                    )
                    print(json.dumps(row), flush=True)
                    rows.append(row)
        finally:
            if server is not None:
                server.stop()
            postgres.stop()
    write(rows, args)
    return 0 if all(r["numbers_once"] and not r["lost_or_running"] for r in rows) else 1


def write(rows: list[dict], args: argparse.Namespace) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(json.dumps(rows, indent=2) + "\n")
    columns = [
        "workers",
        "study_size",
        "new_trials",
        "trials_per_s",
        "ideal_per_s",
        "ask_ms",
        "ask_p95_ms",
        "tell_ms",
        "lock_ms",
        "check_ms",
        "start_s",
        "workers_rss_mb",
        "numbers_once",
        "lost_or_running",
    ]
    table = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    table += "\n".join("| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows)
    command = " ".join(["python", "benchmarks/scale.py", *sys.argv[1:]])
    (args.out / "scale.md").write_text(
        "# Load on one shared study\n\n"
        f"Command: `{command}` (2-core CPU machine). Canned trials of {args.fit_seconds:g} s "
        f"(three epochs), {args.trials_per_worker} per worker; the bookkeeping is real "
        "(automl's trial loop, TPE, PostgreSQL, an MLflow server with 2 workers, a candidate "
        "artifact per trial). ideal_per_s = workers / fit seconds; ask_ms includes the "
        "stale-trial check and the sampler; lock_ms is the wait for the start lock; check_ms "
        "the budget check under it; start_s the time for all workers to load the study.\n\n"
        + table
        + "\n"
    )


if __name__ == "__main__":
    sys.exit(main())

"""Faults on a shared study at full length: the shared search of ``tests/fault_scenario.py``
(``automl search --workers 2`` and an ``automl worker`` of "another machine", a real PostgreSQL
and ``mlflow server``) with the production settings: heartbeats every 10 s, a trial lost after
60 s of silence, PostgreSQL stopped for 15 s (``pg_ctl stop -m fast``) and the MLflow server
for 20 s, the remote worker SIGKILLed mid-trial. The suite runs the same search with short
settings (``tests/test_distributed.py``); this is the check that the defaults hold.

    python benchmarks/faults.py                      # about 4 minutes on 2 cores
    python benchmarks/faults.py --database-down 60   # a longer outage

Writes ``reports/benchmarks/faults.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
OUT = ROOT / "reports" / "benchmarks"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heartbeat", default="10s")
    parser.add_argument("--grace", default="60s")
    parser.add_argument("--storage-wait", default="10m")
    parser.add_argument("--database-down", type=float, default=15.0, help="seconds")
    parser.add_argument("--tracking-down", type=float, default=20.0, help="seconds")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    from fault_scenario import outcome_facts, shared_search_with_faults
    from servers import postgres_bin, start_mlflow_server, start_postgres

    if postgres_bin() is None:
        print("PostgreSQL is not installed: apt-get install postgresql", file=sys.stderr)
        return 2
    faults = {
        "AUTOML_HEARTBEAT": args.heartbeat,
        "AUTOML_GRACE": args.grace,
        "AUTOML_STORAGE_WAIT": args.storage_wait,
    }
    with tempfile.TemporaryDirectory(prefix="automl-faults-") as tmp:
        root = Path(tmp)
        postgres = start_postgres()
        server = None
        try:
            postgres.create_database("optuna")
            postgres.create_database("mlflow")
            server = start_mlflow_server(
                postgres.url("mlflow"), root / "artifacts", root / "mlflow.log"
            )
            (root / "search").mkdir()
            outcome = shared_search_with_faults(
                postgres, server, root / "search", faults, args.database_down, args.tracking_down
            )
            facts = outcome_facts(outcome)
        finally:
            if server is not None:
                server.stop()
            postgres.stop()
    settings = {
        **faults,
        "database_down_s": args.database_down,
        "tracking_down_s": args.tracking_down,
    }
    record = {"settings": settings, "outcome": facts}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "faults.json").write_text(json.dumps(record, indent=2) + "\n")
    rows = "\n".join(f"| {key} | {value} |" for key, value in facts.items())
    (args.out / "faults.md").write_text(
        "# Faults on a shared study, at full length\n\n"
        "Command: `python benchmarks/faults.py` (2-core CPU machine). Settings: "
        + ", ".join(f"`{k}={v}`" for k, v in settings.items())
        + ". One shared search of 6 trials: `automl search --workers 2` and one `automl worker` "
        "of another machine (its own `AUTOML_HOST`), which is SIGKILLed in its second trial; "
        "then PostgreSQL and the MLflow server are stopped together while two trials train, "
        "and started again.\n\n| what | found |\n|---|---|\n" + rows + "\n"
    )
    print(json.dumps(record, indent=2))
    ok = (
        facts["search_exit"] == 0
        and facts["numbers_once"]
        and facts["left_running_or_waiting"] == 0
        and facts["failed"] == 1
        and facts["killed_retries"] == 1
        and facts["child_runs_per_trial"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

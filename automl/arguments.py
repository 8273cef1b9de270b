"""The ``automl`` command line's words: every subcommand, option, default and help text.

:func:`build_parser` imports nothing heavy, so ``automl --help`` answers at once; the names a
choice takes (samplers, pruners, export formats) come from :mod:`automl.registry`. What each
subcommand does is in :mod:`automl.cli`.
"""

from __future__ import annotations

import argparse
import os

from automl.defaults import DEFAULT_REPORTS_DIR, DEFAULT_RUN_DIR
from automl.registry import EXPORT_FORMATS, PRUNERS, SAMPLERS

EXAMPLES = """examples:
  automl search churn.csv --target churn                  a search straight from a table (10m)
  automl search photos/ --budget 30m                      a folder of images, a sub-folder a class
  automl init churn.csv --target churn -o space.yaml      that search's space, to edit and rerun
  automl spaces                                           list the ready spaces (mnist1d, ...)
  automl search mnist1d                                   run (or resume) a ready space's search
  automl search my_space.yaml --trials 5 --timeout 2m     your own space file, capped
  automl search mnist1d --export out/                     and export the winner to out/
  automl search mnist1d --workers auto                    several trials at once on this machine
  automl worker --study mnist1d --storage postgresql://...  join a study from another machine
  automl select --study mnist1d --storage postgresql://...  choose the winner once workers are done
  automl rerun --study mnist1d --trial 3                   retrain one trial, compare its score
  automl export --study mnist1d --format onnx --out out/  the winner for another runtime
  automl predict --study mnist1d new.csv                 predictions for new examples
  automl validate my_space.yaml                           check a file, list its dimensions
  automl schema > automl-space.schema.json               JSON Schema for editors
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="automl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Keras hyperparameter search from a YAML space: Optuna picks the trials, "
        "MLflow records them, the held-out test split picks the winner.",
        epilog=EXAMPLES,
    )
    parser.add_argument("--version", action="version", version=f"automl {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "search",
        help="run or resume a search",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the search a space file describes, or a search straight from "
        "data (a CSV or Parquet table, a folder of images with one sub-folder per class, an "
        ".npz) with a space decided from the data and shown as a plan first; running it "
        "again with the same --run-dir resumes the study.",
        epilog=EXAMPLES,
    )
    run.add_argument(
        "space",
        help="space file, the name of a ready space such as mnist1d (automl spaces lists "
        "them), or the data to search straight from",
    )
    _data_options(run)
    run.add_argument(
        "--trials", type=int, help="total trials of the study (overrides search.trials)"
    )
    run.add_argument(
        "--timeout",
        help="stop starting trials after this long: 90s, 10m, 1h (overrides search.timeout)",
    )
    run.add_argument("--sampler", help=f"{SAMPLERS.choices_text()} (overrides search.sampler)")
    run.add_argument("--pruner", help=f"{PRUNERS.choices_text()} (overrides search.pruner)")
    run.add_argument("--seed", type=int, help="sampler seed (overrides search.seed)")
    run.add_argument(
        "--workers",
        type=_workers,
        metavar="N|auto",
        help="worker processes on this machine, each training one trial at a time "
        "(overrides search.workers; auto: one per core, two per GPU; 0: "
        "trials in this process, where a debugger reaches your builder)",
    )
    run.add_argument(
        "--run-dir",
        default=DEFAULT_RUN_DIR,
        help="folder of the Optuna storage, MLflow store and models (default: %(default)s)",
    )
    run.add_argument(
        "--tracking-uri",
        default=os.environ.get("AUTOML_TRACKING_URI"),
        help="MLflow tracking URI (default: $AUTOML_TRACKING_URI, else an SQLite "
        "file in the run folder)",
    )
    run.add_argument(
        "--storage",
        default=os.environ.get("AUTOML_STORAGE"),
        help="Optuna storage: a journal file or a database URL such as "
        "postgresql://user:password@host/db (default: $AUTOML_STORAGE, else "
        "optuna.journal in the run folder)",
    )
    run.add_argument(
        "--reports-dir",
        default=DEFAULT_REPORTS_DIR,
        help="where <study>/ with summary, trials CSV and plots goes (default: %(default)s)",
    )
    run.add_argument("--export", metavar="DIR", help="also export the winner to DIR")
    run.add_argument("--quiet", action="store_true", help="no progress display")

    join = commands.add_parser(
        "worker",
        help="join a running study as one more worker (on any machine)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Join a study that automl search started and run its trials until its "
        "budget is spent. Everything else (space, data, MLflow parent run) comes "
        "from the study. Connection strings may also come from the environment "
        "(AUTOML_STORAGE, AUTOML_TRACKING_URI), which keeps passwords out of the "
        "process list.",
        epilog="example:\n  automl worker --study mnist1d --storage "
        "postgresql://automl:PASSWORD@db:5432/optuna \\\n"
        "                --tracking-uri http://mlflow:5000",
    )
    _study_options(join)
    join.add_argument("--trials", type=int, help="run at most this many trials, then exit")
    join.add_argument("--timeout", type=float, help="start no trial after this many seconds")
    join.add_argument("--seed", type=int, help="this worker's sampler seed")
    join.add_argument("--threads", type=int, help="TensorFlow threads (default: all cores)")
    join.add_argument("--events-fd", type=int, help=argparse.SUPPRESS)  # set by automl search

    pick = commands.add_parser(
        "select",
        help="choose the winner of a study whose workers ran elsewhere",
        description="Evaluate the study's top-K trials on the held-out test split, register "
        "the winner and write the report: what automl search does at its end.",
    )
    _study_options(pick)
    pick.add_argument(
        "--reports-dir",
        default=DEFAULT_REPORTS_DIR,
        help="where <study>/ with the report goes (default: %(default)s)",
    )
    pick.add_argument("--export", metavar="DIR", help="also export the winner to DIR")

    again = commands.add_parser(
        "rerun",
        help="train one recorded trial again and compare its validation score",
        description="Retrain one trial of a study from its recorded parameters and seed, in "
        "this process, and compare the validation objective with the recorded one. "
        "With training.deterministic: true in the space, a CPU run repeats it "
        "exactly.",
    )
    _study_options(again)
    again.add_argument("--trial", type=int, required=True, help="the trial's number")

    ship = commands.add_parser(
        "export",
        help="write a study's winner in formats other runtimes load",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write the winner of a finished study (<run-dir>/<study>/winner.keras) to "
        "--out as "
        + "; ".join(f"{name} ({entry.summary})" for name, entry in EXPORT_FORMATS.items())
        + ", with signature.json naming its inputs "
        "and classes. Every format takes raw inputs: normalization and categorical "
        "lookups are inside. TFLite and ONNX cannot hold a table's categorical "
        "columns. onnx needs pip install 'automl[export]'.",
        epilog="examples:\n  automl export --study mnist1d --format onnx --out out/\n"
        "  automl export --study mnist1d --format keras,savedmodel,tflite,onnx --out out/",
    )
    ship.add_argument("--study", required=True, help="the study's name (name: in its space)")
    ship.add_argument(
        "--format",
        default=EXPORT_FORMATS.default,
        help=f"{', '.join(EXPORT_FORMATS)}; several joined by commas (default: %(default)s)",
    )
    ship.add_argument("--out", required=True, metavar="DIR", help="the folder to write")
    ship.add_argument(
        "--run-dir", default=DEFAULT_RUN_DIR, help="the search's run folder (default: %(default)s)"
    )

    guess = commands.add_parser(
        "predict",
        help="predict new examples with a study's winner",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Predict every example of INPUT with the winner of a study and write a CSV: "
        "id (row number, or the file's path), prediction (the class, or the value) "
        "and each class's probability (p_<class>). INPUT is a CSV or Parquet table "
        "(the model's columns are picked by name, others ignored), an .npz file (its "
        "x array, or one array per column), a folder of images (resized to the "
        "model's input) or a folder of .txt files (a text model; id: the file's path). Raw "
        "values, as the training data had them.",
        epilog="examples:\n  automl predict --study wine new_wines.csv\n"
        "  automl predict --study pics photos/ --out photos.csv",
    )
    guess.add_argument(
        "input",
        metavar="INPUT",
        help="a .csv/.parquet table, an .npz file, or a folder of images or .txt files",
    )
    guess.add_argument("--study", required=True, help="the study's name (name: in its space)")
    guess.add_argument(
        "--out",
        metavar="FILE",
        help="the CSV to write (default: <INPUT>.predictions.csv beside INPUT)",
    )
    guess.add_argument(
        "--run-dir", default=DEFAULT_RUN_DIR, help="the search's run folder (default: %(default)s)"
    )

    page = commands.add_parser(
        "report",
        help="rebuild a study's HTML report from its storage (also while it runs)",
        description="Rebuild <reports-dir>/<study>/index.html from the study's storage and its "
        "MLflow runs: leaderboard, Optuna's plots, the candidates' learning curves, "
        "validation vs test, the split manifest and diagnostics, in one page that "
        "opens offline. While the search runs, candidates not yet tested show as "
        "such.",
        epilog="example:\n  automl report --study mnist1d --run-dir automl-runs",
    )
    _study_options(page)
    page.add_argument(
        "--reports-dir",
        default=DEFAULT_REPORTS_DIR,
        help="where <study>/index.html goes (default: %(default)s)",
    )

    board = commands.add_parser(
        "trials",
        help="list a study's trials, best first (also while it runs)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Print the leaderboard of a study from its Optuna storage: trial, state, "
        "objective, test score and gap (the candidates), params, seconds. Nothing "
        "is trained; a study still running shows its running trials as running.",
        epilog="examples:\n  automl trials --study mnist1d\n  automl trials --study mnist1d "
        "--csv > trials.csv\n  automl trials --study mnist1d --storage "
        "postgresql://automl@db/optuna --json",
    )
    board.add_argument("--study", required=True, help="the study's name (name: in its space)")
    board.add_argument(
        "--run-dir", default=DEFAULT_RUN_DIR, help="the search's run folder (default: %(default)s)"
    )
    board.add_argument(
        "--storage",
        default=os.environ.get("AUTOML_STORAGE"),
        help="the study's Optuna storage (default: $AUTOML_STORAGE, else "
        "optuna.journal in the run folder)",
    )
    form = board.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="CSV on stdout, one row a trial")
    form.add_argument("--json", action="store_true", help="JSON on stdout, one object a trial")

    check = commands.add_parser("validate", help="check a space file without training")
    check.add_argument(
        "space",
        help="space file, or the name of a ready space such as mnist1d (automl spaces lists them)",
    )
    check.add_argument(
        "--run-dir",
        default=DEFAULT_RUN_DIR,
        help="the run folder a search would use: a transfer base study:NAME must "
        "have a winner there (default: %(default)s)",
    )

    browse = commands.add_parser(
        "ui",
        help="open the MLflow UI on a run folder's trials",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Start the MLflow UI on the run folder's MLflow store, bound to this machine "
        "(127.0.0.1) unless --host says otherwise, and print the address that opens "
        "on the study's runs table: the parent run, its trials (unfold it with +), "
        "their metrics and datasets; Models lists the registered winner. Ctrl-C "
        "stops it. With a tracking server (--tracking-uri http://...), it prints "
        "the server's address for the study.",
        epilog="examples:\n  automl ui\n  automl ui --run-dir runs/ --study mnist1d --port 5001",
    )
    browse.add_argument(
        "--run-dir", default=DEFAULT_RUN_DIR, help="the search's run folder (default: %(default)s)"
    )
    browse.add_argument("--study", help="the study to open (default: the one searched last)")
    browse.add_argument(
        "--port", type=int, default=5000, help="port to listen on (default: %(default)s)"
    )
    browse.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 opens it to the network (default: %(default)s)",
    )
    browse.add_argument(
        "--tracking-uri",
        default=os.environ.get("AUTOML_TRACKING_URI"),
        help="an MLflow store or server other than the run folder's "
        "(default: $AUTOML_TRACKING_URI)",
    )

    start = commands.add_parser(
        "init",
        help="write the space a search straight from data would search, to edit",
        description="Decide the space for DATA as automl search DATA does, and write it as a "
        "commented YAML file: automl search FILE then runs the same trials (same space, "
        "configurations tried first and seed), and you can edit it first.",
        epilog="examples:\n  automl init churn.csv --target churn -o space.yaml\n  "
        "automl search space.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    start.add_argument("data", help="a CSV or Parquet table, an image folder or an .npz")
    _data_options(start)
    start.add_argument(
        "-o", "--out", default="space.yaml", help="the file to write (default: %(default)s)"
    )
    start.add_argument("--force", action="store_true", help="overwrite the file if it exists")

    commands.add_parser(
        "schema",
        help="print the JSON Schema of space files (for editors)",
        description="Print a JSON Schema of the space format. Save it and point "
        "your editor at it; see docs/search-spaces.md.",
    )

    commands.add_parser(
        "spaces",
        help="list the ready spaces that come with automl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="List the ready spaces installed with automl: name, what it searches, where "
        "its data comes from (all offline) and the command that runs it. Give a "
        "name wherever a space file goes (automl search mnist1d, automl validate "
        "mnist1d); copy a file from the folder printed at the end to start your own.",
        epilog="examples:\n  automl spaces\n  automl validate mnist1d\n  automl search mnist1d "
        "--trials 5 --timeout 2m",
    )
    return parser


def _data_options(parser: argparse.ArgumentParser) -> None:
    """The settings of a search straight from data (automl search DATA, automl init DATA)."""
    parser.add_argument("--target", metavar="COL", help="a table's label column")
    parser.add_argument(
        "--task",
        choices=("classification", "regression"),
        help="over the task inferred from the target",
    )
    parser.add_argument(
        "--metric", choices=("accuracy", "loss", "mae"), help="what the search optimizes"
    )
    parser.add_argument("--name", help="the study's name (default: the file's or folder's)")
    parser.add_argument(
        "--test",
        metavar="FILE",
        help="a file like DATA to score the winner on, instead of a split of DATA",
    )
    parser.add_argument(
        "--budget",
        help="the whole time from start to registered winner: 90s, 10m, 1h (trials running "
        "near its end stop at an epoch boundary; overrides search.budget; a search straight "
        "from data: 10m by default)",
    )


def _workers(value: str) -> int | str:
    if value == "auto":
        return value
    if value.isdigit():
        return int(value)
    raise argparse.ArgumentTypeError(
        f"expects a number of workers (1, 2, ...), auto, or 0 to "
        f"train in this process; "
        f"found {value!r}"
    )


def _study_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", required=True, help="the study's name (name: in its space)")
    parser.add_argument(
        "--storage",
        default=os.environ.get("AUTOML_STORAGE"),
        help="the study's Optuna storage (default: $AUTOML_STORAGE, else "
        "optuna.journal in the run folder)",
    )
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get("AUTOML_TRACKING_URI"),
        help="MLflow tracking URI (default: $AUTOML_TRACKING_URI, else the one the study recorded)",
    )
    parser.add_argument(
        "--run-dir",
        default=DEFAULT_RUN_DIR,
        help="local folder for candidate models and data (default: %(default)s)",
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("automl")
    except PackageNotFoundError:
        return "unknown"

"""The ``automl`` command. Heavy imports (TensorFlow, MLflow, Optuna) wait until a command needs
them, so ``automl --help`` and ``automl validate`` answer at once.

Exit codes: 0 success, 1 the search failed, 2 a usage error (bad file, bad option), which is
printed as one sentence without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from automl.defaults import DEFAULT_REPORTS_DIR, DEFAULT_RUN_DIR
from automl.registry import EXPORT_FORMATS, PRUNERS, SAMPLERS

EXAMPLES = """examples:
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


def _space_path(value: str) -> str:
    """The space file ``value`` names: a path that exists, else a ready space (``mnist1d``).

    Anything else goes back unchanged for the loader's "no such space file", unless it is close
    to a ready space's name: then the error suggests that name.
    """
    if Path(value).exists():
        return value
    from automl.catalog import ready_spaces, suggest_ready_space

    ready = ready_spaces()
    if value in ready:
        return str(ready[value])
    close = suggest_ready_space(value)
    if close:
        from automl.errors import UsageError

        raise UsageError(f"no space file or ready space named {value!r}; did you mean {close!r}? "
                         f"(automl spaces lists them)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="automl", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Keras hyperparameter search from a YAML space: Optuna picks the trials, "
                    "MLflow records them, the held-out test split picks the winner.",
        epilog=EXAMPLES)
    parser.add_argument("--version", action="version", version=f"automl {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("search", help="run or resume a search",
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              description="Run the search a space file describes; running it "
                                          "again with the same --run-dir resumes the study.",
                              epilog=EXAMPLES)
    run.add_argument("space", help="space file, or the name of a ready space such as mnist1d "
                                   "(automl spaces lists them)")
    run.add_argument("--trials", type=int, help="total trials of the study (overrides "
                                                "search.trials)")
    run.add_argument("--timeout", help="stop starting trials after this long: 90s, 10m, 1h "
                                       "(overrides search.timeout)")
    run.add_argument("--sampler", help=f"{SAMPLERS.choices_text()} (overrides search.sampler)")
    run.add_argument("--pruner", help=f"{PRUNERS.choices_text()} (overrides search.pruner)")
    run.add_argument("--seed", type=int, help="sampler seed (overrides search.seed)")
    run.add_argument("--workers", type=_workers, metavar="N|auto",
                     help="worker processes on this machine, each training one trial at a time "
                          "(overrides search.workers; auto: one per core, two per GPU; 0: "
                          "trials in this process, where a debugger reaches your builder)")
    run.add_argument("--run-dir", default=DEFAULT_RUN_DIR,
                     help="folder of the Optuna storage, MLflow store and models "
                          "(default: %(default)s)")
    run.add_argument("--tracking-uri", default=os.environ.get("AUTOML_TRACKING_URI"),
                     help="MLflow tracking URI (default: $AUTOML_TRACKING_URI, else an SQLite "
                          "file in the run folder)")
    run.add_argument("--storage", default=os.environ.get("AUTOML_STORAGE"),
                     help="Optuna storage: a journal file or a database URL such as "
                          "postgresql://user:password@host/db (default: $AUTOML_STORAGE, else "
                          "optuna.journal in the run folder)")
    run.add_argument("--reports-dir", default=DEFAULT_REPORTS_DIR,
                     help="where <study>/ with summary, trials CSV and plots goes "
                          "(default: %(default)s)")
    run.add_argument("--export", metavar="DIR", help="also export the winner to DIR")
    run.add_argument("--quiet", action="store_true", help="no progress display")

    join = commands.add_parser(
        "worker", help="join a running study as one more worker (on any machine)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Join a study that automl search started and run its trials until its "
                    "budget is spent. Everything else (space, data, MLflow parent run) comes "
                    "from the study. Connection strings may also come from the environment "
                    "(AUTOML_STORAGE, AUTOML_TRACKING_URI), which keeps passwords out of the "
                    "process list.",
        epilog="example:\n  automl worker --study mnist1d --storage "
               "postgresql://automl:PASSWORD@db:5432/optuna \\\n"
               "                --tracking-uri http://mlflow:5000")
    _study_options(join)
    join.add_argument("--trials", type=int, help="run at most this many trials, then exit")
    join.add_argument("--timeout", type=float, help="start no trial after this many seconds")
    join.add_argument("--seed", type=int, help="this worker's sampler seed")
    join.add_argument("--threads", type=int, help="TensorFlow threads (default: all cores)")
    join.add_argument("--events-fd", type=int, help=argparse.SUPPRESS)  # set by automl search

    pick = commands.add_parser(
        "select", help="choose the winner of a study whose workers ran elsewhere",
        description="Evaluate the study's top-K trials on the held-out test split, register "
                    "the winner and write the report: what automl search does at its end.")
    _study_options(pick)
    pick.add_argument("--reports-dir", default=DEFAULT_REPORTS_DIR,
                      help="where <study>/ with the report goes (default: %(default)s)")
    pick.add_argument("--export", metavar="DIR", help="also export the winner to DIR")

    again = commands.add_parser(
        "rerun", help="train one recorded trial again and compare its validation score",
        description="Retrain one trial of a study from its recorded parameters and seed, in "
                    "this process, and compare the validation objective with the recorded one. "
                    "With training.deterministic: true in the space, a CPU run repeats it "
                    "exactly.")
    _study_options(again)
    again.add_argument("--trial", type=int, required=True, help="the trial's number")

    ship = commands.add_parser(
        "export", help="write a study's winner in formats other runtimes load",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write the winner of a finished study (<run-dir>/<study>/winner.keras) to "
                    "--out as " + "; ".join(f"{name} ({entry.summary})" for name, entry in
                                             EXPORT_FORMATS.items()) +
                    ", with signature.json naming its inputs "
                    "and classes. Every format takes raw inputs: normalization and categorical "
                    "lookups are inside. TFLite and ONNX cannot hold a table's categorical "
                    "columns. onnx needs pip install 'automl[export]'.",
        epilog="examples:\n  automl export --study mnist1d --format onnx --out out/\n"
               "  automl export --study mnist1d --format keras,savedmodel,tflite,onnx --out out/")
    ship.add_argument("--study", required=True, help="the study's name (name: in its space)")
    ship.add_argument("--format", default=EXPORT_FORMATS.default,
                      help=f"{', '.join(EXPORT_FORMATS)}; several joined by commas "
                           "(default: %(default)s)")
    ship.add_argument("--out", required=True, metavar="DIR", help="the folder to write")
    ship.add_argument("--run-dir", default=DEFAULT_RUN_DIR,
                      help="the search's run folder (default: %(default)s)")

    guess = commands.add_parser(
        "predict", help="predict new examples with a study's winner",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Predict every example of INPUT with the winner of a study and write a CSV: "
                    "id (row number, or the image's path), prediction (the class, or the value) "
                    "and each class's probability (p_<class>). INPUT is a CSV or Parquet table "
                    "(the model's columns are picked by name, others ignored), an .npz file (its "
                    "x array, or one array per column) or a folder of images (resized to the "
                    "model's input). Raw values, as the training data had them.",
        epilog="examples:\n  automl predict --study wine new_wines.csv\n"
               "  automl predict --study pics photos/ --out photos.csv")
    guess.add_argument("input", metavar="INPUT", help="a .csv/.parquet table, an .npz file or "
                                                      "a folder of images")
    guess.add_argument("--study", required=True, help="the study's name (name: in its space)")
    guess.add_argument("--out", metavar="FILE",
                       help="the CSV to write (default: <INPUT>.predictions.csv beside INPUT)")
    guess.add_argument("--run-dir", default=DEFAULT_RUN_DIR,
                       help="the search's run folder (default: %(default)s)")

    page = commands.add_parser(
        "report", help="rebuild a study's HTML report from its storage (also while it runs)",
        description="Rebuild <reports-dir>/<study>/index.html from the study's storage and its "
                    "MLflow runs: leaderboard, Optuna's plots, the candidates' learning curves, "
                    "validation vs test, the split manifest and diagnostics, in one page that "
                    "opens offline. While the search runs, candidates not yet tested show as "
                    "such.",
        epilog="example:\n  automl report --study mnist1d --run-dir automl-runs")
    _study_options(page)
    page.add_argument("--reports-dir", default=DEFAULT_REPORTS_DIR,
                      help="where <study>/index.html goes (default: %(default)s)")

    board = commands.add_parser(
        "trials", help="list a study's trials, best first (also while it runs)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Print the leaderboard of a study from its Optuna storage: trial, state, "
                    "objective, test score and gap (the candidates), params, seconds. Nothing "
                    "is trained; a study still running shows its running trials as running.",
        epilog="examples:\n  automl trials --study mnist1d\n  automl trials --study mnist1d "
               "--csv > trials.csv\n  automl trials --study mnist1d --storage "
               "postgresql://automl@db/optuna --json")
    board.add_argument("--study", required=True, help="the study's name (name: in its space)")
    board.add_argument("--run-dir", default=DEFAULT_RUN_DIR,
                       help="the search's run folder (default: %(default)s)")
    board.add_argument("--storage", default=os.environ.get("AUTOML_STORAGE"),
                       help="the study's Optuna storage (default: $AUTOML_STORAGE, else "
                            "optuna.journal in the run folder)")
    form = board.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="CSV on stdout, one row a trial")
    form.add_argument("--json", action="store_true", help="JSON on stdout, one object a trial")

    check = commands.add_parser("validate", help="check a space file without training")
    check.add_argument("space", help="space file, or the name of a ready space such as mnist1d "
                                     "(automl spaces lists them)")
    check.add_argument("--run-dir", default=DEFAULT_RUN_DIR,
                       help="the run folder a search would use: a transfer base study:NAME must "
                            "have a winner there (default: %(default)s)")

    browse = commands.add_parser(
        "ui", help="open the MLflow UI on a run folder's trials",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Start the MLflow UI on the run folder's MLflow store, bound to this machine "
                    "(127.0.0.1) unless --host says otherwise, and print the address that opens "
                    "on the study's runs table: the parent run, its trials (unfold it with +), "
                    "their metrics and datasets; Models lists the registered winner. Ctrl-C "
                    "stops it. With a tracking server (--tracking-uri http://...), it prints "
                    "the server's address for the study.",
        epilog="examples:\n  automl ui\n  automl ui --run-dir runs/ --study mnist1d --port 5001")
    browse.add_argument("--run-dir", default=DEFAULT_RUN_DIR,
                        help="the search's run folder (default: %(default)s)")
    browse.add_argument("--study", help="the study to open (default: the one searched last)")
    browse.add_argument("--port", type=int, default=5000,
                        help="port to listen on (default: %(default)s)")
    browse.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; 0.0.0.0 opens it to the network "
                             "(default: %(default)s)")
    browse.add_argument("--tracking-uri", default=os.environ.get("AUTOML_TRACKING_URI"),
                        help="an MLflow store or server other than the run folder's "
                             "(default: $AUTOML_TRACKING_URI)")

    commands.add_parser("schema", help="print the JSON Schema of space files (for editors)",
                        description="Print a JSON Schema of the space format. Save it and point "
                                    "your editor at it; see docs/search-spaces.md.")

    commands.add_parser(
        "spaces", help="list the ready spaces that come with automl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="List the ready spaces installed with automl: name, what it searches, where "
                    "its data comes from (all offline) and the command that runs it. Give a "
                    "name wherever a space file goes (automl search mnist1d, automl validate "
                    "mnist1d); copy a file from the folder printed at the end to start your own.",
        epilog="examples:\n  automl spaces\n  automl validate mnist1d\n  automl search mnist1d "
               "--trials 5 --timeout 2m")
    return parser


def _workers(value: str) -> int | str:
    if value == "auto":
        return value
    if value.isdigit():
        return int(value)
    raise argparse.ArgumentTypeError(f"expects a number of workers (1, 2, ...), auto, or 0 to "
                                     f"train in this process; "
                                     f"found {value!r}")


def _study_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", required=True, help="the study's name (name: in its space)")
    parser.add_argument("--storage", default=os.environ.get("AUTOML_STORAGE"),
                        help="the study's Optuna storage (default: $AUTOML_STORAGE, else "
                             "optuna.journal in the run folder)")
    parser.add_argument("--tracking-uri", default=os.environ.get("AUTOML_TRACKING_URI"),
                        help="MLflow tracking URI (default: $AUTOML_TRACKING_URI, else the one "
                             "the study recorded)")
    parser.add_argument("--run-dir", default=DEFAULT_RUN_DIR,
                        help="local folder for candidate models and data (default: "
                             "%(default)s)")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("automl")
    except PackageNotFoundError:
        return "unknown"


def cmd_validate(args: argparse.Namespace) -> int:
    from automl.config import load_space
    from automl.data.checks import preflight
    from automl.models.transfer import resolve_study_bases

    cfg = preflight(load_space(_space_path(args.space)))  # what search checks before training
    resolve_study_bases(cfg, Path(args.run_dir))            # a base study:NAME has a winner there
    dims = cfg.describe()
    width = max((len(name) for name, _ in dims), default=0)
    size = cfg.space.size()
    configurations = ("infinitely many configurations (some dimensions are continuous)"
                      if size == float("inf") else _counted(int(size), "configuration"))
    print(f"{cfg.file}: valid space {cfg.name!r}, {_counted(len(dims), 'searched dimension')}, "
          f"{configurations}")
    for name, domain in dims:
        print(f"  {name:<{width}}  {domain}")
    return 0


def _counted(number: int, noun: str) -> str:
    """``1 configuration``, ``12 configurations``."""
    return f"{number} {noun}" + ("" if number == 1 else "s")


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from automl.schema import space_schema

    print(json.dumps(space_schema(), indent=2))
    return 0


def cmd_spaces(args: argparse.Namespace) -> int:
    """Print each ready space: name and description, then its data source and command."""
    from automl.catalog import describe_ready_spaces, spaces_folder

    spaces = describe_ready_spaces()
    width = max((len(space.name) for space in spaces), default=0) + 2
    for space in spaces:
        print(f"{space.name:<{width}}{space.description}")
        print(f"{'':<{width}}data: {space.source}; run: {space.command}")
    print(f"\n{len(spaces)} ready spaces, in {spaces_folder()}\n"
          f"give a name wherever a space file goes, or copy a file to start your own")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from automl.config import load_space

    overrides = {"trials": args.trials, "timeout": args.timeout, "sampler": args.sampler,
                 "pruner": args.pruner, "seed": args.seed, "workers": args.workers}
    cfg = load_space(_space_path(args.space), overrides)  # fail fast, before TensorFlow loads
    from automl.tracking.store import ui_command
    from automl.tuner.runner import run_search

    result = run_search(cfg, run_dir=Path(args.run_dir), tracking_uri=args.tracking_uri,
                        storage=args.storage, reports_dir=Path(args.reports_dir),
                        progress=not args.quiet)
    _print_summary(result)
    if args.export:
        result.export(args.export)
    print(f"\nBrowse every trial in the MLflow UI:\n  "
          f"{ui_command(result.mlflow['tracking_uri'], result.mlflow['experiment_id'])}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    """Serve the MLflow UI on the run folder's store until Ctrl-C; print the study's address."""
    import socket

    from automl.errors import UsageError
    from automl.tracking.store import default_tracking_uri, find_study, is_server, ui_url
    from automl.tracking.ui import serve_until_stopped, start_ui
    from automl.urls import redact

    run_dir = Path(args.run_dir)
    uri = args.tracking_uri or default_tracking_uri(run_dir)
    if not args.tracking_uri and not (run_dir / "mlflow.db").is_file():
        raise UsageError(f"no MLflow store in {run_dir}/ (mlflow.db is missing); run automl "
                         f"search first, or pass --run-dir or --tracking-uri")
    study = find_study(uri, args.study)
    if is_server(uri):  # it has a UI of its own
        print(f"study {study.name}: {ui_url(redact(uri), study.experiment_id)}")
        return 0
    process = start_ui(uri, args.host, args.port, run_dir / "mlartifacts",
                       run_dir / study.name / "logs" / "mlflow-ui.log")
    host = socket.gethostname() if args.host in ("0.0.0.0", "::") else args.host
    print(f"MLflow UI on {run_dir}/, study {study.name} (Ctrl-C stops it):\n"
          f"  {ui_url(f'http://{host}:{args.port}', study.experiment_id)}", flush=True)
    return serve_until_stopped(process)


def cmd_worker(args: argparse.Namespace) -> int:
    from automl.tuner.study import default_storage_url
    from automl.tuner.worker import WorkerOptions, run_worker

    run_dir = Path(args.run_dir)
    return run_worker(WorkerOptions(
        study=args.study, storage=args.storage or default_storage_url(run_dir),
        tracking_uri=args.tracking_uri, run_dir=run_dir, trials=args.trials,
        timeout=args.timeout, seed=args.seed, threads=args.threads, events_fd=args.events_fd))


def cmd_rerun(args: argparse.Namespace) -> int:
    from automl.tuner.runner import rerun

    out = rerun(args.study, args.trial, storage=args.storage, tracking_uri=args.tracking_uri,
                run_dir=args.run_dir)
    print(f"trial {out['trial']}: {out['objective']} recorded {out['recorded']:.6f}, "
          f"rerun {out['rerun']:.6f} (difference {out['difference']:+.2e})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write the study's winner in the asked formats and list what was written."""
    from automl.export import export_model, formats_from, winner_file

    formats = formats_from(args.format)  # a misspelt format fails before TensorFlow loads
    written = export_model(winner_file(args.study, args.run_dir), args.out, format=formats)
    for kind, path in written.items():
        print(f"wrote {kind}: {path}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Predict INPUT's examples with the study's winner and write them to a CSV."""
    from automl.export import predict_file, winner_file

    out, count = predict_file(winner_file(args.study, args.run_dir), args.input, args.out)
    print(f"wrote {count} predictions to {out}")
    return 0


def cmd_trials(args: argparse.Namespace) -> int:
    """The study's leaderboard: a table on a terminal, or CSV / JSON for machines."""
    from automl.tuner.load import leaderboard, leaderboard_json, leaderboard_table

    frame, facts = leaderboard(args.study, run_dir=args.run_dir, storage=args.storage)
    try:
        if args.csv:
            frame.to_csv(sys.stdout, index=False)
        elif args.json:
            print(leaderboard_json(frame))
        else:
            from rich.console import Console

            Console().print(leaderboard_table(frame, facts, args.study))
        sys.stdout.flush()
    except BrokenPipeError:  # automl trials --csv | head: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Rebuild the study's report page and print where it is."""
    from automl.report import rebuild_report

    page = rebuild_report(args.study, storage=args.storage, tracking_uri=args.tracking_uri,
                          run_dir=args.run_dir, reports_dir=args.reports_dir)
    print(f"report: {page}")
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    from automl.tracking.store import ui_command
    from automl.tuner.runner import select

    result = select(args.study, storage=args.storage, tracking_uri=args.tracking_uri,
                    run_dir=args.run_dir, reports_dir=args.reports_dir)
    _print_summary(result)
    if args.export:
        result.export(args.export)
    print(f"\nBrowse every trial in the MLflow UI:\n  "
          f"{ui_command(result.mlflow['tracking_uri'], result.mlflow['experiment_id'])}")
    return 0


def _print_summary(result) -> None:
    """The candidates' table, then the lines of ``print(result)``."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console, cfg = Console(), result.config  # the space as searched: its task known
    table = Table(title=f"top {len(result.candidates)} by validation, evaluated on the test split")
    for column in ("trial", cfg.search.objective, f"test {cfg.test_metric}", "gap", ""):
        table.add_column(column, justify="right")
    for row in result.candidates.itertuples():
        table.add_row(str(row.trial), f"{row.val:.4f}", f"{row.test:.4f}", f"{row.gap:+.4f}",
                      row.role)
    console.print(table)
    styles = {"warning": "bold red", "note": "bold", "estimate": "bold"}
    for label, text in result.summary_lines():  # what print(result) shows, styled
        if label in styles:
            label = f"[{styles[label]}]{label}[/]"
        console.print(f"{label}: {escape(text)}" if label else escape(text))


def stop_cleanly_on_signals() -> None:
    """Treat SIGINT and SIGTERM as Ctrl-C (KeyboardInterrupt): the running trial is recorded as
    interrupted and retried when the study resumes, and a search chooses its winner among the
    trials finished so far.

    SIGINT even where the process started with it ignored: a shell script's background job
    (``automl search space.yaml &``) starts that way, and Python then never raises
    KeyboardInterrupt; a worker that its coordinator told to stop trained on until it was
    killed, its trial failed as a crash. SIGTERM is what ``kill PID``, ``docker stop``,
    Kubernetes and systemd send; Python's default is to die at once.
    """
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from automl.errors import AutomlError, UsageError
    from automl.tuner import quiet
    from automl.urls import redact

    # the console keeps automl's own lines; the libraries' go to a log file (see quiet.py):
    # as the process's own command only (main(argv) called from Python leaves stderr alone).
    # A worker that automl search started has no console: its whole output is its log.
    on_console = getattr(args, "events_fd", None) is None
    if on_console and argv is None and args.command in ("search", "worker", "select", "rerun",
                                                        "report", "validate", "export",
                                                        "predict"):
        quiet.divert_library_output()
    if argv is None and args.command in ("search", "worker"):
        stop_cleanly_on_signals()
    traceback_here = False
    try:
        commands = {"search": cmd_search, "worker": cmd_worker, "select": cmd_select,
                    "rerun": cmd_rerun, "report": cmd_report, "validate": cmd_validate,
                    "schema": cmd_schema,
                    "spaces": cmd_spaces, "trials": cmd_trials, "ui": cmd_ui,
                    "export": cmd_export, "predict": cmd_predict}
        code = commands[args.command](args)
    except UsageError as error:
        print(f"automl: error: {redact(str(error))}", file=sys.stderr)
        return 2
    except AutomlError as error:
        print(f"automl: {args.command} failed: {redact(str(error))}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("automl: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: one line here, the traceback in the log
        if not quiet.diverted():
            raise
        quiet.log_exception(error, args.command)
        print(f"automl: {args.command} failed unexpectedly: "
              f"{redact(f'{type(error).__name__}: {error}')}", file=sys.stderr)
        code, traceback_here = 1, True
    where = on_console and quiet.where_to_look(args.command, failed=code != 0,
                                               traceback_here=traceback_here)
    if where:  # the console's last line: which log file to read
        print(where, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

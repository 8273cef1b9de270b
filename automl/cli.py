"""The ``automl`` command: each subcommand's work (its arguments are :mod:`automl.arguments`'s).
Heavy imports (TensorFlow, MLflow, Optuna) wait until a command needs
them, so ``automl --help`` and ``automl validate`` answer at once.

Exit codes: 0 success, 1 the search failed, 2 a usage error (bad file, bad option), which is
printed as one sentence without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from automl.arguments import build_parser


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

        raise UsageError(
            f"no space file or ready space named {value!r}; did you mean {close!r}? "
            f"(automl spaces lists them)"
        )
    return value


def cmd_validate(args: argparse.Namespace) -> int:
    from automl.config import load_space
    from automl.data.checks import preflight
    from automl.models.transfer import resolve_study_bases

    cfg = preflight(load_space(_space_path(args.space)))  # what search checks before training
    resolve_study_bases(cfg, Path(args.run_dir))  # a base study:NAME has a winner there
    dims = cfg.describe()
    width = max((len(name) for name, _ in dims), default=0)
    size = cfg.space.size()
    configurations = (
        "infinitely many configurations (some dimensions are continuous)"
        if size == float("inf")
        else _counted(int(size), "configuration")
    )
    print(
        f"{cfg.file}: valid space {cfg.name!r}, {_counted(len(dims), 'searched dimension')}, "
        f"{configurations}"
    )
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
    print(
        f"\n{len(spaces)} ready spaces, in {spaces_folder()}\n"
        f"give a name wherever a space file goes, or copy a file to start your own"
    )
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from automl.config import load_space
    from automl.zero_config import is_data_path

    overrides = {
        "trials": args.trials,
        "timeout": args.timeout,
        "sampler": args.sampler,
        "pruner": args.pruner,
        "seed": args.seed,
        "workers": args.workers,
    }
    data_settings = {
        "target": args.target,
        "task": args.task,
        "metric": args.metric,
        "name": args.name,
        "test": args.test,
    }
    data = None
    data_search = is_data_path(args.space)
    if data_search:
        from automl.tuner.runner import space_from_data

        cfg, data = space_from_data(
            args.space,
            run_dir=Path(args.run_dir),
            budget=args.budget,
            overrides=overrides,
            progress=True,  # the plan is printed with --quiet too: it says what will happen
            **data_settings,
        )
    else:
        overrides["budget"] = args.budget
        given = [f"--{k}" for k, v in data_settings.items() if v]
        if given:
            from automl.errors import UsageError

            raise UsageError(
                f"{', '.join(given)}: only for a search straight from data (automl search "
                f"DATA); a space file sets them in its data: and search: sections"
            )
        cfg = load_space(_space_path(args.space), overrides)  # fail fast, before TensorFlow
    from automl.tracking.store import ui_command
    from automl.tuner.runner import run_search

    result = run_search(
        cfg,
        data=data,
        run_dir=Path(args.run_dir),
        tracking_uri=args.tracking_uri,
        storage=args.storage,
        reports_dir=Path(args.reports_dir),
        progress=not args.quiet,
    )
    _print_summary(result)
    if args.export:
        result.export(args.export)
    if data_search:
        print(
            f"space: {cfg.file} (the same command resumes this study; automl search "
            f"{cfg.file} reruns the space; automl init writes an editable copy)"
        )
    print(
        f"\nBrowse every trial in the MLflow UI:\n  "
        f"{ui_command(result.mlflow['tracking_uri'], result.mlflow['experiment_id'])}"
    )
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """Write the space a search straight from data would search (see automl.zero_config)."""
    import os

    from automl.errors import UsageError
    from automl.zero_config import plan_search, space_yaml

    out = Path(args.out)
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists; give another file with -o, or pass --force")
    plan = plan_search(
        args.data,
        target=args.target,
        task=args.task,
        metric=args.metric,
        name=args.name,
        test=args.test,
        budget=args.budget or "10m",
    )
    here = out.resolve().parent
    from automl.config.records import FILE_SOURCES

    for key in FILE_SOURCES:  # relative to the file, where it can be
        if key in plan.tree["data"]:
            path = Path(plan.tree["data"][key]).resolve()
            try:
                plan.tree["data"][key] = os.path.relpath(path, here)
            except ValueError:  # another drive
                plan.tree["data"][key] = str(path)
    command = " ".join(["automl init", *sys.argv[2:]]) if len(sys.argv) > 2 else "automl init"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(space_yaml(plan, command), encoding="utf-8")
    for line in plan.lines():
        print(f"  {line}")
    print(f"wrote {out}; edit it, then: automl search {out}")
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
        raise UsageError(
            f"no MLflow store in {run_dir}/ (mlflow.db is missing); run automl "
            f"search first, or pass --run-dir or --tracking-uri"
        )
    study = find_study(uri, args.study)
    if is_server(uri):  # it has a UI of its own
        print(f"study {study.name}: {ui_url(redact(uri), study.experiment_id)}")
        return 0
    process = start_ui(
        uri,
        args.host,
        args.port,
        run_dir / "mlartifacts",
        run_dir / study.name / "logs" / "mlflow-ui.log",
    )
    host = socket.gethostname() if args.host in ("0.0.0.0", "::") else args.host
    print(
        f"MLflow UI on {run_dir}/, study {study.name} (Ctrl-C stops it):\n"
        f"  {ui_url(f'http://{host}:{args.port}', study.experiment_id)}",
        flush=True,
    )
    return serve_until_stopped(process)


def cmd_worker(args: argparse.Namespace) -> int:
    from automl.tuner.study import default_storage_url
    from automl.tuner.worker import WorkerOptions, run_worker

    run_dir = Path(args.run_dir)
    return run_worker(
        WorkerOptions(
            study=args.study,
            storage=args.storage or default_storage_url(run_dir),
            tracking_uri=args.tracking_uri,
            run_dir=run_dir,
            trials=args.trials,
            timeout=args.timeout,
            seed=args.seed,
            threads=args.threads,
            events_fd=args.events_fd,
        )
    )


def cmd_rerun(args: argparse.Namespace) -> int:
    from automl.tuner.runner import rerun

    out = rerun(
        args.study,
        args.trial,
        storage=args.storage,
        tracking_uri=args.tracking_uri,
        run_dir=args.run_dir,
    )
    print(
        f"trial {out['trial']}: {out['objective']} recorded {out['recorded']:.6f}, "
        f"rerun {out['rerun']:.6f} (difference {out['difference']:+.2e})"
    )
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

    page = rebuild_report(
        args.study,
        storage=args.storage,
        tracking_uri=args.tracking_uri,
        run_dir=args.run_dir,
        reports_dir=args.reports_dir,
    )
    print(f"report: {page}")
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    from automl.tracking.store import ui_command
    from automl.tuner.runner import select

    result = select(
        args.study,
        storage=args.storage,
        tracking_uri=args.tracking_uri,
        run_dir=args.run_dir,
        reports_dir=args.reports_dir,
    )
    _print_summary(result)
    if args.export:
        result.export(args.export)
    print(
        f"\nBrowse every trial in the MLflow UI:\n  "
        f"{ui_command(result.mlflow['tracking_uri'], result.mlflow['experiment_id'])}"
    )
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
        table.add_row(
            str(row.trial), f"{row.val:.4f}", f"{row.test:.4f}", f"{row.gap:+.4f}", row.role
        )
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
    if (
        on_console
        and argv is None
        and args.command
        in ("search", "worker", "select", "rerun", "report", "validate", "export", "predict")
    ):
        quiet.divert_library_output()
    if argv is None and args.command in ("search", "worker"):
        stop_cleanly_on_signals()
    traceback_here = False
    try:
        commands = {
            "search": cmd_search,
            "init": cmd_init,
            "worker": cmd_worker,
            "select": cmd_select,
            "rerun": cmd_rerun,
            "report": cmd_report,
            "validate": cmd_validate,
            "schema": cmd_schema,
            "spaces": cmd_spaces,
            "trials": cmd_trials,
            "ui": cmd_ui,
            "export": cmd_export,
            "predict": cmd_predict,
        }
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
        print(
            f"automl: {args.command} failed unexpectedly: "
            f"{redact(f'{type(error).__name__}: {error}')}",
            file=sys.stderr,
        )
        code, traceback_here = 1, True
    where = on_console and quiet.where_to_look(
        args.command, failed=code != 0, traceback_here=traceback_here
    )
    if where:  # the console's last line: which log file to read
        print(where, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""Trials as data: a study's leaderboard and its :class:`~automl.result.SearchResult`, read back
from the Optuna storage (and, for a model not on this machine, from MLflow).

:func:`load` rebuilds the result from the selection that the search recorded in the study
(:mod:`automl.tuner.record`) without retraining, re-evaluating or loading the data, and
:func:`leaderboard` lists the trials of a study that is still running as well as of one that
has ended.

Example:
    >>> result = automl.load("mnist1d", run_dir="automl-runs")
    >>> result.candidates, result.trials, result.model.predict(x)
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.defaults import DEFAULT_RUN_DIR
from automl.errors import UsageError
from automl.ranking import trial_rank
from automl.result import SearchResult, candidates_frame, state_word, trials_frame
from automl.tuner.record import plain_json, read_selection, searched_config, study_config
from automl.urls import redact, usable_uri

if TYPE_CHECKING:
    import optuna
    import pandas as pd


# the order of states in a leaderboard: finished and scored first, then what is still going on
_STATE_ORDER = {"COMPLETE": 0, "RUNNING": 1, "PRUNED": 2, "FAIL": 3, "WAITING": 4}


# ---- opening a study by name ----------------------------------------------------------------


def open_recorded_study(
    name: str, storage: str | None = None, run_dir: str | Path = DEFAULT_RUN_DIR
) -> tuple["optuna.Study", str]:
    """The study ``name`` in ``storage`` (default: the run folder's journal), read-only use.

    Returns:
        (the study, the storage URL it was opened from).

    Raises:
        UsageError: no storage there, or no such study in it (one sentence naming both).
    """
    import optuna

    from automl.tuner.study import default_storage_url, open_storage

    url = storage or default_storage_url(Path(run_dir))
    project = Path(run_dir) / name / "optuna.journal"  # search_hypermodel's directory/project
    if storage is None and not Path(url).exists() and project.exists():
        url = str(project)
    store = open_storage(url)  # a missing journal file: UsageError naming the path
    try:
        return optuna.load_study(study_name=name, storage=store), url
    except KeyError:
        names = sorted(optuna.get_all_study_names(store))
        held = f"it holds {', '.join(map(repr, names))}" if names else "it holds no study"
        raise UsageError(
            f"the storage {redact(url)} has no study {name!r} ({held}); check "
            f"--study, or give the --run-dir or --storage that the search "
            f"used"
        ) from None


# ---- the result of a finished search --------------------------------------------------------


def load(
    study: str,
    *,
    run_dir: str | Path = DEFAULT_RUN_DIR,
    storage: str | None = None,
    tracking_uri: str | None = None,
) -> SearchResult:
    """The :class:`~automl.result.SearchResult` of a finished search, read back.

    Nothing is trained, evaluated or selected again: the trials come from the Optuna storage,
    the candidates and the winner from what the search recorded there, the model from the run
    folder (or, when it is not on this machine, from the MLflow model the search registered).

    Args:
        study: the study's name (``name:`` in its space).
        run_dir: the search's run folder (its storage, unless ``storage`` says otherwise, and
            its models).
        storage: the Optuna storage: a journal file or a database URL.
        tracking_uri: MLflow, when the study's recorded URI hides a password or has moved.

    Returns:
        The same result :func:`automl.search` returned at the end of that search.

    Example:
        >>> result = automl.load("mnist1d")
        >>> result.winner_trial, result.test_metrics["accuracy"]
        >>> result.export("out/")
    """
    found, url = open_recorded_study(study, storage, run_dir)
    record = read_selection(found)
    if not record:
        raise UsageError(
            f"the study {study!r} in {redact(url)} has no winner yet (its search "
            f"is still running, or ended before choosing one); automl trials "
            f"--study {study} lists its trials, automl select --study {study} "
            f"chooses the winner"
        )
    cfg = searched_config(found)
    rows = record["candidates"]
    winner = record.get("winner") or next(r for r in rows if r["trial"] == record["winner_trial"])
    mlflow_info = dict(record["mlflow"])
    mlflow_info["tracking_uri"] = (
        tracking_uri
        or usable_uri(mlflow_info.get("tracking_uri"))
        or mlflow_info.get("tracking_uri", "")
    )
    model_path = _winner_file(record, Path(run_dir) / study, mlflow_info)
    report_dir = Path(record["report_dir"]) if record.get("report_dir") else None
    return SearchResult(
        study_name=study,
        best_params=winner["params"],
        winner_trial=winner["trial"],
        winner_members=winner.get("members", []),
        val_metrics={cfg.search.objective: winner["val_score"]},
        test_metrics=winner["test"],
        candidates=candidates_frame(rows, winner),
        trials=trials_frame(found, rows, cfg),
        model_path=model_path,
        report_dir=report_dir if report_dir and report_dir.is_dir() else None,
        mlflow=mlflow_info,
        config=cfg,
        holdout_metrics=winner.get("holdout", {}),
        baselines=record.get("baselines", []),
    )


def _winner_file(record: dict[str, Any], study_dir: Path, mlflow_info: dict[str, str]) -> Path:
    """The winner's ``.keras`` file: where the search saved it, in this run folder, or
    downloaded from the MLflow model it registered (into ``study_dir``)."""
    for path in (Path(record["model_path"]), study_dir / "winner.keras"):
        if path.is_file():
            return path
    uri = mlflow_info.get("model_uri")
    if not uri:
        raise UsageError(
            f"the winner's model {record['model_path']} is not on this machine "
            f"and the study recorded no MLflow model; give the --run-dir the "
            f"search used"
        )
    import contextlib
    import io

    import mlflow

    previous = mlflow.get_tracking_uri()
    try:  # a logged model's URI (models:/m-...) resolves against the current tracking URI only
        mlflow.set_tracking_uri(mlflow_info["tracking_uri"])
        with contextlib.redirect_stderr(io.StringIO()):  # no progress bar
            folder = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=uri, dst_path=str(study_dir / "downloaded")
                )
            )
    except Exception as exc:
        raise UsageError(
            f"the winner's model is neither at {record['model_path']} nor "
            f"downloadable from {redact(mlflow_info['tracking_uri'])} "
            f"({redact(str(exc)).splitlines()[0][:200]}); give the --run-dir "
            f"or --tracking-uri the search used"
        ) from None
    finally:
        mlflow.set_tracking_uri(previous)
    found = sorted(folder.rglob("*.keras"))
    if not found:
        raise UsageError(
            f"the MLflow model {uri} holds no .keras file; give the --run-dir the search used"
        )
    return found[0]


# ---- the leaderboard ---------------------------------------------------------------------


def leaderboard(
    study: str, *, run_dir: str | Path = DEFAULT_RUN_DIR, storage: str | None = None
) -> tuple["pd.DataFrame", dict[str, Any]]:
    """Every trial of a study, best first, with flattened param names (``model.dropout``).

    Columns: ``trial``, ``state``, the objective (``val_accuracy`` ...), the test metric and
    ``gap`` (validation minus test; candidates only), ``winner``, the params, ``seconds``
    (so far, for a running trial) and ``reason`` (why a trial failed, or why the gradient check
    pruned it; "" otherwise). Works while the search runs: running trials show as such.

    Returns:
        (the table, facts about it: ``objective``, ``direction``, ``test_column``,
        ``winner_trial`` (None before a winner is chosen), ``params`` (the param columns),
        ``storage``).
    """
    import pandas as pd

    from automl.tuner.study import fail_reason

    found, url = open_recorded_study(study, storage, run_dir)
    cfg = study_config(found)
    record = read_selection(found)
    scored = {r["trial"]: r for r in record.get("candidates", [])}
    objective, test_column = cfg.search.objective, f"test_{cfg.test_metric}"
    maximize = cfg.search.direction == "maximize"
    now = time.time()
    trials = found.get_trials(deepcopy=False)
    params = []
    for trial in trials:  # in the order they first appear
        for name in trial.params:
            if name not in params:
                params.append(name)

    def order(trial) -> tuple:  # complete first, ..., each state in automl.ranking's order
        state = _STATE_ORDER.get(trial.state.name, len(_STATE_ORDER))
        if trial.values and not math.isnan(trial.values[0]):
            return (state, *trial_rank(trial, maximize=maximize))
        return (state, math.inf, math.inf, trial.number)

    rows = []
    for trial in sorted(trials, key=order):
        candidate = scored.get(trial.number, {})
        rows.append(
            {
                "trial": trial.number,
                "state": trial.state.name,
                objective: trial.values[0] if trial.values else math.nan,
                test_column: candidate.get("test_score", math.nan),
                "gap": candidate.get("gap", math.nan),
                "winner": trial.number == record.get("winner_trial"),
                **trial.params,  # dotted names (model.dropout): no clash with the columns above
                "seconds": _seconds(trial, now),
                "reason": fail_reason(trial) or trial.user_attrs.get("prune_reason", ""),
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "trial",
            "state",
            objective,
            test_column,
            "gap",
            "winner",
            *params,
            "seconds",
            "reason",
        ],
    )
    for name in params:  # whole numbers stay whole beside the trials that lack the param
        values = [row[name] for row in rows if name in row]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            frame[name] = frame[name].astype("Int64")
    facts = {
        "objective": objective,
        "direction": cfg.search.direction,
        "test_column": test_column,
        "winner_trial": record.get("winner_trial"),
        "params": params,
        "storage": redact(url),
    }
    return frame, facts


def _seconds(trial: "optuna.trial.FrozenTrial", now: float) -> float:
    """How long the trial ran (or has been running); NaN before it started."""
    start, end = trial.datetime_start, trial.datetime_complete
    if start is None:
        return math.nan
    if end is None:
        return round(now - start.timestamp(), 2) if trial.state.name == "RUNNING" else math.nan
    return round((end - start).total_seconds(), 2)


def leaderboard_table(frame: "pd.DataFrame", facts: dict[str, Any], study: str):
    """The leaderboard as a ``rich`` table for a terminal: the figures on one line a trial, the
    params together in the last column, each by the shortest part of its name that tells it
    apart (``dropout=0.1``, ``adam.learning_rate=0.003``)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    objective, test_column = facts["objective"], facts["test_column"]
    short = short_names(facts["params"])
    states = [state_word(row["state"], row["reason"]) for row in frame.to_dict("records")]
    counts = ", ".join(f"{n} {s}" for s, n in sorted(Counter(states).items())) or "no trials yet"
    winner = "* the winner" if facts["winner_trial"] is not None else "no winner chosen yet"
    table = Table(
        title=f"{study}: trials, best {objective} first",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption=f"{counts}; {winner}; --csv or --json give every column, with the "
        f"params' full names",
    )
    headers = {
        "trial": "trial",
        "state": "state",
        objective: objective.replace("_", "\n", 1),
        test_column: test_column.replace("_", "\n", 1),
        "gap": "gap",
        "seconds": "seconds",
    }
    for column, header in headers.items():
        table.add_column(header, justify="left" if column == "state" else "right", no_wrap=True)
    table.add_column("params", ratio=1, overflow="fold")
    for row, state in zip(frame.to_dict("records"), states):
        params = "  ".join(
            f"{short[name]}={_short(row[name])}"
            for name in facts["params"]
            if not _missing(row[name])
        )
        if row["reason"] and state != "interrupted":  # why it failed, before what it tried
            params = f"[red]{escape(row['reason'])}[/]\n{escape(params)}"
        else:
            params = escape(params)
        table.add_row(
            f"{row['trial']}{' *' if row['winner'] else ''}",
            state,
            _number(row[objective], "{:.4f}"),
            _number(row[test_column], "{:.4f}"),
            _number(row["gap"], "{:+.4f}"),
            _number(row["seconds"], "{:.1f}"),
            params,
        )
    return table


def leaderboard_json(frame: "pd.DataFrame") -> str:
    """The leaderboard as a JSON list, one object a trial, every float as recorded (NaN: null)."""
    records = [
        {k: None if _missing(v) else v for k, v in row.items()} for row in frame.to_dict("records")
    ]
    return json.dumps(records, indent=1, default=plain_json)


def short_names(names: list[str]) -> dict[str, str]:
    """Each dotted name's shortest tail that no other name ends with (``model.dropout`` ->
    ``dropout``, ``training.optimizer.adam.learning_rate`` -> ``adam.learning_rate``)."""
    short = {}
    for name in names:
        parts = name.split(".")
        for size in range(1, len(parts) + 1):
            tail = ".".join(parts[-size:])
            if not any(
                other != name and (other == tail or other.endswith("." + tail)) for other in names
            ):
                break
        short[name] = tail
    return short


def _missing(value: Any) -> bool:
    """None, NaN or pandas' NA: a cell with nothing in it."""
    import pandas as pd

    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _number(value: Any, form: str) -> str:
    return "" if _missing(value) else form.format(value)


def _short(value: Any) -> str:
    """A param value as a table shows it: floats to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)

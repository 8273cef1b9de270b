"""The Markdown summary and the CSV tables written when a search selects its winner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from automl.config import SpaceConfig
from automl.result import SearchResult
from automl.tracking.store import ui_command


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table with one column per key of the first row."""
    if not rows:
        return "(none)\n"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row[k]) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def write_tables(result: SearchResult, folder: Path) -> None:
    """``trials.csv`` (every trial) and ``candidates.csv`` (the top-K on the test split)."""
    result.trials.to_csv(folder / "trials.csv", index=False)
    result.candidates.to_csv(folder / "candidates.csv", index=False)


def write_summary(
    result: SearchResult, study: optuna.Study, cfg: SpaceConfig, folder: Path
) -> Path:
    """``summary.md``: the winner, its test metrics, the candidates and their gaps."""
    states = result.trials["state"].value_counts().to_dict() if len(result.trials) else {}
    metric = cfg.test_metric
    lines = [
        f"# Search `{cfg.name}`\n",
        f"Space file: `{cfg.file or '(given as a dict)'}` · objective: `{cfg.search.objective}` "
        f"({cfg.search.direction}) · sampler: {cfg.search.sampler} · pruner: "
        f"{cfg.search.pruner}\n",
        "Trials: " + ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items())) + "\n",
        "## Winner\n",
        f"**{result.winner_name.capitalize()}**: " + f"{cfg.search.objective} "
        f"{result.val_metrics[cfg.search.objective]:.4f}, {_test_words(result, metric)}.\n",
        f"Registered in MLflow as `{result.mlflow.get('alias_uri', '')}`; model file "
        f"`{result.model_path}`.\n",
        *_baseline_lines(result),
        "### Parameters\n",
        markdown_table([{"parameter": k, "value": v} for k, v in result.best_params.items()]),
        f"## Candidates (top {len(result.candidates)} by validation, evaluated once on the test "
        f"split)\n",
        "`gap` is validation minus test: a large gap means the validation score was lucky.\n",
        markdown_table(result.candidates.to_dict("records")),
        *_pareto_lines(study, cfg),
        "## Browse every trial\n",
        f"```\n{ui_command(result.mlflow.get('tracking_uri', ''), result.mlflow.get('experiment_id'))}"
        f"\n```\n",
        "The report with every plot: `index.html`; every trial: `trials.csv`.\n",
    ]
    path = folder / "summary.md"
    path.write_text("\n".join(lines))
    return path


def _test_words(result: SearchResult, metric: str) -> str:
    """The winner's test figures: a regression's MAE, RMSE and R2 in the target's own units
    (its loss is on the standardized scale), else the test metric and the loss."""
    t = result.test_metrics
    loss = f"test loss {t.get('loss', float('nan')):.4f}"
    if "r2" in t:
        target = result.config.data.target if result.config else None
        units = f"{target}'s units" if target else "the target's units"
        return (
            f"test MAE **{t['mae']:.4g}**, RMSE {t['rmse']:.4g}, R2 **{t['r2']:.4f}** (in "
            f"{units}; {loss}, on the standardized scale)"
        )
    return f"test {metric} **{t[metric]:.4f}** ({loss})"


def _baseline_lines(result: SearchResult) -> list[str]:
    """The simple baselines beside the winner, with the flag when it does not beat them, as
    the console says them (:meth:`SearchResult.figures`)."""
    figures = result.figures()
    if not figures:
        return []
    lines = ["### Against simple baselines\n"]
    for label, text in figures:
        lines.append(
            f"**{label.capitalize()}**: {text}.\n" if label else f"{text[0].upper()}{text[1:]}.\n"
        )
    return lines


def _pareto_lines(study: optuna.Study, cfg: SpaceConfig) -> list[str]:
    """A Pareto search: the trials no other trial beats on every objective."""
    names = cfg.search.objective_names
    if len(names) < 2:
        return []
    rows = [
        {"trial": t.number, **dict(zip(names, t.values))}
        for t in sorted(study.best_trials, key=lambda t: t.number)
    ]
    return [
        "## Pareto front\n",
        f"Trials that no other trial beats on all of {', '.join(names)}:\n",
        markdown_table(rows),
    ]

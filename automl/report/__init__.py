"""The report of a search in ``reports/<study>/``: a Markdown summary, the trials as CSV, plots.

``summary.md``      the winner, its test metrics, the candidates and their generalization gaps
``trials.csv``      one row per trial (the same table as ``SearchResult.trials``)
``candidates.csv``  the top-K trials evaluated on the test split
``plots.html``      optimization history, learning curves, parameter importances, parallel
                    coordinates (interactive; plotly.js embedded, so it opens offline)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from automl.config import SpaceConfig
from automl.result import SearchResult
from automl.tracking import ui_command


def _markdown_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(none)\n"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row[k]) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def write_summary(result: SearchResult, study: optuna.Study, cfg: SpaceConfig,
                  folder: Path) -> Path:
    states = result.trials["state"].value_counts().to_dict() if len(result.trials) else {}
    metric = cfg.test_metric
    lines = [
        f"# Search `{cfg.name}`\n",
        f"Space file: `{cfg.file or '(given as a dict)'}` · objective: `{cfg.search.objective}` "
        f"({cfg.search.direction}) · sampler: {cfg.search.sampler} · pruner: "
        f"{cfg.search.pruner}\n",
        "Trials: " + ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items())) + "\n",
        "## Winner\n",
        f"Trial **{result.winner_trial}**: {cfg.search.objective} "
        f"{result.val_metrics[cfg.search.objective]:.4f}, test {metric} "
        f"**{result.test_metrics[metric]:.4f}** (test loss {result.test_metrics.get('loss', float('nan')):.4f}).\n",
        f"Registered in MLflow as `{result.mlflow.get('alias_uri', '')}`; model file "
        f"`{result.model_path}`.\n",
        "### Parameters\n",
        _markdown_table([{"parameter": k, "value": v} for k, v in result.best_params.items()]),
        f"## Candidates (top {cfg.select.top_k} by validation, evaluated once on the test split)\n",
        "`gap` is validation minus test: a large gap means the validation score was lucky.\n",
        _markdown_table(result.candidates.to_dict("records")),
        *_pareto_lines(study, cfg),
        "## Browse every trial\n",
        f"```\n{ui_command(result.mlflow.get('tracking_uri', ''))}\n```\n",
        "then open http://127.0.0.1:5000 and the experiment "
        f"`{cfg.name}`. Plots: `plots.html`; every trial: `trials.csv`.\n",
    ]
    path = folder / "summary.md"
    path.write_text("\n".join(lines))
    return path


def _pareto_lines(study: optuna.Study, cfg: SpaceConfig) -> list[str]:
    """A Pareto search: the trials no other trial beats on every objective."""
    names = cfg.search.objective_names
    if len(names) < 2:
        return []
    rows = [{"trial": t.number, **dict(zip(names, t.values))}
            for t in sorted(study.best_trials, key=lambda t: t.number)]
    return ["## Pareto front\n", f"Trials that no other trial beats on all of "
            f"{', '.join(names)}:\n", _markdown_table(rows)]


def write_plots(study: optuna.Study, folder: Path, names: list[str]) -> Path | None:
    """One HTML page of Optuna's plotly figures; figures that need more trials are left out.

    A Pareto search (several objectives) gets its Pareto front, the rest for the first objective.
    """
    from optuna import visualization as vis

    figures = []
    if len(names) > 1:
        plots = [lambda s: vis.plot_pareto_front(s, target_names=names)] + [
            (lambda s, p=p: p(s, target=lambda t: t.values[0], target_name=names[0]))
            for p in (vis.plot_optimization_history, vis.plot_param_importances,
                      vis.plot_parallel_coordinate)]
    else:
        plots = [vis.plot_optimization_history, vis.plot_intermediate_values,
                 vis.plot_param_importances, vis.plot_parallel_coordinate]
    for plot in plots:
        try:
            figures.append(plot(study))
        except Exception:  # e.g. importances need two complete trials
            continue
    if not figures:
        return None
    parts = [fig.to_html(full_html=False, include_plotlyjs=(i == 0))
             for i, fig in enumerate(figures)]
    path = folder / "plots.html"
    path.write_text(f"<html><head><meta charset='utf-8'><title>{study.study_name}</title>"
                    f"</head><body><h1>{study.study_name}</h1>{''.join(parts)}</body></html>")
    return path


def write_report(result: SearchResult, study: optuna.Study, cfg: SpaceConfig,
                 folder: Path) -> Path:
    """Write the report files to ``folder`` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    result.trials.to_csv(folder / "trials.csv", index=False)
    result.candidates.to_csv(folder / "candidates.csv", index=False)
    write_summary(result, study, cfg, folder)
    write_plots(study, folder, cfg.search.objective_names)
    return folder

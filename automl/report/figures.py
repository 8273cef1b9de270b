"""Stage 3 of the report: the plotly figures, from Optuna's visualization module and our own.

A figure that cannot be drawn yet (importances need two complete trials, a search still in its
first trial has no history) comes back with a note that says why instead of a figure.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automl.report.collect import ReportData

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


@dataclass
class Plot:
    """One section of the page: a figure, or the reason there is none yet."""

    key: str  # the HTML id: plot-<key>
    title: str
    about: str  # what to read in it, one or two sentences
    figure: Any | None  # a plotly Figure
    note: str = ""  # why ``figure`` is None


def all_plots(data: ReportData) -> list[Plot]:
    """Every figure of the page, in its order."""
    from optuna import visualization as vis

    names = data.cfg.search.objective_names
    target = _target(data)
    complete = data.complete()
    searched = any(t.params for t in complete)

    def by_parameter(enough: bool, why: str) -> tuple[bool, str]:
        """The need of a plot by parameter: ``enough`` trials, and a parameter to plot."""
        if not enough:
            return False, why
        return searched, (
            "the space searches no parameter: every trial trains the same configuration"
        )

    plots = [
        _optuna(
            "history",
            "Optimization history",
            f"Each complete trial's {data.objective}, and the best so far.",
            lambda: _whole_numbers(
                vis.plot_optimization_history(data.study, **target), "trial", len(data.trials)
            ),
            need=(len(complete) >= 1, "no trial has completed yet"),
        ),
        importances(
            data,
            target,
            need=by_parameter(len(complete) >= 2, "importances need at least two complete trials"),
        ),
        _optuna(
            "parallel",
            "Parallel coordinates",
            "Each line is a complete trial through its parameter values, coloured by "
            f"{data.objective}.",
            lambda: _visible_lines(vis.plot_parallel_coordinate(data.study, **target)),
            need=by_parameter(len(complete) >= 1, "no trial has completed yet"),
        ),
        _optuna(
            "slice",
            "Slice plots",
            f"{data.objective} against each parameter on its own, one point per complete "
            f"trial (darker: later trials).",
            lambda: _short_titles(vis.plot_slice(data.study, **target)),
            need=by_parameter(len(complete) >= 1, "no trial has completed yet"),
        ),
    ]
    if len(names) == 1:
        has_steps = any(t.intermediate_values for t in data.trials)
        plots.append(
            _optuna(
                "intermediate",
                "Intermediate values (pruning)",
                f"{data.objective} after each epoch, one line per trial: the pruner stops a trial "
                f"whose line falls behind, so pruned trials end early.",
                lambda: _epochs_from_one(vis.plot_intermediate_values(data.study), data.objective),
                need=(has_steps, "no trial has finished an epoch yet"),
            )
        )
    else:
        plots.append(
            _optuna(
                "pareto",
                "Pareto front",
                f"Complete trials on {names[0]} and {names[1]}: the front is the trials that no "
                f"other trial beats on every objective.",
                lambda: vis.plot_pareto_front(data.study, target_names=names),
                need=(len(complete) >= 1, "no trial has completed yet"),
            )
        )
    plots += [learning_curves(data), val_vs_test(data)]
    return plots


def _target(data: ReportData) -> dict[str, Any]:
    """Optuna's target arguments: the (first) objective, by name."""
    if len(data.cfg.search.objective_names) > 1:
        return {"target": lambda t: t.values[0], "target_name": data.objective}
    return {"target_name": data.objective}


def _whole_numbers(fig: Any, title: str, count: int) -> Any:
    """An x axis of trial numbers or epochs: whole ticks (every one while there are few)."""
    fig.update_xaxes(title_text=title, tickformat="d", dtick=1 if count <= 20 else None)
    return fig


def _epochs_from_one(fig: Any, objective: str) -> Any:
    """Optuna's steps are 0-based epochs: number them from 1, as the learning curves do; name
    the trials in a legend while there are few."""
    epochs = 0
    for trace in fig.data:
        trace.x = [x + 1 for x in trace.x]
        trace.name = (trace.name or "").replace("Trial", "trial ")
        epochs = max([epochs, *trace.x])
    fig.update_layout(showlegend=len(fig.data) <= 20)
    fig.update_yaxes(title_text=objective)
    return _whole_numbers(fig, "epoch", epochs)


def _short_titles(fig: Any) -> Any:
    """Side by side, whole parameter names overlap: each axis keeps its last two parts
    (``adam.learning_rate``), the full name stays in the hover text."""
    for key in fig.layout:
        if key.startswith("xaxis") and fig.layout[key].title.text:
            fig.layout[key].title.text = ".".join(fig.layout[key].title.text.split(".")[-2:])
    return fig


def _visible_lines(fig: Any) -> Any:
    """Optuna colours its lines white to blue, which hides the worst trials on a white page:
    the same lines and colour bar on Viridis, each line's colour from its objective value (the
    first value of its hover data). A figure of another shape is left as Optuna drew it."""
    from plotly.colors import sample_colorscale

    bars = [t for t in fig.data if t.mode == "markers" and t.marker.cmin is not None]
    lines = [t for t in fig.data if t.mode == "lines" and t.customdata is not None]
    if len(bars) != 1 or not lines:
        return fig
    bar = bars[0].marker
    low, high, reverse = bar.cmin, bar.cmax, bool(bar.reversescale)
    try:
        values = [float(t.customdata[0][1]) for t in lines]
    except (TypeError, ValueError, IndexError):
        return fig
    for trace, value in zip(lines, values):
        share = (value - low) / (high - low) if high > low else 0.5
        share = min(max(1 - share if reverse else share, 0.0), 1.0)
        trace.line.color = sample_colorscale("Viridis", [share])[0]
        trace.opacity = 0.8
    bar.colorscale = "Viridis"
    return fig


def importances(data: ReportData, target: dict[str, Any], need: tuple[bool, str]) -> Plot:
    """Parameter importances by fANOVA; by the random forest's impurity decrease where fANOVA
    finds no variance to explain (a few complete trials), which the page then says."""
    from optuna import visualization as vis
    from optuna.importance import FanovaImportanceEvaluator, MeanDecreaseImpurityImportanceEvaluator

    about = (
        f"How much of the variation in {data.objective} each parameter explains, over the "
        f"complete trials (parameters present in every one of them), by "
    )
    # seeded: the same importances each time the page is rebuilt
    plot = _optuna(
        "importances",
        "Parameter importances",
        about + "fANOVA.",
        lambda: vis.plot_param_importances(
            data.study, evaluator=FanovaImportanceEvaluator(seed=0), **target
        ),
        need=need,
    )
    if plot.figure is None and "zero total variance" in plot.note:
        plot = _optuna(
            "importances",
            "Parameter importances",
            about + "mean decrease in impurity of a random forest (fANOVA found no "
            "variance to split yet: too few complete trials to rely on).",
            lambda: vis.plot_param_importances(
                data.study, evaluator=MeanDecreaseImpurityImportanceEvaluator(seed=0), **target
            ),
            need=need,
        )
    return plot


def _optuna(
    key: str, title: str, about: str, draw: Callable[[], Any], need: tuple[bool, str]
) -> Plot:
    """One of Optuna's figures, or the note why it cannot be drawn (yet)."""
    ready, why = need
    if not ready:
        return Plot(key, title, about, None, why)
    optuna_logger = logging.getLogger("optuna")
    level = optuna_logger.level
    optuna_logger.setLevel(logging.ERROR)  # e.g. "trials of only one state" warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Plot(key, title, about, draw())
    except Exception as exc:  # Optuna refuses a study it cannot plot: say so on the page
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return Plot(key, title, about, None, first)
    finally:
        optuna_logger.setLevel(level)


def learning_curves(data: ReportData) -> Plot:
    """Training (solid) and validation (dashed) loss and metric per epoch, per candidate."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    metric = data.cfg.test_metric
    about = (
        f"Per epoch, from each candidate's MLflow run: loss and {metric}, training solid, "
        f"validation dashed."
    )
    shown = [t for t in data.candidates() if any(data.curves.get(t.number, {}).values())]
    if not shown:
        why = (
            "no candidate yet"
            if not data.candidates()
            else "the candidates' MLflow runs hold no per-epoch metrics"
        )
        return Plot("curves", "Learning curves of the candidates", about, None, why)
    panels = ["loss"] + ([metric] if metric != "loss" else [])
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=panels)
    for i, trial in enumerate(shown):
        colour = PALETTE[i % len(PALETTE)]
        curves = data.curves[trial.number]
        for col, name in enumerate(panels, start=1):
            for key, dash, split in ((name, "solid", "train"), (f"val_{name}", "dash", "val")):
                values = curves.get(key, [])
                if not values:
                    continue
                fig.add_trace(
                    go.Scatter(
                        x=list(range(1, len(values) + 1)),
                        y=values,
                        mode="lines+markers",
                        line={"color": colour, "dash": dash},
                        legendgroup=str(trial.number),
                        name=f"trial {trial.number} {split}",
                        showlegend=col == 1,
                    ),
                    row=1,
                    col=col,
                )
        fig.update_xaxes(title_text="epoch", dtick=1)
    fig.update_layout(height=420)
    return Plot("curves", "Learning curves of the candidates", about, fig)


def val_vs_test(data: ReportData) -> Plot:
    """Each tested candidate's validation score against its test score, with the diagonal."""
    import plotly.graph_objects as go

    metric = data.cfg.test_metric
    about = (
        f"{data.objective} against test {metric} for each candidate: on the diagonal the "
        f"validation score held on unseen data; far from it, it was lucky (the gap)."
    )
    rows = [data.tested[t.number] for t in data.candidates() if t.number in data.tested]
    if not rows:
        return Plot(
            "valtest",
            "Validation vs test of the candidates",
            about,
            None,
            "no candidate has been evaluated on the test split yet (the selection runs "
            "when the search ends)",
        )
    values = [v for r in rows for v in (r.val, r.test) if math.isfinite(v)]
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or 0.05
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[low - pad, high + pad],
            y=[low - pad, high + pad],
            mode="lines",
            line={"color": "#999", "dash": "dot"},
            name="val = test",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[r.val for r in rows],
            y=[r.test for r in rows],
            mode="markers+text",
            text=[
                f"trial {r.trial}" + (" (winner)" if r.trial == data.winner else "") for r in rows
            ],
            textposition="top center",
            name="candidates",
            marker={
                "size": [16 if r.trial == data.winner else 10 for r in rows],
                "symbol": ["star" if r.trial == data.winner else "circle" for r in rows],
                "color": PALETTE[0],
            },
            customdata=[r.gap for r in rows],
            hovertemplate="val %{x:.4f}<br>test %{y:.4f}<br>gap %{customdata:+.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title=data.objective,
        yaxis_title=f"test {metric}",
        height=420,
        xaxis={"range": [low - pad, high + pad]},
        yaxis={"range": [low - pad, high + pad]},
    )
    return Plot("valtest", "Validation vs test of the candidates", about, fig)

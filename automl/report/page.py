"""Stage 4 of the report: one self-contained HTML page (plotly.js embedded once, no network).

Every figure sits in a ``<div class="plot" data-plot="KEY">``; a figure that cannot be drawn
yet is a ``<p class="note">`` instead, so a page is never silently missing a plot.
"""

from __future__ import annotations

import math
from collections import Counter
from html import escape
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from automl.ranking import VAL_LOSS_ATTR
from automl.report.collect import ReportData
from automl.report.diagnostics import OVERFITTING_RULES, Finding, epochs_run, overfitting, stopped
from automl.report.figures import Plot, all_plots
from automl.result import winner_name, winner_role
from automl.tuner.record import read_selection

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       margin: 0; background: #fafafa; }
main { max-width: 1280px; margin: 0 auto; padding: 1.5em 2em 4em; background: #fff; }
h1 { margin: 0 0 .2em; font-size: 1.7em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
nav { position: sticky; top: 0; background: #fff; padding: .5em 0; border-bottom: 1px solid #eee;
      z-index: 10; font-size: .92em; display: flex; flex-wrap: wrap; gap: .2em 1.2em; }
nav a { color: #1f5fa8; text-decoration: none; white-space: nowrap; }
section { scroll-margin-top: var(--nav-height, 4.5em); }  /* a jump lands below the nav */
.meta { color: #555; margin: .2em 0; }
.cards { display: flex; gap: 1em; flex-wrap: wrap; margin: 1em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; min-width: 10em; }
.card b { display: block; font-size: 1.35em; }
.about { color: #555; margin-top: -.5em; }
.flag { color: #9b1c1c; background: #fdecec; border-left: 3px solid #d33; padding: .5em .8em; }
.note { color: #8a5a00; background: #fff8e5; border-left: 3px solid #e0a800; padding: .5em .8em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .92em; }
th, td { border-bottom: 1px solid #e5e5e5; padding: .3em .6em; text-align: left;
         vertical-align: top; }
th { background: #f3f3f3; position: sticky; top: 2.4em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.winner { background: #eaf6ea; }
.badge { font-size: .78em; padding: .05em .45em; border-radius: 3px; margin-left: .3em;
         background: #e8eef8; color: #1f5fa8; white-space: nowrap; }
.badge.win { background: #2ca02c; color: #fff; }
.params { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .88em; color: #333; }
.plot { min-height: 420px; }
code { background: #f3f3f3; padding: .05em .3em; border-radius: 3px; }
"""

# the nav wraps to two or three lines on a narrow window: jumps keep its height clear
NAV_HEIGHT_JS = """
function keepNavClear() {
  const height = document.querySelector("nav").offsetHeight;
  document.documentElement.style.setProperty("--nav-height", (height + 8) + "px");
}
keepNavClear();
window.addEventListener("resize", keepNavClear);
"""


def render(data: ReportData) -> str:
    """The whole page."""
    from plotly.offline import get_plotlyjs

    plots = all_plots(data)
    sections = [
        ("leaderboard", "Leaderboard", leaderboard(data)),
        *[(f"plot-{p.key}-section", p.title, plot_html(p)) for p in plots],
        ("generalization", "Generalization", generalization_html(data)),
        ("manifest", "Split manifest", manifest_html(data.manifest)),
        ("diagnostics", "Diagnostics", diagnostics_html(data)),
    ]
    nav = "".join(f'<a href="#{key}">{escape(title)}</a>' for key, title, _ in sections)
    body = "".join(
        f'<section id="{key}"><h2>{escape(title)}</h2>{html}</section>'
        for key, title, html in sections
    )
    name = escape(data.cfg.name)
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>automl report: {name}</title><style>{STYLE}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body><main>"
        f"{header(data)}<nav>{nav}</nav>{body}{footer(data)}</main>"
        f"<script>{NAV_HEIGHT_JS}</script></body></html>"
    )


def header(data: ReportData) -> str:
    """Title, what was searched, the counts of trials and the winner."""
    search = data.cfg.search
    states = Counter(t.state for t in data.trials)
    best = data.complete()[0] if data.complete() else None
    cards = [
        ("trials", f"{len(data.trials)}"),
        ("complete", f"{states[TrialState.COMPLETE]}"),
        ("pruned", f"{states[TrialState.PRUNED]}"),
        ("failed", f"{states[TrialState.FAIL]}"),
    ]
    if states[TrialState.RUNNING] or states[TrialState.WAITING]:
        cards.append(
            ("running / waiting", f"{states[TrialState.RUNNING]} / {states[TrialState.WAITING]}")
        )
    if best is not None:
        cards.append((f"best {data.objective}", f"{best.values[0]:.4f} (trial {best.number})"))
    if data.won is not None:
        who = winner_name(data.won.trial, data.members)
        units = data.won.metrics
        if "r2" in units:  # a regression: in the target's own units, as the baselines are
            cards.append(("winner's test MAE", f"{units['mae']:.4g}, R2 {units['r2']:.4f} ({who})"))
        else:
            cards.append((f"winner's test {data.cfg.test_metric}", f"{data.won.test:.4f} ({who})"))
    else:
        cards.append(("winner", "not selected yet"))
    card_html = "".join(
        f"<div class='card'>{escape(label)}<b>{escape(value)}</b></div>" for label, value in cards
    )
    space_file = data.cfg.file or "(given as a dict)"
    lines = [
        f"<h1>Search <code>{escape(data.cfg.name)}</code></h1>",
        f"<p class='meta'>space <code>{escape(str(space_file))}</code> · objective "
        f"<b>{escape(search.objective)}</b> ({escape(search.direction)}) · sampler "
        f"{escape(str(search.sampler))} · pruner {escape(str(search.pruner))} · top "
        f"{data.cfg.select.top_k} by validation evaluated on the test split · generated "
        f"{escape(data.generated)}</p>",
        f"<div class='cards'>{card_html}</div>",
    ]
    lines += [f"<p class='note'>{escape(note[:1].upper() + note[1:])}.</p>" for note in data.notes]
    return "".join(lines)


FAMILY_PARAM = "model.architecture"  # the branch of model.architecture a trial took


def leaderboard(data: ReportData) -> str:
    """The complete trials, best validation first, with test score and gap for candidates."""
    ranked = data.complete()
    if not ranked:
        return "<p class='note'>No trial has completed yet.</p>"
    names = data.cfg.search.objective_names
    candidates = {t.number for t in data.candidates()}
    # the tie-breaker (automl.ranking), shown where it is not the objective itself
    losses = "val_loss" not in names and any(VAL_LOSS_ATTR in t.user_attrs for t in ranked)
    # the family each trial trained, and a text trial's tokenizer, where the study has them
    families = any(FAMILY_PARAM in t.params for t in ranked)
    tokens = any("vocabulary_size" in t.user_attrs for t in ranked)
    head = [
        "#",
        "trial",
        *(["family"] if families else []),
        *names,
        *(["val_loss"] if losses else []),
        f"test {data.cfg.test_metric}",
        "gap (val − test)",
        "epochs",
        *(["vocabulary", "sequence length"] if tokens else []),
        "duration",
        "weights",
        "parameters",
    ]
    rows = []
    for rank, trial in enumerate(ranked, start=1):
        tested = data.tested.get(trial.number)
        if tested is not None:
            test, gap = _num(tested.test), _num(tested.gap, signed=True)
        elif trial.number in candidates:
            test, gap = "not tested yet", ""
        else:
            test, gap = "", ""
        # no winner before a selection (an ensemble's members come with its winner)
        role = (
            winner_role(trial.number, data.winner, data.members) if data.winner is not None else ""
        )
        badges = ""
        if role == "member":
            badges = "<span class='badge win'>in the winner</span>"
        elif role == "winner":
            badges = "<span class='badge win'>winner</span>"
        elif trial.number in candidates:
            badges = "<span class='badge'>candidate</span>"
        cells = [
            f"<td class='num'>{rank}</td>",
            f"<td>{trial.number}{badges}</td>",
            *([f"<td>{escape(str(trial.params.get(FAMILY_PARAM, '')))}</td>"] if families else []),
            f"<td class='num'>{_num(trial.values[0])}</td>",
            *[f"<td class='num'>{v:,.6g}</td>" for v in trial.values[1:]],  # params_count ...
            *(
                [f"<td class='num'>{_num(trial.user_attrs.get(VAL_LOSS_ATTR))}</td>"]
                if losses
                else []
            ),
            f"<td class='num'>{test}</td>",
            f"<td class='num'>{gap}</td>",
            f"<td class='num'>{_blank(epochs_run(trial))}</td>",
            *(
                [
                    f"<td class='num'>{_count(trial.user_attrs.get('vocabulary_size'))}</td>",
                    f"<td class='num'>{_count(trial.user_attrs.get('sequence_length'))}</td>",
                ]
                if tokens
                else []
            ),
            f"<td class='num'>{_duration(trial)}</td>",
            f"<td class='num'>{_count(trial.user_attrs.get('params_count'))}</td>",
            f"<td class='params'>{_params(trial)}</td>",
        ]
        css = " class='winner'" if role else ""
        rows.append(f"<tr{css}>{''.join(cells)}</tr>")
    ties = " (ties: the lower val_loss first)" if losses else ""
    intro = (
        f"<p class='about'>Complete trials, best {escape(data.objective)} first{ties}. "
        f"The top {len(candidates)} (candidates) are evaluated once on the held-out "
        "test split; "
        + (
            "the winner is their average (an ensemble), less any that clearly raised the "
            "validation loss. "
            if len(data.members) > 1
            else "the winner is the best by validation alone (averaging the others in clearly "
            "raised the validation loss). "
            if data.members
            else "the best test score wins. "
        )
        + "A large gap means the validation score was lucky.</p>"
    )
    return (
        intro
        + "<table class='leaderboard'><thead><tr>"
        + "".join(f"<th>{escape(h)}</th>" for h in head)
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def plot_html(plot: Plot) -> str:
    """A figure in its container, or the note why it is missing."""
    import plotly.io as pio

    about = f"<p class='about'>{escape(plot.about)}</p>"
    if plot.figure is None:
        return about + f"<p class='note'>Not drawn: {escape(plot.note)}.</p>"
    fig = plot.figure
    # the page's width, not Optuna's (its slice plot asks 300 px per parameter)
    fig.update_layout(
        template="plotly_white",
        title_text="",
        width=None,
        autosize=True,
        margin={"t": 40, "l": 60, "r": 30, "b": 50},
    )
    div = pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        div_id=f"plot-{plot.key}",
        config=PLOTLY_CONFIG,
    )
    return about + f"<div class='plot' data-plot='{plot.key}'>{div}</div>"


def generalization_html(data: ReportData) -> str:
    """How far to trust the winner's score: the holdout (or the selection's bias said plainly),
    and simple baselines on the same split, with a flag when the winner does not beat them."""
    from automl.baselines import baseline_metric, verdict

    if data.won is None:
        return "<p>The winner is not selected yet.</p>"
    metric = baseline_metric(
        read_selection(data.study).get("task")
        or ("classification" if "accuracy" in data.won.metrics else "regression")
    )
    if data.holdout:
        score, part = data.holdout.get(metric), "holdout"
        lines = [
            f"<p>The winner scored <b>{metric} {_num(score)}</b> on the holdout split, "
            f"examples that neither the search nor the selection saw: the estimate to "
            f"quote.</p>"
        ]
    else:
        score, part = data.won.metrics.get(metric), "test"
        lines = [
            "<p>The winner was chosen on validation, without looking at the test split: "
            "its test score is a fair estimate.</p>"
            if data.members
            else "<p>The winner is the best test score among the top trials by validation, so "
            "its test score is biased upward by that choice. Set <code>data.split.holdout: "
            "0.1</code> for a figure no selection step has seen.</p>"
        ]
    baselines = data.baselines.get(part, {})
    if baselines and score is not None:
        rows = "".join(
            f"<tr><td>{escape(name)}</td><td>{_num(value)}</td></tr>"
            for name, value in baselines.items()
        )
        lines.append(
            f"<p>Simple models fitted on the same training data, scored on the {part} "
            f"split ({metric}):</p><table><tr><th>model</th><th>{metric}</th></tr>"
            f"{rows}<tr><td><b>the winner</b></td><td><b>{_num(score)}</b></td></tr>"
            f"</table>"
        )
        found = verdict(score, baselines, metric, part)
        if found:
            level, sentence = found
            css = "flag" if level == "warning" else "note"
            lines.append(f"<p class='{css}'>{escape(sentence[0].upper() + sentence[1:])}.</p>")
    return "".join(lines)


def manifest_html(manifest: dict[str, Any] | None) -> str:
    """The splits: sizes, digests and class counts, as the parent MLflow run recorded them."""
    if not manifest:
        return "<p class='note'>The parent MLflow run holds no data_manifest.json.</p>"
    facts = [
        ("task", manifest.get("task")),
        ("modality", manifest.get("modality")),
        ("train examples", manifest.get("train_size")),
        ("validation examples", manifest.get("val_size")),
        ("test examples", manifest.get("test_size")),
        ("test split sha256", manifest.get("test_sha256")),
        ("holdout examples", manifest.get("holdout_size")),
        ("holdout split sha256", manifest.get("holdout_sha256")),
        ("all splits sha256", manifest.get("splits_sha256")),
    ]
    html = (
        "<p class='about'>What the trials trained and were validated on, and the held-out "
        "test split, as recorded when the study started (data_manifest.json of the parent "
        "MLflow run).</p><table class='manifest'><tbody>"
        + "".join(
            f"<tr><th>{escape(k)}</th><td><code>{escape(str(v))}</code></td></tr>"
            for k, v in facts
            if v is not None
        )
        + "</tbody></table>"
    )
    classes = manifest.get("classes")
    if classes:
        titles = {"train": "train", "val": "validation", "test": "test", "holdout": "holdout"}
        counts = {
            split: manifest[f"{split}_class_counts"]
            for split in titles
            if manifest.get(f"{split}_class_counts") is not None
        }
        rows = "".join(
            f"<tr><td>{escape(str(name))}</td>"
            + "".join(f"<td class='num'>{_at(counts[s], i)}</td>" for s in counts)
            + "</tr>"
            for i, name in enumerate(classes)
        )
        head = "".join(f"<th>{titles[s]}</th>" for s in counts)
        html += (
            f"<table class='classes'><thead><tr><th>class</th>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    return html


def diagnostics_html(data: ReportData) -> str:
    """Stopped trials (divergence, gradients, pruner, errors) and over-fitting, with the rules."""
    halted = stopped(data)
    kinds = Counter(f.kind for f in halted)
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "none"
    html = (
        f"<h3>Trials stopped</h3><p class='about'>Pruned or failed trials and why: "
        f"{escape(summary)}.</p>" + _findings_table(halted)
    )
    rules = OVERFITTING_RULES.format(metric=data.cfg.test_metric)
    flagged = overfitting(data)
    html += (
        f"<h3>Over-fitting</h3><p class='about'>Flagged from each complete or pruned "
        f"trial's per-epoch metrics. Rules: {escape(rules)}.</p>"
        + _findings_table(flagged, none="No trial shows over-fitting by these rules.")
    )
    return html


def _findings_table(findings: list[Finding], none: str = "None.") -> str:
    if not findings:
        return f"<p>{escape(none)}</p>"
    rows = "".join(
        f"<tr><td class='num'>{f.trial}</td><td>{escape(f.state.lower())}</td>"
        f"<td><b>{escape(f.kind)}</b></td><td class='num'>"
        f"{_blank(f.epochs)}</td><td>{escape(f.detail)}</td></tr>"
        for f in findings
    )
    return (
        "<table class='findings'><thead><tr><th>trial</th><th>state</th><th>kind</th>"
        f"<th>epochs</th><th>detail</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def footer(data: ReportData) -> str:
    """How to rebuild this page."""
    command = f"automl report --study {data.cfg.name}"
    if data.run_dir:
        command += f" --run-dir {data.run_dir}"
    return (
        f"<h2>Rebuild</h2><p>This page is rebuilt from the study's storage at any time, also "
        f"while the search runs: <code>{escape(command)}</code> (add <code>--storage "
        f"URL</code> for a database storage).</p>"
    )


# ---- cell formats ----------------------------------------------------------------------------


def _num(value: float | None, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _blank(value: Any) -> str:
    return "" if value is None else str(value)


def _at(values: list[int], i: int) -> str:
    return str(values[i]) if i < len(values) else ""


def _count(value: Any) -> str:
    return f"{int(value):,}" if isinstance(value, (int, float)) else ""


def _duration(trial: FrozenTrial) -> str:
    """The trial's training time: its recorded seconds, else start to end."""
    seconds = trial.user_attrs.get("seconds")
    if seconds is None and trial.duration is not None:
        seconds = trial.duration.total_seconds()
    if seconds is None:
        return ""
    minutes, rest = divmod(float(seconds), 60)
    return f"{int(minutes)} min {rest:.0f} s" if minutes else f"{rest:.1f} s"


def _params(trial: FrozenTrial) -> str:
    """``name = value`` per line; floats to four significant digits."""
    return "<br>".join(
        f"{escape(name)} = {escape(f'{value:.4g}' if isinstance(value, float) else str(value))}"
        for name, value in sorted(trial.params.items())
    )

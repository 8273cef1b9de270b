"""The report of a search in ``reports/<study>/``.

``index.html``      the report: one self-contained page (plotly.js embedded, opens offline) with
                    the leaderboard, Optuna's plots, the candidates' learning curves, validation
                    vs test, the split manifest and diagnostics; rebuilt from storage at any time
                    by ``automl report --study NAME`` (see :func:`rebuild_report`)
``summary.md``      the winner, its test metrics, the candidates and their generalization gaps
``trials.csv``      one row per trial (the same table as ``SearchResult.trials``)
``candidates.csv``  the top-K trials evaluated on the test split

The page is built in stages, one module each: :mod:`~automl.report.collect` reads the study and
its MLflow runs, :mod:`~automl.report.diagnostics` flags trials, :mod:`~automl.report.figures`
draws, :mod:`~automl.report.page` writes the HTML.
"""

from __future__ import annotations

import os
from pathlib import Path

import optuna

from automl.config import SpaceConfig
from automl.defaults import DEFAULT_REPORTS_DIR, DEFAULT_RUN_DIR
from automl.result import SearchResult

PAGE = "index.html"


def write_report(result: SearchResult, study: optuna.Study, cfg: SpaceConfig, folder: Path) -> Path:
    """Write the report files of a finished selection to ``folder`` and return it."""
    from automl.report.summary import write_summary, write_tables

    folder.mkdir(parents=True, exist_ok=True)
    write_tables(result, folder)
    write_summary(result, study, cfg, folder)
    write_page(
        study, cfg, result.mlflow.get("tracking_uri"), result.mlflow.get("parent_run_id"), folder
    )
    return folder


def write_page(
    study: optuna.Study,
    cfg: SpaceConfig,
    tracking_uri: str | None,
    parent_run_id: str | None,
    folder: Path,
) -> Path:
    """Build ``index.html`` from the study and its MLflow runs; return its path."""
    from automl.report.collect import collect
    from automl.report.page import render

    folder.mkdir(parents=True, exist_ok=True)
    page = folder / PAGE
    partial = folder / f".{PAGE}.partial"  # a reader never sees half a page
    partial.write_text(render(collect(study, cfg, tracking_uri, parent_run_id)), encoding="utf-8")
    os.replace(partial, page)
    return page


def rebuild_report(
    study: str,
    *,
    storage: str | None = None,
    tracking_uri: str | None = None,
    run_dir: str | Path = DEFAULT_RUN_DIR,
    reports_dir: str | Path = DEFAULT_REPORTS_DIR,
) -> Path:
    """Rebuild ``<reports_dir>/<study>/index.html`` from storage; return its path.

    Works while the search runs (candidates without a test score yet show as such) and after
    it ends. Reads the study and MLflow only; writes nothing but the page.

    Example:
        >>> automl.report.rebuild_report("mnist1d", run_dir="automl-runs")
        PosixPath('reports/mnist1d/index.html')
    """
    from automl.tuner.handoff import join_study
    from automl.tuner.study import default_storage_url

    run_dir = Path(run_dir)
    joined = join_study(study, storage or default_storage_url(run_dir), tracking_uri, run_dir)
    return write_page(
        joined.study,
        joined.cfg,
        joined.tracking_uri,
        joined.spec.parent_run_id,
        Path(reports_dir) / joined.cfg.name,
    )

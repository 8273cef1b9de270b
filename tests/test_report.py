"""The report page, reports/<study>/index.html: one self-contained file that draws every plot in
headless Chromium with the network off, rebuilt by ``automl report`` from storage, also while a
search runs; and the diagnostics' rules on curves made up for them.

One tiny search serves the module: four enqueued trials under the successive-halving pruner, so
the study holds each kind of trial the report explains (pruned at its second epoch: any trial
but the first that is not the best so far at that epoch is).
"""

from __future__ import annotations

import math
import re
from html import unescape
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
from conftest import study_in, tiny_space
from optuna.trial import TrialState

import automl
from automl.report.page import FAMILY_PARAM as FAMILY

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
PLOTS = {"history", "importances", "parallel", "slice", "intermediate", "curves", "valtest"}
STILL = {
    "model.architecture": "mlp",
    "training.optimizer": "sgd",  # learns nothing
    "training.optimizer.sgd.learning_rate": 1e-7,
}
LEARNING = {
    "model.architecture": "cnn",
    "model.dropout": 0.0,
    "model.batch_norm": True,
    "training.optimizer": "adam",
    "training.optimizer.adam.learning_rate": 1e-2,
    "training.schedule": "constant",
    "data.augment.shift": 0,
}
DIVERGING = {
    "model.architecture": "mlp",
    "model.batch_norm": False,  # batch norm would save it
    "training.optimizer": "sgd",
    "training.optimizer.sgd.learning_rate": 1e12,
}


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A finished search: trial 0 learns nothing but completes (the first trial is never
    pruned), trial 1 learns (about 0.25 against 0.10 at chance) and completes, trial 2 learns
    nothing and is pruned, trial 3 diverges."""
    root = tmp_path_factory.mktemp("report")
    space = tiny_space("reported", trials=4)
    # 400 validation examples, and enough steps for trial 1 to stand clear of chance
    space["data"]["subsample"] = {"train": 2000, "test": 200}
    space["data"]["split"] = {"validation": 0.2}
    space["training"]["optimizer"] = {
        "choice": {
            "adam": {"learning_rate": {"float": [1e-3, 1e-2], "log": True}},
            "sgd": {"learning_rate": {"choice": [1e-7, 1e12]}, "momentum": 0.9},
        }
    }
    space["search"]["pruner"] = "successive_halving"
    space["search"]["enqueue"] = [STILL, LEARNING, STILL, DIVERGING]
    space["select"]["top_k"] = 3  # more than the trials that complete: 2 candidates
    result = automl.search(
        space, workers=0, run_dir=root / "runs", reports_dir=root / "reports", progress=False
    )
    study = study_in(root / "runs", "reported")
    return SimpleNamespace(
        result=result,
        study=study,
        root=root,
        run_dir=root / "runs",
        page=root / "reports" / "reported" / "index.html",
    )


def states(study: optuna.Study) -> dict[int, str]:
    return {t.number: t.state.name for t in study.trials}


def test_the_search_left_each_kind_of_trial(searched):
    assert states(searched.study) == {0: "COMPLETE", 1: "COMPLETE", 2: "PRUNED", 3: "FAIL"}


def test_the_page_is_one_file_that_needs_no_network(searched):
    html = searched.page.read_text(encoding="utf-8")
    assert html.count("* plotly.js v") == 1  # embedded once, for every figure
    own = re.sub(
        r"<script type='text/javascript'>/\*\*\s*\* plotly\.js v.*?</script>",
        "",
        html,
        count=1,
        flags=re.S,
    )  # the page less plotly.js (whose code holds URLs)
    assert len(own) < len(html) / 10
    assert not re.search(r"<script[^>]+src=", own)
    assert not re.search(r"<link[^>]+href=", own)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", own)
    assert "Not drawn" not in html


def section(html: str, key: str) -> str:
    """One section of the page (``<section id="KEY">``), as HTML."""
    start = html.index(f'<section id="{key}">')
    return html[start : html.index("</section>", start)]


def words(html: str) -> str:
    """The text of some HTML, one space between cells."""
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_the_page_shows_leaderboard_manifest_and_diagnostics(searched):
    html = searched.page.read_text(encoding="utf-8")
    board = section(html, "leaderboard")
    assert board.count("<tr") == 1 + 2  # the header, the two complete trials
    for row in searched.result.candidates.itertuples():  # val, test, gap
        assert f"{row.val:.4f}" in board and f"{row.test:.4f}" in board
        assert f"{row.gap:+.4f}" in board
    assert "winner</span>" in board and "candidate</span>" in board
    assert "The top 2 (candidates) are evaluated" in board  # not select.top_k's 3
    assert "<th>val_loss</th>" in board  # the tie-breaker, beside the objective
    for loss in searched.result.trials["val_loss"].dropna():  # the complete trials
        assert f"<td class='num'>{loss:.4f}</td>" in board
    assert "model.architecture = cnn" in board and " s</td>" in board  # params, duration

    manifest = words(section(html, "manifest"))  # 2000 examples less 20% for validation
    for fact in ("train examples 1600", "validation examples 400", "test examples 200"):
        assert fact in manifest

    diagnostics = words(section(html, "diagnostics"))
    assert "2 pruned pruned 2 pruned by the successive_halving pruner after epoch 2" in diagnostics
    assert "3 fail diverged 1 diverged: the training loss became nan at epoch 1" in diagnostics
    assert "validation loss rising: the last epoch's validation loss" in diagnostics  # the rules


def test_every_plot_draws_in_chromium_with_the_network_off(searched, tmp_path):
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip(
            "Chromium is not installed (/usr/bin/chromium and /usr/bin/chromedriver: "
            "Debian's chromium and chromium-driver; .ci/run installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # the driver named explicitly: Selenium Manager (which downloads drivers) never runs
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
        )
        driver.get(searched.page.resolve().as_uri())

        def drawn(_) -> bool:
            return all(
                box.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg g.trace")
                for box in driver.find_elements(By.CSS_SELECTOR, "div.plot")
            )

        WebDriverWait(driver, 60).until(drawn)
        boxes = driver.find_elements(By.CSS_SELECTOR, "div.plot")
        assert {box.get_attribute("data-plot") for box in boxes} == PLOTS
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, errors
        loaded = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        assert not [name for name in loaded if not name.startswith("file:")], loaded
        driver.save_screenshot(str(tmp_path / "report.png"))  # for a look when it fails
        # a link of the sticky nav lands on its section's heading, not under the nav
        driver.set_window_size(900, 1000)  # the nav wraps to more lines
        driver.find_element(By.CSS_SELECTOR, 'nav a[href="#generalization"]').click()
        heading, nav = driver.execute_script(
            "return [document.querySelector('#generalization h2').getBoundingClientRect().top,"
            " document.querySelector('nav').getBoundingClientRect().bottom]"
        )
        assert heading >= nav, (heading, nav)
    finally:
        driver.quit()


def test_automl_report_rebuilds_the_page_from_storage(searched, run_cli, tmp_path):
    out = tmp_path / "rebuilt"
    code, stdout, stderr = run_cli(
        "report",
        "--study",
        "reported",
        "--run-dir",
        str(searched.run_dir),
        "--reports-dir",
        str(out),
        timeout=300,
    )
    assert code == 0, stderr
    page = out / "reported" / "index.html"
    assert stdout.strip() == f"report: {page}"
    html = page.read_text(encoding="utf-8")
    for key in PLOTS:
        assert f"data-plot='{key}'" in html
    for row in searched.result.candidates.itertuples():
        assert f"{row.test:.4f}" in html
    assert f"automl report --study reported --run-dir {searched.run_dir.resolve()}" in html


def test_automl_report_of_an_unknown_study_is_a_usage_error(searched, run_cli):
    code, stdout, stderr = run_cli(
        "report", "--study", "nope", "--run-dir", str(searched.run_dir), timeout=300
    )
    assert code == 2
    assert stderr.splitlines()[0] == (
        "automl: error: the storage "
        f"{searched.run_dir / 'optuna.journal'} has no study "
        "'nope'; start it with automl search SPACE, or check "
        "--study and --storage"
    )


def test_a_search_still_running_shows_candidates_without_test_scores(searched, tmp_path):
    """The study as a search still running sees it: one trial training, and a new best trial
    the selection has not tested yet."""
    from automl.report import write_page

    study = optuna.create_study(direction="maximize", study_name="reported")
    for key, value in searched.study.user_attrs.items():
        study.set_user_attr(key, value)
    for trial in searched.study.trials:
        study.add_trial(trial)
    best = next(t for t in searched.study.trials if t.state == TrialState.COMPLETE)
    study.add_trial(
        optuna.trial.create_trial(params=best.params, distributions=best.distributions, value=0.99)
    )
    study.ask()  # a trial training now
    result = searched.result
    page = write_page(
        study,
        result.config,
        result.mlflow["tracking_uri"],
        result.mlflow["parent_run_id"],
        tmp_path,
    )
    html = page.read_text(encoding="utf-8")
    newest = len(searched.study.trials)
    assert re.search(
        rf"<td>{newest}<span class='badge'>candidate</span></td><td>{best.params[FAMILY]}</td>"
        rf"<td class='num'>0\.9900</td><td class='num'></td><td class='num'>not tested yet</td>",
        html,
    )  # the family it trained; no val_loss recorded: an empty cell
    assert "running / waiting<b>1 / 0</b>" in html
    assert "Not drawn" not in html


def test_a_space_that_searches_nothing_gets_no_empty_parameter_plots(searched, tmp_path):
    """A table searched with automl's defaults (no searched parameter, as a space with only
    data: and search: is): the plots by parameter say why they are not drawn instead of
    showing empty axes."""
    from automl.report import write_page

    study = optuna.create_study(direction="maximize", study_name="reported")
    for key, value in searched.study.user_attrs.items():
        study.set_user_attr(key, value)
    for trial in searched.study.trials:
        if trial.state == TrialState.COMPLETE:
            study.add_trial(
                optuna.trial.create_trial(
                    value=trial.value,
                    intermediate_values=trial.intermediate_values,
                    user_attrs=trial.user_attrs,
                )
            )
    result = searched.result
    page = write_page(
        study,
        result.config,
        result.mlflow["tracking_uri"],
        result.mlflow["parent_run_id"],
        tmp_path,
    )
    html = page.read_text(encoding="utf-8")
    reason = (
        "Not drawn: the space searches no parameter: every trial trains the same configuration."
    )
    assert html.count(reason) == 3
    for key in ("importances", "parallel", "slice"):
        assert f"id='plot-{key}'" not in html and f'id="plot-{key}"' not in html
    assert 'id="plot-history"' in html  # the plots by trial are drawn as before


# ---- the diagnostics' rules ------------------------------------------------------------------


def test_overfitting_rules_flag_what_they_say_and_nothing_else():
    from automl.report.diagnostics import train_above_val, val_loss_rising

    assert train_above_val([0.7, 0.95], [0.7, 0.80], "accuracy") == (
        "training accuracy 0.9500 vs validation 0.8000 at epoch 2 (gap 0.1500 >= 0.10)"
    )
    assert train_above_val([0.7, 0.85], [0.7, 0.80], "accuracy") is None
    assert val_loss_rising([1.0, 0.6, 0.4], [0.9, 0.7, 0.8]) == (
        "validation loss rose from 0.7000 (epoch 2) to 0.8000 (epoch 3, +14%) while the "
        "training loss fell from 0.6000 to 0.4000"
    )
    assert val_loss_rising([1.0, 0.6, 0.4], [0.9, 0.7, 0.75]) is None  # +7%: under the limit
    assert val_loss_rising([1.0, 0.6, 0.7], [0.9, 0.7, 0.8]) is None  # training rose too
    assert val_loss_rising([1.0, 0.6], [0.9, math.nan]) is None


def test_stopped_trials_are_told_apart_by_their_recorded_reasons(searched):
    from automl.report.collect import ReportData
    from automl.report.diagnostics import overfitting, stopped

    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}

    def trial(state: TrialState, **attrs) -> optuna.trial.FrozenTrial:
        return optuna.trial.create_trial(
            state=state,
            params={"x": 0.5},
            distributions=dist,
            user_attrs=attrs,
            intermediate_values={0: 0.3, 1: 0.2},
            value=0.5 if state == TrialState.COMPLETE else None,
        )

    trials = [
        trial(TrialState.PRUNED, prune_reason="vanishing gradients for 3 epochs in a row"),
        trial(TrialState.PRUNED, prune_reason="exploding gradients for 3 epochs in a row"),
        trial(TrialState.FAIL, fail_reason="diverged: the training loss became inf"),
        trial(TrialState.FAIL, fail_reason="ValueError: bad shape"),
        trial(TrialState.PRUNED),
        trial(TrialState.COMPLETE),
    ]
    for number, t in enumerate(trials):
        t.number = number
    data = ReportData(
        study=searched.study,
        cfg=searched.result.config,
        trials=trials,
        tested={},
        winner=None,
        manifest=None,
        run_dir=None,
        curves={
            5: {
                "loss": [1.0, 0.5],
                "val_loss": [0.9, 1.2],
                "accuracy": [0.5, 0.9],
                "val_accuracy": [0.5, 0.6],
            }
        },
    )
    assert [(f.trial, f.kind) for f in stopped(data)] == [
        (0, "vanishing gradients"),
        (1, "exploding gradients"),
        (2, "diverged"),
        (3, "failed"),
        (4, "pruned"),
    ]
    assert stopped(data)[4].detail == (
        "pruned by the successive_halving pruner after epoch 2: "
        "its val_accuracy (0.2000) was behind the other trials' "
        "at that epoch"
    )
    flagged = overfitting(data)
    assert [(f.trial, f.kind) for f in flagged] == [(5, "over-fitting")]
    assert flagged[0].detail.startswith("training accuracy 0.9000 vs validation 0.6000")
    assert "validation loss rose from 0.9000 (epoch 1) to 1.2000" in flagged[0].detail

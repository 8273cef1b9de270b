"""What a user sees in the MLflow UI after a search, in a real headless Chromium.

``automl ui`` serves the run folder's store and prints an address; opened, it must show the
study's runs table in model training mode (not MLflow 3's GenAI overview): the parent run, its
trials once unfolded with their names, datasets and metric columns; and the Models page must show
the registered winner with its ``champion`` alias. Screenshots of each page are kept in the
test's temporary folder (the path is printed) to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SHARED_STUDY, study_in
from servers import free_port

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
STUDY = SHARED_STUDY
WAIT_S = 90  # the UI under a loaded CI machine

pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason=f"Chromium and its driver are not installed ({CHROMIUM}, {CHROMEDRIVER}; Debian's "
    f"chromium and chromium-driver packages)",
)


@pytest.fixture(scope="module")
def searched(shared_search, tmp_path_factory) -> Path:
    """A copy of the session's shared search's run folder (conftest.py): ``automl ui`` writes
    its server's log into the folder it serves, and the shared one is never written to."""
    copy = tmp_path_factory.mktemp("ui") / "runs"
    shutil.copytree(shared_search / "runs", copy)
    return copy


@pytest.fixture(scope="module")
def finished(searched: Path) -> int:
    """How many of the study's trials completed (each one a child run with its score)."""
    states = [t.state.name for t in study_in(searched, STUDY).trials]
    assert states.count("COMPLETE") >= 2, states
    return states.count("COMPLETE")


@pytest.fixture(scope="module")
def ui(searched: Path):
    """``automl ui`` on the run folder: the address it printed. Stopped with Ctrl-C (SIGINT),
    as a user stops it, which must stop the MLflow server too."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "automl.cli", "ui", "--run-dir", str(searched), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
    )
    printed = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        printed.append(line)
        if line.strip().startswith("http://"):
            break
    url = printed[-1].strip() if printed else ""
    assert url.startswith(f"http://127.0.0.1:{port}/#/experiments/"), "".join(printed)
    yield url
    process.send_signal(signal.SIGINT)
    try:
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    from automl.tracking.ui import port_is_free

    assert port_is_free("127.0.0.1", port), "the MLflow server outlived automl ui"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1920,1080",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots of the MLflow UI: {folder}")
    return folder


def wait_for(driver, condition, what: str, seconds: float = WAIT_S):
    """``condition(driver)``'s first truthy value; elements the React app re-rendered meanwhile
    (stale) are looked up again."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(
            driver,
            seconds,
            poll_frequency=0.5,
            ignored_exceptions=(StaleElementReferenceException,),
        ).until(condition)
    except TimeoutException:
        raise AssertionError(f"the MLflow UI did not show {what} within {seconds:.0f} s") from None


def close_side_panels(driver) -> None:
    """MLflow 3.17 opens an assistant panel and announcement dialogs: close what is open."""
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(By.CSS_SELECTOR, "button[aria-label='Close']"):
        try:
            button.click()
        except Exception:  # hidden or gone meanwhile
            pass


def test_runs_table_shows_the_study_and_its_trials_with_metrics(ui, browser, shots, finished):
    from selenium.webdriver.common.by import By

    browser.get(ui)
    name_cells = "[role='row'] [col-id='attributes.`Run Name`']"

    def parent_row(driver):
        return next(
            (
                c
                for c in driver.find_elements(By.CSS_SELECTOR, name_cells)
                if c.text.endswith(STUDY)
            ),
            None,
        )

    wait_for(browser, parent_row, f"the parent run {STUDY!r}")
    close_side_panels(browser)
    browser.save_screenshot(str(shots / "1-runs-table.png"))
    # a model training experiment: its runs table, not the GenAI overview's traces
    assert "/runs" in browser.current_url

    def shown(text: str) -> bool:
        return any(
            e.is_displayed()
            for e in browser.find_elements(By.XPATH, f"//*[normalize-space(text())='{text}']")
        )

    assert shown("Runs") and not shown("Overview") and not shown("Training runs")

    pattern = re.compile(r"trial-\d+ (cnn|mlp) val_accuracy=\d\.\d{4}")

    def trials(driver) -> list[str]:
        return [
            c.text
            for c in driver.find_elements(By.CSS_SELECTOR, name_cells)
            if pattern.search(c.text)
        ]

    # unfold the trials with the parent's + (once more if the grid re-rendered under the click)
    for attempt in range(3):
        wait_for(
            browser,
            lambda d: (
                (row := parent_row(d)) is not None
                and (row.find_element(By.CSS_SELECTOR, "button").click() or True)
            ),
            "the + that unfolds the parent run",
        )
        try:
            children = wait_for(
                browser,
                lambda d: len(trials(d)) >= finished and trials(d),
                f"the {finished} trials under the parent run",
                seconds=20,
            )
            break
        except AssertionError:
            if attempt == 2:
                raise
    time.sleep(1)  # let the grid lay out the unfolded rows before the picture
    browser.save_screenshot(str(shots / "2-trials-unfolded.png"))
    assert len(children) == finished, children

    headers = {
        e.text.strip() for e in browser.find_elements(By.CSS_SELECTOR, "[role='columnheader']")
    }
    assert {"best_val_accuracy", "Dataset"} <= headers, headers
    scores = [
        c.text
        for c in browser.find_elements(
            By.CSS_SELECTOR, "[role='row'] [col-id='metrics.`best_val_accuracy`']"
        )
    ]
    assert sum(bool(re.fullmatch(r"0\.\d+|1", s)) for s in scores) == finished, scores
    datasets = " ".join(
        c.text
        for c in browser.find_elements(
            By.CSS_SELECTOR, "[role='row'] [col-id='attributes.`Dataset`']"
        )
    )
    assert "train" in datasets, datasets


def test_models_page_shows_the_winner_with_its_alias(ui, browser, shots):
    from selenium.webdriver.common.by import By

    browser.get(f"{ui.split('/#/')[0]}/#/models")
    link = f"[.//a[normalize-space(.)='{STUDY}']]"
    row = f"//tr{link} | //*[@role='row']{link}"
    wait_for(browser, lambda d: d.find_elements(By.XPATH, row), f"the registered model {STUDY!r}")
    time.sleep(1)  # the announcement dialog opens after the table
    close_side_panels(browser)
    wait_for(
        browser,
        lambda d: "champion" in d.find_element(By.XPATH, row).text,
        "the alias champion beside the registered model",
    )
    time.sleep(1)  # the dialog's backdrop fades out
    browser.save_screenshot(str(shots / "3-registered-models.png"))
    assert "Version 1" in browser.find_element(By.XPATH, row).text

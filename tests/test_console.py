"""The console shows automl's own lines; the libraries' lines and the tracebacks go to a log.

One real search (a custom builder that raises, one epoch on a small MNIST-1D subset) stops after
its first failed trial; then a worker joined by hand runs the next trial, which fails the same
way. Neither console shows Optuna's "[W ...] Trial 0 failed with parameters" lines, a traceback
or TensorFlow's start-up lines; both name the log that holds them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT

# breaks in the trial workers only: the dry build that search runs before the study passes
BUILDER = """
import sys

import keras

def build(params, spec):
    if "worker" in sys.argv:
        raise ValueError("width %d is deliberately broken" % params["width"])
    inputs = keras.Input(spec.shape)
    outputs = keras.layers.Dense(spec.num_classes, activation="softmax")(inputs)
    return keras.Model(inputs, outputs)
"""

SPACE = """\
name: console
data: {source: mnist1d, subsample: {train: 300, test: 100}}
model:
  architecture:
    choice: {custom: {builder: "boom_models:build", width: 4}}
training: {epochs: 1, batch_size: 64}
search:
  trials: 2
  max_consecutive_failures: 1
  seed: 1
"""

REASON = "ValueError: width 4 is deliberately broken"
# what only the libraries print: never on automl's console
LIBRARY_LINES = (
    "[W ",
    "Traceback (most recent call last)",
    "Trial 0 failed with parameters",
    "Trial 1 failed with parameters",
    "oneDNN",
    "absl::InitializeLog",
)


@dataclass(frozen=True)
class Run:
    code: int
    console: str  # stdout and stderr, as a user sees them


def automl(folder: Path, *args: str) -> Run:
    """``python -m automl ARGS`` in ``folder``, where the custom builder can be imported."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(folder)])}
    env.pop("AUTOML_VERBOSE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "automl", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Run(proc.returncode, proc.stdout + proc.stderr)


def named_log(run: Run, folder: Path) -> Path:
    """The log file the console's last line names."""
    last = run.console.strip().splitlines()[-1]
    found = re.search(r"are in (\S+\.log)", last)
    assert found, f"the last line names no log: {last!r}"
    return folder / found.group(1)


def assert_only_automl_lines(run: Run) -> None:
    for line in LIBRARY_LINES:
        assert line not in run.console, f"{line!r} on the console:\n{run.console}"


@pytest.fixture(scope="module")
def stopped_search(tmp_path_factory) -> tuple[Path, Run]:
    """A search whose first trial fails, so that it stops (max_consecutive_failures: 1)."""
    folder = tmp_path_factory.mktemp("console")
    (folder / "boom_models.py").write_text(BUILDER)
    (folder / "space.yaml").write_text(SPACE)
    return folder, automl(
        folder, "search", "space.yaml", "--run-dir", "runs", "--reports-dir", "reports"
    )


def test_a_failing_search_shows_one_line_reasons_and_names_the_log(stopped_search):
    folder, run = stopped_search
    assert run.code == 1, run.console
    assert_only_automl_lines(run)
    assert f"trial   0 fail     {REASON}" in run.console  # the progress display's line
    assert "automl: search failed: the last 1 trials all failed" in run.console
    log = named_log(run, folder)
    assert log.parent == (folder / "runs" / "console" / "logs").resolve()
    text = log.read_text()
    assert "Trial 0 failed with parameters" in text
    assert "Traceback (most recent call last)" in text and REASON in text
    # the coordinator's own log lies beside its workers'
    assert list(log.parent.glob("search-*.log"))
    # the trial's slice of the worker's log went to its MLflow run, beside its traceback
    attached = list((folder / "runs" / "mlartifacts").rglob("worker.log"))
    assert len(attached) == 1 and "Trial 0 failed with parameters" in attached[0].read_text()
    assert (attached[0].parent / "traceback.txt").exists()


def test_a_worker_joined_by_hand_keeps_its_console_clean_too(stopped_search):
    folder, _ = stopped_search
    run = automl(folder, "worker", "--study", "console", "--run-dir", "runs")
    assert run.code == 3, run.console  # stopped: its trial failed as well
    assert_only_automl_lines(run)
    assert f"trial   1 fail     {REASON}" in run.console
    log = named_log(run, folder)
    assert log.parent == folder / "runs" / "console" / "logs"
    assert log.name.startswith("worker-")
    text = log.read_text()
    assert "Trial 1 failed with parameters" in text and REASON in text
    assert "Traceback (most recent call last)" in text


def test_tensorflows_retracing_advice_stays_off_the_console(caplog):
    """A search evaluates one new model after another; TensorFlow counts that as retracing and
    prints advice meant for a loop over one model (seen on the console of the Python API)."""
    import logging

    from automl.tuner import quiet

    quiet.quiet_libraries()
    logger = logging.getLogger("tensorflow")
    with caplog.at_level(logging.WARNING):
        logger.warning(
            "5 out of the last 8 calls to <function f at 0x7f> triggered tf.function "
            "retracing. Tracing is expensive"
        )
        logger.warning("a warning that matters")
    assert [r.getMessage() for r in caplog.records] == ["a warning that matters"]


def test_the_eta_never_runs_past_the_timeout():
    """The trial bar's ETA is the trials left at the rate so far, but a search with a timeout
    ends then: a 4-minute search of 200 trials showed "ETA 0:41:04" as it ended."""
    import time

    from rich.progress import TimeRemainingColumn

    from automl.tuner.events import TrialEnded
    from automl.tuner.progress import SearchProgress

    display = SearchProgress(200, 0, "val_accuracy", 10, timeout=60)
    with display:
        for number in range(3):  # 3 trials in 1.8 s or more: rich puts the 197 left at 118 s+
            time.sleep(0.6)
            display.on_trial(
                TrialEnded(
                    number=number, state="COMPLETE", value=0.5, reason="", epochs=3, seconds=0.6
                )
            )
        task = display.progress.tasks[0]
        shown = str(display.progress.columns[-1].render(task))
        by_rate = str(TimeRemainingColumn().render(task))

    def seconds(clock: str) -> int:
        hours, minutes, secs = (int(part) for part in clock.split(":"))
        return hours * 3600 + minutes * 60 + secs

    assert seconds(by_rate) > 60  # what rich alone would show
    assert 50 <= seconds(shown) <= 60, shown  # what is left of the minute

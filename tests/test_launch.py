"""The Python API works however people call it: a script with no main guard, a script fed on
stdin, ``python -c`` and a Jupyter kernel. Workers are processes of their own, so none of these
re-imports the caller; a worker that cannot start fails the search at once, with its error."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPACE = """
name: launch
data: {source: mnist1d, subsample: {train: 300, test: 100}}
model: {architecture: {choice: {mlp: {layers: 1, units: 16}}}}
training: {optimizer: adam, batch_size: 64, epochs: 1}
search: {trials: 1, seed: 0}
select: {top_k: 1}
"""
# what a user writes: no `if __name__ == "__main__":` guard
SCRIPT = """
import automl

result = automl.search("space.yaml", trials=1, run_dir="runs", reports_dir=None, progress=False)
print("WINNER", result.winner_trial, round(result.test_metrics["accuracy"], 4))
"""
TIMEOUT = 240  # seconds: a hang fails the test instead of the whole suite


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "space.yaml").write_text(SPACE)
    (tmp_path / "search.py").write_text(SCRIPT)
    return tmp_path


def python(folder: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=folder,
        text=True,
        capture_output=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def assert_searched(proc: subprocess.CompletedProcess, folder: Path) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WINNER 0 " in proc.stdout
    assert (folder / "runs" / "launch" / "winner.keras").is_file()
    assert "bootstrapping phase" not in proc.stderr  # multiprocessing's re-import error


# the three ways to hand Python the script, each in a folder of its own
LAUNCHES = {"script": ("search.py",), "stdin": ("-",), "dash_c": ("-c", SCRIPT)}


@pytest.fixture(scope="module")
def launched(tmp_path_factory) -> dict:
    """The three launches, started together: most of a one-trial search is one process waiting
    for another (a worker's TensorFlow import), so together they take little longer than one."""
    processes = {}
    for name, args in LAUNCHES.items():
        folder = tmp_path_factory.mktemp(name)
        (folder / "space.yaml").write_text(SPACE)
        (folder / "search.py").write_text(SCRIPT)
        processes[name] = (
            folder,
            subprocess.Popen(
                [sys.executable, *args],
                cwd=folder,
                text=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            ),
        )
    done = {}
    try:
        for name, (folder, process) in processes.items():
            stdout, stderr = process.communicate(
                SCRIPT if name == "stdin" else None, timeout=TIMEOUT
            )
            done[name] = (
                folder,
                subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr),
            )
    finally:  # a hang fails the tests, not the suite
        for _, process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return done


def test_script_without_main_guard(launched):
    folder, proc = launched["script"]
    assert_searched(proc, folder)


def test_script_fed_on_stdin(launched):
    folder, proc = launched["stdin"]
    assert_searched(proc, folder)


def test_python_dash_c(launched):
    folder, proc = launched["dash_c"]
    assert_searched(proc, folder)


def test_inside_a_jupyter_kernel(folder):
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(cwd=str(folder), env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        out: list[str] = []
        shown: list[str] = []  # what rich displays in the notebook

        def collect(message: dict) -> None:
            content = message["content"]
            if message["msg_type"] == "stream":
                out.append(content["text"])
            elif message["msg_type"] == "error":
                out.append("\n".join(content["traceback"]))
            elif message["msg_type"] == "display_data":
                shown.append(content["data"].get("text/plain", ""))

        # the default progress display, as a notebook user gets it
        code = SCRIPT.replace(", progress=False", "")
        reply = client.execute_interactive(code, timeout=TIMEOUT, output_hook=collect)
        assert reply["content"]["status"] == "ok", "".join(out)
        assert "WINNER 0 " in "".join(out)
        assert (folder / "runs" / "launch" / "winner.keras").is_file()
        if importlib.util.find_spec("ipywidgets") is None:  # rich cannot draw bars: no warning,
            # the trial's line says the count and the best instead
            assert 'install "ipywidgets"' not in "".join(out + shown)  # rich's warning
            assert "IProgress not found" not in "".join(out)  # tqdm's, as Optuna imports it
            assert re.search(
                r"trial\s+0 complete .*\[1/1, best val_accuracy: \d\.\d{4}\]",
                re.sub(r"\x1b\[[0-9;]*m", "", "".join(shown)),
            )
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_a_broken_tensorflow_fails_the_search_before_anything_is_written(folder):
    """A broken TensorFlow install (here: a stand-in that fails to import) surfaces in seconds,
    in one sentence that says what to do, before the study or the stores exist."""
    broken = folder / "broken"
    (broken / "tensorflow").mkdir(parents=True)
    (broken / "tensorflow" / "__init__.py").write_text(
        "raise ImportError('libcudart.so.12: cannot open shared object file')\n"
    )
    started = time.monotonic()
    proc = python(
        folder,
        "-m",
        "automl",
        "search",
        "space.yaml",
        "--quiet",
        env={"PYTHONPATH": f"{broken}{os.pathsep}{ROOT}"},
    )
    assert proc.returncode == 1
    assert (
        "TensorFlow cannot be imported here (ImportError: libcudart.so.12: cannot open "
        "shared object file); reinstall it"
    ) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - started < 60
    assert not (folder / "automl-runs").exists()


# breaks the worker processes only (as a worker machine with another environment would be):
# the search hands each worker its storage in AUTOML_STORAGE
BROKEN_WORKERS = """
import os, sys, traceback
if "AUTOML_STORAGE" in os.environ:  # (site.py would swallow an exception: die as Python would)
    try:
        raise ImportError("libcudart.so.12: cannot open shared object file")
    except ImportError:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
"""


def test_a_worker_that_cannot_start_fails_the_search_at_once(folder):
    """A worker that dies while starting fails the search in seconds, with the worker's own
    error, instead of a hang or a retry loop."""
    site = folder / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BROKEN_WORKERS)
    assert "AUTOML_STORAGE" not in os.environ
    started = time.monotonic()
    proc = python(
        folder,
        "-m",
        "automl",
        "search",
        "space.yaml",
        "--quiet",
        env={"PYTHONPATH": f"{site}{os.pathsep}{ROOT}"},
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    assert "a worker failed while starting" in proc.stderr
    assert "ImportError: libcudart.so.12: cannot open shared object file" in proc.stderr
    assert "Traceback" not in proc.stderr  # one message, the worker's log has the rest
    assert elapsed < 90
    logs = list((folder / "automl-runs" / "launch" / "logs").glob("worker-*.log"))
    assert len(logs) == 1 and "Traceback" in logs[0].read_text()

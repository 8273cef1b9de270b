"""``automl ui``: the MLflow UI started on a run folder's store, and stopped with its workers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from automl.errors import AutomlError, UsageError


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def start_ui(
    tracking_uri: str, host: str, port: int, artifacts: Path, log: Path, wait_s: float = 180
) -> subprocess.Popen:
    """Start ``mlflow ui`` on the store in a process group of its own and wait until it answers.

    Args:
        tracking_uri: the store (an SQLite file or a database URL).
        host, port: where it listens; 127.0.0.1 keeps it on this machine.
        artifacts: where runs created from the UI itself keep their artifacts.
        log: the server's own output goes here.
        wait_s: give up after this many seconds.

    Raises:
        UsageError: the port is taken.
        AutomlError: the server stopped or did not answer in time.
    """
    if not port_is_free(host, port):
        raise UsageError(f"port {port} on {host} is in use; choose another with --port")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "ui",
                "--backend-store-uri",
                tracking_uri,
                "--artifacts-destination",
                artifacts.resolve().as_uri(),
                "--host",
                host,
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            # no job runners (seven processes that serve GenAI evaluation jobs): a UI to browse
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )
    health = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/health"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            last = (log.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
            raise AutomlError(f"the MLflow UI stopped at start ({last}); its log is {log}")
        try:
            with urllib.request.urlopen(health, timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.5)
    stop_ui(process)
    raise AutomlError(f"the MLflow UI did not answer within {wait_s:.0f} s; its log is {log}")


def stop_ui(process: subprocess.Popen) -> None:
    """Stop an ``mlflow ui`` that :func:`start_ui` started, with the workers it spawned (its
    process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):  # whatever of the group is left
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def serve_until_stopped(process: subprocess.Popen) -> int:
    """Wait while the UI serves; Ctrl-C or SIGTERM stops it. Returns the exit code (0 when
    stopped on purpose)."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop_ui(process)
        for number, handler in previous.items():
            signal.signal(number, handler)

"""Worker processes on this machine: N at a time, each replaced when it exits, none left hanging.

Each worker is ``python -m automl worker`` in a subprocess with its share of the cores (and of the
GPUs), its output in ``<run dir>/<study>/logs/`` (Optuna's and TensorFlow's lines, tracebacks;
the coordinator's own log lies there too, see ``quiet.py``), and a pipe on which it sends its
events. The pool knows its own children, so it tells at once when one dies: its trial is failed with the
reason and retried. A worker that dies before it is ready fails the search within seconds, with
the worker's own last lines.

The connection strings reach workers through their environment, never their command line, which
every user of the machine can read (``ps``).
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from automl.errors import AutomlError
from automl.tuner import quiet
from automl.tuner.events import Event, TrialEnded, WorkerReady, WorkerStopped, decode
from automl.tuner.study import WorkerId
from automl.urls import redact

TRIALS_PER_WORKER = 10  # then a fresh process: memory stays flat
MAX_CRASHES_IN_A_ROW = 3
STOP_GRACE_SECONDS = 60  # after Ctrl-C, how long workers get to record their trials


@dataclass
class _Worker:
    process: subprocess.Popen
    reader: TextIO  # the pipe's read end (a file object)
    log: Path
    ready: bool = False
    buffer: str = ""
    stopped: str | None = None  # a WorkerStopped message
    id: WorkerId | None = None


@dataclass
class LocalPool:
    """Runs the study's trials in ``workers`` processes until ``budget_left()`` says stop.

    Args:
        study_name, storage_url, tracking_uri, run_dir: what each worker joins.
        workers: processes at once.
        on_event: called in this process for every event a worker sends.
        budget_left: trials still to start (finished and running ones counted).
        on_crash: called with a dead worker's id and exit code, to fail and retry its trial.
        timeout: seconds for the whole search (None: no limit).
        seed: the sampler seed of the first worker (None: unseeded); each later worker gets its
            own, derived from it, so that two workers never sample the same stream.
    """

    study_name: str
    storage_url: str
    tracking_uri: str
    run_dir: Path
    workers: int
    on_event: Callable[[Event], None]
    budget_left: Callable[[], int]
    on_crash: Callable[[WorkerId, int], None]
    timeout: float | None = None
    seed: int | None = None
    threads: int | None = None
    gpus: list[str] = field(default_factory=list)
    _started: int = 0
    _crashes: int = 0  # workers that died since a trial last ended

    def run(self) -> bool:
        """Run until the budget or the time is spent. False when the user pressed Ctrl-C.

        Raises:
            AutomlError: a worker failed to start, the study was stopped because its trials
                keep failing, or workers kept dying.
        """
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        # the run folder exists now: the coordinator's own log moves beside its workers'
        quiet.settle_log(self.run_dir / self.study_name / "logs" / f"search-{os.getpid()}.log")
        selector = selectors.DefaultSelector()
        live: list[_Worker] = []
        asked = 0.0  # when the study was last asked for its budget (a database query)
        try:
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if (
                    len(live) < self.workers
                    and (left is None or left > 0)
                    and (not live or time.monotonic() - asked > 1.0)
                ):
                    asked = time.monotonic()
                    # a live worker runs one trial at a time: start no more than are needed
                    want = min(self.workers, self.budget_left() + len(live))
                    while len(live) < want:
                        live.append(self._start(selector, left))
                if not live:
                    return True
                self._pump(selector, timeout=0.25)
                for worker in [w for w in live if w.process.poll() is not None]:
                    self._pump(selector, timeout=0)
                    self._read(worker)  # what it wrote just before it exited
                    selector.unregister(worker.reader)
                    worker.reader.close()
                    live.remove(worker)
                    self._ended(worker, live)
        except KeyboardInterrupt:
            self._stop(live, selector)
            return False
        finally:
            selector.close()

    # ---- one worker ----------------------------------------------------------------------------

    def _start(self, selector: selectors.BaseSelector, left: float | None) -> _Worker:
        read_fd, write_fd = os.pipe()
        logs = self.run_dir / self.study_name / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        number = self._started
        self._started += 1
        log = logs / f"worker-{os.getpid()}-{number}.log"  # another search may share the folder
        command = [
            sys.executable,
            "-m",
            "automl",
            "worker",
            "--study",
            self.study_name,
            "--run-dir",
            str(self.run_dir),
            "--trials",
            str(TRIALS_PER_WORKER),
            "--events-fd",
            str(write_fd),
        ]
        if left is not None:
            command += ["--timeout", f"{max(left, 0.0):.1f}"]
        if self.seed is not None:
            command += ["--seed", str(self.seed + 7919 * number)]
        if self.threads:
            command += ["--threads", str(self.threads)]
        env = {
            **os.environ,
            "AUTOML_STORAGE": self.storage_url,
            "AUTOML_TRACKING_URI": self.tracking_uri,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": caller_import_path(),
            quiet.WORKER_LOG_VARIABLE: str(log),
        }
        if self.gpus:  # round-robin: several workers per GPU when there are more workers
            env["CUDA_VISIBLE_DEVICES"] = self.gpus[number % len(self.gpus)]
        with open(log, "w") as out:
            # a session of its own: Ctrl-C reaches the coordinator, which passes it on once
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                pass_fds=(write_fd,),
                env=env,
                start_new_session=True,
            )
        os.close(write_fd)  # the worker holds the only write end: EOF when it exits
        reader = os.fdopen(read_fd, "r")
        os.set_blocking(read_fd, False)
        worker = _Worker(process, reader, log)
        selector.register(reader, selectors.EVENT_READ, worker)
        return worker

    def _pump(self, selector: selectors.BaseSelector, timeout: float) -> None:
        for key, _ in selector.select(timeout):
            self._read(key.data)

    def _read(self, worker: _Worker) -> None:
        try:
            chunk = worker.reader.read()
        except (OSError, ValueError):
            return
        if not chunk:
            return
        worker.buffer += chunk
        *lines, worker.buffer = worker.buffer.split("\n")
        for line in lines:
            event = decode(line)
            if isinstance(event, WorkerReady):
                worker.ready = True
                worker.id = WorkerId(event.host, event.pid, event.started)
            elif isinstance(event, TrialEnded):
                self._crashes = 0
                if event.state == "FAIL":  # its traceback is in this worker's log
                    quiet.note_failed_trial(worker.log)
            elif isinstance(event, WorkerStopped):
                worker.stopped = event.message
            if event is not None:
                self.on_event(event)

    def _ended(self, worker: _Worker, live: list[_Worker]) -> None:
        """Handle a worker that exited: fine, stopped on purpose, broken, or killed."""
        code = worker.process.returncode
        if worker.stopped:
            self._stop(live, None)
            raise AutomlError(worker.stopped)
        if code == 0:
            return
        quiet.note_trouble(worker.log)
        if not worker.ready and code > 0:  # an error while starting: the next would fail too
            self._stop(live, None)
            raise AutomlError(
                f"a worker failed while starting (exit code {code}): "
                f"{_last_lines(worker.log)} (its whole output: {worker.log})"
            )
        if worker.id is not None:
            self.on_crash(worker.id, code)
        self._crashes += 1
        if self._crashes >= MAX_CRASHES_IN_A_ROW:
            self._stop(live, None)
            raise AutomlError(
                f"the trial workers died {self._crashes} times with no trial ending "
                f"in between (last exit code {code}; -9 means killed, often out of "
                f"memory): {_last_lines(worker.log)}"
            )

    def _stop(self, live: list[_Worker], selector: selectors.BaseSelector | None) -> None:
        """Ask the workers to stop (they record their trials as interrupted), then make sure."""
        for worker in live:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for worker in live:
            try:
                worker.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            if selector is not None:
                self._read(worker)


def caller_import_path() -> str:
    """This process's import path, for a worker: what the caller can import (a custom builder
    next to the notebook, a package added to ``sys.path``), the worker can import too."""
    entries = [os.getcwd() if entry == "" else entry for entry in sys.path]
    return os.pathsep.join(dict.fromkeys(e for e in entries if os.path.isdir(e)))


def _last_lines(log: Path, count: int = 3) -> str:
    """The last lines a worker wrote (its error), on one line."""
    try:
        lines = [
            line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()
        ]
    except OSError:
        return "(no output)"
    return redact(" | ".join(lines[-count:])) or "(no output)"


# ---- how many workers, with what --------------------------------------------------------------

WORKERS_PER_GPU = 2  # small models leave a GPU mostly idle: two trials share one
AUTO_MAX_WORKERS = 8  # each worker holds its own TensorFlow (about 0.5-1 GB of memory)


@dataclass(frozen=True)
class WorkerPlan:
    workers: int
    threads: int  # TensorFlow threads per worker
    gpus: list[str]  # CUDA device ids, handed out round-robin


def visible_gpus() -> list[str]:
    """The NVIDIA GPUs this process may use, without importing TensorFlow."""
    import shutil

    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        return [g for g in given.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip().isdigit()]


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def plan_workers(requested: int | str) -> WorkerPlan:
    """Workers and their share of the machine.

    ``auto``: two per GPU where there are GPUs; on CPUs one per core (up to
    :data:`AUTO_MAX_WORKERS`), which ``benchmarks/workers.py`` measured as the better use of 2
    cores than one worker with two threads. A number is taken as it is; the cores are split
    evenly between the workers either way.
    """
    gpus = visible_gpus()
    cores = cpu_cores()
    if requested == "auto":
        workers = WORKERS_PER_GPU * len(gpus) if gpus else min(cores, AUTO_MAX_WORKERS)
    else:
        workers = int(requested)
    return WorkerPlan(workers=workers, threads=max(cores // workers, 1), gpus=gpus)

"""Keep the terminal for automl's own lines; what the libraries say goes to a log file.

The console of ``automl search`` and of ``automl worker`` shows the progress display, one line
per trial (a failed trial's reason on one line), automl's own warnings about the data (``warning:
...``) and the summary. Everything else (Optuna's own "Trial 0 failed with parameters ..."
lines and their tracebacks, TensorFlow's C++ lines, TensorFlow, absl, Keras and MLflow warnings,
Python warnings) goes to a log file in the run folder, ``<run dir>/<study>/logs/``, one a
process; the command names that file when something fails. ``AUTOML_VERBOSE=1`` leaves it all
on the console, as the libraries print it.

How: in a command-line process, :func:`divert_library_output` points file descriptor 2 (where
C++ code and every library's stderr write) at the log, and ``sys.stderr`` at a copy of the
terminal, for automl's own lines; the libraries' loggers get a handler on the log. Until the
run folder is known (the space and the data are checked first, and a refused file creates
nothing) the log is a temporary file; :func:`settle_log` moves it into the run folder. Worker
processes that ``automl search`` starts need none of this: their whole output is their log.

The Python API (``automl.search`` in a notebook) leaves the process's streams alone.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

# loggers whose records go to the log file (the root logger too: anything else that logs)
LIBRARY_LOGGERS = (
    "optuna",
    "tensorflow",
    "absl",
    "keras",
    "mlflow",
    "alembic",
    "urllib3",
    "h5py",
    "py.warnings",
)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
VERBOSE_VARIABLE = "AUTOML_VERBOSE"  # set to 1: libraries print to the console
WORKER_LOG_VARIABLE = "AUTOML_LOG_FILE"  # a worker's log, set by the pool that starts it


@dataclass
class _Diverted:
    """This process's diverted output: the terminal for automl, a file for the libraries."""

    console: TextIO  # automl's own lines (what stderr was)
    handler: logging.Handler  # library records, written to file descriptor 2
    temporary: IO[bytes] | None  # the log until the run folder is known
    log: Path | None = None  # the log in the run folder, once settled
    kept: Path | None = None  # the temporary log, written out because the command failed


@dataclass
class _Trouble:
    """Logs that hold a failed trial's traceback (a worker's), in the order they were met."""

    logs: list[Path] = field(default_factory=list)
    failed_trials: int = 0


_diverted: _Diverted | None = None
_trouble = _Trouble()


def quiet_libraries() -> None:
    """Libraries log warnings and errors only; where output is diverted, to the log file."""
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    if _diverted is None:  # on the console: their warnings are noise there
        warnings.filterwarnings("ignore", module="(mlflow|optuna|keras|tensorflow).*")
    for name in ("optuna", "mlflow", "absl", "tensorflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    tensorflow_logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _NoRetracingAdvice) for f in tensorflow_logger.filters):
        tensorflow_logger.addFilter(_NoRetracingAdvice())
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _route_library_logs()


class _NoRetracingAdvice(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning: a search trains and
    evaluates one new model after another, each with its own functions, which is what that
    warning counts; its advice is for a loop over one model, and printed mid-search it reads as
    trouble."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def verbose() -> bool:
    """True when the user asked for the libraries' output on the console (``AUTOML_VERBOSE``)."""
    return os.environ.get(VERBOSE_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def diverted() -> bool:
    """True when this process's library output goes to a log file."""
    return _diverted is not None


def divert_library_output() -> bool:
    """From now on, send what the libraries write to a log file, and keep ``sys.stderr`` for
    automl's own lines. For command-line processes only (it rewires file descriptor 2).

    Returns:
        False (and changes nothing) when already diverted or ``AUTOML_VERBOSE`` is set.
    """
    global _diverted
    if _diverted is not None or verbose():
        return False
    sys.stderr.flush()
    terminal = os.dup(2)
    temporary = tempfile.TemporaryFile(prefix="automl-", suffix=".log")
    os.dup2(temporary.fileno(), 2)
    console = open(
        terminal,
        "w",
        buffering=1,
        encoding=sys.stderr.encoding or "utf-8",
        errors="backslashreplace",
    )
    # the original stream keeps writing to descriptor 2, which is now the log
    library_stream = sys.__stderr__ if sys.__stderr__ is not None else open(2, "w", closefd=False)
    handler = logging.StreamHandler(library_stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(logging.WARNING)
    sys.stderr = console
    # automl's own warnings (an unreadable image skipped, a column without a header ignored)
    # are for the user: on the console, and in the log with the rest
    shown = logging.StreamHandler(console)
    shown.setFormatter(_LevelFirst())
    shown.setLevel(logging.WARNING)
    logging.getLogger("automl").addHandler(shown)
    _diverted = _Diverted(console=console, handler=handler, temporary=temporary)
    _route_library_logs()
    return True


class _LevelFirst(logging.Formatter):
    """``warning: <message>``, as automl's other console lines read."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def settle_log(path: Path) -> Path | None:
    """Move this process's log to ``path`` (in the run folder, now that it exists).

    What was logged so far is copied over; later output goes straight there. Returns the log's
    path, or None when output is not diverted (the Python API, ``AUTOML_VERBOSE``).
    """
    if _diverted is None:
        return None
    if _diverted.log == path:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    _flush_library_streams()
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    if _diverted.temporary is not None:
        _copy_temporary(_diverted.temporary, target)
        _diverted.temporary.close()
        _diverted.temporary = None
    os.dup2(target, 2)
    os.close(target)
    _diverted.log = path
    _route_library_logs()  # libraries imported since (MLflow configures its own handler)
    return path


def log_path() -> Path | None:
    """This process's log file: settled in the run folder, or named by the pool that started
    this worker; None when there is none (output not diverted, or still temporary)."""
    if _diverted is not None:
        return _diverted.log or _diverted.kept
    given = os.environ.get(WORKER_LOG_VARIABLE)
    return Path(given) if given else None


def keep_log(command: str) -> Path | None:
    """This process's log as a file, to name it: the settled one, or the temporary one written
    out to the system's temporary folder (the command failed before the run folder existed)."""
    if _diverted is None:
        return None
    if _diverted.log is None and _diverted.kept is None and _diverted.temporary is not None:
        _flush_library_streams()
        if os.fstat(_diverted.temporary.fileno()).st_size == 0:
            return None  # nothing to read
        handle, name = tempfile.mkstemp(prefix=f"automl-{command}-", suffix=".log")
        _copy_temporary(_diverted.temporary, handle)
        os.dup2(handle, 2)
        os.close(handle)
        _diverted.temporary.close()
        _diverted.temporary = None
        _diverted.kept = Path(name)
    return log_path()


def log_exception(error: BaseException, command: str) -> None:
    """Write the traceback of an error that ended ``automl command`` to the log (where output
    is diverted)."""
    if _diverted is not None:
        _diverted.handler.handle(
            logging.LogRecord(
                "automl",
                logging.ERROR,
                __file__,
                0,
                "automl %s failed",
                (command,),
                (type(error), error, error.__traceback__),
            )
        )


def note_failed_trial(log: Path | None) -> None:
    """A trial failed; its traceback and the libraries' messages about it are in ``log``."""
    _trouble.failed_trials += 1
    if log is not None:
        note_trouble(log)


def note_trouble(log: Path) -> None:
    """``log`` holds an error worth reading (a worker that crashed, or failed to start)."""
    if log in _trouble.logs:
        _trouble.logs.remove(log)
    _trouble.logs.append(log)


def where_to_look(command: str, failed: bool, traceback_here: bool = False) -> str | None:
    """One sentence that names the log to read, for the console's last line.

    Args:
        command: the automl command (names a temporary log written out).
        failed: the command failed (a non-zero exit).
        traceback_here: the traceback that matters is this process's own (an unexpected
            error), not a trial's in a worker's log.

    Returns:
        The sentence: the log of the last failed trial (worker logs hold the tracebacks), or
        this process's own log when it failed itself; None when there is nothing to read.
    """
    logs = [log for log in _trouble.logs if log.exists()]
    if failed and (traceback_here or not logs):
        own = keep_log(command)
        if own is None:
            return None
        what = "the traceback and " if traceback_here else ""
        return f"automl: {what}Optuna's and TensorFlow's messages are in {own}"
    if not logs:
        return None
    latest, others = logs[-1], len(logs) - 1
    more = f" (and {others} more in {latest.parent})" if others else ""
    if failed:
        return (
            f"automl: the tracebacks and Optuna's and TensorFlow's messages are in {latest}{more}"
        )
    trials = _trouble.failed_trials
    if not trials:  # a worker died, its trial was retried
        return f"automl: a worker died; its output is in {latest}{more}"
    return (
        f"automl: {trials} trial{'s' if trials != 1 else ''} failed; the traceback"
        f"{'s are' if trials != 1 else ' is'} in {latest}{more}"
    )


def read_log_from(log: Path, offset: int, limit: int = 1 << 20) -> str:
    """What ``log`` holds from ``offset`` on (at most its last ``limit`` bytes): one trial's
    slice of a worker's log."""
    _flush_library_streams()
    try:
        with open(log, "rb") as f:
            f.seek(0, os.SEEK_END)
            end = f.tell()
            f.seek(max(offset, end - limit))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def log_size(log: Path | None) -> int:
    """The log's size now (0 when there is none): where the next trial's slice begins."""
    if log is None:
        return 0
    _flush_library_streams()
    try:
        return log.stat().st_size
    except OSError:
        return 0


# lines TensorFlow's C++ core writes while it loads, before any logging setting applies
_IMPORT_NOISE = (
    "oneDNN custom operations are on",
    "All log messages before absl::InitializeLog",
    "cuda_blas.cc",
    "cuda_fft.cc",
    "cuda_dnn.cc",
    "computation placer already",
    "Unable to register cu",
    "TF-TRT Warning",
    "This TensorFlow binary is optimized",
)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its load-time chatter removed from stderr (errors still show).

    TensorFlow 2.21 prints an INFO line about oneDNN at import whatever TF_CPP_MIN_LOG_LEVEL
    says; it lands in the middle of the progress display and in every worker's last lines.
    Where output is diverted, all of it goes to the log.
    """
    if "tensorflow" in sys.modules:
        return
    if _diverted is not None:
        _import_tensorflow()
        _route_library_logs()
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            _import_tensorflow()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not any(noise in line for noise in _IMPORT_NOISE):
                    sys.stderr.write(line)


# ---- helpers ------------------------------------------------------------------------------------


def _import_tensorflow() -> None:
    """``import tensorflow``; a broken install becomes one sentence saying what to do."""
    try:
        import tensorflow  # noqa: F401
    except ImportError as error:
        from automl.errors import AutomlError

        first = (str(error).strip().splitlines() or [""])[0]
        raise AutomlError(
            f"TensorFlow cannot be imported here ({type(error).__name__}: "
            f"{first}); reinstall it in this environment (pip install "
            f"tensorflow-cpu, or tensorflow[and-cuda] for a GPU)"
        ) from None


def _route_library_logs() -> None:
    """Send the libraries' loggers to the log, and nowhere else (diverted processes only).

    Called again after heavy imports: MLflow installs its own console handler when imported.
    The root logger gets the handler too, so that TensorFlow adds no console handler of its
    own and records of any other logger never reach Python's last-resort console handler.
    """
    if _diverted is None:
        return
    handler = _diverted.handler
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for other in list(logger.handlers):
            if other is not handler:
                logger.removeHandler(other)
        if handler not in logger.handlers:
            logger.addHandler(handler)
        logger.propagate = False
    root = logging.getLogger()
    if handler not in root.handlers:
        root.addHandler(handler)
    logging.captureWarnings(True)


def _flush_library_streams() -> None:
    for stream in (sys.__stderr__, sys.__stdout__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def _copy_temporary(temporary: IO[bytes], target: int) -> None:
    """Append what the temporary log holds to the file open as ``target``."""
    temporary.flush()
    temporary.seek(0)
    while chunk := temporary.read(1 << 16):
        os.write(target, chunk)

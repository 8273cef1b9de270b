"""Keep the terminal for the progress display: libraries log warnings and errors only."""

from __future__ import annotations


def quiet_libraries() -> None:
    import logging
    import os
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", module="(mlflow|optuna|keras|tensorflow).*")
    for name in ("optuna", "mlflow", "absl", "tensorflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


# lines TensorFlow's C++ core writes while it loads, before any logging setting applies
_IMPORT_NOISE = ("oneDNN custom operations are on", "All log messages before absl::InitializeLog",
                 "cuda_blas.cc", "cuda_fft.cc", "cuda_dnn.cc", "computation placer already",
                 "Unable to register cu", "TF-TRT Warning", "This TensorFlow binary is optimized")


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its load-time chatter removed from stderr (errors still show).

    TensorFlow 2.21 prints an INFO line about oneDNN at import whatever TF_CPP_MIN_LOG_LEVEL
    says; it lands in the middle of the progress display and in every worker's last lines.
    """
    import os
    import sys
    import tempfile

    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not any(noise in line for noise in _IMPORT_NOISE):
                    sys.stderr.write(line)

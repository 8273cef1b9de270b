"""Export a winning model: a ``.keras`` file (plus, on request, a TensorFlow SavedModel) with its
params and metrics beside it. Registering in MLflow happens in ``tracking.py``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

FORMATS = ("keras", "saved_model")


def export_model(model_file: Path, out_dir: str | Path, *, params: dict[str, Any],
                 metrics: dict[str, Any], formats: tuple[str, ...] = ("keras",)) -> dict[str, Path]:
    """Write the model and its metadata to ``out_dir``; return what was written, by kind.

    The ``.keras`` file reloads with ``keras.saving.load_model`` and takes raw inputs (its
    normalization is inside the model).
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if "keras" in formats:
        written["model"] = out / "model.keras"
        shutil.copyfile(model_file, written["model"])
    if "saved_model" in formats:
        import keras

        written["saved_model"] = out / "saved_model"
        keras.saving.load_model(model_file).export(str(written["saved_model"]), verbose=False)
    written["params"] = out / "params.json"
    written["params"].write_text(json.dumps(params, indent=2, default=str))
    written["metrics"] = out / "metrics.json"
    written["metrics"].write_text(json.dumps(metrics, indent=2, default=str))
    return written

"""Size and single-example latency of each export format (the README's table).

Two models as automl's builder makes them: the MNIST-1D CNN of the ready space (exported to
every format) and a table MLP with a numeric and two categorical columns (keras and savedmodel:
TFLite and ONNX cannot hold its lookup tables). Latency: the median of ``--calls`` calls of one
example after ten warm-up calls, each in its own runtime.

    python benchmarks/exports.py --calls 200 --out reports/curated/exports.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def median_ms(call: Callable[[], object], calls: int) -> float:
    for _ in range(10):
        call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def size_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def signal_cnn(folder: Path, calls: int) -> dict:
    import keras
    import numpy as np
    import onnxruntime
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from automl.export import export_model
    from automl.models.builder import InputSpec, build_model

    spec = InputSpec(shape=(40,), num_classes=10, mean=0.0, variance=1.0)
    model = build_model(
        {
            "architecture": {
                "name": "cnn",
                "blocks": 2,
                "filters": 32,
                "kernel_size": 5,
                "dense_units": 64,
            },
            "batch_norm": True,
            "dropout": 0.1,
        },
        spec,
    )
    model.save(folder / "cnn.keras")
    written = export_model(
        folder / "cnn.keras", folder / "cnn", format="keras,savedmodel,tflite,onnx"
    )
    x = np.random.default_rng(0).normal(size=(1, 40)).astype("float32")
    loaded = keras.saving.load_model(written["model"], compile=False)
    served = tf.saved_model.load(str(written["savedmodel"]))
    tensor = tf.constant(x)
    lite = Interpreter(model_path=str(written["tflite"])).get_signature_runner()
    onnx = onnxruntime.InferenceSession(str(written["onnx"]))
    runs = {
        "keras": (written["model"], lambda: loaded.predict_on_batch(x)),
        "savedmodel": (written["savedmodel"], lambda: served.serve(tensor)),
        "tflite": (written["tflite"], lambda: lite(inputs=x)),
        "onnx": (written["onnx"], lambda: onnx.run(None, {"inputs": x})),
    }
    return {
        "params": model.count_params(),
        "formats": {
            name: {"bytes": size_bytes(Path(path)), "ms": round(median_ms(call, calls), 4)}
            for name, (path, call) in runs.items()
        },
    }


def table_mlp(folder: Path, calls: int) -> dict:
    import keras
    import pandas as pd
    import tensorflow as tf

    from automl.export import export_model, to_model_inputs
    from automl.models.builder import InputSpec, build_model

    spec = InputSpec(
        shape=(3,),
        num_classes=2,
        columns=(
            ("size", "numeric", (10.0, 9.0)),
            ("color", "categorical", ("red", "green", "blue")),
            ("count", "categorical", (0, 1, 2, 3, 4)),
        ),
    )
    model = build_model({"architecture": {"name": "mlp", "layers": 2, "units": 64}}, spec)
    model.save(folder / "mlp.keras")
    written = export_model(folder / "mlp.keras", folder / "mlp", format="keras,savedmodel")
    loaded = keras.saving.load_model(written["model"], compile=False)
    x = to_model_inputs(loaded, pd.DataFrame({"size": [9.5], "color": ["red"], "count": [2]}))
    served = tf.saved_model.load(str(written["savedmodel"]))
    tensors = {
        "size": tf.constant([9.5], tf.float32),
        "color": tf.constant(["red"]),
        "count": tf.constant([2], tf.int64),
    }
    runs = {
        "keras": (written["model"], lambda: loaded.predict_on_batch(x)),
        "savedmodel": (written["savedmodel"], lambda: served.serve(tensors)),
    }
    return {
        "params": model.count_params(),
        "formats": {
            name: {"bytes": size_bytes(Path(path)), "ms": round(median_ms(call, calls), 4)}
            for name, (path, call) in runs.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = {
            "signal_cnn": signal_cnn(Path(tmp), args.calls),
            "table_mlp": table_mlp(Path(tmp), args.calls),
            "cpu_cores": os.cpu_count(),
        }
    for model, part in figures.items():
        if isinstance(part, dict):
            for name, row in part["formats"].items():
                print(f"{model:<11} {name:<11} {row['bytes'] / 1000:8.0f} kB {row['ms']:9.3f} ms")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()

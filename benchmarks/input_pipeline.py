"""Input pipeline speed: automl's tf.data pipeline against the same model fed from in-memory
tensors, and the cost of each augmentation.

For each data set (MNIST-1D signals with the 1-D CNN, scikit-learn digits with the 2-D CNN) the
same compiled model trains for a few epochs fed (a) by ``model.fit`` on in-memory tensors, (b) by
automl's pipeline without augmentation, (c) by the pipeline with one augmentation at a time. The
first epoch (tracing) is dropped; the figure is the median training steps per second over the
remaining epochs of ``--repeats`` interleaved runs.

    python benchmarks/input_pipeline.py --out reports/curated/input_pipeline.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CASES = {
    "mnist1d": {
        "model": {
            "architecture": {
                "name": "cnn",
                "blocks": 3,
                "filters": 32,
                "kernel_size": 5,
                "pooling": "max",
            },
            "batch_norm": True,
        },
        "augmentations": {
            "shift": {"shift": 3},
            "scale": {"scale": 0.1},
            "gaussian_noise": {"gaussian_noise": 0.05},
            "mixup": {"mixup": 0.2},
        },
    },
    "digits": {
        "model": {
            "architecture": {
                "name": "cnn",
                "blocks": 2,
                "filters": 16,
                "kernel_size": 3,
                "pooling": "max",
            },
            "batch_norm": True,
        },
        "augmentations": {
            "flip": {"flip": "horizontal"},
            "rotation": {"rotation": 0.1},
            "translation": {"translation": 0.1},
            "zoom": {"zoom": 0.1},
            "contrast": {"contrast": 0.2},
            "brightness": {"brightness": 0.2},
            "crop": {"crop": 1},
            "gaussian_noise": {"gaussian_noise": 0.05},
            "cutout": {"cutout": 0.25},
            "mixup": {"mixup": 0.2},
        },
    },
}


def steps_per_second(model, feed, steps: int, epochs: int) -> list[float]:
    import keras

    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    feed(model, [Timer()], epochs)
    return [steps / t for t in times[1:]]  # the first epoch traces the graph


def measure(name: str, epochs: int, repeats: int, batch_size: int) -> list[tuple[str, float]]:
    import keras
    import numpy as np
    import tensorflow as tf

    from automl.config import DataConfig
    from automl.data import load_source, make_splits
    from automl.data.pipeline import _labels, train_dataset
    from automl.modalities.image import LAYER_AUGMENTATIONS, augmentation_layers
    from automl.models.builder import build_model
    from automl.training.fit import compile_model, data_scale, input_spec

    case = CASES[name]
    splits = make_splits(
        load_source(name), DataConfig(source=name, test="builtin" if name == "mnist1d" else 0.2)
    )
    spec = input_spec(splits)
    data_std, _ = data_scale(splits, spec)
    steps = int(np.ceil(len(splits.y_train) / batch_size))
    x = tf.constant(np.asarray(splits.x_train, "float32"))
    y = tf.constant(_labels(splits.y_train, splits.num_classes))

    def model(augment=None):
        """The case's model; image layer augmentations go in front of it, as automl does."""
        keras.utils.set_random_seed(0)
        m = build_model(case["model"], spec, augment)
        compile_model(m, keras.optimizers.Adam(1e-3), splits.task)
        return m

    def tensors(m, callbacks, n):
        m.fit(x, y, batch_size=batch_size, epochs=n, callbacks=callbacks, verbose=0)

    def pipeline(augment, mapped_layers=None):
        def feed(m, callbacks, n):
            ds = train_dataset(
                splits.x_train,
                splits.y_train,
                batch_size,
                augment,
                0,
                num_classes=splits.num_classes,
                modality=splits.modality,
                data_std=data_std,
            )
            if mapped_layers:  # the alternative automl did not choose: the layers in tf.data
                layers = augmentation_layers(mapped_layers, spec.value_range)

                def apply(x, y):
                    for layer in layers:
                        x = layer(x, training=True)
                    return x, y

                ds = ds.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
            m.fit(ds, epochs=n, callbacks=callbacks, shuffle=False, verbose=0)

        return feed

    # label -> (how to build the model, how to feed it)
    feeds = {
        "in-memory tensors": (model, tensors),
        "pipeline, no augmentation": (model, pipeline(None)),
    }
    for name, augment in case["augmentations"].items():
        if name in LAYER_AUGMENTATIONS:  # automl puts these inside the model
            feeds[f"model + {name}"] = (lambda a=augment: model(a), pipeline(None))
        else:
            feeds[f"pipeline + {name}"] = (model, pipeline(augment))
    layered = {k: v for k, v in case["augmentations"].items() if k in LAYER_AUGMENTATIONS}
    if layered:  # where should the Keras layers run? both ways, all six together
        merged = {k: v for aug in layered.values() for k, v in aug.items()}
        names = ", ".join(layered)
        feeds[f"mapped in the pipeline: {names}"] = (model, pipeline(None, merged))
        feeds[f"inside the model: {names}"] = (lambda: model(merged), pipeline(None))
    samples: dict[str, list[float]] = {k: [] for k in feeds}
    for _ in range(repeats):  # interleaved, so drifts in machine load hit every feed alike
        for label, (make, feed) in feeds.items():
            samples[label] += steps_per_second(make(), feed, steps, epochs)
            keras.backend.clear_session()
    return [(label, statistics.median(values)) for label, values in samples.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = [
        "# Input pipeline: steps per second",
        "",
        f"`python benchmarks/input_pipeline.py --epochs {args.epochs} --repeats "
        f"{args.repeats} --batch-size {args.batch_size}` on {os.cpu_count()} CPU cores; "
        f"median training steps/s (first epoch dropped), ratio to in-memory tensors.",
        "",
    ]
    for name in CASES:
        rows = measure(name, args.epochs, args.repeats, args.batch_size)
        base = rows[0][1]
        plain = rows[1][1]
        lines += [
            f"## {name}",
            "",
            "| feed | steps/s | vs tensors | augmentation cost |",
            "|---|---|---|---|",
        ]
        for label, value in rows:
            cost = f"{(1 - value / plain):+.0%}" if "+" in label else ""
            lines.append(f"| {label} | {value:.1f} | {value / base:.2f} | {cost} |")
        lines.append("")
    lines.append(
        "Augmentation cost: the share of pipeline throughput an augmentation takes "
        "(negative: noise in the measurement)."
    )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()

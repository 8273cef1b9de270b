"""The rules that decide a zero-config search's task and column kinds, with their edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.errors import UsageError
from automl.inference import column_kinds, task_name, task_of
from automl.zero_config import plan_search, study_name_of


def kinds(frame: pd.DataFrame, target: str | None = None) -> dict[str, tuple[str, str]]:
    return {d.column: (d.kind, d.rule) for d in column_kinds(frame, target)}


def test_the_task_follows_autogluons_rule():
    assert task_of(np.array([0, 1] * 50)).choice == "binary classification"
    assert task_of(np.array(["a", "b", "c"] * 10)).choice == "multiclass classification"
    # integers with few values repeated: classes; as many values as rows: a regression
    few = task_of(np.arange(200) % 7)
    assert few.choice == "multiclass classification" and "7 whole-number values" in few.reason
    many = task_of(np.arange(200) % 40)  # 40 values in 200 rows: above the 10% share
    assert many.choice == "regression" and "too many for classes" in many.reason
    assert task_of(np.linspace(0, 1, 50)).choice == "regression"  # fractions
    assert task_of(np.array([1.0, 2.0, 3.0] * 40)).choice == "multiclass classification"
    # above 1,000 rows the share is 5%: 61 values in 1,200 rows are a regression, 60 classes
    assert task_of(np.arange(1_200) % 61).choice == "regression"
    assert task_of(np.arange(1_200) % 60).choice == "multiclass classification"
    # the user's task wins, and the reason says so
    set_by_user = task_of(np.arange(200) % 7, "regression")
    assert task_name(set_by_user) == "regression" and set_by_user.reason == "it was set"
    assert "override: --task regression" in task_of(np.array([0, 1] * 5)).line()


def test_missing_target_values_do_not_count_as_a_class():
    y = np.array([0.0, 1.0, np.nan] * 20)
    assert task_of(y).choice == "binary classification"


def test_column_rules_in_their_order():
    rows = 60
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + rows),  # a numeric id: numbers the rows
            "income": np.random.default_rng(0).normal(50, 10, rows),  # unique floats: numeric
            "empty": [np.nan] * rows,
            "constant": ["x"] * rows,
            "city": ["Oslo", "Lima", None] * (rows // 3),
            "note": [f"the customer called about order {i} twice" for i in range(rows)],
            "code": [f"C{i:04d}" for i in range(rows)],  # a string id
            "visits": np.arange(rows) % 5,  # few whole numbers: numeric
            "y": [0, 1] * (rows // 2),
        }
    )
    found = kinds(frame, "y")
    assert found == {
        "customer_id": ("ignore", "id-like"),
        "income": ("numeric", "numeric"),
        "empty": ("ignore", "empty"),
        "constant": ("ignore", "constant"),
        "city": ("categorical", "categorical"),
        "note": ("text", "text"),  # text before id-like: free text is unique in every row too
        "code": ("ignore", "id-like"),
        "visits": ("numeric", "numeric"),
    }
    city = next(d for d in column_kinds(frame, "y") if d.column == "city")
    assert "20 missing values kept as a category of their own" in city.reason
    assert city.override == "data.columns: {city: ignore}"


def test_unique_numbers_are_no_id_in_a_tiny_table_nor_when_unordered():
    tiny = pd.DataFrame({"n": np.arange(10), "y": [0, 1] * 5})
    assert kinds(tiny, "y")["n"] == ("numeric", "numeric")
    shuffled = np.random.default_rng(1).permutation(np.arange(0, 600, 7))  # unique, not a range
    frame = pd.DataFrame({"n": shuffled, "y": [0, 1] * (len(shuffled) // 2)})
    assert kinds(frame, "y")["n"] == ("numeric", "numeric")


def test_a_one_row_class_is_still_a_class_and_the_plan_keeps_it(tmp_path):
    frame = pd.DataFrame({"x": np.arange(41) * 0.5, "y": ["a"] * 20 + ["b"] * 20 + ["c"]})
    plan = plan_search(frame, target="y")
    assert plan.facts.classes == 3 and plan.tree["data"]["task"] == "classification"


def test_bad_tables_are_one_sentence_each(tmp_path):
    frame = pd.DataFrame({"age": [1, 2, 3] * 10, "churn": ["y", "n", "y"] * 10})
    with pytest.raises(UsageError, match="no column 'chrun'; did you mean 'churn'"):
        plan_search(frame, target="chrun")
    with pytest.raises(UsageError, match="name the label column with --target"):
        plan_search(frame)
    with pytest.raises(UsageError, match="has a single value"):
        plan_search(frame.assign(churn="y"), target="churn")
    with pytest.raises(UsageError, match="holds only the target"):
        plan_search(frame[["churn"]], target="churn")
    with pytest.raises(UsageError, match="holds text .* cannot be regressed"):
        plan_search(frame, target="churn", task="regression")
    with pytest.raises(UsageError, match="no column is left to learn from"):
        plan_search(frame.assign(age=7), target="churn")
    with pytest.raises(UsageError, match="has no rows"):
        plan_search(frame.iloc[:0], target="churn")


def test_study_names_come_from_the_file():
    assert study_name_of(__import__("pathlib").Path("/x/Churn data 2024.csv.gz")) == (
        "churn-data-2024"
    )
    assert study_name_of(__import__("pathlib").Path("/x/photos")) == "photos"


def test_strong_imbalance_searches_class_weights_and_the_space_validates():
    from automl.config import load_space

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(0, 1, 300), "y": ["fraud"] * 20 + ["ok"] * 280})
    plan = plan_search(frame, target="y")
    assert plan.tree["training"]["class_weight"] == {"choice": ["none", "balanced"]}
    assert any(
        d.subject == "class weights" and "'fraud' has 20 rows against 280" in d.reason
        for d in plan.decisions
    )
    cfg = load_space(plan.tree)
    assert "training.class_weight" in dict(cfg.describe())
    balanced = pd.DataFrame({"x": rng.normal(0, 1, 300), "y": ["a", "b", "c"] * 100})
    assert "class_weight" not in plan_search(balanced, target="y").tree["training"]


def test_balanced_class_weights_are_the_inverse_of_each_share():
    from automl.config import DataConfig
    from automl.data.base import labelled
    from automl.data.splits import make_splits
    from automl.training.fit import class_weights

    arrays = labelled(
        np.zeros((400, 3), "float32"),
        np.array([0] * 300 + [1] * 100),
        None,
        None,
        modality="signal",
        task="classification",
        where="test",
    )
    splits = make_splits(arrays, DataConfig(source="python", test=0.2))
    weights = class_weights(splits, "balanced")
    assert weights[1] == pytest.approx(3 * weights[0], rel=0.05)  # 1 in 4 against 3 in 4
    assert weights[0] == pytest.approx(2 / 3, rel=0.05) and weights[1] == pytest.approx(2, rel=0.05)
    assert class_weights(splits, "none") is None


def test_class_weights_on_a_regression_are_refused_before_training():
    from automl.config import load_space
    from automl.data.checks import preflight
    from automl.errors import ConfigError

    space = {
        "name": "weights",
        "data": {"source": "diabetes"},
        "model": {"architecture": {"choice": {"mlp": {"layers": 1, "units": 8}}}},
        "training": {"epochs": 1, "class_weight": "balanced"},
    }
    with pytest.raises(ConfigError, match="weights classes, and this data is a regression"):
        preflight(load_space(space))


def test_a_skewed_positive_target_is_modelled_on_a_log_scale():
    from automl.inference import target_transform_of

    rng = np.random.default_rng(0)
    prices = np.exp(rng.normal(10, 1, 500))  # lognormal: skewness ~6
    decided = target_transform_of(prices)
    assert decided is not None and decided.choice.startswith("modelled as log(1 + y)")
    assert "override: data.target_transform: none" in decided.line()
    assert target_transform_of(rng.normal(100, 10, 500)) is None  # symmetric
    assert target_transform_of(np.append(prices, -1.0)) is None  # a negative value
    counts = rng.poisson(0.3, 500).astype(float)  # mostly 0: skewed, and log1p keeps 0 at 0
    assert target_transform_of(counts) is not None
    frame = pd.DataFrame({"x": np.log(prices) + rng.normal(0, 0.1, 500), "price": prices})
    plan = plan_search(frame, target="price")
    assert plan.tree["data"]["target_transform"] == "log"
    assert any(line.startswith("target: modelled as log(1 + y)") for line in plan.lines())
    plain = pd.DataFrame({"x": rng.normal(0, 1, 300), "y": rng.normal(0, 1, 300)})
    assert "target_transform" not in plan_search(plain, target="y").tree["data"]


def test_a_log_target_is_refused_for_classes_negative_values_or_another_loss():
    from automl.config import DataConfig, load_space
    from automl.data.base import labelled
    from automl.data.checks import preflight
    from automl.data.splits import make_splits
    from automl.errors import ConfigError, DataError

    def space(source: str, **training):
        return {
            "name": "logged",
            "data": {"source": source, "target_transform": "log"},
            "model": {"architecture": {"choice": {"mlp": {"layers": 1, "units": 8}}}},
            "training": {"epochs": 1, **training},
        }

    with pytest.raises(ConfigError, match="applies to a regression, and this data is a class"):
        preflight(load_space(space("digits")))
    with pytest.raises(ConfigError, match="the loss is the squared error of log"):
        preflight(load_space(space("diabetes", loss="mae")))
    with pytest.raises(ConfigError, match="data.target_transform"):
        load_space({**space("diabetes"), "data": {"source": "diabetes", "target_transform": "ln"}})
    arrays = labelled(
        np.zeros((50, 3), "float32"),
        np.linspace(-2, 5, 50),
        None,
        None,
        modality="signal",
        task="regression",
        where="test",
    )
    with pytest.raises(DataError, match="takes a target of 0 or more, and the target goes down"):
        make_splits(arrays, DataConfig(source="python", test=0.2, target_transform="log"))


def test_the_written_space_reads_back_as_the_plan_with_a_reason_beside_each_column():
    import yaml

    from automl.zero_config import space_yaml

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "id": range(100),
            "Stadt: Zürich": rng.choice(["Kreis 1", "Kreis 2", None], 100),
            "x": rng.normal(0, 1, 100),
            "y": rng.choice(["a", "b"], 100),
        }
    )
    plan = plan_search(frame, target="y")
    text = space_yaml(plan, "automl init t.csv --target y")
    assert yaml.safe_load(text) == plan.tree  # the comments and styles change nothing
    lines = text.splitlines()
    assert any(line.strip().startswith("id: ignore  # it numbers the rows") for line in lines)
    # an odd name quoted, written as it is (not \xfc), with its reason
    assert any(
        "'Stadt: Zürich': categorical  # it holds 2 distinct labels" in line for line in lines
    )
    assert "  dropout: {float: [0.0, 0.4]}" in lines  # a small setting on one line

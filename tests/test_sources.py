"""Every kind of data source, loaded and trained for real on tiny data built on the fly, each
modality (table, image, signal, Python data) also searched end to end; and the clear errors bad
data gets (exit code 2, nothing written).

A search hands its workers a snapshot of the splits, the same way whatever the source: a source
needs its own search only where the winner's inputs differ (named raw columns, images)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import fit_first

import automl
from automl.config import DataConfig, load_space
from automl.data import load_source, make_splits
from automl.errors import ConfigError, DataError, NetworkRequired


def tiny_table(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.normal(10, 3, n)
    color = rng.choice(["red", "green", "blue"], n)
    label = np.where((size > 10) ^ (color == "red"), "yes", "no")
    return pd.DataFrame(
        {"size": size, "color": color, "count": rng.integers(0, 5, n), "label": label}
    )


def image_folder(root, sizes=((8, 8), (8, 8))):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, (name, size) in enumerate(zip(("cats", "dogs"), sizes)):
        (root / name).mkdir(parents=True)
        for i in range(12):
            pixels = (rng.random((*size, 3)) * 100 + 120 * c).astype("uint8")
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def search_space(name: str, data: dict, family: str = "mlp") -> dict:
    arch = {"mlp": {"layers": 1, "units": 8}, "cnn": {"blocks": 1, "filters": 4, "kernel_size": 3}}[
        family
    ]
    return {
        "name": name,
        "data": data,
        "model": {"architecture": {"choice": {family: arch}}, "dropout": {"float": [0, 0.2]}},
        "training": {"optimizer": "adam", "batch_size": 16, "epochs": 1},
        "search": {"trials": 1},
        "select": {"top_k": 1},
    }


def run(space: dict, tmp_path, **kwargs):
    return automl.search(
        space, workers=0, run_dir=tmp_path / "runs", reports_dir=None, progress=False, **kwargs
    )


# ---- loading --------------------------------------------------------------------------------


def test_sklearn_sets_load_offline():
    digits = load_source("digits")
    assert digits.modality == "image" and digits.x_train.shape[1:] == (8, 8, 1)
    assert digits.num_classes == 10 and not digits.has_test_split
    iris = load_source("iris")
    assert iris.modality == "table" and iris.task == "classification" and len(iris.columns) == 4
    assert load_source("diabetes").task == "regression"


def test_keras_dataset_from_the_cache_and_a_clear_error_without_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(NetworkRequired, match="mnist.npz is missing.*never downloads"):
        load_source("mnist")
    (tmp_path / "datasets").mkdir()
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "datasets" / "mnist.npz",
        x_train=rng.integers(0, 255, (50, 28, 28), dtype="uint8"),
        y_train=np.arange(50) % 10,
        x_test=rng.integers(0, 255, (20, 28, 28), dtype="uint8"),
        y_test=np.arange(20) % 10,
    )
    mnist = load_source("mnist")
    assert mnist.x_train.shape == (50, 28, 28, 1) and mnist.x_test.shape == (20, 28, 28, 1)


def test_test_fraction_is_stratified_and_seeded():
    digits = load_source("digits")
    cfg = DataConfig(source="digits", test=0.2, validation=0.1, seed=5)
    a, b = make_splits(digits, cfg), make_splits(digits, cfg)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    share = np.bincount(a.y_test) / np.bincount(digits.y_train)
    assert np.all(np.abs(share - 0.2) < 0.02)
    assert len(a.y_train) + len(a.y_val) + len(a.y_test) == len(digits.y_train)


def test_csv_table_types_columns_and_encodes_labels(tmp_path):
    tiny_table().to_csv(tmp_path / "t.csv", index=False)
    cfg = load_space(
        {
            "data": {
                "csv": str(tmp_path / "t.csv"),
                "target": "label",
                "columns": {"count": "categorical"},
            }
        }
    )
    arrays = load_source(cfg.data)
    assert dict(arrays.columns) == {
        "size": "numeric",
        "color": "categorical",
        "count": "categorical",
    }
    assert arrays.class_names == ("no", "yes") and arrays.task == "classification"


# ---- training and searching every source kind ------------------------------------------------------------

# headers as real files have them: a slash, spaces and brackets, unicode, a leading digit
MESSY = {"size": "od280/od315 size ($)", "color": "Farbe der Größe", "count": "1st count"}


def test_search_on_a_csv_with_categorical_columns_and_messy_headers(tmp_path):
    tiny_table().rename(columns=MESSY).to_csv(tmp_path / "t.csv", index=False)
    result = run(
        search_space(
            "csv",
            {"csv": str(tmp_path / "t.csv"), "target": "label", "augment": {"gaussian_noise": 0.1}},
        ),
        tmp_path,
    )
    assert 0 <= result.test_metrics["accuracy"] <= 1
    # raw columns, as pandas reads them, under the user's own names
    raw = tiny_table(5, seed=9).drop(columns="label").rename(columns=MESSY)
    probs = result.model.predict({k: v.to_numpy() for k, v in raw.items()}, verbose=0)
    assert probs.shape == (5, 2) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert set(result.model.input) == set(MESSY.values())


def test_parquet_regression_gets_a_regression_model_and_objective(tmp_path):
    frame = tiny_table()
    frame["price"] = frame["size"] * 3 + 1
    frame.drop(columns="label").to_parquet(tmp_path / "t.parquet")
    outcome, splits, cfg = fit_first(
        search_space("pq", {"parquet": str(tmp_path / "t.parquet"), "target": "price"})
    )
    assert splits.task == "regression" and cfg.search.objective == "val_loss"  # from the task
    assert "val_mae" in outcome.history and outcome.model.output_shape == (None, 1)


def test_regression_targets_are_standardized_and_predictions_come_back_in_units(tmp_path):
    """scikit-learn's diabetes targets (std 77) made every trial's gradients explode."""
    space = search_space("diabetes", {"source": "diabetes", "split": {"test": 0.2}})
    space["training"].update({"epochs": 3, "batch_size": 32})
    result = run(space, tmp_path)
    assert list(result.trials["state"]) == ["COMPLETE"]  # not pruned for exploding gradients
    x = load_source("diabetes").x_train
    predictions = result.model.predict({k: v[:50] for k, v in x.items()}, verbose=0)
    assert 25 <= float(np.median(predictions)) <= 346  # the target's own range, not z-scores
    assert result.test_metrics["mae"] < 150


def test_search_on_an_image_folder_with_image_augmentation(tmp_path):
    folder = image_folder(tmp_path / "pics")
    space = search_space(
        "pics",
        {
            "images": str(folder),
            "split": {"test": 0.25},
            "augment": {"flip": "horizontal", "rotation": 0.1, "cutout": 0.25, "mixup": 0.2},
        },
        family="cnn",
    )
    result = run(space, tmp_path)
    assert result.model.input_shape == (None, 8, 8, 3)
    assert any(type(layer).__name__ == "Conv2D" for layer in result.model.layers)
    assert any(type(layer).__name__ == "RandomRotation" for layer in result.model.layers)


def test_npz_with_its_own_test_split_and_signal_augmentation(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz",
        x=rng.normal(size=(80, 12)),
        y=np.arange(80) % 2,
        x_test=rng.normal(size=(20, 12)),
        y_test=np.arange(20) % 2,
    )
    outcome, splits, _ = fit_first(
        search_space(
            "npz", {"npz": str(tmp_path / "d.npz"), "augment": {"shift": 1, "scale": 0.1}}, "cnn"
        )
    )
    assert len(splits.y_test) == 20  # the file's own test split, untouched
    assert outcome.model.input_shape == (None, 12)
    assert any(type(layer).__name__ == "Conv1D" for layer in outcome.model.layers)


def test_builtin_digits_and_wine():
    digits, _, _ = fit_first(
        search_space("digits", {"source": "digits", "subsample": {"train": 300}}, "cnn")
    )
    assert digits.model.input_shape == (None, 8, 8, 1)
    # the README's wine table: one of its columns is "od280/od315_of_diluted_wines"
    wine, _, _ = fit_first(search_space("wine", {"source": "wine"}))
    assert len(wine.model.inputs) == 13  # one input per column, under its own name
    assert "od280/od315_of_diluted_wines" in wine.model.input


def test_search_on_arrays_from_python_and_dataframes_and_tf_data_as_sources(tmp_path):
    """One search from arrays (the parent hands Python data to the workers as a snapshot, the
    same way for every kind); a DataFrame and a tf.data.Dataset load and train in process."""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(90, 10)).astype("float32"), np.arange(90) % 3
    space = search_space("py", {"source": "python", "split": {"test": 0.2}})
    from_arrays = run(space, tmp_path / "a", data=(x, y))
    assert from_arrays.model.output_shape == (None, 3)
    frame_space = search_space(
        "frame", {"source": "python", "target": "label", "split": {"test": 0.2}}
    )
    from_frame, _, _ = fit_first(frame_space, data=tiny_table())
    assert len(from_frame.model.inputs) == 3
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    from_dataset, splits, _ = fit_first(space, data=dataset)
    assert from_dataset.model.input_shape == (None, 10) and len(splits.y_test) == 18


# ---- bad data: one clear sentence, nothing written --------------------------------------------


def test_missing_file_is_a_config_error_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.csv: nowhere\.csv does not exist"):
        load_space({"data": {"csv": "nowhere.csv", "target": "y"}})


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda f: f, "has no column 'lable'; did you mean 'label'?"),  # refused by the preflight
        (
            lambda f: f.assign(size=np.where(np.arange(len(f)) == 3, np.nan, f["size"])),
            "column 'size' has 1 missing",
        ),
        (lambda f: pd.concat([f, f.iloc[:1].assign(label="maybe")]), "single example"),
    ],
)
def test_bad_tables_get_one_clear_error(tmp_path, change, fragment):
    target = "lable" if "lable" in fragment else "label"
    change(tiny_table()).to_csv(tmp_path / "t.csv", index=False)
    space = search_space("bad", {"csv": str(tmp_path / "t.csv"), "target": target})
    with pytest.raises((DataError, ConfigError)) as info:
        run(space, tmp_path)
    assert fragment in str(info.value)
    assert not (tmp_path / "runs").exists()  # nothing written


def test_images_of_mixed_sizes_and_labels_that_do_not_fit(tmp_path):
    folder = image_folder(tmp_path / "mixed", sizes=((8, 8), (6, 9)))
    with pytest.raises(DataError, match="different sizes.*image_size"):
        load_source(load_space({"data": {"images": str(folder), "split": {"test": 0.2}}}).data)
    resized = load_source(
        load_space(
            {"data": {"images": str(folder), "image_size": [5, 5], "split": {"test": 0.2}}}
        ).data
    )
    assert resized.x_train.shape[1:] == (5, 5, 3)
    with pytest.raises(DataError, match="fractional values"):
        load_source(
            DataConfig(source="python", task="classification"),
            python_data=(np.zeros((10, 4)), np.linspace(0, 1, 10)),
        )


def test_space_that_does_not_fit_the_data_is_refused(tmp_path):
    with pytest.raises(
        ConfigError, match="model.architecture.cnn: the cnn family cannot take table"
    ):
        run(search_space("fit", {"source": "iris"}, family="cnn"), tmp_path)
    with pytest.raises(ConfigError, match="data.augment.flip: flip does not apply to signal"):
        run(
            search_space("fit2", {"source": "mnist1d", "augment": {"flip": "horizontal"}}), tmp_path
        )
    with pytest.raises(ConfigError, match="val_accuracy is not measured for regression"):
        space = search_space("fit3", {"source": "diabetes"})
        space["search"]["objective"] = "val_accuracy"
        run(space, tmp_path)

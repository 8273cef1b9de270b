"""Data: MNIST-1D offline, stratified seeded splits, the test split held out, augmentation on
training batches only."""

from __future__ import annotations

import numpy as np
import pytest

from automl.config import DataConfig
from automl.data import load_source, make_splits
from automl.data.pipeline import eval_dataset, train_dataset


@pytest.fixture(scope="module")
def mnist1d():
    return load_source("mnist1d")


def test_mnist1d_is_generated_offline_with_its_own_test_split(mnist1d):
    assert mnist1d.x_train.shape == (4000, 40) and mnist1d.x_test.shape == (1000, 40)
    assert set(np.unique(mnist1d.y_train)) == set(range(10))


def test_splits_are_stratified_seeded_and_disjoint(mnist1d):
    cfg = DataConfig(validation=0.1, seed=3)
    a, b = make_splits(mnist1d, cfg), make_splits(mnist1d, cfg)
    np.testing.assert_array_equal(a.x_val, b.x_val)  # same seed, same split
    assert len(a.y_val) == 400 and len(a.y_train) == 3600
    # stratified: every class's share of validation is within one example of 10%
    counts_all = np.bincount(mnist1d.y_train)
    assert np.all(np.abs(np.bincount(a.y_val) - counts_all * 0.1) <= 1)
    # disjoint: no training row appears in validation
    train_rows = {row.tobytes() for row in a.x_train}
    assert not any(row.tobytes() in train_rows for row in a.x_val)
    # the held-out test split is the source's own, untouched
    np.testing.assert_array_equal(a.x_test, mnist1d.x_test)
    other = make_splits(mnist1d, DataConfig(validation=0.1, seed=4))
    assert not np.array_equal(other.x_val, a.x_val)
    assert other.manifest()["test_sha256"] == a.manifest()["test_sha256"]


def test_subsample_keeps_class_balance(mnist1d):
    s = make_splits(mnist1d, DataConfig(subsample={"train": 500, "test": 200}))
    assert len(s.y_train) + len(s.y_val) == 500 and len(s.y_test) == 200
    assert np.bincount(s.y_test, minlength=10).min() >= 15


def test_augmentation_changes_training_batches_only(mnist1d):
    x, y = mnist1d.x_train[:64], mnist1d.y_train[:64]
    train = train_dataset(x, y, 64, {"shift": 3}, seed=0)
    ((xb, yb),) = list(train.as_numpy_iterator())
    order = [
        int(np.argmax((x == row).all(axis=1))) if (x == row).all(axis=1).any() else -1 for row in xb
    ]
    assert order.count(-1) > 32, "most signals should be shifted"

    # a shift moves the signal and repeats the edge value into the gap (no wrap-around): every
    # augmented signal is an original one moved by at most 3 steps, its ends held
    def moved(row, original):
        for steps in range(-3, 4):
            index = np.clip(np.arange(len(original)) - steps, 0, len(original) - 1)
            if np.array_equal(row, original[index]):
                return True
        return False

    assert all(any(moved(row, original) for original in x) for row in xb)
    ((xv, yv),) = list(eval_dataset(x, y, 64, num_classes=10).as_numpy_iterator())
    np.testing.assert_array_equal(xv, x)  # validation/test batches: untouched, in order
    np.testing.assert_array_equal(yv.argmax(axis=1), y)  # one-hot labels


def test_noise_has_the_requested_scale(mnist1d):
    x = np.zeros((256, 40), "float32")
    ((xb, _),) = list(
        train_dataset(
            x, np.zeros(256, "int64"), 256, {"gaussian_noise": 0.1}, seed=0, data_std=2.0
        ).as_numpy_iterator()
    )
    assert xb.std() == pytest.approx(0.2, rel=0.1)


def test_normalization_statistics_come_from_the_training_split_only(mnist1d):
    from automl.training.fit import input_spec

    splits = make_splits(mnist1d, DataConfig(validation=0.1, seed=0))
    spec = input_spec(splits)
    assert spec.mean == pytest.approx(float(splits.x_train.mean(dtype="float64")), rel=1e-6)
    everything = np.concatenate([splits.x_train, splits.x_val, splits.x_test])
    assert spec.mean != pytest.approx(float(everything.mean()), rel=1e-6)


def test_table_vocabularies_come_from_the_training_split_only():
    from automl.data.base import labelled
    from automl.training.fit import input_spec

    def table(colours):
        n = len(colours)
        return {"colour": np.array(colours, dtype=object), "size": np.arange(n, dtype="float32")}

    train = table(["red", "blue"] * 50)
    test = table(["red", "violet"] * 5)  # violet: a category only the test split has
    arrays = labelled(
        train,
        np.arange(100) % 2,
        test,
        np.arange(10) % 2,
        modality="table",
        task="classification",
        where="t",
        columns=(("colour", "categorical"), ("size", "numeric")),
    )
    splits = make_splits(arrays, DataConfig(source="python", test="builtin", seed=0))
    stats = {name: s for name, _, s in input_spec(splits).columns}
    assert set(stats["colour"]) == {"red", "blue"}
    assert stats["size"][0] == pytest.approx(float(splits.x_train["size"].mean()))


def test_image_augmentation_layers_act_in_training_only():
    import keras

    from automl.models.builder import InputSpec, build_model

    spec = InputSpec(shape=(8, 8, 1), num_classes=3, value_range=(0.0, 16.0))
    params = {"architecture": {"name": "mlp", "layers": 1, "units": 4}}
    augment = {"flip": "horizontal", "rotation": 0.2, "zoom": 0.2, "brightness": 0.3}
    augmented = build_model(params, spec, augment)
    plain = build_model(params, spec)
    assert any(isinstance(layer, keras.layers.RandomRotation) for layer in augmented.layers)
    plain.set_weights(augmented.get_weights())  # augmentation layers have no weights
    x = np.random.default_rng(0).uniform(0, 16, (16, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(
        augmented.predict(x, verbose=0), plain.predict(x, verbose=0), rtol=1e-6
    )  # inference: untouched
    trained = keras.ops.convert_to_numpy(augmented(x, training=True))
    assert not np.allclose(trained, plain.predict(x, verbose=0))  # training: augmented


@pytest.mark.parametrize("source", ["diabetes", "wine", "mnist1d"])
def test_the_snapshot_a_worker_reads_is_the_splits_the_search_made(source, tmp_path):
    """Every array, the table columns and the target transform (a worker trains the same
    log-scale regression as the coordinator) survive the split snapshot."""
    from dataclasses import fields

    from automl.data.snapshot import digest, read_snapshot, write_snapshot

    transform = "log" if source == "diabetes" else "none"
    test = 0.2 if source != "mnist1d" else "builtin"
    made = make_splits(
        load_source(source), DataConfig(source=source, test=test, target_transform=transform)
    )
    read = read_snapshot(write_snapshot(made, tmp_path))
    assert digest(read) == digest(made) and read.target_transform == transform
    for field in fields(made):
        mine, theirs = getattr(made, field.name), getattr(read, field.name)
        if isinstance(mine, dict):
            assert list(mine) == list(theirs)
            for column in mine:
                np.testing.assert_array_equal(mine[column], theirs[column])
        elif isinstance(mine, np.ndarray):
            np.testing.assert_array_equal(mine, theirs)
        else:
            assert mine == theirs, field.name

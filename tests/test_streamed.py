"""Image folders past ``data.memory_budget``: listed, split on their file paths, decoded once to
a uint8 pixel file on disk and read back as memory maps, by batches of rows.

The in-memory path is the reference: every quirk of real folders (modes, sizes, corrupt and
truncated files) gives the same examples, the same labels and the same pixels either way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from test_real_files import IMAGE_QUIRKS, build_folder

from automl.config import DataConfig
from automl.data.images import load_image_folder
from automl.data.snapshot import PixelsMissing, digest, read_snapshot, write_snapshot
from automl.data.splits import Splits, make_splits
from automl.data.streamed import to_disk


def _by_file(x: np.ndarray, names: np.ndarray) -> dict[str, np.ndarray]:
    return dict(zip(names.tolist(), x, strict=True))


@pytest.mark.parametrize("files, image_size, channels, shape, counts, warnings", IMAGE_QUIRKS)
def test_a_streamed_folder_gives_the_pixels_of_the_in_memory_path(
    tmp_path, logged, files, image_size, channels, shape, counts, warnings
):
    folder = build_folder(tmp_path / "pics", files)
    held = load_image_folder(folder, image_size=image_size, channels=channels)
    listed = load_image_folder(folder, image_size=image_size, channels=channels, memory_budget=0)
    assert listed.file_pixels == shape and listed.x_train.dtype.kind == "U"  # file paths
    assert listed.class_names == held.class_names
    paths, y = listed.x_train, listed.y_train
    one = np.arange(1)  # these folders are too small to split: all in train, one row beside
    splits = to_disk(
        Splits(
            paths,
            y,
            paths[one],
            y[one],
            paths[one],
            y[one],
            "classification",
            "image",
            listed.class_names,
            file_pixels=listed.file_pixels,
        ),
        tmp_path / "data",
    )
    assert isinstance(splits.x_train, np.memmap) and splits.x_train.dtype == np.uint8
    # the same pixels and labels, file by file, as the folder decoded into memory (the
    # training split is stored in an order of its own: it is read in stretches)
    row = {name: i for i, name in enumerate(sorted(splits.streamed.names["x_train"].tolist()))}
    order = [row[name] for name in splits.streamed.names["x_train"].tolist()]
    np.testing.assert_array_equal(splits.x_train, held.x_train[order])
    np.testing.assert_array_equal(splits.y_train, held.y_train[order])
    assert len(splits.streamed.names["x_train"]) == sum(counts.values())
    for warning in warnings:  # the in-memory path's words (one file at a time here)
        if not warning.startswith("skipped"):
            assert any(warning in line for line in logged), (warning, logged)
    if "corrupt-and-truncated" in str(files) or "cut.png" in "".join(files):
        skipped = " ".join(m for m in logged if "unreadable" in m)
        assert "a/bad.png" in skipped and "b/cut.png" in skipped, logged


def test_the_pixel_file_is_written_once_and_the_snapshot_names_files_not_pixels(tmp_path, logged):
    folder = _folder(tmp_path / "pics", per_class=12)
    cfg = DataConfig(source="images", validation=0.25, test=0.25, seed=3)
    listed = load_image_folder(folder, image_size=None, channels=None, memory_budget=1024)
    splits = to_disk(make_splits(listed, cfg), tmp_path / "data")
    pixels = Path(splits.streamed.pixels)
    written = pixels.stat().st_mtime_ns
    again = to_disk(make_splits(listed, cfg), tmp_path / "data")  # a resumed search
    assert again.streamed.pixels == str(pixels) and pixels.stat().st_mtime_ns == written
    assert digest(again) == digest(splits)

    snapshot = write_snapshot(splits, tmp_path / "data")
    with np.load(snapshot) as npz:  # names and digests, no pixels
        assert {"x_train.names", "x_train.sha256"} <= set(npz.files)
        assert not [k for k in npz.files if npz[k].dtype == np.uint8]
    read = read_snapshot(snapshot)
    assert isinstance(read.x_val, np.memmap) and digest(read) == digest(splits)
    # the training split's statistics, counted as it was decoded: those of its pixels
    from automl.training.fit import input_spec, value_stats

    spec = input_spec(read)
    exact = value_stats(np.asarray(splits.x_train))
    assert read.streamed.train_stats == pytest.approx(exact, rel=1e-9)
    assert (spec.mean, spec.variance, *spec.value_range) == pytest.approx(exact, rel=1e-9)
    np.testing.assert_array_equal(read.x_test, splits.x_test)
    np.testing.assert_array_equal(read.y_train, splits.y_train)

    # a changed image changes the digest: a worker with other files refuses to train
    first = folder / splits.streamed.names["x_train"][0]
    _image(first, 250)
    changed = to_disk(make_splits(listed, cfg), tmp_path / "data")
    assert digest(changed) != digest(splits) and changed.streamed.pixels != str(pixels)

    moved = tmp_path / "elsewhere" / snapshot.name
    moved.parent.mkdir()
    snapshot.replace(moved)
    with pytest.raises(PixelsMissing, match=pixels.name):
        read_snapshot(moved)
    assert digest(read_snapshot(moved, pixels=pixels)) == digest(splits)


def test_streamed_batches_hold_every_row_once_per_epoch_as_float32(tmp_path):
    from automl.data.pipeline import eval_dataset, train_dataset

    folder = _folder(tmp_path / "pics", per_class=20)
    listed = load_image_folder(folder, image_size=None, channels=None, memory_budget=0)
    splits = to_disk(
        make_splits(listed, DataConfig(source="images", validation=0.2, test=0.2)),
        tmp_path / "data",
    )
    held = np.asarray(splits.x_train)  # the same split, in memory
    train = train_dataset(splits.x_train, splits.y_train, 8, None, seed=0, num_classes=2)
    epochs = []
    for _ in range(2):
        xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in train], strict=True)
        x, y = np.concatenate(xs), np.concatenate(ys)
        assert x.dtype == np.float32 and x.shape == (len(held), *held.shape[1:])
        # every row once: sorted rows equal the split's rows sorted the same way
        np.testing.assert_array_equal(_sorted_rows(x), _sorted_rows(held.astype("float32")))
        np.testing.assert_array_equal(y.argmax(1).sum(), splits.y_train.sum())
        epochs.append(x)
    assert not np.array_equal(epochs[0], epochs[1])  # shuffled again each epoch
    # the folder is listed class by class: the batches mix them (fixed seeds: no flakes)
    first = np.concatenate([y.numpy().argmax(1) for _, y in train])
    assert abs(np.corrcoef(np.arange(len(first)), first)[0, 1]) < 0.5
    in_memory = eval_dataset(held, splits.y_train, batch_size=8, num_classes=2)
    streamed = eval_dataset(splits.x_train, splits.y_train, batch_size=8, num_classes=2)
    for (a, ya), (b, yb) in zip(in_memory, streamed, strict=True):  # same order, same values
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_a_search_past_the_budget_trains_on_streamed_pixels_and_predicts_the_folder(tmp_path):
    _folder(tmp_path / "pets", per_class=30, size=(12, 12))
    (tmp_path / "pets.yaml").write_text(
        "name: pets\n"
        "data: {images: pets/, memory_budget: 4KB, split: {test: 0.25}}\n"
        "model: {architecture: {choice: {cnn: {blocks: 1, filters: 4}}}}\n"
        "training: {epochs: 2, batch_size: 16}\n"
        "search: {trials: 2, workers: 1}\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "automl", "search", "pets.yaml", "--quiet"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    data = tmp_path / "automl-runs" / "pets" / "data"
    (pixels,) = data.glob("pixels-*.npy")
    (snapshot,) = data.glob("splits-*.npz")
    splits = read_snapshot(snapshot)  # what the worker process trained on
    assert isinstance(splits.x_train, np.memmap) and pixels.stat().st_size > 60 * 12 * 12 * 3
    with np.load(snapshot) as npz:
        assert "x_train.names" in npz.files and "x_train" not in npz.files
    import pandas as pd

    from automl.cli import main

    runs, folder = tmp_path / "automl-runs", tmp_path / "pets"
    assert main(["predict", "--study", "pets", "--run-dir", str(runs), str(folder)]) == 0

    predicted = pd.read_csv(tmp_path / "pets.predictions.csv")
    truth = predicted["id"].str.split("/").str[0]
    assert len(predicted) == 60 and (predicted["prediction"] == truth).mean() > 0.8


def test_a_memory_budget_that_is_not_a_size_is_refused_in_one_sentence(tmp_path):
    from automl.config import load_space
    from automl.errors import ConfigError

    space = tmp_path / "s.yaml"
    (tmp_path / "pics").mkdir()
    space.write_text("name: s\ndata: {images: pics/, memory_budget: lots}\n")
    with pytest.raises(ConfigError, match=r"data\.memory_budget.*512MB or 4GB, or auto"):
        load_space(space)
    space.write_text("name: s\ndata: {images: pics/, memory_budget: 1.5GB}\n")
    assert load_space(space).data.memory_budget == int(1.5 * 2**30)


# ---- helpers -----------------------------------------------------------------------------------


def _image(path: Path, level: int, size: tuple[int, int] = (10, 10)) -> None:
    from PIL import Image

    rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
    pixels = np.clip(rng.normal(level, 20, (*size, 3)), 0, 255).astype("uint8")
    Image.fromarray(pixels).save(path)


def _folder(root: Path, per_class: int, size: tuple[int, int] = (10, 10)) -> Path:
    """Two classes told apart by brightness: dark and light."""
    for name, level in (("dark", 60), ("light", 190)):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            _image(root / name / f"{i}.png", level, size)
    return root


def _sorted_rows(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(len(x), -1)
    return flat[np.lexsort(flat.T[::-1])]


def test_a_disk_too_small_for_the_decoded_pixels_is_said_before_decoding(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from automl.errors import DataError

    folder = _folder(tmp_path / "pics", per_class=4)
    listed = load_image_folder(folder, image_size=None, channels=None, memory_budget=0)
    splits = make_splits(listed, DataConfig(source="images", validation=0.25, test=0.25))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(10**6, 10**6 - 100, 100))
    with pytest.raises(DataError, match=r"take 0\.0 GB on disk and only 0\.0 GB are free"):
        to_disk(splits, tmp_path / "data")
    assert not list((tmp_path / "data").glob("pixels-*"))  # nothing half-written


def test_baselines_of_large_images_fit_on_a_bounded_sample_read_from_disk(tmp_path):
    """The baselines hold at most MAX_FLOATS cells: of 64x64 colour images they fit on 4,069
    rows, wherever the split lies (MNIST-sized ones keep their 20,000)."""
    from automl.baselines import MAX_FLOATS, _array_sample, fit_baselines

    rows = np.random.default_rng(0).integers(0, 255, (5000, 64, 64, 3), dtype=np.uint8)
    labels = (rows[:, :8, :8].mean(axis=(1, 2, 3)) > 127).astype("int64")
    pixels = tmp_path / "pixels.npy"
    np.save(pixels, rows)
    mapped = np.load(pixels, mmap_mode="r")
    for x in (rows, mapped):
        splits = Splits(
            x[:4000],
            labels[:4000],
            x[4000:4500],
            labels[4000:4500],
            x[4500:],
            labels[4500:],
            "classification",
            "image",
            ("dark", "light"),
        )
        sample, y = _array_sample(splits, seed=0)
        assert len(sample) == len(y) == MAX_FLOATS // (64 * 64 * 3) == 4069
        assert not isinstance(sample, np.memmap)  # read into memory: those rows only
    mnist = Splits(
        np.zeros((30000, 28, 28), "uint8"),
        np.zeros(30000, "int64"),
        np.zeros((100, 28, 28), "uint8"),
        np.zeros(100, "int64"),
        np.zeros((10, 28, 28), "uint8"),
        np.zeros(10, "int64"),
        "classification",
        "image",
        ("a", "b"),
    )
    assert len(_array_sample(mnist, seed=0)[1]) == 20_000
    scores = {row["name"]: row["test"] for row in fit_baselines(splits)}
    assert set(scores) == {"majority class", "logistic regression"}, scores

"""Every data source the README names builds and trains (one epoch on a few examples).

No search here: the real loader, splits, model builder and ``fit_trial`` of one configuration
(the one a dry build tries first), which is what a search's trials run. The Keras data sets
are not in this machine's cache: they refuse, saying what to do, before anything trains.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fit_first

from automl.config import load_space
from automl.data.checks import preflight
from automl.errors import NetworkRequired


def write_files(folder):
    """One of each file source, tiny: a CSV with messy headers, Parquet, .npz, an image folder."""
    import pandas as pd
    from PIL import Image

    rng = np.random.default_rng(0)
    n = 60
    table = pd.DataFrame(
        {
            "od280/od315 of wines": rng.normal(3, 1, n),
            "price ($)": rng.normal(10, 2, n),
            "colour": rng.choice(["red", "white"], n),
            "class": rng.integers(0, 2, n),
        }
    )
    table.to_csv(folder / "wine.csv", index=False)
    table.to_parquet(folder / "wine.parquet")
    np.savez(
        folder / "signals.npz",
        x=rng.normal(size=(n, 16)).astype("float32"),
        y=rng.integers(0, 3, n),
    )
    for c, name in enumerate(("cats", "dogs")):
        (folder / "pets" / name).mkdir(parents=True)
        for i in range(10):
            pixels = (rng.random((8, 8, 3)) * 100 + 120 * c).astype("uint8")
            Image.fromarray(pixels).save(folder / "pets" / name / f"{i}.png")


SOURCES = {
    "mnist1d": {"source": "mnist1d", "subsample": {"train": 200, "test": 50}},
    "digits": {"source": "digits", "subsample": {"train": 200}},
    "breast_cancer": {"source": "breast_cancer"},
    "wine": {"source": "wine"},
    "iris": {"source": "iris"},
    "diabetes": {"source": "diabetes"},
    "csv": {"csv": "wine.csv", "target": "class"},
    "parquet": {"parquet": "wine.parquet", "target": "class"},
    "npz": {"npz": "signals.npz"},
    "images": {"images": "pets"},
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources")
    write_files(folder)
    return folder


# no warning reaches the user either (a table's inputs keyed by column names made Keras warn)
@pytest.mark.filterwarnings("error::UserWarning")
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_source_builds_and_trains_one_epoch(name, files, monkeypatch):
    monkeypatch.chdir(files)
    data = dict(SOURCES[name])
    if name not in ("mnist1d", "npz"):  # sources without a test split of their own
        data["split"] = {"test": 0.2}
    outcome, splits, _ = fit_first(
        {
            "data": data,
            "model": {"architecture": "mlp"},
            "training": {"epochs": 1, "batch_size": 32},
        }
    )
    assert outcome.epochs_run == 1 and np.isfinite(outcome.best_value)
    predictions = outcome.model.predict(
        splits.x_test if not isinstance(splits.x_test, dict) else splits.x_test, verbose=0
    )
    assert len(predictions) == len(splits.y_test)
    if splits.task == "regression":  # in the user's units: near the targets' scale
        assert abs(float(np.mean(predictions)) - float(np.mean(splits.y_train))) < 3 * float(
            np.std(splits.y_train)
        )


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "cifar100"])
def test_keras_sources_not_in_the_cache_say_what_to_do(name, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(
        NetworkRequired, match="never downloads at run time; on a machine with internet run"
    ):
        preflight(load_space({"data": {"source": name}}))

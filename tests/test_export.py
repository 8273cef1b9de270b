"""Exports: every format reloads in its own runtime and predicts as the Keras model does, from
raw inputs; tables keep their named columns; what a format cannot hold is refused in one
sentence; ``automl export`` and ``automl predict`` (CSV, .npz, an image folder)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_STUDY as SIGNAL

import automl
from automl.cli import main
from automl.errors import UsageError
from automl.export import (
    FORMATS,
    export_model,
    load_inference_model,
    predictions_frame,
    to_model_inputs,
)

# float32 graphs, reordered by each converter: probabilities agree to this (seen: below 1e-7)
ATOL = 1e-5


def raw_table(n: int, seed: int = 0) -> pd.DataFrame:
    """A table as a CSV holds it: a number, a text category, a small-integer category."""
    rng = np.random.default_rng(seed)
    size = rng.normal(10, 3, n)
    color = rng.choice(["red", "green", "blue"], n)
    return pd.DataFrame(
        {
            "size": size,
            "color": color,
            "count": rng.integers(0, 5, n),
            "label": np.where((size > 10) ^ (color == "red"), "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def signal(shared_search):
    """The session's shared search on MNIST-1D signals (conftest.py), read back: its winner is
    exported to each test's own folder, never into the search's run folder."""
    return automl.load(SIGNAL, run_dir=shared_search / "runs")


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """One tiny search on a CSV whose inputs are named columns, two of them categorical."""
    root = tmp_path_factory.mktemp("table")
    raw_table(120).to_csv(root / "t.csv", index=False)
    space = {
        "name": "tab",
        "data": {
            "csv": str(root / "t.csv"),
            "target": "label",
            "columns": {"count": "categorical"},
        },
        "model": {"architecture": {"choice": {"mlp": {"layers": 1, "units": 8}}}},
        "training": {"optimizer": "adam", "batch_size": 16, "epochs": 1},
        "search": {"trials": 1},
        "select": {"top_k": 1},
    }
    return automl.search(space, workers=0, run_dir=root / "runs", reports_dir=None, progress=False)


def signals(n: int = 32) -> np.ndarray:
    from automl.data import load_source

    return load_source("mnist1d").x_test[:n]  # raw, exactly as the source gives them


def silently(load):
    """``load()``'s value; fails on any Python warning or WARNING log record it causes."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    loggers = [logging.getLogger(name) for name in ("", "tensorflow", "keras", "absl", "h5py")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = load()
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    assert [str(w.message) for w in caught] == []
    assert [r.getMessage() for r in records] == []
    return value


# ---- every format, in its own runtime ---------------------------------------------------------

# TFLite and ONNX run where TensorFlow is not even installed: this runs them without importing it
WITHOUT_TENSORFLOW = textwrap.dedent("""
    import sys
    import numpy as np
    import onnxruntime
    from ai_edge_litert.interpreter import Interpreter

    folder, x = sys.argv[1], np.load(sys.argv[2])
    runner = Interpreter(model_path=f"{folder}/model.tflite").get_signature_runner()
    tflite = runner(inputs=x)["output_0"]
    session = onnxruntime.InferenceSession(f"{folder}/model.onnx")
    onnx = session.run(["predictions"], {"inputs": x})[0]
    assert "tensorflow" not in sys.modules
    np.savez(sys.argv[3], tflite=tflite, onnx=onnx)
""")


def assert_tflite_and_onnx_predict(folder, x, expected, scratch) -> None:
    """The TFLite and ONNX files in ``folder`` give ``expected`` on ``x``, in a process without
    TensorFlow (``scratch``: a folder for the arrays passed between the processes)."""
    np.save(scratch / "x.npy", x)
    subprocess.run(
        [
            sys.executable,
            "-c",
            WITHOUT_TENSORFLOW,
            str(folder),
            str(scratch / "x.npy"),
            str(scratch / "y.npz"),
        ],
        check=True,
        timeout=120,
    )
    with np.load(scratch / "y.npz") as outputs:
        np.testing.assert_allclose(outputs["tflite"], expected, atol=ATOL)
        np.testing.assert_allclose(outputs["onnx"], expected, atol=ATOL)


def test_every_format_predicts_as_the_keras_model_from_raw_inputs(signal, tmp_path):
    import keras
    import tensorflow as tf

    written = signal.export(tmp_path / "out", format=FORMATS, quiet=True)
    assert {"model", "savedmodel", "tflite", "onnx", "signature", "params", "metrics"} <= set(
        written
    )
    x = signals()
    expected = signal.model.predict(x, verbose=0)

    reloaded = silently(lambda: keras.saving.load_model(written["model"]))
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, atol=ATOL)
    saved = silently(lambda: tf.saved_model.load(str(written["savedmodel"])))
    np.testing.assert_allclose(saved.serve(tf.constant(x)).numpy(), expected, atol=ATOL)

    assert_tflite_and_onnx_predict(tmp_path / "out", x, expected, tmp_path)

    signature = json.loads(written["signature"].read_text())
    assert signature["inputs"] == [{"name": "inputs", "dtype": "float32", "shape": [40]}]
    assert signature["output"]["classes"] == [str(i) for i in range(10)]
    assert json.loads(written["params"].read_text()) == signal.best_params


def test_table_model_exports_keras_and_savedmodel_that_take_raw_named_columns(table, tmp_path):
    import keras
    import tensorflow as tf

    written = table.export(tmp_path / "out", format="keras,savedmodel", quiet=True)
    raw = raw_table(9, seed=4).drop(columns="label")  # text and integers, as pandas reads them
    expected = table.model.predict(to_model_inputs(table.model, raw), verbose=0)

    reloaded = silently(lambda: keras.saving.load_model(written["model"]))
    columns = {name: raw[name].to_numpy() for name in raw}
    np.testing.assert_allclose(
        reloaded.predict(to_model_inputs(reloaded, raw), verbose=0), expected, atol=ATOL
    )
    saved = silently(lambda: tf.saved_model.load(str(written["savedmodel"])))
    served = saved.serve(
        {
            "size": tf.constant(columns["size"], tf.float32),
            "color": tf.constant(columns["color"].astype(str)),
            "count": tf.constant(columns["count"], tf.int64),
        }
    )
    np.testing.assert_allclose(served.numpy(), expected, atol=ATOL)

    signature = json.loads(written["signature"].read_text())
    assert sorted((i["name"], i["dtype"]) for i in signature["inputs"]) == [
        ("color", "string"),
        ("count", "int64"),
        ("size", "float32"),
    ]
    assert signature["output"]["classes"] == ["no", "yes"]


def test_tflite_and_onnx_refuse_a_table_with_categorical_columns(table, tmp_path):
    for fmt in ("tflite", "onnx", "savedmodel,onnx"):
        with pytest.raises(UsageError) as refused:
            table.export(tmp_path / fmt, format=fmt, quiet=True)
        message = str(refused.value)
        assert "categorical columns (color, count)" in message
        assert "export it as savedmodel (TensorFlow, TF Serving) or keras instead" in message
        assert "\n" not in message
        assert not (tmp_path / fmt).exists()  # refused before anything is written


# Keras notes that the builder keys inputs by column names its layers cannot have (as intended)
@pytest.mark.filterwarnings("ignore:When providing `inputs` as a dict")
def test_a_table_of_numbers_exports_everywhere_keyed_by_its_own_column_names(tmp_path):
    """Without lookups a table converts to every format; the SavedModel and ONNX inputs keep the
    user's column names, TFLite's signature keys are the layer names signature.json gives."""
    import onnxruntime
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from automl.models.builder import InputSpec, build_model

    columns = (("od280/od315 (%)", "numeric", (10.0, 9.0)), ("Größe", "numeric", (0.0, 1.0)))
    model = build_model(
        {"architecture": {"name": "mlp", "layers": 1, "units": 8}},
        InputSpec(shape=(2,), num_classes=3, columns=columns),
    )
    model.save(tmp_path / "winner.keras")
    written = export_model(
        tmp_path / "winner.keras", tmp_path / "out", format=["savedmodel", "tflite", "onnx"]
    )
    rng = np.random.default_rng(0)
    x = {
        "od280/od315 (%)": rng.normal(10, 3, 7).astype("float32"),
        "Größe": rng.normal(size=7).astype("float32"),
    }
    expected = np.asarray(model.predict_on_batch(x))

    saved = tf.saved_model.load(str(written["savedmodel"]))
    np.testing.assert_allclose(saved.serve(x).numpy(), expected, atol=ATOL)
    session = onnxruntime.InferenceSession(str(written["onnx"]))
    np.testing.assert_allclose(session.run(["predictions"], x)[0], expected, atol=ATOL)
    keys = {
        i["name"]: i["signature_key"]
        for i in json.loads(written["signature"].read_text())["inputs"]
    }
    assert keys == {"od280/od315 (%)": "od280_od315", "Größe": "Grosse"}
    runner = Interpreter(model_path=str(written["tflite"])).get_signature_runner()
    outputs = runner(**{keys[name]: values for name, values in x.items()})
    np.testing.assert_allclose(outputs["output_0"], expected, atol=ATOL)


# Keras notes that the builder keys inputs by column names its layers cannot have (as intended)
@pytest.mark.filterwarnings("ignore:When providing `inputs` as a dict")
def test_columns_named_self_a_keyword_or_odd_characters_export_to_every_format(tmp_path):
    """Survey and finance tables have a column ``self``: SavedModel's serving_default and
    TFLite's signature take one keyword argument per input, so ``self`` (and ``class``, ``1st``,
    ``od280/od315 of wines``) reach them as sanitized names, which signature.json maps the user's
    column names to; ``serve`` and ONNX keep the user's names."""
    import onnxruntime
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from automl.models.builder import InputSpec, build_model

    names = ("self", "od280/od315 of wines", "1st", "class", "self_")
    columns = tuple((name, "numeric", (float(i), 1.0 + i)) for i, name in enumerate(names))
    model = build_model(
        {"architecture": {"name": "mlp", "layers": 1, "units": 8}},
        InputSpec(shape=(len(names),), num_classes=3, columns=columns),
    )
    (tmp_path / "runs" / "survey").mkdir(parents=True)
    model.save(tmp_path / "runs" / "survey" / "winner.keras")
    assert (
        main(
            [
                "export",
                "--study",
                "survey",
                "--run-dir",
                str(tmp_path / "runs"),
                "--format",
                ",".join(FORMATS),
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    out = tmp_path / "out"
    rng = np.random.default_rng(1)
    x = {name: rng.normal(i, 1.0, 6).astype("float32") for i, name in enumerate(names)}
    expected = np.asarray(model.predict_on_batch(x))

    keys = {
        i["name"]: i["signature_key"]
        for i in json.loads((out / "signature.json").read_text())["inputs"]
    }
    assert list(keys) == list(names)  # the user's names, in their order
    assert all(
        key.isidentifier() and key != "self" and key not in ("class",) for key in keys.values()
    ) and len(set(keys.values())) == len(names)
    saved = tf.saved_model.load(str(out / "saved_model"))
    np.testing.assert_allclose(saved.serve(x).numpy(), expected, atol=ATOL)
    serving = saved.signatures["serving_default"]
    served = serving(**{keys[name]: tf.constant(values) for name, values in x.items()})
    np.testing.assert_allclose(served["output_0"].numpy(), expected, atol=ATOL)
    runner = Interpreter(model_path=str(out / "model.tflite")).get_signature_runner()
    outputs = runner(**{keys[name]: values for name, values in x.items()})
    np.testing.assert_allclose(outputs["output_0"], expected, atol=ATOL)
    session = onnxruntime.InferenceSession(str(out / "model.onnx"))
    np.testing.assert_allclose(session.run(["predictions"], x)[0], expected, atol=ATOL)
    reloaded = load_inference_model(out / "model.keras")
    np.testing.assert_allclose(reloaded.predict_on_batch(x), expected, atol=ATOL)


def test_unknown_format_and_missing_model_are_one_sentence(signal, tmp_path):
    with pytest.raises(
        UsageError,
        match=r"^unknown export format 'pdf'; choose from keras, "
        r"savedmodel, tflite, onnx$",
    ):
        signal.export(tmp_path / "out", format="pdf", quiet=True)
    with pytest.raises(UsageError, match="no model file at .*; run automl search first"):
        export_model(tmp_path / "nowhere.keras", tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ---- the command line ---------------------------------------------------------------------


def test_automl_export_writes_each_asked_format(signal, table, run_cli, tmp_path):
    run_dir = signal.model_path.parent.parent
    code, out, err = run_cli(
        "export",
        "--study",
        SIGNAL,
        "--run-dir",
        str(run_dir),
        "--format",
        "tflite,onnx",
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 0, err
    assert "wrote tflite:" in out and "wrote onnx:" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "model.onnx",
        "model.tflite",
        "signature.json",
    ]
    # a refusal or a misspelt study: one sentence on stderr, exit code 2
    code = main(
        [
            "export",
            "--study",
            "tab",
            "--run-dir",
            str(table.model_path.parent.parent),
            "--format",
            "onnx",
            "--out",
            str(tmp_path / "no"),
        ]
    )
    assert code == 2 and not (tmp_path / "no").exists()
    with pytest.raises(
        UsageError,
        match=rf"no study 'sigg' with a winner in .* \(it holds "
        rf"{SIGNAL}\)",
    ):
        from automl.export import winner_file

        winner_file("sigg", run_dir)


def test_automl_predict_a_csv_writes_classes_and_probabilities(table, run_cli, tmp_path):
    raw = raw_table(6, seed=7)  # the label column too: ignored
    raw.to_csv(tmp_path / "new.csv", index=False)
    code, out, err = run_cli(
        "predict",
        "--study",
        "tab",
        "--run-dir",
        str(table.model_path.parent.parent),
        str(tmp_path / "new.csv"),
    )
    assert code == 0, err
    assert out.strip() == f"wrote 6 predictions to {tmp_path / 'new.predictions.csv'}"
    written = pd.read_csv(tmp_path / "new.predictions.csv")
    assert list(written.columns) == ["id", "prediction", "p_no", "p_yes"]
    expected = table.model.predict(to_model_inputs(table.model, raw), verbose=0)
    np.testing.assert_allclose(written[["p_no", "p_yes"]].to_numpy(), expected, atol=ATOL)
    assert list(written["prediction"]) == [["no", "yes"][i] for i in expected.argmax(axis=1)]


def test_automl_predict_an_npz_and_refuses_what_does_not_fit(signal, tmp_path, capsys):
    run_dir = str(signal.model_path.parent.parent)
    x = signals(5)
    np.savez(tmp_path / "new.npz", x=x)
    assert (
        main(
            [
                "predict",
                "--study",
                SIGNAL,
                "--run-dir",
                run_dir,
                str(tmp_path / "new.npz"),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    written = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_allclose(
        written[[f"p_{i}" for i in range(10)]].to_numpy(),
        signal.model.predict(x, verbose=0),
        atol=ATOL,
    )
    np.savez(tmp_path / "bad.npz", x=x[:, :30])
    assert (
        main(["predict", "--study", SIGNAL, "--run-dir", run_dir, str(tmp_path / "bad.npz")]) == 2
    )
    assert (
        "examples of shape (30,) do not fit the model's input shape (40,)"
        in capsys.readouterr().err
    )
    # the same rows from Python, for the array itself
    predicted = signal.predict(x)
    assert list(predicted["id"]) == list(range(5))
    assert list(predicted["prediction"]) == [str(i) for i in written["prediction"]]
    np.testing.assert_allclose(
        predicted[[f"p_{i}" for i in range(10)]].to_numpy(),
        written[[f"p_{i}" for i in range(10)]].to_numpy(),
        atol=ATOL,
    )
    with pytest.raises(automl.UsageError, match=r"shape \(30,\) do not fit"):
        signal.predict(x[:, :30])


def test_automl_predict_an_image_folder(tmp_path):
    """Every image under the folder (sub-folders too, hidden files skipped), any size and mode,
    resized to the model's input; ids are the paths."""
    from PIL import Image

    from automl.data.images import decode_image, pixels
    from automl.models.builder import InputSpec, build_model

    model = build_model(
        {"architecture": {"name": "cnn", "blocks": 1, "filters": 4}},
        InputSpec(shape=(8, 8, 3), num_classes=2, mean=120.0, variance=3000.0),
    )
    (tmp_path / "runs" / "pics").mkdir(parents=True)
    model.save(tmp_path / "runs" / "pics" / "winner.keras")
    photos = tmp_path / "photos"
    (photos / "more").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, size, mode in (
        ("a.png", (8, 8), "RGB"),
        ("more/b.jpg", (16, 12), "RGB"),
        ("c.png", (8, 8), "L"),
    ):
        drawn = rng.integers(0, 255, (*size, 3) if mode == "RGB" else size).astype("uint8")
        Image.fromarray(drawn, mode).save(photos / name)
    (photos / ".hidden.png").write_bytes(b"not an image")
    assert (
        main(["predict", "--study", "pics", "--run-dir", str(tmp_path / "runs"), str(photos)]) == 0
    )
    written = pd.read_csv(tmp_path / "photos.predictions.csv")
    assert list(written["id"]) == ["a.png", "c.png", "more/b.jpg"]
    x = np.stack([pixels(decode_image(photos / name), (8, 8), 3) for name in written["id"]])
    np.testing.assert_allclose(
        written[["p_0", "p_1"]].to_numpy(), model.predict(x, verbose=0), atol=ATOL
    )


def test_predictions_of_a_regression_are_one_value_a_row():
    frame = predictions_frame(np.array([[1.5], [2.5]]), ["0", "1"], [])
    assert list(frame.columns) == ["id", "prediction"] and list(frame["prediction"]) == [1.5, 2.5]


# ---- the registered model, from a pandas frame --------------------------------------------------


def test_registered_signal_model_predicts_from_a_pandas_frame(signal, tmp_path):
    import mlflow

    mlflow.set_tracking_uri(signal.mlflow["tracking_uri"])
    # a copy in tmp_path: from a local store MLflow would load (and mark) the store's own folder
    served = mlflow.pyfunc.load_model(signal.mlflow["alias_uri"], dst_path=str(tmp_path))
    x = signals(8)
    frame = pd.DataFrame(x.astype("float64"))  # a column per sample, as pandas reads a CSV
    np.testing.assert_allclose(
        np.asarray(served.predict(frame)), signal.model.predict(x, verbose=0), atol=ATOL
    )
    assert served.metadata.get_input_schema().inputs[0].shape == (-1, 40)

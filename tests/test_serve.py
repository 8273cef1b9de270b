"""The registered champion as users ship it: logged with an input example and a signature,
``mlflow.pyfunc.load_model`` predicting from a pandas frame of raw columns, and
``mlflow models serve`` answering real HTTP requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from servers import free_port
from test_export import ATOL, silently

import automl
from automl.export import to_model_inputs

SERVE_START_TIMEOUT = 300  # seconds: the server imports TensorFlow and loads the model first


def raw_rows(n: int, seed: int = 0) -> pd.DataFrame:
    """A table as a CSV holds it, with a column name that is no identifier."""
    rng = np.random.default_rng(seed)
    size = rng.normal(10, 3, n)
    color = rng.choice(["red", "green", "blue"], n)
    return pd.DataFrame(
        {
            "size (cm)": size,
            "color": color,
            "count": rng.integers(0, 5, n),
            "label": np.where((size > 10) ^ (color == "red"), "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    """One tiny search on a CSV of named columns (two categorical): its registered champion."""
    import mlflow

    root = tmp_path_factory.mktemp("serve")
    raw_rows(120).to_csv(root / "t.csv", index=False)
    space = {
        "name": "shop",
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
    result = automl.search(
        space, workers=0, run_dir=root / "runs", reports_dir=None, progress=False
    )
    mlflow.set_tracking_uri(result.mlflow["tracking_uri"])
    return result


def expected(result, frame: pd.DataFrame) -> np.ndarray:
    return result.model.predict(to_model_inputs(result.model, frame), verbose=0)


def test_logged_with_an_input_example_and_a_signature(champion):
    import mlflow
    from mlflow.models import Model

    uri = champion.mlflow["alias_uri"]
    assert uri == "models:/shop@champion"
    info = mlflow.models.get_model_info(uri)
    assert {c.name: c.type.name for c in info.signature.inputs.inputs} == {
        "size (cm)": "double",
        "color": "string",
        "count": "long",
    }
    assert info.signature.outputs is not None and info.saved_input_example_info is not None
    folder = mlflow.artifacts.download_artifacts(uri)
    example = Model.load(folder).load_input_example(folder)
    assert list(example.columns) == ["size (cm)", "color", "count"] and len(example) == 5
    assert set(info.flavors) == {"python_function", "keras"}


# mlflow.keras loads with Keras's own loader, which notes that "size (cm)" is no layer name
@pytest.mark.filterwarnings("ignore:When providing `inputs` as a dict")
def test_pyfunc_predicts_from_a_pandas_frame_of_raw_columns(champion):
    import mlflow

    served = silently(lambda: mlflow.pyfunc.load_model(champion.mlflow["alias_uri"]))
    frame = raw_rows(7, seed=3).drop(columns="label")  # as pandas reads a CSV
    np.testing.assert_allclose(
        np.asarray(served.predict(frame)), expected(champion, frame), atol=ATOL
    )
    # the same file behind the keras flavor
    model = mlflow.keras.load_model(champion.mlflow["alias_uri"])
    np.testing.assert_allclose(
        model.predict(to_model_inputs(model, frame), verbose=0),
        expected(champion, frame),
        atol=ATOL,
    )


def test_result_predict_takes_a_frame_or_a_file_as_automl_predict_does(champion, tmp_path):
    frame = raw_rows(7, seed=3)  # the label column too: it is ignored
    frame.index = [f"row {i}" for i in range(7)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = automl.load("shop", run_dir=champion.model_path.parent.parent)
        predicted = loaded.predict(frame)
    # "size (cm)" is no layer name, and Keras's loader says so: automl's loads quietly
    assert not [w for w in caught if "When providing" in str(w.message)]
    assert list(predicted.columns) == ["id", "prediction", "p_no", "p_yes"]
    assert list(predicted["id"]) == list(frame.index)
    probabilities = predicted[["p_no", "p_yes"]].to_numpy()
    np.testing.assert_allclose(probabilities, expected(champion, frame), atol=ATOL)
    assert list(predicted["prediction"]) == [("no", "yes")[i] for i in probabilities.argmax(1)]
    # a file, as `automl predict` reads it: rows numbered
    frame.to_csv(tmp_path / "new rows.csv", index=False)
    from_file = loaded.predict(tmp_path / "new rows.csv")
    assert list(from_file["id"]) == list(range(7))
    np.testing.assert_allclose(from_file[["p_no", "p_yes"]].to_numpy(), probabilities, atol=ATOL)
    with pytest.raises(automl.UsageError, match=r"lacks the column\(s\) 'color'"):
        loaded.predict(frame.drop(columns="color"))


def post(port: int, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for_ping(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + SERVE_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"mlflow models serve exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    pytest.fail(
        f"mlflow models serve did not answer /ping in {SERVE_START_TIMEOUT} s:\n"
        f"{log.read_text()[-3000:]}"
    )


def test_mlflow_models_serve_answers_http_prediction_requests(champion, tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "models",
        "serve",
        "-m",
        champion.mlflow["alias_uri"],
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    # mlflow execs `uvicorn` by name: the venv's bin folder must be on PATH even when the
    # suite was started as .venv/bin/python -m pytest, without activating the venv
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": champion.mlflow["tracking_uri"],
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
    }
    with open(log, "w") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        wait_for_ping(process, port, log)
        frame = raw_rows(4, seed=5).drop(columns="label")
        want = expected(champion, frame)

        status, answer = post(port, {"dataframe_split": frame.to_dict(orient="split")})
        assert status == 200, answer
        np.testing.assert_allclose(answer["predictions"], want, atol=ATOL)

        columns = {name: frame[name].tolist() for name in frame}
        status, answer = post(port, {"inputs": columns})
        assert status == 200, answer
        np.testing.assert_allclose(answer["predictions"], want, atol=ATOL)

        status, answer = post(
            port, {"dataframe_split": frame.drop(columns="count").to_dict(orient="split")}
        )
        assert status == 400 and "count" in answer["message"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server and the uvicorn it started
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

"""The winner as a registered MLflow model: logged on the study's parent run, registered under
the study's name, with an alias (``champion``) pointing at the new version."""

from __future__ import annotations

import contextlib
import io
from typing import TYPE_CHECKING, Any

from automl.defaults import CHAMPION_ALIAS

if TYPE_CHECKING:
    from automl.tracking.tracker import Tracker


def register_winner(
    tracker: "Tracker",
    model: Any,
    x_example: Any,
    registered_name: str,
    alias: str = CHAMPION_ALIAS,
) -> dict[str, str]:
    """Log the winner as an MLflow model, register it and point ``alias`` at the version.

    The model serves (``mlflow models serve -m models:/<name>@champion``), loads with
    ``mlflow.pyfunc`` (predicting from a DataFrame of raw columns) and with ``mlflow.keras``;
    it is logged with an input example (``x_example``: a few raw validation examples) and
    the signature inferred from it. See :func:`automl.export.log_mlflow_model`.
    """
    import mlflow

    from automl.export import log_mlflow_model

    # MLflow prints "Successfully registered model ..." itself: keep the terminal quiet
    with mlflow.start_run(run_id=tracker.parent_run_id), contextlib.redirect_stderr(io.StringIO()):
        info = log_mlflow_model(
            model, x_example, registered_name=registered_name, pip_requirements=_requirements()
        )
    version = str(info.registered_model_version)
    tracker.client.set_registered_model_alias(registered_name, alias, version)
    return {
        "model_uri": info.model_uri,
        "registered_model": registered_name,
        "version": version,
        "alias_uri": f"models:/{registered_name}@{alias}",
    }


def _requirements() -> list[str]:
    """Pinned requirements of the logged model (given, so MLflow does not spend time guessing):
    what the served model imports: Keras and the TensorFlow build installed here, NumPy, pandas
    and cloudpickle (which stored the serving class)."""
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for packages in (
        ("keras",),
        ("tensorflow-cpu", "tensorflow"),
        ("numpy",),
        ("pandas",),
        ("cloudpickle",),
    ):
        for package in packages:  # the first of these that is installed
            try:
                reqs.append(f"{package}=={version(package)}")
                break
            except PackageNotFoundError:
                continue
    return reqs

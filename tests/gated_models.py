"""A custom model builder with a gate, for the tests about several processes.

Those tests need events in a fixed order across processes: a search's trial still running while
another search starts and joins, a trial still unfinished when Ctrl-C arrives. Waiting "long
enough" is not an order on a busy 2-core machine (a search's start there can outlast another
search's whole budget), so their trials wait at a gate instead:

A worker process (``automl worker``, as a search starts them) whose environment names a file in
``AUTOML_TEST_GATE`` waits in :func:`build`, inside its trial (the trial is RUNNING, its MLflow
run started), for as long as that file exists; the test removes the file to let it go on.
With ``AUTOML_TEST_GATE_AFTER=N`` the process's first N trials pass the gate without waiting.
Everything else is an ordinary small MLP.

Use it in a space as ``model: {architecture: {choice: {custom: {builder: "gated_models:build",
units: ...}}}}`` with ``tests/`` on the processes' ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import keras

GATE_VARIABLE = "AUTOML_TEST_GATE"
AFTER_VARIABLE = "AUTOML_TEST_GATE_AFTER"  # let this many trials of the process pass first
_built = [0]


def build(params: dict, spec) -> keras.Model:
    gate = os.environ.get(GATE_VARIABLE)
    if "worker" in sys.argv:  # not the search's own dry build
        _built[0] += 1
    if gate and "worker" in sys.argv and _built[0] > int(os.environ.get(AFTER_VARIABLE, "0")):
        while Path(gate).exists():
            time.sleep(0.05)  # Ctrl-C lands here as KeyboardInterrupt, as in a training step
    inputs = keras.Input(spec.shape)
    hidden = keras.layers.Flatten()(inputs)
    hidden = keras.layers.Dense(params["units"], activation="relu")(hidden)
    outputs = keras.layers.Dense(spec.num_classes, activation="softmax")(hidden)
    return keras.Model(inputs, outputs)

"""KerasTuner users welcome: run a ``build_model(hp)`` (or a ``HyperModel``) under automl.

A KerasTuner user keeps the model-building code and hands it to :func:`search_hypermodel`
instead of a tuner. The ``hp`` the code receives is automl's :class:`HyperParameters`, which maps
KerasTuner's calls (``hp.Int``, ``hp.Float``, ``hp.Choice``, ``hp.Boolean``, ``hp.Fixed``,
``hp.conditional_scope`` ...) onto an Optuna trial, under KerasTuner's parameter names. The
search gets what ``automl.search`` gives a YAML space: an Optuna study in a storage that
resumes, a pruner, an MLflow parent run with one child run per trial and per-epoch metrics, the
top-K trials evaluated once on a held-out test split, the winner exported and registered.

    >>> import automl
    >>> def build_model(hp):
    ...     model = keras.Sequential([
    ...         keras.layers.Dense(hp.Int("units", min_value=32, max_value=512, step=32),
    ...                            activation=hp.Choice("activation", ["relu", "tanh"])),
    ...         keras.layers.Dense(10, activation="softmax")])
    ...     model.compile(optimizer=keras.optimizers.Adam(
    ...                       hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")),
    ...                   loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ...     return model
    >>> result = automl.search_hypermodel(build_model, data=(x, y), objective="val_accuracy",
    ...                                   max_trials=10, epochs=5)
    >>> result.best_params, result.test_metrics["accuracy"]
    >>> result.export("out/")

KerasTuner itself is never imported: ``kt.HyperModel`` subclasses and ``kt.Objective`` objects
work by their methods and attributes, and :class:`HyperModel` and :class:`Objective` here stand
in for them where KerasTuner is not installed (``from automl import hypermodel as kt``).

A user's ``build_model`` lives in their script or notebook, which automl's worker processes
cannot import: trials run here, in the calling process, one after another. The side-by-side
mapping from KerasTuner is in ``docs/from-keras-tuner.md``.
"""

from automl.hypermodel.data import HypermodelData, prepare_data
from automl.hypermodel.maker import HP_VALUES_ATTR, HypermodelMaker
from automl.hypermodel.search import search_hypermodel
from automl.hypermodel.vocabulary import (
    DEFAULT_OBJECTIVE,
    HyperModel,
    HyperParameters,
    Objective,
    infer_direction,
    objective_of,
)

__all__ = [
    "DEFAULT_OBJECTIVE",
    "HP_VALUES_ATTR",
    "HyperModel",
    "HyperParameters",
    "HypermodelData",
    "HypermodelMaker",
    "Objective",
    "infer_direction",
    "objective_of",
    "prepare_data",
    "search_hypermodel",
]

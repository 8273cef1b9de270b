"""Modalities, one module each: what makes signals, images and tables different.

Each module (:mod:`~automl.modalities.signal`, :mod:`~automl.modalities.image`,
:mod:`~automl.modalities.table`) says how its data is recognised (:func:`detect` asks them in
turn), the augmentation ops it runs in the ``tf.data`` pipeline, the model's input layers
with the preprocessing that lives inside the model (normalization, in-model augmentation
layers, lookups, filling empty cells), its baselines (``BASELINES``), the default space a
search straight from data searches (``default_space``), and how new examples of it are read
for prediction where that differs (an image folder: ``image.read_folder``; a table's empty
categories: ``table.category_strings``). The families and augmentations a modality allows are declared where those
are, in :data:`automl.registry.FAMILIES` and :data:`automl.registry.AUGMENTATIONS`
(``applies_to``); :data:`automl.registry.MODALITIES` lists the modalities themselves.

Example:
    >>> detect(np.zeros((100, 40)))
    'signal'
    >>> module("image").augment_ops({"crop": 2}, data_std=1.0)
    [<function crop ...>]
"""

from __future__ import annotations

from types import ModuleType
from typing import Any


def module(name: str) -> ModuleType:
    """The module of the modality ``name`` (``signal``, ``image``, ``table``)."""
    from automl.registry import MODALITIES

    return MODALITIES[name].load()


def detect(x: Any) -> str | None:
    """The modality of examples ``x`` (a dict of columns, or an array of any rank), by shape
    alone; None when none of them takes it."""
    from automl.registry import MODALITIES

    for name in MODALITIES:
        if module(name).takes(x):
            return name
    return None


def of_shape(shape: tuple[int, ...]) -> str | None:
    """The modality of an array of examples of this shape (first axis: the examples)."""
    from automl.registry import MODALITIES

    for name in MODALITIES:
        if module(name).takes_shape(shape):
            return name
    return None

"""Image augmentations as Keras preprocessing layers at the front of the model.

They act only while training (``fit``); ``evaluate`` and ``predict`` pass images through
untouched, so validation and test are never augmented and the exported model predicts as usual.
On the CPU they measured about 2x faster inside the model than mapped in the tf.data pipeline
(``reports/curated/input_pipeline.md``), and on a GPU they run there too.
"""

from __future__ import annotations

from typing import Any

LAYER_AUGMENTATIONS = ("flip", "rotation", "translation", "zoom", "contrast", "brightness")


def augmentation_layers(augment: dict[str, Any] | None, value_range: tuple[float, float]) -> list:
    """The Keras layers for the switched-on layer augmentations, in a fixed order."""
    import keras

    augment = {k: v for k, v in (augment or {}).items()
               if k in LAYER_AUGMENTATIONS and v not in (None, 0, 0.0, False, "none")}
    layers = []
    if "flip" in augment:
        layers.append(keras.layers.RandomFlip("horizontal" if augment["flip"] is True
                                              else augment["flip"]))
    if "rotation" in augment:
        layers.append(keras.layers.RandomRotation(float(augment["rotation"]),
                                                  fill_mode="constant"))
    if "translation" in augment:
        t = float(augment["translation"])
        layers.append(keras.layers.RandomTranslation(t, t, fill_mode="constant"))
    if "zoom" in augment:
        layers.append(keras.layers.RandomZoom(float(augment["zoom"]), fill_mode="constant"))
    if "contrast" in augment:
        layers.append(keras.layers.RandomContrast(float(augment["contrast"]),
                                                  value_range=value_range))
    if "brightness" in augment:
        layers.append(keras.layers.RandomBrightness(float(augment["brightness"]),
                                                    value_range=value_range))
    return layers

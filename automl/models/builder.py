"""Build a Keras model from sampled params.

Architecture families each make a feature extractor; the techniques every family shares (weight
initializer, activation, dropout, L1/L2 penalties, batch norm) are applied in one place,
:class:`Techniques`, so each family stays a few lines long.

Every model takes raw inputs exactly as the data source gives them: normalization statistics
(computed on the training split only) live inside the model as its first layer, so an exported
model needs no preprocessing code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# family -> the params a space may set for it
ARCHITECTURES: dict[str, set[str]] = {
    "mlp": {"layers", "units"},
    "cnn": {"blocks", "filters", "kernel_size", "pooling", "head", "dense_units"},
}
INITIALIZERS = {"glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
                "lecun_normal", "orthogonal", "random_normal", "random_uniform",
                "truncated_normal", "variance_scaling"}
ACTIVATIONS = {"relu", "gelu", "swish", "silu", "elu", "selu", "leaky_relu", "tanh"}
POOLINGS = {"max", "avg", "none"}
HEADS = {"flatten", "gap"}
MODEL_KEYS = {"architecture", "initializer", "activation", "dropout", "l1", "l2", "batch_norm"}


@dataclass(frozen=True)
class InputSpec:
    """What the data looks like to the model builder."""

    shape: tuple[int, ...]        # one example, e.g. (40,) for an MNIST-1D signal
    num_classes: int
    mean: float                   # normalization statistics of the training split
    variance: float


@dataclass
class Techniques:
    """The regularization and initialization choices shared by every family."""

    initializer: str = "glorot_uniform"
    activation: str = "relu"
    dropout: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    batch_norm: bool = False

    def regularizer(self):
        import keras

        if self.l1 or self.l2:
            return keras.regularizers.L1L2(l1=float(self.l1), l2=float(self.l2))
        return None

    def dense(self, units: int, x):
        import keras

        x = keras.layers.Dense(int(units), kernel_initializer=self.initializer,
                               kernel_regularizer=self.regularizer(),
                               use_bias=not self.batch_norm)(x)
        return self._finish(x)

    def conv1d(self, filters: int, kernel_size: int, x):
        import keras

        x = keras.layers.Conv1D(int(filters), int(kernel_size), padding="same",
                                kernel_initializer=self.initializer,
                                kernel_regularizer=self.regularizer(),
                                use_bias=not self.batch_norm)(x)
        return self._finish(x)

    def _finish(self, x):
        """Batch norm, then the activation."""
        import keras

        if self.batch_norm:
            x = keras.layers.BatchNormalization()(x)
        return keras.layers.Activation(self.activation)(x)

    def drop(self, x):
        import keras

        return keras.layers.Dropout(float(self.dropout))(x) if self.dropout > 0 else x


def _mlp(arch: dict[str, Any], t: Techniques, x):
    import keras

    if len(x.shape) > 2:
        x = keras.layers.Flatten()(x)
    for _ in range(int(arch.get("layers", 2))):
        x = t.drop(t.dense(arch.get("units", 128), x))
    return x


def _cnn(arch: dict[str, Any], t: Techniques, x):
    import keras

    if len(x.shape) == 2:  # a 1-D signal: add a channel axis
        x = keras.layers.Reshape((x.shape[1], 1))(x)
    pooling = arch.get("pooling", "max")
    for _ in range(int(arch.get("blocks", 2))):
        x = t.conv1d(arch.get("filters", 32), arch.get("kernel_size", 5), x)
        if pooling != "none" and x.shape[1] >= 2:
            pool = keras.layers.MaxPooling1D if pooling == "max" else keras.layers.AveragePooling1D
            x = pool(2)(x)
        x = t.drop(x)
    head = arch.get("head", "flatten")
    x = keras.layers.Flatten()(x) if head == "flatten" else keras.layers.GlobalAveragePooling1D()(x)
    if int(arch.get("dense_units", 0)) > 0:
        x = t.drop(t.dense(arch["dense_units"], x))
    return x


FAMILIES = {"mlp": _mlp, "cnn": _cnn}


def build_model(params: dict[str, Any], spec: InputSpec):
    """A classifier for ``spec`` from the sampled ``model`` params.

    Args:
        params: the sampled ``model:`` section, e.g. ``{"architecture": {"name": "cnn",
            "blocks": 2, ...}, "dropout": 0.1, "initializer": "he_normal", ...}``.
        spec: the input shape, number of classes and normalization statistics.
    """
    import keras

    arch = params.get("architecture", "mlp")
    arch = dict(arch) if isinstance(arch, dict) else {"name": arch}
    techniques = Techniques(**{k: v for k, v in params.items() if k != "architecture"})

    inputs = keras.Input(shape=spec.shape, name="inputs")
    x = keras.layers.Normalization(mean=spec.mean, variance=spec.variance, axis=None,
                                   name="normalize")(inputs)
    x = FAMILIES[arch["name"]](arch, techniques, x)
    # float32 output so mixed precision never makes the softmax overflow
    outputs = keras.layers.Dense(spec.num_classes, activation="softmax", dtype="float32",
                                 kernel_initializer=techniques.initializer, name="predictions")(x)
    return keras.Model(inputs, outputs, name=f"automl_{arch['name']}")

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
CNN_PARAMS = {"blocks", "filters", "kernel_size", "pooling", "head", "dense_units"}
ARCHITECTURES: dict[str, set[str]] = {
    "mlp": {"layers", "units"},
    "cnn": CNN_PARAMS,      # 1-D convolutions for signals, 2-D for images
    "cnn1d": CNN_PARAMS,
    "cnn2d": CNN_PARAMS,
}
# family -> the modalities it can take
FAMILY_MODALITIES = {"mlp": {"signal", "image", "table"}, "cnn": {"signal", "image"},
                     "cnn1d": {"signal"}, "cnn2d": {"image"}}
INITIALIZERS = {"glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
                "lecun_normal", "orthogonal", "random_normal", "random_uniform",
                "truncated_normal", "variance_scaling"}
ACTIVATIONS = {"relu", "gelu", "swish", "silu", "elu", "selu", "leaky_relu", "tanh"}
POOLINGS = {"max", "avg", "none"}
HEADS = {"flatten", "gap"}
MODEL_KEYS = {"architecture", "initializer", "activation", "dropout", "l1", "l2", "batch_norm"}


@dataclass(frozen=True)
class InputSpec:
    """What the data looks like to the model builder; statistics come from the training split."""

    shape: tuple[int, ...]        # one example, e.g. (40,) for an MNIST-1D signal
    num_classes: int              # 0 for regression
    mean: float = 0.0             # signals and images: normalization statistics
    variance: float = 1.0
    # tables: (name, "numeric", (mean, variance)) or (name, "categorical", vocabulary)
    columns: tuple[tuple[str, str, Any], ...] = ()
    target_mean: float = 0.0      # regression: the target's statistics, undone in the output
    target_std: float = 1.0


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

    def conv(self, filters: int, kernel_size: int, x):
        """A 1-D or 2-D convolution, by the rank of ``x``."""
        import keras

        conv = keras.layers.Conv1D if len(x.shape) == 3 else keras.layers.Conv2D
        x = conv(int(filters), int(kernel_size), padding="same",
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
    """Blocks of convolution (+ pooling, dropout): 1-D for signals, 2-D for images."""
    import keras

    if len(x.shape) == 2:  # a 1-D signal: add a channel axis
        x = keras.layers.Reshape((x.shape[1], 1))(x)
    two_d = len(x.shape) == 4
    pooling = arch.get("pooling", "max")
    for _ in range(int(arch.get("blocks", 2))):
        x = t.conv(arch.get("filters", 32), arch.get("kernel_size", 3 if two_d else 5), x)
        if pooling != "none" and min(x.shape[1:-1]) >= 2:
            if two_d:
                pool = keras.layers.MaxPooling2D if pooling == "max" else \
                    keras.layers.AveragePooling2D
            else:
                pool = keras.layers.MaxPooling1D if pooling == "max" else \
                    keras.layers.AveragePooling1D
            x = pool(2)(x)
        x = t.drop(x)
    if arch.get("head", "flatten") == "flatten":
        x = keras.layers.Flatten()(x)
    else:
        x = (keras.layers.GlobalAveragePooling2D if two_d else keras.layers.GlobalAveragePooling1D)()(x)
    if int(arch.get("dense_units", 0)) > 0:
        x = t.drop(t.dense(arch["dense_units"], x))
    return x


FAMILIES = {"mlp": _mlp, "cnn": _cnn, "cnn1d": _cnn, "cnn2d": _cnn}


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

    if spec.columns:
        inputs, x = _table_inputs(spec)
    else:
        inputs = keras.Input(shape=spec.shape, name="inputs")
        x = keras.layers.Normalization(mean=spec.mean, variance=spec.variance, axis=None,
                                       name="normalize")(inputs)
    x = FAMILIES[arch["name"]](arch, techniques, x)
    # float32 outputs, so mixed precision never makes the softmax overflow
    if spec.num_classes:
        outputs = keras.layers.Dense(spec.num_classes, activation="softmax", dtype="float32",
                                     kernel_initializer=techniques.initializer,
                                     name="predictions")(x)
    else:  # regression: predict the standardized target, then undo the standardization
        x = keras.layers.Dense(1, dtype="float32", kernel_initializer=techniques.initializer)(x)
        outputs = keras.layers.Rescaling(spec.target_std, offset=spec.target_mean,
                                         dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name=f"automl_{arch['name']}")


def _table_inputs(spec: InputSpec):
    """One named input per column: numeric ones normalized, categorical ones one-hot."""
    import keras

    inputs, numeric, encoded = {}, [], []
    for name, kind, stats in spec.columns:
        if kind == "numeric":
            inputs[name] = keras.Input(shape=(), name=name, dtype="float32")
            numeric.append((keras.layers.Reshape((1,))(inputs[name]), stats))
        else:
            strings = any(isinstance(v, str) for v in stats)
            inputs[name] = keras.Input(shape=(), name=name, dtype="string" if strings else "int64")
            lookup = keras.layers.StringLookup if strings else keras.layers.IntegerLookup
            encoded.append(lookup(vocabulary=list(stats), output_mode="one_hot",
                                  name=f"onehot_{name}")(inputs[name]))
    if numeric:
        stacked = keras.layers.Concatenate()([n for n, _ in numeric]) if len(numeric) > 1 \
            else numeric[0][0]
        stacked = keras.layers.Normalization(mean=[m for _, (m, _) in numeric],
                                             variance=[v for _, (_, v) in numeric],
                                             name="normalize")(stacked)
        encoded.insert(0, stacked)
    x = keras.layers.Concatenate()(encoded) if len(encoded) > 1 else encoded[0]
    return inputs, x

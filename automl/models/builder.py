"""Build a Keras model from sampled params.

Architecture families each make a feature extractor; the techniques every family shares (weight
initializer, activation, dropout, L1/L2 penalties, batch norm) are applied in one place,
:class:`Techniques`, so each family stays a few lines long.

Every model takes raw inputs exactly as the data source gives them: normalization statistics
(computed on the training split only) live inside the model as its first layer, so an exported
model needs no preprocessing code.
"""

from __future__ import annotations

import importlib
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ACTIVATIONS = {"relu", "gelu", "swish", "silu", "elu", "selu", "leaky_relu", "tanh"}
MODEL_KEYS = {
    "architecture",
    "initializer",
    "activation",
    "dropout",
    "spatial_dropout",
    "l1",
    "l2",
    "bias_l1",
    "bias_l2",
    "activity_l1",
    "activity_l2",
    "batch_norm",
    "batch_norm_position",
    "batch_norm_momentum",
}


@dataclass(frozen=True)
class InputSpec:
    """What the data looks like to the model builder; statistics come from the training split."""

    shape: tuple[int, ...]  # one example, e.g. (40,) for an MNIST-1D signal
    num_classes: int  # 0 for regression
    mean: float = 0.0  # signals and images: normalization statistics
    variance: float = 1.0
    # tables: (name, "numeric", (mean, variance)), (name, "categorical", vocabulary) or
    # (name, "datetime", (order, means, variances, share without a date))
    columns: tuple[tuple[str, str, Any], ...] = ()
    target_mean: float = 0.0  # regression: the target's statistics, undone in the output
    target_std: float = 1.0
    target_log: bool = False  # data.target_transform: log (the statistics are of log(1 + y))
    value_range: tuple[float, float] = (0.0, 255.0)  # images: raw pixel range, for augmentation
    # texts: the tokenizer (automl.modalities.text.text_spec: tokens, sequence_length, ...)
    text: dict[str, Any] | None = None

    @property
    def modality(self) -> str:
        """``text`` (a tokenizer), ``table`` (columns), else ``image`` or ``signal`` by the
        example's shape."""
        from automl.modalities import of_shape

        if self.text is not None:
            return "text"
        return "table" if self.columns else (of_shape((0, *self.shape)) or "signal")


@dataclass
class Techniques:
    """The regularization and initialization choices shared by every family."""

    initializer: Any = "glorot_uniform"  # a name, or {"name": ..., **arguments}
    activation: str = "relu"
    dropout: Any = 0.0  # a rate, or a list of rates: one per block
    spatial_dropout: bool = False  # conv blocks drop whole feature maps
    l1: float = 0.0
    l2: float = 0.0
    bias_l1: float = 0.0
    bias_l2: float = 0.0
    activity_l1: float = 0.0
    activity_l2: float = 0.0
    batch_norm: bool = False
    batch_norm_position: str = "before"
    batch_norm_momentum: float = 0.99
    blocks_built: int = field(default=0, init=False, repr=False)  # which dropout rate is next
    # texts: the tokenizer's ids run from 0 (padding) to tokens - 1, for an embedding
    tokens: int = field(default=0, repr=False)

    def kernel_initializer(self):
        """A fresh Keras initializer (layers must not share a seeded one)."""
        import keras

        spec = (
            dict(self.initializer)
            if isinstance(self.initializer, dict)
            else {"name": self.initializer}
        )
        name = spec.pop("name")
        base = keras.initializers.get(name)
        return type(base)(**spec) if spec else base

    @staticmethod
    def _penalty(l1: float, l2: float):
        import keras

        return keras.regularizers.L1L2(l1=float(l1), l2=float(l2)) if (l1 or l2) else None

    def regularizers(self) -> dict:
        return {
            "kernel_regularizer": self._penalty(self.l1, self.l2),
            "bias_regularizer": self._penalty(self.bias_l1, self.bias_l2),
            "activity_regularizer": self._penalty(self.activity_l1, self.activity_l2),
        }

    def dense(self, units: int, x):
        import keras

        x = keras.layers.Dense(
            int(units),
            kernel_initializer=self.kernel_initializer(),
            use_bias=not self.batch_norm,
            **self.regularizers(),
        )(x)
        return self._finish(x)

    def conv(self, filters: int, kernel_size: int, x):
        """A 1-D or 2-D convolution, by the rank of ``x``."""
        import keras

        conv = keras.layers.Conv1D if len(x.shape) == 3 else keras.layers.Conv2D
        x = conv(
            int(filters),
            int(kernel_size),
            padding="same",
            kernel_initializer=self.kernel_initializer(),
            use_bias=not self.batch_norm,
            **self.regularizers(),
        )(x)
        return self._finish(x)

    def _finish(self, x):
        """The activation, with batch norm before (default) or after it."""
        import keras

        norm = keras.layers.BatchNormalization(momentum=float(self.batch_norm_momentum))
        if self.batch_norm and self.batch_norm_position == "before":
            x = norm(x)
        x = keras.layers.Activation(self.activation)(x)
        if self.batch_norm and self.batch_norm_position == "after":
            x = norm(x)
        return x

    def embed(self, ids, dim: int, mask_zero: bool = False):
        """Token ids -> a sequence of ``dim``-wide vectors (texts; ``mask_zero``: padding
        masked for the layers that follow, as recurrent layers read it)."""
        import keras

        return keras.layers.Embedding(
            self.tokens,
            int(dim),
            mask_zero=mask_zero,
            embeddings_initializer="uniform",
            embeddings_regularizer=self._penalty(self.l1, self.l2),
        )(ids)

    def drop(self, x):
        """Dropout after a block (the next rate of a per-block list); for conv feature maps,
        spatial dropout when asked."""
        import keras

        rates = self.dropout if isinstance(self.dropout, list) else [self.dropout]
        rate = float(rates[min(self.blocks_built, len(rates) - 1)]) if rates else 0.0
        self.blocks_built += 1
        if rate <= 0:
            return x
        if self.spatial_dropout and len(x.shape) in (3, 4):
            layer = (
                keras.layers.SpatialDropout1D
                if len(x.shape) == 3
                else keras.layers.SpatialDropout2D
            )
            return layer(rate)(x)
        return keras.layers.Dropout(rate)(x)


def import_builder(path: str, search_dirs: Iterable[str | Path] = ()) -> Callable[..., Any]:
    """The function a ``custom`` architecture names as ``module:function``.

    The module is looked up first in the current folder, then in each of ``search_dirs`` (the
    space file's folder, say), then on the ordinary import path. Those folders are on
    ``sys.path`` only while the module is imported, so its own imports of sibling files work, and
    a module imported once is reused. Worker processes call this again with the same folders.

    The function is called as ``function(params, spec)`` with the option's sampled params
    (without ``builder``) and the :class:`InputSpec`, and returns a ``keras.Model`` whose outputs
    are class probabilities (or the regression target).

    Raises:
        ValueError: one sentence naming the module and the folders it was looked for in (a
            :class:`BuilderError`, with a ``short`` form, when the module or function is
            missing).
    """
    module_name, _, function = str(path).partition(":")
    dotted = all(part.isidentifier() for part in module_name.split("."))
    if not dotted or module_name.endswith(".py") or not function:
        raise ValueError(
            f"write the builder as module:function with the module's import name "
            f"(my_models for my_models.py), e.g. my_models:build; found {path!r}"
        )
    folders = _builder_folders(search_dirs)
    module = _import_from(module_name, folders)
    if not callable(getattr(module, function, None)):
        where = getattr(module, "__file__", None)
        fix = f"has no function {function!r}; define def {function}(params, spec) in it"
        raise BuilderError(
            f"module {module_name} ({where or '?'}) {fix}",
            short=f"module {module_name} ({shown_path(where) if where else '?'}) {fix}",
        )
    return getattr(module, function)


class BuilderError(ValueError):
    """A builder that cannot be imported: ``str()`` names its folders in full; ``short``, the
    same sentence with the paths as :func:`shown_path` shows them, is what a space file's
    message uses (its file, line and key come first, and the whole stays under 300 characters).
    """

    def __init__(self, message: str, *, short: str | None = None) -> None:
        super().__init__(message)
        self.short = short or message


def shown_path(path: str | Path) -> str:
    """``path`` as a message shows it: ``the current folder``, relative to the current folder
    when under it (``spaces/my_models.py``), under ``~`` when in the home folder, else absolute.

    Example:
        >>> shown_path(Path.cwd() / "spaces")
        'spaces'
    """
    import os

    absolute = Path(path).resolve()
    here = Path.cwd().resolve()
    if absolute == here:
        return "the current folder"
    if absolute.is_relative_to(here):
        return os.path.relpath(absolute, here)
    home = Path.home().resolve()
    if absolute.is_relative_to(home) and home != Path(absolute.anchor):
        return str(Path("~", absolute.relative_to(home)))
    return str(absolute)


_IMPORT_LOCK = threading.RLock()  # sys.path is process-wide: one temporary change at a time


def _builder_folders(search_dirs: Iterable[str | Path]) -> list[str]:
    """The current folder, then ``search_dirs``, as absolute paths without repeats."""
    folders: list[str] = []
    for folder in (Path.cwd(), *search_dirs):
        resolved = str(Path(folder).resolve())
        if resolved not in folders:
            folders.append(resolved)
    return folders


def _import_from(module_name: str, folders: list[str]) -> ModuleType:
    """Import ``module_name`` with ``folders`` at the front of ``sys.path`` for the import only."""
    top = module_name.split(".")[0]
    with _IMPORT_LOCK:
        saved = list(sys.path)
        sys.path[:0] = folders
        importlib.invalidate_caches()  # a module written a moment ago is seen
        try:
            return importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name not in (top, module_name):
                raise ValueError(
                    f"importing {module_name} failed: {error}; install the module it needs"
                ) from None
            fix = f"or on the import path; put {top}.py in one of those folders"
            raise BuilderError(
                f"cannot find module {module_name} in {', '.join(folders)} {fix}",
                short=f"cannot find module {module_name} in "
                f"{', '.join(shown_path(f) for f in folders)} {fix}",
            ) from None
        except Exception as error:  # the user's module itself is broken
            raise ValueError(
                f"importing {module_name} failed with {type(error).__name__}: {error}"
            ) from None
        finally:
            sys.path[:] = saved


def build_model(params: dict[str, Any], spec: InputSpec, augment: dict[str, Any] | None = None):
    """A classifier for ``spec`` from the sampled ``model`` params.

    Args:
        params: the sampled ``model:`` section, e.g. ``{"architecture": {"name": "cnn",
            "blocks": 2, ...}, "dropout": 0.1, "initializer": "he_normal", ...}``.
        spec: the input shape, number of classes and normalization statistics.
        augment: the sampled ``data.augment``; image augmentations that are Keras layers go in
            front of the model (active in training only).
    """
    import keras

    arch = params.get("architecture", "mlp")
    arch = dict(arch) if isinstance(arch, dict) else {"name": arch}
    if arch["name"] == "custom":
        options = {k: v for k, v in arch.items() if k not in ("name", "builder")}
        return import_builder(arch["builder"])(options, spec)
    techniques = Techniques(**{k: v for k, v in params.items() if k != "architecture"})
    if spec.text is not None:  # padding, out of vocabulary, then the vocabulary
        techniques.tokens = max(1, len(spec.text["tokens"])) + 2

    from automl.modalities import module

    # the modality's input layers, with its preprocessing inside the model (normalization,
    # lookups, in-model augmentation): an exported model takes raw inputs
    inputs, raw, x = module(spec.modality).model_inputs(spec, augment)
    if arch["name"] == "transfer":
        from automl.models.transfer import build_features

        x = techniques.drop(build_features(arch, raw, x, spec.shape[-1]))
    else:
        from automl.registry import FAMILIES

        x = FAMILIES.create(arch["name"], arch, techniques, x)
    # float32 outputs, so mixed precision never makes the softmax overflow
    if spec.num_classes:
        outputs = keras.layers.Dense(
            spec.num_classes,
            activation="softmax",
            dtype="float32",
            kernel_initializer=techniques.kernel_initializer(),
            name="predictions",
        )(x)
    else:  # regression: predict the standardized target, then undo the standardization
        x = keras.layers.Dense(
            1, dtype="float32", kernel_initializer=techniques.kernel_initializer()
        )(x)
        name = "log_predictions" if spec.target_log else "predictions"
        outputs = keras.layers.Rescaling(
            spec.target_std, offset=spec.target_mean, dtype="float32", name=name
        )(x)
        if spec.target_log:  # back from log(1 + y) to y's units
            from automl.models.layers import Expm1

            outputs = Expm1(dtype="float32", name="predictions")(outputs)
    with warnings.catch_warnings():
        # a table's inputs are keyed by the user's column names, their layers named for Keras
        # (automl.modalities.table.layer_names): Keras warns about the difference, which is meant
        warnings.filterwarnings("ignore", message="When providing `inputs` as a dict")
        return keras.Model(inputs, outputs, name=f"automl_{arch['name']}")

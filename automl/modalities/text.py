"""Texts: one string per example (a folder of ``.txt`` files per class, a table's one text
column, a list of strings from Python).

Tokenization lives inside the model: its first layer is a ``keras.layers.TextVectorization``
whose vocabulary was counted on the training split only (:func:`vocabulary`), so an exported
model takes raw strings and a word seen only in validation is out of vocabulary. What the
tokenizer does is searched under ``data.text`` (:data:`automl.domains.TEXT_ARGS`: vocabulary
size, sequence length, n-grams, word or character level). The vocabulary is counted once per
(training split, split mode, n-grams), in frequency order, and a smaller vocabulary is its
head, so trials that differ in vocabulary size share one count.

In the pipeline: ``token_dropout`` (each word of a training text dropped with this
probability). The families that take texts (``bow``, ``cnn``, ``rnn``, ``transformer``) get
the token ids; :meth:`automl.models.builder.Techniques.embed` turns them into vectors.

Example:
    >>> vocabulary(np.array(["a good film", "a bad film"], object), "word", 1)[:3]
    ('a', 'film', 'bad')
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np

from automl.modalities.spaces import adam_training, log_range

NAME = "text"
# the baselines automl.baselines fits beside every search, by task: TF-IDF features of words
# and word pairs, then a linear model (what a data scientist fits first on texts)
BASELINES = {
    "classification": ("majority class", "tf-idf logistic regression"),
    "regression": ("mean", "tf-idf ridge regression"),
}
STANDARDIZE = "lower_and_strip_punctuation"
DEFAULT_VOCABULARY = 20_000
MAX_SEQUENCE = 512  # the default sequence length is the 90th percentile of lengths, up to this
_VOCABULARIES: dict[tuple[str, str, int], tuple[str, ...]] = {}  # (digest, split, ngrams) ->


def takes_shape(shape: tuple[int, ...]) -> bool:
    return False  # strings are told by their type, not their shape


def takes(x: Any) -> bool:
    """A 1-D array (or list) of strings."""
    if isinstance(x, dict):
        return False
    array = np.asarray(x, dtype=object) if isinstance(x, list) else x
    if getattr(array, "ndim", 0) != 1 or getattr(array, "dtype", None) is None:
        return False
    if array.dtype.kind == "U":
        return True
    return array.dtype.kind == "O" and all(isinstance(v, str) for v in array[:100])


def as_texts(values: Any) -> np.ndarray:
    """Strings as an object array, an empty or missing text as ``""``."""
    return np.array(
        ["" if v is None or (isinstance(v, float) and v != v) else str(v) for v in values],
        dtype=object,
    )


def augment_ops(
    augment: dict[str, Any], data_std: float, numeric_std: dict[str, float] | None = None
) -> list[Callable]:
    """Batch -> batch ops for texts: ``token_dropout`` drops each word with its probability."""
    import tensorflow as tf

    rate = float(augment.get("token_dropout", 0.0))
    if not rate:
        return []

    def drop_words(x):
        words = tf.strings.split(x)
        keep = tf.random.uniform(tf.shape(words.flat_values)) >= rate
        kept = tf.ragged.boolean_mask(words, words.with_flat_values(keep))
        return tf.strings.reduce_join(kept, axis=-1, separator=" ")

    return [drop_words]


# ---- the tokenizer ----------------------------------------------------------------------------


def settings(text: dict[str, Any] | None) -> dict[str, Any]:
    """The sampled ``data.text`` with its defaults (``sequence_length`` unset, 0 here: the
    90th percentile of the training texts' lengths)."""
    text = dict(text or {})
    return {
        "vocabulary": int(text.get("vocabulary", DEFAULT_VOCABULARY)),
        "sequence_length": int(text.get("sequence_length", 0)),
        "ngrams": int(text.get("ngrams", 1)),
        "split": str(text.get("split", "word")),
    }


def vocabulary(texts: np.ndarray, split: str, ngrams: int) -> tuple[str, ...]:
    """Every token of the training ``texts``, most frequent first (counted by Keras'
    ``TextVectorization.adapt``, so exactly as the model tokenizes), cached by the texts'
    digest: trials with other vocabulary sizes take its head."""
    digest = hashlib.sha256("\x00".join(map(str, texts)).encode("utf-8", "replace")).hexdigest()
    key = (digest, split, ngrams)
    if key not in _VOCABULARIES:
        import keras

        layer = keras.layers.TextVectorization(
            standardize=STANDARDIZE,
            split="character" if split == "character" else "whitespace",
            ngrams=ngrams if ngrams > 1 else None,
            output_mode="int",
        )
        layer.adapt(np.asarray(texts, dtype=object).astype(str), batch_size=1024)
        _VOCABULARIES[key] = tuple(str(t) for t in layer.get_vocabulary()[2:])  # without "", UNK
    return _VOCABULARIES[key]


def sequence_length(texts: np.ndarray, split: str) -> int:
    """The 90th percentile of the training texts' lengths in tokens (at least 8, at most
    :data:`MAX_SEQUENCE`): longer texts are cut there, shorter ones padded."""
    if split == "character":
        lengths = [len(str(t)) for t in texts]
    else:
        lengths = [len(str(t).split()) for t in texts]
    return int(min(MAX_SEQUENCE, max(8, np.percentile(lengths, 90) if lengths else 8)))


def text_spec(texts: np.ndarray, text: dict[str, Any] | None) -> dict[str, Any]:
    """What :func:`model_inputs` needs of the training texts for the sampled ``data.text``:
    the vocabulary (cut to its size), the sequence length, the split mode and n-grams."""
    s = settings(text)
    words = vocabulary(texts, s["split"], s["ngrams"])[: max(1, s["vocabulary"] - 2)]
    length = s["sequence_length"] or sequence_length(texts, s["split"])
    return {**s, "tokens": tuple(words), "sequence_length": length}


def vectorizer(text: dict[str, Any], name: str = "tokenize") -> Any:
    """The model's first layer: raw strings -> token ids (0 padding, 1 out of vocabulary)."""
    import keras

    return keras.layers.TextVectorization(
        standardize=STANDARDIZE,
        split="character" if text["split"] == "character" else "whitespace",
        ngrams=text["ngrams"] if text["ngrams"] > 1 else None,
        output_mode="int",
        output_sequence_length=text["sequence_length"],
        vocabulary=list(text["tokens"]) or ["[empty]"],
        name=name,
    )


def tokenizers(model: Any) -> list[Any]:
    """The model's ``TextVectorization`` layers, nested models (an ensemble's members) too."""
    import keras

    found, stack = [], [model]
    while stack:
        layer = stack.pop(0)
        if isinstance(layer, keras.layers.TextVectorization):
            found.append(layer)
        stack.extend(getattr(layer, "layers", []))
    return found


def tokenizer_facts(model: Any) -> dict[str, int]:
    """What a trial's tokenizer holds, for its MLflow run and the report: ``vocabulary_size``
    (tokens, with padding and out-of-vocabulary) and ``sequence_length``; with several text
    inputs, each under its layer's name (``vocabulary_size.review``)."""
    layers = tokenizers(model)
    facts = {}
    for layer in layers:
        suffix = "" if len(layers) == 1 else f".{layer.name}"
        facts[f"vocabulary_size{suffix}"] = int(layer.vocabulary_size())
        facts[f"sequence_length{suffix}"] = int(layer.get_config()["output_sequence_length"] or 0)
    return facts


def vocabularies(model: Any) -> dict[str, list[str]]:
    """Each tokenizer's vocabulary by file name (``vocabulary.txt``; ``vocabulary-<layer>.txt``
    with several), token id ``i`` on line ``i`` (0 padding, 1 out of vocabulary), for the
    winner's MLflow run and its export."""
    layers = tokenizers(model)
    named: dict[str, list[str]] = {}
    for layer in layers:
        name = "vocabulary.txt" if len(layers) == 1 else f"vocabulary-{layer.name}.txt"
        named[name] = [str(token) for token in layer.get_vocabulary()]
    return named


def vocabulary_text(tokens: list[str]) -> str:
    """One token a line; the padding token (empty) is written as ``[PAD]``."""
    return "\n".join(token if token else "[PAD]" for token in tokens) + "\n"


def model_inputs(spec: Any, augment: dict[str, Any] | None) -> tuple[Any, Any, Any]:
    """One string input (named after the text's column, where it came from a table), then the
    tokenizer; returns (inputs, None, the token ids)."""
    import keras

    inputs = keras.Input(shape=(), dtype="string", name=spec.text.get("column") or "text")
    return inputs, None, vectorizer(spec.text)(inputs)


# ---- the default space (a zero-config search, automl init) -------------------------------------


def default_space(facts: Any) -> dict[str, Any]:
    """The space a zero-config search of texts searches, scaled to their number.

    Bag-of-words (multi-hot words and word pairs into an MLP: fast, and strong on short texts),
    a 1-D CNN over embeddings, a bidirectional GRU and a small transformer encoder; the
    vocabulary size and word pairs searched; token dropout. Two configurations first: a
    bag-of-words MLP (a complete trial in seconds), then a CNN over embeddings.
    """
    rows = facts.rows
    batch = [32, 64] if rows <= 20_000 else [64, 128]
    epochs, patience = (30, 5) if rows <= 20_000 else (12, 3)
    families = {
        "bow": {
            "mode": {"choice": ["multi_hot", "count"]},
            "layers": {"int": [1, 2]},
            "units": {"int": [64, 512], "log": True},
        },
        "cnn": {
            "embedding_dim": {"choice": [32, 64, 128]},
            "blocks": {"int": [1, 2]},
            "filters": {"int": [32, 128], "log": True},
            "kernel_size": {"choice": [3, 5]},
            "pooling": "max",
            "head": "gap",
        },
        "rnn": {
            "embedding_dim": {"choice": [32, 64]},
            "cell": {"choice": ["gru", "lstm"]},
            "units": {"int": [16, 64], "log": True},
            "bidirectional": True,
            "layers": 1,
        },
        "transformer": {
            "embedding_dim": {"choice": [32, 64]},
            "heads": {"choice": [2, 4]},
            "ff_units": {"choice": [64, 128]},
            "blocks": {"int": [1, 2]},
        },
    }
    space = {
        "data": {
            "text": {
                "vocabulary": {"choice": [5_000, 20_000]},
                "ngrams": {"choice": [1, 2]},
            },
            "augment": {"token_dropout": {"float": [0.0, 0.2]}},
        },
        "model": {
            "architecture": {"choice": families},
            "dropout": {"float": [0.0, 0.5]},
            "l2": log_range(1.0e-7, 1.0e-4),
        },
        "training": adam_training(batch, epochs, patience),
    }
    fast = {
        "model.architecture": "bow",
        "model.architecture.bow.mode": "multi_hot",
        "model.architecture.bow.layers": 1,
        "model.architecture.bow.units": 128,
        "model.dropout": 0.3,
        "model.l2": 1.0e-6,
        "data.text.vocabulary": 20_000,
        "data.text.ngrams": 2,
        "data.augment.token_dropout": 0.0,
        "training.optimizer.adam.learning_rate": 3.0e-3,
        "training.schedule": "constant",
        "training.batch_size": batch[0],
    }
    cnn = {
        **{k: v for k, v in fast.items() if not k.startswith("model.architecture.bow")},
        "model.architecture": "cnn",
        "model.architecture.cnn.embedding_dim": 64,
        "model.architecture.cnn.blocks": 1,
        "model.architecture.cnn.filters": 64,
        "model.architecture.cnn.kernel_size": 5,
        "data.text.ngrams": 1,
        "training.optimizer.adam.learning_rate": 1.0e-3,
    }
    return {**space, "enqueue": [fast, cnn]}


# ---- new examples to predict ---------------------------------------------------------------


def read_folder(model: Any, folder: Any) -> tuple[list[str], np.ndarray]:
    """``automl predict MODEL folder/``: every ``.txt`` file under ``folder`` (sub-folders
    too), as (their paths in it, their texts), UTF-8 or decoded with replacement."""
    from pathlib import Path

    folder = Path(folder)
    files = sorted(
        p
        for p in folder.rglob("*.txt")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    texts = [p.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff") for p in files]
    return [str(p.relative_to(folder)) for p in files], np.array(texts, dtype=object)

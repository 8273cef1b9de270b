"""Transfer learning: a pretrained base (a Keras Applications network, a ``.keras`` file, or the
winner of an earlier automl study) under a new head, its top layers fine-tuned.

``unfreeze: N`` makes the base's top N layers trainable for the second half of training, at the
learning rate times ``fine_tune_lr_factor`` (the usual Keras recipe: train the head first, then
fine-tune gently). Batch-norm layers of the base stay frozen.

Nothing downloads: ImageNet weights load only from the Keras cache (``~/.keras/models``);
otherwise the error says which file to put there, or to use ``weights: none``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from automl.defaults import DEFAULT_RUN_DIR
from automl.errors import NetworkRequired

TRANSFER_PARAMS = {
    "base",
    "weights",
    "unfreeze",
    "fine_tune_lr_factor",
    "input_size",
    "features_layer",
}
MIN_APPLICATION_SIZE = 32


def unfreeze_top(model, count: int) -> int:
    """Make the top ``count`` layers with weights of the model's base trainable; batch-norm
    layers are not counted and stay frozen. Returns how many were unfrozen; recompile after."""
    base = model.get_layer("base")
    layers = [
        layer
        for layer in base.layers
        if layer.weights and type(layer).__name__ != "BatchNormalization"
    ]
    chosen = layers[-count:] if count > 0 else []
    for layer in chosen:
        layer.trainable = True
    return len(chosen)


def resolve_base_path(base: str, run_dir: str | Path = DEFAULT_RUN_DIR) -> Path | None:
    """``study:NAME`` -> that study's winner; a path ending in .keras -> itself; else None
    (a Keras Applications name)."""
    if base.startswith("study:"):
        return Path(run_dir) / base.removeprefix("study:") / "winner.keras"
    if base.endswith(".keras"):
        return Path(base)
    return None


@contextlib.contextmanager
def no_downloads() -> Iterator[None]:
    """Let Keras read its file cache, but turn any download it would start into a clear error.

    Keras Applications fetch weights through ``keras.src.utils.file_utils.get_file``; we wrap that
    one function for the duration of building a base (there is no public switch for it).
    """
    from keras.src.utils import file_utils

    original = file_utils.get_file

    def cached_only(
        fname=None,
        origin=None,
        *args: Any,
        cache_subdir: str = "datasets",
        cache_dir: str | None = None,
        **kwargs: Any,
    ):
        from keras.src.backend import config

        home = os.path.expanduser(cache_dir or config.keras_home())
        path = Path(home) / cache_subdir / (fname or os.path.basename(origin or ""))
        if not path.exists():
            raise NetworkRequired(
                f"the pretrained weights {path.name} are not in the Keras cache ({path}) and "
                f"automl never downloads at run time; copy that file there from a machine with "
                f"internet, or set weights: none in the transfer architecture"
            )
        return original(
            fname, origin, *args, cache_subdir=cache_subdir, cache_dir=cache_dir, **kwargs
        )

    file_utils.get_file = cached_only
    try:
        yield
    finally:
        file_utils.get_file = original


def build_features(arch: dict[str, Any], raw, normalized, channels: int):
    """The features of a frozen base (a sub-model named "base") for the model's inputs.

    ``raw`` are the inputs as given (after any augmentation layers), ``normalized`` the same
    standardized; a base of our own takes raw inputs, an Applications network normalized ones.
    """
    import keras

    base_name = str(arch["base"])
    path = resolve_base_path(base_name)
    if path is not None:  # a model of our own: it takes raw inputs, normalization included
        from automl.models.layers import CUSTOM_OBJECTS

        base_model = keras.saving.load_model(path, custom_objects=CUSTOM_OBJECTS)
        layer = arch.get("features_layer")
        features_out = base_model.get_layer(layer).output if layer else base_model.layers[-1].input
        base = keras.Model(base_model.input, features_out, name="base")
        x = raw
    else:  # a Keras Applications network: 3 channels, at least 32x32
        size = int(arch.get("input_size", MIN_APPLICATION_SIZE))
        weights = arch.get("weights", "imagenet")
        weights = None if weights in (None, "none") else weights
        with no_downloads():
            network = getattr(keras.applications, base_name)(
                include_top=False, weights=weights, input_shape=(size, size, 3), pooling="avg"
            )
        base = keras.Model(network.input, network.output, name="base")
        x = keras.layers.Resizing(size, size)(normalized)
        if channels == 1:
            x = keras.layers.Concatenate()([x, x, x])
    for layer in base.layers:  # frozen until the fine-tuning phase (see unfreeze_top)
        layer.trainable = False
    features = base(x, training=False)  # batch-norm statistics of the base stay as they are
    if len(features.shape) > 2:
        features = keras.layers.Flatten()(features)
    return features


def resolve_study_bases(cfg, run_dir: Path):
    """A config whose transfer bases named ``study:NAME`` point at that study's winner file."""
    import copy

    from automl.space import Branch, Fixed

    arch = cfg.space.children["model"].get("architecture")
    if not isinstance(arch, Branch) or "transfer" not in arch.options:
        return cfg
    base = arch.options["transfer"].get("base")
    if not (isinstance(base, Fixed) and str(base.value).startswith("study:")):
        return cfg
    path = resolve_base_path(str(base.value), run_dir)
    assert path is not None  # a study:NAME base always resolves to that study's winner file
    if not path.is_file():
        from automl.errors import did_you_mean

        name = str(base.value).removeprefix("study:")
        held = studies_with_winner(run_dir)
        holds = f"it holds {', '.join(held)}" if held else "it holds no study with a winner"
        raise cfg.error(
            base.path,
            f"the study {name!r} has no winner in {run_dir}"
            f"{did_you_mean(name, held)} ({holds}); run its "
            f"search first, or give the --run-dir it used",
        )
    cfg = copy.deepcopy(cfg)
    cfg.space.children["model"].children["architecture"].options["transfer"].get(
        "base"
    ).value = str(path.resolve())
    return cfg


def studies_with_winner(run_dir: Path) -> list[str]:
    """The studies in a run folder that have chosen a winner (a base ``study:NAME`` can name)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    return sorted(p.name for p in run_dir.iterdir() if (p / "winner.keras").is_file())


def check_pretrained_weights(cfg) -> None:
    """ImageNet weights must already be in the Keras cache: find out now, not in every trial."""
    from automl.space import Branch

    arch = cfg.space.children["model"].get("architecture")
    if not isinstance(arch, Branch) or "transfer" not in arch.options:
        return
    option = arch.options["transfer"]
    base, weights = option.get("base"), option.get("weights")
    # base and weights are fixed or chosen (config checks it), so they list their values
    names = [str(v) for v in base.possible_values() or []] if base is not None else []
    wanted = (weights.possible_values() or []) if weights is not None else ["imagenet"]
    if "imagenet" not in wanted:
        return
    for name in names:
        if resolve_base_path(name) is None:  # a Keras Applications network
            import keras

            with no_downloads():  # raises NetworkRequired, saying which file is missing
                getattr(keras.applications, name)(
                    include_top=False,
                    weights="imagenet",
                    input_shape=(MIN_APPLICATION_SIZE, MIN_APPLICATION_SIZE, 3),
                )
            keras.backend.clear_session()

"""Train one trial: build the model from sampled params, compile, fit on tf.data, return the outcome."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from automl.data.pipeline import eval_dataset, train_dataset
from automl.data.splits import Splits
from automl.errors import TrialFailed, UnhealthyTraining
from automl.models.builder import InputSpec, build_model
from automl.ranking import rank_key
from automl.training.optimizers import as_named, build_optimizer

if TYPE_CHECKING:
    import numpy as np

DEFAULT_EPOCHS = 20
DEFAULT_BATCH_SIZE = 64


@dataclass
class FitOutcome:
    model: Any
    history: dict[str, list[float]]
    best_value: float  # the objective at the best epoch (whose weights the model holds)
    best_epoch: int  # 0-based
    epochs_run: int
    params_count: int

    def best_of(self, metric: str, direction: str) -> float:
        """The best value of a logged metric over the epochs (for a secondary objective)."""
        values = self.history.get(metric) or [float("nan")]
        return float(max(values) if direction == "maximize" else min(values))


class _TargetStats(TypedDict, total=False):
    """A regression target's statistics, as :class:`InputSpec` takes them."""

    target_mean: float
    target_std: float
    target_log: bool


def input_spec(splits: Splits, text: dict[str, Any] | None = None) -> InputSpec:
    """Shapes and normalization statistics, from the training split only; for texts (and a
    table's text columns), the tokenizer of the sampled ``data.text`` (``text``), its
    vocabulary counted on the training split."""
    target: _TargetStats = {}
    if splits.task == "regression":
        y = modelled_target(splits)
        target = {
            "target_mean": float(y.mean()),
            "target_std": float(y.std()) or 1.0,
            "target_log": splits.target_transform == "log",
        }
    if isinstance(splits.x_train, dict):
        columns = []
        for name, kind in splits.columns:
            values = splits.x_train[name]
            stats: Any
            if kind == "numeric":
                stats = numeric_stats(values)
            elif kind == "datetime":
                from automl.modalities.table import date_stats

                stats = date_stats(values)
            elif kind == "text":
                from automl.modalities.text import text_spec

                stats = text_spec(values, text)
            else:
                stats = tuple(sorted(set(values.tolist())))
            columns.append((name, kind, stats))
        return InputSpec(
            shape=(len(columns),), num_classes=splits.num_classes, columns=tuple(columns), **target
        )
    if splits.modality == "text":
        from automl.modalities.text import text_spec

        column = splits.columns[0][0] if splits.columns else None
        return InputSpec(
            shape=(),
            num_classes=splits.num_classes,
            text={**text_spec(splits.x_train, text), "column": column},
            **target,
        )
    # streamed images: counted as they were decoded (automl.data.streamed); else here
    stats = splits.streamed.train_stats if splits.streamed is not None else ()
    mean, variance, low, high = stats or value_stats(splits.x_train)
    return InputSpec(
        shape=tuple(int(s) for s in splits.x_train.shape[1:]),
        num_classes=splits.num_classes,
        mean=mean,
        variance=variance or 1.0,
        value_range=(low, high),
        **target,
    )


def value_stats(x: np.ndarray, rows: int = 1024) -> tuple[float, float, float, float]:
    """(mean, variance, min, max) of every value of ``x``, a chunk of rows at a time (no float
    copy of the whole array)."""
    import numpy as np

    count, total, squares = 0, 0.0, 0.0
    low, high = np.inf, -np.inf
    for start in range(0, len(x), rows):
        chunk = np.asarray(x[start : start + rows], dtype="float64")
        count += chunk.size
        total += float(chunk.sum())
        squares += float(np.square(chunk).sum())
        low, high = min(low, float(chunk.min())), max(high, float(chunk.max()))
    mean = total / count
    return mean, max(squares / count - mean * mean, 0.0), low, high


def class_weights(splits: Splits, setting: str) -> dict[int, float] | None:
    """``training.class_weight: balanced``: each class weighted by the inverse of its share of
    the training split (sklearn's ``balanced``: n / (classes * count)); None otherwise."""
    import numpy as np

    if setting != "balanced" or splits.task != "classification":
        return None
    counts = np.bincount(splits.y_train, minlength=splits.num_classes)
    total, k = float(counts.sum()), len(counts)
    return {i: total / (k * c) if c else 1.0 for i, c in enumerate(counts.tolist())}


def numeric_stats(values) -> tuple[float, ...]:
    """A numeric column's (mean, variance) over its filled cells, and the share of empty ones
    where it has any (data.missing: impute): the model fills and flags them."""
    import numpy as np

    empty = float(np.isnan(values).mean()) if len(values) else 0.0
    filled = values[~np.isnan(values)]
    mean = float(filled.mean()) if len(filled) else 0.0
    variance = float(filled.var()) if len(filled) else 1.0
    return (mean, variance or 1.0, empty) if empty else (mean, variance or 1.0)


def data_scale(splits: Splits, spec: InputSpec) -> tuple[float, dict[str, float]]:
    """The standard deviation of the inputs (and of each numeric column), for noise augmentation."""
    numeric = {name: math.sqrt(stats[1]) for name, kind, stats in spec.columns if kind == "numeric"}
    return math.sqrt(spec.variance), numeric


def portable_copy(model, splits: Splits):
    """The same network and weights, compiled with a plain optimizer: the copy we save.

    A trained model's optimizer may hold a custom schedule (warmup); saving without it keeps the
    ``.keras`` file loadable by plain ``keras.saving.load_model`` anywhere, and smaller. Its loss
    is the one the trial was scored with, so a test loss compares with the validation loss.
    """
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    compile_model(copy, "adam", splits.task, loss=loss_of(splits), target_std=target_scale(splits))
    return copy


def save_loadable(model, path) -> None:
    """Save ``model`` (``.keras``) so that ``keras.saving.load_model`` loads it without a warning.

    A compiled model whose optimizer never took a step saves the optimizer empty; on loading,
    Keras builds it and warns that it skips "variables" it cannot match. Building the optimizer
    first (fresh moments, as a new one would start) keeps loading silent.
    """
    if getattr(model, "optimizer", None) is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.save(path)


def modelled_target(splits: Splits):
    """The training targets on the scale the model learns them: ``log(1 + y)`` under
    ``data.target_transform: log``, else as they are."""
    import numpy as np

    y = np.asarray(splits.y_train, dtype="float64")
    return np.log1p(y) if splits.target_transform == "log" else y


def target_scale(splits: Splits) -> float:
    """The training targets' standard deviation (regression, on the modelled scale), 1.0
    otherwise."""
    if splits.task != "regression":
        return 1.0
    return float(modelled_target(splits).std()) or 1.0


def loss_of(splits: Splits, loss: str | None = None) -> str | None:
    """The loss to compile with: under ``data.target_transform: log`` the squared error of
    ``log(1 + y)`` (Keras' mean squared logarithmic error, on predictions in y's units)."""
    if splits.task == "regression" and splits.target_transform == "log":
        return "mean_squared_logarithmic_error"
    return loss


def compile_model(
    model,
    optimizer,
    task: str,
    label_smoothing: float = 0.0,
    loss: str | None = None,
    jit_compile: bool | str = "auto",
    target_std: float = 1.0,
) -> None:
    """Loss and metrics by task: cross-entropy and accuracy, or mean squared error and MAE
    (``loss`` picks another of ``config.LOSSES``; ``jit_compile``: XLA, as Keras takes it).

    Regression losses are measured on standardized targets (``target_std`` from the training
    split): the same loss, weighted by 1/std² (1/std for the absolute ones), with Huber's delta
    at one std. Predictions and the MAE metric stay in the user's units; the gradients no
    longer grow with the targets' scale (diabetes' std of 77 made them explode).
    """
    import keras

    if task == "regression":
        loss = loss or "mse"
        squared = loss in ("mse", "huber", "mean_squared_logarithmic_error")
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.Huber(delta=target_std) if loss == "huber" else loss,
            loss_weights=1.0 / (target_std**2 if squared else target_std),
            metrics=["mae"],
            jit_compile=jit_compile,
        )
        return
    classes = {
        "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
        "categorical_focal_crossentropy": keras.losses.CategoricalFocalCrossentropy,
    }
    model.compile(
        optimizer=optimizer,
        loss=classes[loss or "categorical_crossentropy"](label_smoothing=label_smoothing),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )


def set_precision(training: dict[str, Any]) -> str:
    """Apply ``training.mixed_precision`` and ``training.deterministic`` for the next model.

    Mixed precision (float16 compute, float32 weights and outputs) pays off on GPUs only; on a
    CPU it is left off. Deterministic ops make a CPU run repeat its metrics exactly, at a cost
    (measured in ``docs/reproducibility.md``).
    """
    import keras
    import tensorflow as tf

    if training.get("deterministic"):
        tf.config.experimental.enable_op_determinism()
    else:  # a process that trained a deterministic trial before (a worker, workers: 0)
        from tensorflow.python.framework import config as tf_config  # no public "off" in TF 2.21

        if tf_config.is_op_determinism_enabled():
            tf_config.disable_op_determinism()
    wanted = bool(training.get("mixed_precision")) and bool(tf.config.list_physical_devices("GPU"))
    policy = "mixed_float16" if wanted else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


@contextlib.contextmanager
def process_settings_kept() -> Iterator[None]:
    """Leave this process's TensorFlow as it was found: :func:`set_precision` sets the precision
    policy and op determinism for the whole process, which the caller of a search run in its own
    process (``workers: 0``, the dry build) may not expect to change under it."""
    import keras
    from tensorflow.python.framework import config as tf_config

    policy = keras.mixed_precision.global_policy().name
    deterministic = tf_config.is_op_determinism_enabled()
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(policy)
        if deterministic:
            tf_config.enable_op_determinism()
        else:
            tf_config.disable_op_determinism()


def compiled_model(params: dict[str, Any], splits: Splits, steps_per_epoch: int):
    """The model of sampled ``params``, compiled with its optimizer, loss and metrics.

    Returns:
        ``(model, optimizer)``.
    """
    training = params.get("training", {})
    set_precision(training)
    epochs = int(training.get("epochs", DEFAULT_EPOCHS))
    spec = input_spec(splits, params.get("data", {}).get("text"))
    model = build_model(params.get("model", {}), spec, params.get("data", {}).get("augment"))
    optimizer = build_optimizer(
        training.get("optimizer", "adam"),
        training.get("schedule"),
        learning_rate=training.get("learning_rate"),
        total_steps=epochs * steps_per_epoch,
        steps_per_epoch=steps_per_epoch,
    )
    compile_model(
        model,
        optimizer,
        splits.task,
        float(training.get("label_smoothing", 0.0)),
        loss_of(splits, training.get("loss")),
        training.get("jit_compile", "auto"),
        target_scale(splits),
    )
    return model, optimizer


def training_batches(params: dict[str, Any], splits: Splits, seed: int):
    """The shuffled, augmented ``tf.data`` batches of the training split for ``params``."""
    training = params.get("training", {})
    spec = input_spec(splits, params.get("data", {}).get("text"))  # the trial's cached vocabulary
    data_std, numeric_std = data_scale(splits, spec)
    return train_dataset(
        splits.x_train,
        splits.y_train,
        int(training.get("batch_size", DEFAULT_BATCH_SIZE)),
        params.get("data", {}).get("augment"),
        seed,
        num_classes=splits.num_classes,
        modality=splits.modality,
        data_std=data_std,
        numeric_std=numeric_std,
    )


def fit_trial(
    params: dict[str, Any],
    splits: Splits,
    *,
    objective: str,
    direction: str,
    seed: int,
    callbacks: list | None = None,
) -> FitOutcome:
    """Train one model with the sampled ``params`` (the whole tree: data, model, training).

    Validation drives early stopping (best weights restored) and the returned objective value;
    the test split is not touched here.

    Raises:
        TrialFailed: the loss diverged (NaN or inf).
    """
    import keras

    from automl.training.callbacks import DivergenceGuard, GradientHealth, TieBreakingEarlyStopping

    keras.utils.set_random_seed(seed)
    training = params.get("training", {})
    jit = training.get("jit_compile", "auto")
    batch_size = int(training.get("batch_size", DEFAULT_BATCH_SIZE))
    epochs = int(training.get("epochs", DEFAULT_EPOCHS))
    steps_per_epoch = max(math.ceil(len(splits.y_train) / batch_size), 1)

    model, optimizer = compiled_model(params, splits, steps_per_epoch)
    train_ds = training_batches(params, splits, seed)
    val = eval_dataset(splits.x_val, splits.y_val, num_classes=splits.num_classes)

    guard = DivergenceGuard()
    health = GradientHealth(next(iter(train_ds)))
    mode = "max" if direction == "maximize" else "min"
    # health first: its gradient metrics reach the reporter in the same epoch's logs
    all_callbacks = [guard, health, *(callbacks or [])]
    schedule = as_named(training.get("schedule") or "constant")
    if schedule["name"] == "reduce_on_plateau":  # lowers the rate when validation stalls
        lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        all_callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=objective,
                mode=mode,
                factor=schedule.get("factor", 0.5),
                patience=schedule.get("patience", 3),
                min_lr=lr * schedule.get("min_factor", 0.001),
            )
        )
    patience = int(training.get("early_stopping", 10))
    stopper = None
    if patience > 0:
        stopper = TieBreakingEarlyStopping(
            monitor=objective, mode=mode, patience=patience, restore_best_weights=True
        )
        all_callbacks.append(stopper)

    weights = class_weights(splits, training.get("class_weight", "none"))

    def train(first_epoch: int, last_epoch: int) -> dict:
        # shuffle=False: the tf.data pipeline shuffles already
        return model.fit(
            train_ds,
            validation_data=val,
            initial_epoch=first_epoch,
            epochs=last_epoch,
            callbacks=all_callbacks,
            shuffle=False,
            verbose=0,
            class_weight=weights,
        ).history

    arch = as_named(params.get("model", {}).get("architecture", "mlp"))
    unfreeze = int(arch.get("unfreeze", 0)) if arch["name"] == "transfer" else 0
    if unfreeze and epochs >= 2:  # transfer: the head first, then fine-tune the base's top
        head_epochs = epochs // 2
        history = train(0, head_epochs)
        if not (guard.reason or health.reason):
            from automl.models.transfer import unfreeze_top

            unfreeze_top(model, unfreeze)
            steps = (epochs - head_epochs) * steps_per_epoch
            compile_model(
                model,
                build_optimizer(
                    training.get("optimizer", "adam"),
                    training.get("schedule"),
                    learning_rate=training.get("learning_rate"),
                    total_steps=steps,
                    steps_per_epoch=steps_per_epoch,
                    lr_scale=float(arch.get("fine_tune_lr_factor", 0.1)),
                ),
                splits.task,
                float(training.get("label_smoothing", 0.0)),
                loss_of(splits, training.get("loss")),
                jit,
                target_scale(splits),
            )
            history = train(head_epochs, epochs)  # the model keeps this phase's best weights
    else:
        history = train(0, epochs)
    if guard.reason:
        raise TrialFailed(guard.reason)
    if health.reason:
        raise UnhealthyTraining(health.reason)

    values = history.get(objective)
    if not values:
        raise TrialFailed(
            f"the objective {objective!r} was not logged; logged metrics: {', '.join(history)}"
        )
    if stopper is None:  # no early stopping: the model holds the last epoch's weights
        best_epoch = len(values) - 1
    else:  # the epoch whose weights the stopper restored: ties go to the lower val_loss
        losses = history.get("val_loss") or [None] * len(values)
        maximize = mode == "max"
        best_epoch = min(
            range(len(values)),
            key=lambda i: (
                not math.isfinite(values[i]),
                rank_key(values[i], losses[i], i, maximize=maximize),
            ),
        )
    best_value = values[best_epoch]
    return FitOutcome(
        model=model,
        history=history,
        best_value=float(best_value),
        best_epoch=best_epoch,
        epochs_run=len(values),
        params_count=int(model.count_params()),
    )

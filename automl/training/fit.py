"""Train one trial: build the model from sampled params, compile, fit on tf.data, return the outcome."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from automl.data.pipeline import eval_dataset, train_dataset
from automl.data.splits import Splits
from automl.errors import TrialFailed
from automl.models.builder import InputSpec, build_model
from automl.training.optimizers import build_optimizer

DEFAULT_EPOCHS = 20
DEFAULT_BATCH_SIZE = 64


@dataclass
class FitOutcome:
    model: Any
    history: dict[str, list[float]]
    best_value: float          # the objective at the best epoch (whose weights the model holds)
    best_epoch: int            # 0-based
    epochs_run: int
    params_count: int
    extra: dict[str, float] = field(default_factory=dict)


def input_spec(splits: Splits) -> InputSpec:
    return InputSpec(shape=tuple(splits.x_train.shape[1:]), num_classes=splits.num_classes,
                     mean=float(splits.x_train.mean()), variance=float(splits.x_train.var()))


def fit_trial(params: dict[str, Any], splits: Splits, *, objective: str, direction: str,
              seed: int, callbacks: list | None = None) -> FitOutcome:
    """Train one model with the sampled ``params`` (the whole tree: data, model, training).

    Validation drives early stopping (best weights restored) and the returned objective value;
    the test split is not touched here.

    Raises:
        TrialFailed: the loss diverged (NaN or inf).
    """
    import keras

    from automl.training.callbacks import DivergenceGuard

    keras.utils.set_random_seed(seed)
    training = params.get("training", {})
    batch_size = int(training.get("batch_size", DEFAULT_BATCH_SIZE))
    epochs = int(training.get("epochs", DEFAULT_EPOCHS))
    steps_per_epoch = max(math.ceil(len(splits.y_train) / batch_size), 1)

    spec = input_spec(splits)
    model = build_model(params.get("model", {}), spec)
    optimizer = build_optimizer(training.get("optimizer", "adam"), training.get("schedule"),
                                learning_rate=training.get("learning_rate"),
                                total_steps=epochs * steps_per_epoch,
                                steps_per_epoch=steps_per_epoch)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])

    train = train_dataset(splits.x_train, splits.y_train, batch_size,
                          params.get("data", {}).get("augment"), seed,
                          data_std=math.sqrt(spec.variance))
    val = eval_dataset(splits.x_val, splits.y_val)

    guard = DivergenceGuard()
    mode = "max" if direction == "maximize" else "min"
    all_callbacks = [guard, *(callbacks or [])]
    patience = int(training.get("early_stopping", 10))
    stopper = None
    if patience > 0:
        stopper = keras.callbacks.EarlyStopping(monitor=objective, mode=mode, patience=patience,
                                                restore_best_weights=True)
        all_callbacks.append(stopper)
    # shuffle=False: the tf.data pipeline shuffles already
    history = model.fit(train, validation_data=val, epochs=epochs, callbacks=all_callbacks,
                        shuffle=False, verbose=0).history
    if guard.reason:
        raise TrialFailed(guard.reason)

    values = history.get(objective)
    if not values:
        raise TrialFailed(f"the objective {objective!r} was not logged; logged metrics: "
                          f"{', '.join(history)}")
    pick = max if mode == "max" else min
    best_value = pick(values)
    best_epoch = values.index(best_value)
    if stopper is None:  # no early stopping: the model holds the last epoch's weights
        best_value, best_epoch = values[-1], len(values) - 1
    return FitOutcome(model=model, history=history, best_value=float(best_value),
                      best_epoch=best_epoch, epochs_run=len(values),
                      params_count=int(model.count_params()))

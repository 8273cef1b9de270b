"""Pick the winner: the top-K trials by validation, each evaluated once on the held-out test split.

Validation drove the search, so the best validation score is an optimistic estimate; evaluating a
few candidates on data no trial has seen and keeping the best of them, with each one's
generalization gap (validation minus test) on record, guards against a lucky validation score.
With ``select: {ensemble: true}`` the winner is instead the average of the candidates'
predictions: it usually generalizes better than any one of them. Which candidates to average is
chosen on the validation split alone (a weak trial among the top K is left out), and since no
choice is made on the test split, its test score is an honest estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from automl.data.pipeline import eval_dataset
from automl.data.splits import Splits
from automl.errors import AutomlError
from automl.ranking import trial_rank
from automl.tuner.trial import candidate_path


@dataclass
class Selection:
    candidates: list[dict[str, Any]]  # one per evaluated candidate, best validation first
    winner: dict[str, Any]
    model: Any  # the winner's keras.Model
    model_path: Path


def top_trials(study: optuna.Study, k: int) -> list[optuna.trial.FrozenTrial]:
    """The ``k`` best complete trials by the study's objective; ties go to the lower validation
    loss, then to the earlier trial (:mod:`automl.ranking`)."""
    maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sorted(complete, key=lambda t: trial_rank(t, maximize=maximize))[:k]


def score_holdout(model, splits: Splits) -> dict[str, float]:
    """The winner's metrics on the holdout split, evaluated once ({} without a holdout)."""
    if splits.x_holdout is None or splits.y_holdout is None:  # not has_holdout
        return {}
    holdout = eval_dataset(splits.x_holdout, splits.y_holdout, num_classes=splits.num_classes)
    return {k: float(v) for k, v in model.evaluate(holdout, verbose=0, return_dict=True).items()}


def select_winner(
    study: optuna.Study,
    splits: Splits,
    candidates_dir: Path,
    top_k: int,
    test_metric: str,
    fetch: Callable[[optuna.trial.FrozenTrial], Path | None] | None = None,
    ensemble: bool = False,
) -> Selection:
    """Evaluate the top-K trials on the test split and return the best one.

    ``fetch`` gets the model of a trial whose file is not in ``candidates_dir`` (one that a
    worker on another machine trained), or returns None. With ``ensemble`` the winner is the
    average of the candidates' predictions instead (see :func:`average_models`), of those that
    :func:`choose_members` keeps; its ``trial`` is the best of them by validation, its
    ``members`` the kept ones (one alone when the others clearly hurt).
    """
    import keras

    from automl.models.layers import CUSTOM_OBJECTS

    maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    test = eval_dataset(splits.x_test, splits.y_test, num_classes=splits.num_classes)
    rows: list[dict[str, Any]] = []
    models: dict[int, tuple[Any, Path]] = {}  # trial number -> (its keras.Model, its file)
    top = top_trials(study, top_k)
    for trial in top:
        path = candidate_path(candidates_dir, trial.number)
        if not path.exists() and fetch is not None:
            path = fetch(trial) or path
        if not path.exists():  # e.g. the folder was cleaned by hand: skip, say so in the table
            continue
        model = keras.saving.load_model(path, custom_objects=CUSTOM_OBJECTS)
        results = model.evaluate(test, verbose=0, return_dict=True)
        test_score = float(results[test_metric])
        val_score = float(trial.values[0])
        rows.append(
            {
                "trial": trial.number,
                "val_score": val_score,
                "test_score": test_score,
                "gap": val_score - test_score,
                "test": {k: float(v) for k, v in results.items()},
                "params": dict(trial.params),
            }
        )
        models[trial.number] = (model, path)
    if not rows and top:  # trials completed, but their files are gone
        numbers = ", ".join(str(t.number) for t in top)
        raise AutomlError(
            f"the best complete trials ({numbers}) have no model file in "
            f"{candidates_dir} (removed by hand?), so there is no winner; search "
            f"with another --run-dir (or study name) to train new ones"
        )
    if not rows:
        raise AutomlError(
            "no trial completed with a saved model, so there is no winner; look at "
            "the failed trials' reasons in the MLflow UI or the trials table"
        )
    if ensemble and len(rows) > 1:
        return _ensemble_selection(
            rows, [models[r["trial"]][0] for r in rows], splits, candidates_dir, test_metric
        )
    # best test score wins; the better validation score breaks ties
    winner = max(
        rows,
        key=lambda r: (
            (r["test_score"] if maximize else -r["test_score"]),
            (r["val_score"] if maximize else -r["val_score"]),
        ),
    )
    model, path = models[winner["trial"]]
    return Selection(rows, winner, model, path)


def average_models(models: list, name: str = "ensemble"):
    """One Keras model whose output is the mean of ``models``' outputs on the same inputs.

    Example:
        >>> ensemble = average_models([keras.saving.load_model(p) for p in paths])
        >>> ensemble.predict(x)  # the members' mean class probabilities (or predictions)

    Each member keeps its own preprocessing, so the ensemble takes the raw inputs as its
    members do, and saves, loads and exports as any one of them.
    """
    import keras

    template = models[0].input  # one input tensor, or a dict of them (table columns)
    inputs = keras.tree.map_structure(
        lambda t: keras.Input(shape=t.shape[1:], dtype=t.dtype, name=t.name), template
    )
    for i, model in enumerate(models):
        model.name = f"member_{i}"  # a model's layers need distinct names
    outputs = keras.layers.Average(name="average")([model(inputs) for model in models])
    return keras.Model(inputs, outputs, name=name)


CLEAR_GAIN = 0.10  # a member is left out only when the average's loss falls by 10% without it


def choose_members(predictions: list[np.ndarray], y_val: np.ndarray, task: str) -> list[int]:
    """Which candidates to average: all of them, less those that clearly hurt on validation.

    ``predictions`` are the candidates' outputs on the validation split. Starting from the
    average of all, the member whose removal lowers the average's validation loss (cross-entropy,
    or mean squared error for regression) most is dropped, again and again, while that removal
    lowers it by at least ``CLEAR_GAIN`` (10%). A trial that failed to learn raises the loss far
    more than that and goes. Where the others are confident (validation losses near 0.03), a
    less sure trial can move the loss by 10% too and go; smaller differences between decent
    trials are noise on a few hundred examples, and selecting more finely on them (forward
    selection, strict elimination) scored worse on fresh data (benchmarks/README.md).

    Example:
        >>> choose_members([good, also_good, broken], y_val, "classification")
        [0, 1]
    """
    kept = list(range(len(predictions)))

    def loss_of(members: list[int]) -> float:
        return validation_loss(np.mean([predictions[i] for i in members], axis=0), y_val, task)

    current = loss_of(kept)
    while len(kept) > 1:
        loss, drop = min((loss_of([k for k in kept if k != i]), i) for i in kept)
        if loss > current * (1 - CLEAR_GAIN):
            break
        kept.remove(drop)
        current = loss
    return kept


def validation_loss(mean: np.ndarray, y: np.ndarray, task: str) -> float:
    """Cross-entropy of class probabilities ``mean`` for labels ``y`` (integers), or for
    regression the mean squared error of the predictions."""
    if task == "regression":
        return float(np.mean((mean.reshape(len(y), -1)[:, 0] - y) ** 2))
    picked = mean[np.arange(len(y)), np.asarray(y, dtype=int)]
    return float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))


def _ensemble_selection(
    rows: list[dict[str, Any]], models: list, splits: Splits, candidates_dir: Path, test_metric: str
) -> Selection:
    """The average of the candidates that :func:`choose_members` keeps, as the winner: scored
    once on validation and once on test. When it keeps one alone, that model wins."""
    from automl.training.fit import compile_model, loss_of, save_loadable, target_scale

    val = eval_dataset(splits.x_val, splits.y_val, num_classes=splits.num_classes)
    test = eval_dataset(splits.x_test, splits.y_test, num_classes=splits.num_classes)
    kept = choose_members(
        [model.predict(val, verbose=0) for model in models], splits.y_val, splits.task
    )
    members = [rows[i]["trial"] for i in kept]
    best = rows[kept[0]]  # rows come best validation first
    if len(kept) == 1:
        winner = {**best, "members": members}
        return Selection(
            rows, winner, models[kept[0]], candidate_path(candidates_dir, best["trial"])
        )
    ensemble = average_models([models[i] for i in kept])
    compile_model(
        ensemble, "adam", splits.task, loss=loss_of(splits), target_std=target_scale(splits)
    )
    val_score = float(ensemble.evaluate(val, verbose=0, return_dict=True)[test_metric])
    results = {k: float(v) for k, v in ensemble.evaluate(test, verbose=0, return_dict=True).items()}
    winner = {
        "trial": best["trial"],
        "members": members,
        "val_score": val_score,
        "test_score": results[test_metric],
        "gap": val_score - results[test_metric],
        "test": results,
        "params": dict(best["params"]),
    }
    path = candidates_dir / "ensemble.keras"
    save_loadable(ensemble, path)
    return Selection(rows, winner, ensemble, path)

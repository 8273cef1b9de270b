"""What a search returns: the winner, its metrics, every trial, and a way to export the model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from automl.config import SpaceConfig


def winner_name(trial: int, members: list[int]) -> str:
    """How the console, the report and MLflow name the winner: ``trial 7``; with ``select:
    {ensemble: true}`` ``the average of trials 7, 3, 12``, or, when averaging clearly raised the
    validation loss, ``trial 7, chosen on validation``."""
    if len(members) > 1:
        return "the average of trials " + ", ".join(map(str, members))
    return f"trial {trial}" + (", chosen on validation" if members else "")


def winner_role(number: int, trial: int, members: list[int]) -> str:
    """Trial ``number``'s part in the winner: ``member`` of an ensemble, ``winner`` alone, or
    ``""``; ``trial`` and ``members`` as for :func:`winner_name`."""
    if len(members) > 1:
        return "member" if number in members else ""
    return "winner" if number == trial else ""


def state_word(state: str, reason: str) -> str:
    """A trial's state as a person reads it: ``complete``, ``pruned``, ``fail``, or
    ``interrupted`` for a trial that Ctrl-C or ``kill`` stopped (it is retried)."""
    if state == "FAIL" and reason.startswith("interrupted"):
        return "interrupted"
    return state.lower()


@dataclass(repr=False)
class SearchResult:
    """The outcome of :func:`automl.search`.

    Attributes:
        study_name: the Optuna study (and MLflow experiment, and registered model) name.
        best_params: the winner's sampled values, by parameter name (``model.dropout`` ...).
        winner_trial: the winner's trial number (of an ensemble: its best member by validation).
        winner_members: an ensemble's trial numbers (``select: {ensemble: true}``); else empty.
        val_metrics: the winner's objective on the validation split, e.g. ``{"val_accuracy": ..}``.
        test_metrics: the winner on the held-out test split, e.g. ``{"accuracy": .., "loss": ..}``.
        candidates: the top-K trials evaluated on the test split, with each one's gap and its
            ``role``: ``winner``, an ensemble's ``member``, or empty.
        trials: one row per trial: number, state, params, val and test metrics, duration.
        model_path: the winner's ``.keras`` file in the run folder.
        report_dir: where the summary, the trials CSV and the plots were written.
        mlflow: tracking URI, parent run id, model URI, registered name and version.
        config: the validated space (:class:`~automl.config.SpaceConfig`) that was searched.
        holdout_metrics: the winner on ``data.split.holdout`` (empty without one): the estimate
            free of the selection's optimism, since the winner is the best test score of K.
        baselines: the majority class (mean) and a linear model on the same split, scored on
            the test split and the holdout with accuracy (MAE for regression).
    """

    study_name: str
    best_params: dict[str, Any]
    winner_trial: int
    val_metrics: dict[str, float]
    test_metrics: dict[str, float]
    candidates: "pd.DataFrame"
    trials: "pd.DataFrame"
    model_path: Path
    report_dir: Path | None = None
    mlflow: dict[str, str] = field(default_factory=dict)
    config: Any = field(default=None, repr=False)  # the SpaceConfig that was searched
    # the winner on data.split.holdout, which neither the search nor the selection saw
    holdout_metrics: dict[str, float] = field(default_factory=dict)
    # simple models on the same split: [{"name", "metric", "test", "holdout"}]
    baselines: list[dict[str, Any]] = field(default_factory=list)
    winner_members: list[int] = field(default_factory=list)
    _model: Any = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"<SearchResult {self.study_name!r}>\n{self.summary()}"

    def summary(self) -> str:
        """What the search found, in a few lines, as the command line ends a search.

        Example:
            >>> print(result.summary())
            study: wine, 20 trials (18 complete, 2 pruned)
            winner: trial 7, val_accuracy 0.9667, test accuracy 0.9722
            note: the winner is the best test score of the top trials, so its test score is ...
            baselines on the test split (accuracy): majority class 0.3889, logistic ...
            model: automl-runs/wine/winner.keras, registered as models:/wine@champion
        """
        return "\n".join(
            f"{label}: {text}" if label else text for label, text in self.summary_lines()
        )

    def _state_counts(self) -> dict[str, int]:
        """Trials by state, as words: ``{"complete": 18, "pruned": 2}``. A trial that Ctrl-C or
        ``kill`` stopped counts as interrupted (it was retried), not among the failed."""
        if not len(self.trials):
            return {}
        reasons = self.trials.get("fail_reason", [""] * len(self.trials))
        words = [
            state_word(state, reason if isinstance(reason, str) else "")
            for state, reason in zip(self.trials["state"], reasons)
        ]
        return dict(sorted(Counter(words).items()))

    def summary_lines(self) -> list[tuple[str, str]]:
        """:meth:`summary` as ``(label, text)`` lines, for a console that styles the labels."""
        objective = next(iter(self.val_metrics), "val_score")
        metric = objective.removeprefix("val_")
        counts = ", ".join(f"{n} {state}" for state, n in self._state_counts().items())
        total = len(self.trials)
        winner = f"{self.winner_name}, {objective} {self.val_metrics.get(objective, 0):.4f}"
        if "r2" in self.test_metrics:  # a regression: in the target's units, as baselines are
            t = self.test_metrics
            winner += f", test mae {t['mae']:.4g}, rmse {t['rmse']:.4g}, r2 {t['r2']:.4f}"
        elif metric in self.test_metrics:
            winner += f", test {metric} {self.test_metrics[metric]:.4f}"
        model = str(self.model_path)
        if self.mlflow.get("alias_uri"):
            model += f", registered as {self.mlflow['alias_uri']}"
        lines = [
            ("study", f"{self.study_name}, {total} trial{'' if total == 1 else 's'} ({counts})"),
            ("winner", winner),
            *self.figures(),
            *self.late_note(),
            ("model", model),
        ]
        if self.report_dir:
            lines.append(("report", f"{self.report_dir}/index.html"))
        return lines

    def late_note(self) -> list[tuple[str, str]]:
        """A ``note`` when a search with a budget found its winner late: among the last quarter
        of its trials, or as a trial the budget cut (more time would likely help)."""
        if self.config is None or self.config.search.budget is None or len(self.trials) < 4:
            return []
        numbers = sorted(self.trials["number"])
        late = self.winner_trial >= numbers[int(0.75 * len(numbers))]
        cut = "cut" in self.trials and bool(
            self.trials.loc[self.trials["number"] == self.winner_trial, "cut"].notna().any()
        )
        if not (late or cut):
            return []
        why = "the budget cut its training" if cut else "it came in the last quarter of the trials"
        return [
            (
                "note",
                f"the winner is trial {self.winner_trial} of {len(numbers)} and {why}: a "
                f"larger --budget (search.budget) would likely find a better one",
            )
        ]

    def figures(self) -> list[tuple[str, str]]:
        """How far to trust the winner's score, as ``(label, sentence)`` lines: the holdout
        ``estimate`` (or a ``note`` that the best test score of K is optimistic), the simple
        ``baselines``, and a ``warning`` (or ``note``) when the winner does not beat them; part
        of :meth:`summary_lines`."""
        from automl.baselines import baseline_metric, verdict

        if not self.baselines:
            return []
        metric = baseline_metric(
            "classification" if "accuracy" in self.test_metrics else "regression"
        )
        lines = []
        if self.holdout_metrics:
            lines.append(
                (
                    "estimate",
                    f"holdout {metric} {self.holdout_metrics[metric]:.4f} "
                    f"(examples that neither the search nor the selection "
                    f"saw)",
                )
            )
        elif not self.winner_members:  # an ensemble is chosen without looking at the test split
            # a space file (or dict) names it data.split.holdout; search_hypermodel holdout_split
            coded = self.config is not None and self.config.tree is None
            setting = "holdout_split=0.1" if coded else "data.split.holdout: 0.1"
            lines.append(
                (
                    "note",
                    f"the winner is the best test score of the top trials, so its "
                    f"test score is optimistic; set {setting} for an unbiased "
                    f"estimate",
                )
            )
        part = "holdout" if self.holdout_metrics else "test"
        score = (self.holdout_metrics or self.test_metrics)[metric]
        scores = {row["name"]: row[part] for row in self.baselines if row.get(part) is not None}
        lines.append(
            (
                "",
                f"baselines on the {part} split ({metric}): "
                + ", ".join(f"{name} {value:.4f}" for name, value in scores.items()),
            )
        )
        found = verdict(score, scores, metric, part)
        return lines + [found] if found else lines

    @property
    def winner_name(self) -> str:
        """``trial 7``, or for an ensemble ``the average of trials 7, 3, 12``."""
        return winner_name(self.winner_trial, self.winner_members)

    @property
    def model(self):
        """The winning ``keras.Model`` (loaded from the run folder on first use)."""
        if self._model is None:
            from automl.export import load_inference_model

            self._model = load_inference_model(self.model_path)
        return self._model

    def predict(self, data: Any) -> "pd.DataFrame":
        """The winner's predictions, one row per example, as ``automl predict`` writes them.

        Args:
            data: raw examples, as the search read them: a DataFrame (or a dict of columns)
                for a table, whose extra columns (the label ...) are ignored; an array for
                signals and images; or the path of a CSV or Parquet table, an ``.npz`` file or
                a folder of images.

        Returns:
            A DataFrame: ``id`` (the frame's index, the row number or the image's path),
            ``prediction`` (the class name, or the value for regression) and, for
            classification, ``p_<class>``, each class's probability.

        Raises:
            UsageError: a missing column, examples of the wrong shape, or a path that does not
                exist, in one sentence.

        Example:
            >>> result = automl.load("wine")
            >>> result.predict(pd.read_csv("new_wines.csv"))[["id", "prediction"]]
               id   prediction
            0   0  cultivar A
        """
        from automl.export import predict_examples, study_class_names

        return predict_examples(self.model, data, study_class_names(self.model_path.parent))

    def export(
        self, out_dir: str | Path, format: str | Iterable[str] = "keras", quiet: bool = False
    ) -> dict[str, Path]:
        """Write the winner to ``out_dir`` in one or more formats, with ``signature.json``,
        ``params.json`` and ``metrics.json`` beside it. Every format takes raw inputs.

        Args:
            out_dir: the folder to write (created when missing).
            format: ``"keras"`` (``model.keras``), ``"savedmodel"`` (``saved_model/``),
                ``"tflite"`` (``model.tflite``), ``"onnx"`` (``model.onnx``), or several:
                ``("keras", "onnx")`` or ``"keras,onnx"``. See :mod:`automl.export`.
            quiet: do not print what was written.

        Returns:
            The paths written, by kind (``model`` for the ``.keras`` file, ``savedmodel``,
            ``tflite``, ``onnx``, ``signature``, ``params``, ``metrics``).

        Raises:
            UsageError: an unknown format, or one that cannot hold this model (TFLite and ONNX
                cannot hold a table's categorical columns), before anything is written.
        """
        from automl.export import export_model

        metrics = {
            "trial": self.winner_trial,
            "validation": self.val_metrics,
            "test": self.test_metrics,
            "mlflow": self.mlflow,
        }
        if len(self.winner_members) > 1:  # an ensemble: "trial" is its best member
            metrics["ensemble_of_trials"] = self.winner_members
        written = export_model(
            self.model_path, out_dir, format=format, params=self.best_params, metrics=metrics
        )
        if not quiet:
            for kind, path in written.items():
                print(f"wrote {kind}: {path}")
        return written


# ---- the frames a result holds -----------------------------------------------------------


def candidates_frame(rows: list[dict[str, Any]], winner: dict[str, Any]) -> "pd.DataFrame":
    """The top-K trials, best test score first: trial, val, test, gap, and ``role``, each one's
    part in the winner (``winner``, an ensemble's ``member``, or empty)."""
    import pandas as pd

    members = winner.get("members", [])
    frame = pd.DataFrame(
        [
            {
                "trial": r["trial"],
                "val": r["val_score"],
                "test": r["test_score"],
                "gap": r["gap"],
                "role": winner_role(r["trial"], winner["trial"], members),
            }
            for r in rows
        ]
    )
    return frame.sort_values("test", ascending=False).reset_index(drop=True)


def trials_frame(
    study: "optuna.Study", candidates: list[dict[str, Any]], cfg: "SpaceConfig"
) -> "pd.DataFrame":
    """One row per trial: number, state, objective, test metric (candidates), params, duration."""
    frame = study.trials_dataframe(
        attrs=("number", "state", "value", "duration", "params", "user_attrs")
    )
    if frame.empty:
        return frame
    names = cfg.search.objective_names
    frame = frame.rename(
        columns={"value": names[0], **{f"values_{i}": name for i, name in enumerate(names)}}
    )
    tests = {r["trial"]: r["test_score"] for r in candidates}
    frame.insert(3, f"test_{cfg.test_metric}", frame["number"].map(tests).astype(float))
    frame["duration"] = frame["duration"].dt.total_seconds()
    if "user_attrs_worker" in frame:  # host:pid, readable in a table
        frame["user_attrs_worker"] = frame["user_attrs_worker"].map(
            lambda w: f"{w['host']}:{w['pid']}" if isinstance(w, dict) else None
        )
    # the same figures as columns of their own, or too long for a table (the traceback is in
    # the trial's MLflow run)
    frame = frame.drop(
        columns=["user_attrs_seconds", "user_attrs_traceback"] + [f"user_attrs_{n}" for n in names],
        errors="ignore",
    )
    frame = frame.rename(columns={"duration": "seconds"})
    frame.columns = [c.removeprefix("user_attrs_") for c in frame.columns]
    return frame

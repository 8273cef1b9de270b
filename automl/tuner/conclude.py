"""After the trials, for every search alike: the top-K on the test split, the winner saved and
registered beside its baselines, the result, its report and the record in the study.

:func:`finish_search` chooses a space search's winner; :func:`conclude_search` is what follows
the choice, for ``automl search``, ``automl select`` and ``search_hypermodel`` alike.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from automl.config import SpaceConfig
from automl.defaults import CHAMPION_ALIAS
from automl.result import SearchResult, candidates_frame, trials_frame


def finish_search(
    cfg: SpaceConfig, study, splits, tracker, study_dir: Path, reports_dir: Path | None
) -> SearchResult:
    """The top-K trials on the test split, the winner saved, then :func:`conclude_search`."""
    from automl.training import device

    device.configure()
    from automl.selection import score_holdout, select_winner

    trials = study.get_trials(deepcopy=False)
    runs = trial_runs(trials, tracker)

    def fetch(trial) -> Path | None:  # a candidate saved by a worker on another machine
        if not tracker.is_remote or trial.number not in runs:
            return None
        return tracker.download_candidate(runs[trial.number], study_dir / "candidates")

    selection = select_winner(
        study,
        splits,
        study_dir / "candidates",
        cfg.select.top_k,
        cfg.test_metric,
        fetch=fetch,
        ensemble=cfg.select.ensemble,
    )
    # the honest figure: the holdout no selection saw
    selection.winner["holdout"] = score_holdout(selection.model, splits)
    winner_path = study_dir / "winner.keras"
    shutil.copyfile(selection.model_path, winner_path)
    return conclude_search(
        cfg, study, splits, tracker, selection, runs, winner_path, selection.model, reports_dir
    )


def conclude_search(
    cfg: SpaceConfig,
    study,
    splits,
    tracker,
    selection,
    runs: dict[int, str],
    winner_path: Path,
    model,
    reports_dir: Path | None,
    report: bool = True,
) -> SearchResult:
    """After the winner is chosen, for every search alike: the baselines beside it, the
    selection logged, the winner registered, the result, its report, the record in the study.

    Args:
        selection: the evaluated candidates and the winner (its ``holdout`` scored).
        runs: each trial's MLflow run, by number.
        winner_path: where the winner's ``.keras`` file was written.
        model: the winner, as registered in MLflow.
        report: write the report (a hypermodel whose test metrics lack the objective: not).
    """
    from automl.baselines import fit_baselines
    from automl.data.base import take
    from automl.tracking.registration import register_winner
    from automl.tuner.record import record_selection  # read back by automl.load, automl trials

    winner = selection.winner
    if splits.task == "regression":  # the winner in the target's own units, beside the loss
        winner["test"] = {**winner["test"], **target_units(model, splits)}
    baselines = fit_baselines(splits, seed=cfg.data.seed)  # what simple models score, beside it
    tracker.log_metrics(
        tracker.parent_run_id,
        {
            **{f"holdout_{k}": v for k, v in winner["holdout"].items()},
            **{
                f"baseline_{part}_{row['name'].replace(' ', '_')}_{row['metric']}": row[part]
                for row in baselines
                for part in ("test", "holdout")
                if row[part] is not None
            },
        },
    )
    tracker.log_selection(selection.candidates, winner, runs)
    from automl.modalities.text import vocabularies, vocabulary_text

    for name, tokens in vocabularies(model).items():  # the winner's tokenizer, one token a line
        tracker.log_text(tracker.parent_run_id, vocabulary_text(tokens), name)
    example = take(splits.x_val, np.arange(min(5, len(splits.y_val))))
    mlflow_info = register_winner(tracker, model, example, cfg.name, CHAMPION_ALIAS)
    mlflow_info.update(
        {
            "tracking_uri": tracker.tracking_uri,
            "parent_run_id": tracker.parent_run_id,
            "experiment_id": tracker.experiment_id,
        }
    )
    result = SearchResult(
        study_name=cfg.name,
        best_params=winner["params"],
        winner_trial=winner["trial"],
        winner_members=winner.get("members", []),
        val_metrics={cfg.search.objective: winner["val_score"]},
        test_metrics=winner["test"],
        candidates=candidates_frame(selection.candidates, winner),
        trials=trials_frame(study, selection.candidates, cfg),
        model_path=winner_path,
        mlflow=mlflow_info,
        config=cfg,
        _model=model,
        holdout_metrics=winner["holdout"],
        baselines=baselines,
    )
    if reports_dir is not None and report:
        from automl.report import write_report

        result.report_dir = write_report(result, study, cfg, reports_dir / cfg.name)
        tracker.log_artifacts(result.report_dir, "report")
    record_selection(
        study,
        cfg,
        splits.task,
        splits.modality,
        selection,
        winner_path,
        mlflow_info,
        result.report_dir,
        baselines,
    )
    tracker.end_study()
    return result


def trial_runs(trials: list, tracker) -> dict[int, str]:
    """Each trial's MLflow run id, by trial number. MLflow has no heartbeat: the runs that
    killed workers left RUNNING are ended here, with the reason the study recorded."""
    from automl.tuner.study import fail_reason

    runs = {
        t.number: t.user_attrs["mlflow_run_id"] for t in trials if "mlflow_run_id" in t.user_attrs
    }
    tracker.close_stranded(
        {runs[t.number] for t in trials if t.number in runs and t.state.name == "RUNNING"},
        {
            runs[t.number]: fail_reason(t)
            for t in trials
            if t.number in runs and t.state.name == "FAIL"
        },
    )
    return runs


def target_units(model, splits) -> dict[str, float]:
    """A regression winner's MAE, RMSE and R2 on the test split, in the target's own units (the
    loss is measured on standardized targets); empty where the model will not predict the
    splits as they are (a hypermodel of another input structure)."""
    from automl.baselines import regression_figures
    from automl.data.pipeline import eval_dataset

    try:
        predicted = model.predict(eval_dataset(splits.x_test, splits.y_test), verbose=0)
    except Exception:
        return {}
    return regression_figures(splits.y_test, np.asarray(predicted).reshape(-1))

"""Trials as data: automl.load and automl trials read a finished (or running) study back from its
storage, in a fresh process, without training or selecting again; optuna-dashboard reads it.

The study is the session's shared search (``shared_search`` in conftest.py), read and never
changed; what each test compares against is what that search wrote down itself: its report's
``trials.csv`` and ``candidates.csv`` (its ``SearchResult``'s frames), its summary's winner, its
parent run and registered champion in MLflow, and the candidate file its selection loaded the
winning model from."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SHARED_STUDY, study_in

import automl

STUDY = SHARED_STUDY


def read_csv(source) -> pd.DataFrame:
    return pd.read_csv(source, float_precision="round_trip")


def as_written(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the search's report writes it (``to_csv``) and pandas reads it back."""
    return read_csv(io.StringIO(frame.to_csv(index=False)))


@pytest.fixture(scope="module")
def searched(shared_search):
    """(the shared search's folder, what the search itself recorded of its result)."""
    import keras
    from mlflow.tracking import MlflowClient

    from automl.tracking.store import default_tracking_uri

    root = shared_search
    reports = root / "reports" / STUDY
    trials, candidates = read_csv(reports / "trials.csv"), read_csv(reports / "candidates.csv")
    winner = int(re.search(r"\*\*Trial (\d+)\*\*", (reports / "summary.md").read_text())[1])
    row = trials.set_index("number").loc[winner]
    tracking_uri = default_tracking_uri(root / "runs")
    client = MlflowClient(tracking_uri)
    champion = client.get_model_version_by_alias(STUDY, "champion")
    parent = client.get_run(champion.run_id)
    assert parent.data.tags["automl.winner_trial"] == str(winner)
    winner_run = client.get_run(row["mlflow_run_id"])
    assert winner_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    objective = parent.data.params["search.objective"]
    folder = root / "runs" / STUDY
    recorded = SimpleNamespace(
        trials=trials,
        candidates=candidates,
        winner_trial=winner,
        objective=objective,
        best_params={
            name: row[f"params_{name}"]  # the names the trial sampled
            for name in study_in(root / "runs", STUDY).trials[winner].params
        },
        val_metrics={objective: row[objective]},
        test_metrics={
            "accuracy": row["test_accuracy"],
            "loss": parent.data.metrics["winner_test_loss"],
        },
        model_path=(folder / "winner.keras").resolve(),
        # the file the search's selection loaded its winning model from
        model=keras.saving.load_model(
            folder / "candidates" / f"trial-{winner}.keras", compile=False
        ),
        mlflow={
            "model_uri": champion.source,
            "registered_model": champion.name,
            "version": str(champion.version),
            "parent_run_id": parent.info.run_id,
            "tracking_uri": tracking_uri,
        },
    )
    return root, recorded


@pytest.fixture(scope="module")
def loaded(searched, tmp_path_factory):
    """What ``automl.load`` gives in another process: facts as JSON, frames as pickles."""
    root, result = searched
    out = tmp_path_factory.mktemp("loaded")
    x = np.random.default_rng(0).normal(size=(4, *result.model.input_shape[1:]))
    np.save(out / "x.npy", x.astype("float32"))
    script = textwrap.dedent(f"""
        import json, numpy as np, automl
        r = automl.load({STUDY!r}, run_dir={str(root / "runs")!r})
        r.trials.to_pickle({str(out / "trials.pkl")!r})
        r.candidates.to_pickle({str(out / "candidates.pkl")!r})
        np.save({str(out / "pred.npy")!r}, r.model.predict(np.load({str(out / "x.npy")!r}),
                                                            verbose=0))
        try:  # reported by its own test, so that the other checks still run
            written = {{k: str(v) for k, v in r.export({str(out / "export")!r}).items()}}
        except Exception as error:
            written = {{"error": repr(error)}}
        json.dump({{"winner_trial": r.winner_trial, "best_params": r.best_params,
                   "val_metrics": r.val_metrics, "test_metrics": r.test_metrics,
                   "model_path": str(r.model_path), "mlflow": r.mlflow,
                   "objective": r.config.search.objective,
                   "written": written}},
                  open({str(out / "facts.json")!r}, "w"))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=out,
        timeout=300,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "facts.json").read_text())


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_load_returns_the_searched_result(searched, loaded):
    root, result = searched
    out, facts = loaded
    assert facts["winner_trial"] == result.winner_trial
    assert facts["best_params"] == result.best_params
    assert facts["val_metrics"] == result.val_metrics
    assert facts["test_metrics"]["accuracy"] == result.test_metrics["accuracy"]
    assert facts["test_metrics"] == pytest.approx(result.test_metrics, rel=1e-6)
    assert facts["objective"] == result.objective
    assert facts["model_path"] == str(result.model_path)
    for key in ("model_uri", "registered_model", "version", "parent_run_id", "tracking_uri"):
        assert facts["mlflow"][key] == result.mlflow[key]
    # the frames: as the search's report wrote them, with the same types as in this process
    candidates, trials = pd.read_pickle(out / "candidates.pkl"), pd.read_pickle(out / "trials.pkl")
    pd.testing.assert_frame_equal(as_written(candidates), result.candidates)
    pd.testing.assert_frame_equal(as_written(trials), result.trials)
    here = automl.load(STUDY, run_dir=root / "runs")
    pd.testing.assert_frame_equal(candidates, here.candidates)
    pd.testing.assert_frame_equal(trials, here.trials)
    assert facts["test_metrics"] == here.test_metrics and facts["mlflow"] == here.mlflow


def test_loaded_model_predicts_as_the_winner_and_exports(searched, loaded):
    _, result = searched
    out, facts = loaded
    x = np.load(out / "x.npy")
    np.testing.assert_allclose(
        np.load(out / "pred.npy"), result.model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    assert "error" not in facts["written"], facts["written"]
    assert facts["written"] and all(
        p.startswith(str(out / "export")) for p in facts["written"].values()
    )
    assert any((out / "export").rglob("*.keras"))


def run_trials(root, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "automl", "trials", *args],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
        env={**_env(), "COLUMNS": "160"},
    )


def states_of(root) -> list[str]:
    """The shared study's trial states, by trial number (4 trials, none pruned: fewer than the
    median pruner's 5 startup trials; one may still have failed)."""
    states = [t.state.name for t in study_in(root / "runs", STUDY).trials]
    assert len(states) >= 2 and states.count("COMPLETE") >= 2, states
    return states


def test_trials_prints_the_leaderboard_best_first(searched):
    root, result = searched
    states = states_of(root)
    proc = run_trials(root, "--study", STUDY, "--run-dir", "runs")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert f"{STUDY}: trials, best val_accuracy first" in lines[0]
    rows = [
        line.split()
        for line in lines
        if re.match(r"\s*\d+( \*)? +(complete|running|pruned|fail|waiting) ", line)
    ]
    assert len(rows) == len(states)
    best = result.trials.sort_values("val_accuracy", ascending=False)["number"].iloc[0]
    assert rows[0][0] == str(best)
    winner = next(r for r in rows if r[0] == str(result.winner_trial))
    assert winner[1] == "*" and winner[2] == "complete"
    assert f"{result.test_metrics['accuracy']:.4f}" in winner
    assert "dropout=" in proc.stdout and f"{states.count('COMPLETE')} complete" in proc.stdout


def test_trials_csv_has_a_row_per_trial_with_flattened_params(searched):
    root, result = searched
    proc = run_trials(root, "--study", STUDY, "--run-dir", "runs", "--csv")
    assert proc.returncode == 0, proc.stderr
    frame = read_csv(io.StringIO(proc.stdout))
    assert sorted(frame["trial"]) == list(range(len(states_of(root))))
    assert list(frame.columns[:6]) == [
        "trial",
        "state",
        "val_accuracy",
        "test_accuracy",
        "gap",
        "winner",
    ]
    assert frame["seconds"].notna().all()
    params = {name for trial in study_in(root / "runs", STUDY).trials for name in trial.params}
    assert params <= set(frame.columns) and "model.dropout" in params
    by_trial, recorded = frame.set_index("trial"), result.trials.set_index("number")
    for number, row in by_trial.iterrows():
        assert row["val_accuracy"] == recorded.loc[number, "val_accuracy"] or (
            np.isnan(row["val_accuracy"]) and np.isnan(recorded.loc[number, "val_accuracy"])
        )
        assert row["model.dropout"] == recorded.loc[number, "params_model.dropout"]
    for candidate in result.candidates.itertuples():
        assert by_trial.loc[candidate.trial, "test_accuracy"] == candidate.test
        assert by_trial.loc[candidate.trial, "gap"] == pytest.approx(candidate.gap)
    assert list(frame.loc[frame["winner"], "trial"]) == [result.winner_trial]
    assert frame["val_accuracy"].dropna().is_monotonic_decreasing  # best first
    assert frame["val_accuracy"].notna().sum() == states_of(root).count("COMPLETE")


def test_trials_json_parses(searched):
    root, result = searched
    proc = run_trials(root, "--study", STUDY, "--run-dir", "runs", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert len(rows) == len(states_of(root))
    winner = next(r for r in rows if r["winner"])
    assert winner["trial"] == result.winner_trial
    assert winner["test_accuracy"] == result.test_metrics["accuracy"]
    assert winner["model.dropout"] == result.best_params["model.dropout"]


def test_a_wrong_study_name_is_one_line_and_exit_2(searched):
    root, _ = searched
    proc = run_trials(root, "--study", "sharde", "--run-dir", "runs")
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "has no study 'sharde'" in lines[0] and f"'{STUDY}'" in lines[0]
    assert str((root / "runs" / "optuna.journal").resolve()) in lines[0]


def test_a_running_study_lists_what_is_there(searched, tmp_path):
    """Before a winner is chosen: trials listed (a running one as running), load refuses."""
    from automl.tuner.load import leaderboard
    from automl.tuner.record import SELECTION as SELECTION_ATTR

    root, _ = searched
    states = states_of(root)
    shutil.copyfile(root / "runs" / "optuna.journal", tmp_path / "optuna.journal")
    study = study_in(tmp_path, STUDY)
    study.set_user_attr(SELECTION_ATTR, None)  # as while the search still runs
    study.ask().suggest_float("model.dropout", 0.0, 0.3)
    frame, facts = leaderboard(STUDY, run_dir=tmp_path)
    # finished and scored first, then the running one, then any that failed
    assert list(frame["state"]) == ["COMPLETE"] * states.count("COMPLETE") + ["RUNNING"] + [
        "FAIL"
    ] * states.count("FAIL")
    assert facts["winner_trial"] is None and frame["test_accuracy"].isna().all()
    assert facts["objective"] == "val_accuracy"  # from the split snapshot's header
    assert frame["seconds"].iloc[-1 - states.count("FAIL")] >= 0
    with pytest.raises(automl.UsageError, match="has no winner yet"):
        automl.load(STUDY, run_dir=tmp_path)


def test_the_leaderboard_says_why_trials_failed_and_which_were_interrupted(searched, tmp_path):
    from optuna.trial import TrialState
    from rich.console import Console

    from automl.tuner.load import leaderboard, leaderboard_table
    from automl.tuner.study import INTERRUPTED

    root, _ = searched
    shutil.copyfile(root / "runs" / "optuna.journal", tmp_path / "optuna.journal")
    study = study_in(tmp_path, STUDY)
    diverged = "diverged: the training loss became nan at epoch 1, batch 3"
    for reason in (INTERRUPTED, diverged):
        trial = study.ask()
        trial.set_user_attr("fail_reason", reason)
        study.tell(trial, state=TrialState.FAIL)
    frame, facts = leaderboard(STUDY, run_dir=tmp_path)
    assert list(frame["reason"].iloc[-2:]) == [INTERRUPTED, diverged]  # also in --csv, --json
    assert (frame.loc[frame["state"] == "COMPLETE", "reason"] == "").all()
    console = Console(record=True, width=120)
    console.print(leaderboard_table(frame, facts, STUDY))
    text = console.export_text()
    assert re.search(r"\d+\s+interrupted\s", text)  # the state column, then the caption:
    assert "1 interrupted" in text and diverged in text and INTERRUPTED not in text


def test_optuna_dashboard_reads_the_journal(searched):
    """The storage stays plain Optuna: optuna-dashboard opens the journal file path as is."""
    dashboard = pytest.importorskip("optuna_dashboard")
    from wsgiref.util import setup_testing_defaults

    root, result = searched
    app = dashboard.wsgi(str(root / "runs" / "optuna.journal"))

    def get(path: str):
        environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
        setup_testing_defaults(environ)
        status = []
        body = b"".join(app(environ, lambda s, headers, exc_info=None: status.append(s)))
        assert status[0].startswith("200"), status
        return json.loads(body)

    [summary] = get("/api/studies")["study_summaries"]
    assert summary["study_name"] == STUDY
    detail = get(f"/api/studies/{summary['study_id']}")
    assert len(detail["trials"]) == len(states_of(root))
    assert {p["name"] for p in detail["trials"][0]["params"]} >= {"model.dropout"}

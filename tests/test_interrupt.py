"""Kills lose nothing: a killed search resumes, killed workers have their trials failed with the
reason and retried, and no Optuna trial or MLflow run is left RUNNING."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from conftest import study_in, wait_until
from optuna.trial import TrialState

import automl

ROOT = Path(__file__).resolve().parent.parent
SPACE = """
name: {name}
data: {{source: mnist1d, subsample: {{train: 500, test: 200}}}}
model: {{architecture: {{choice: {{mlp: {{layers: 1, units: {{int: [8, 32]}}}}}}}}}}
training: {{optimizer: adam, batch_size: 32, epochs: 4}}
search: {{trials: {trials}, seed: 2, workers: {workers}}}
select: {{top_k: 2}}
"""
# one worker whose trials wait at a gate where a test needs them to (tests/gated_models.py)
GATED_SPACE = """
name: {name}
data: {{source: mnist1d, subsample: {{train: 500, test: 200}}}}
model:
  architecture: {{choice: {{custom: {{builder: "gated_models:build", units: {{int: [8, 32]}}}}}}}}
training: {{optimizer: adam, batch_size: 32, epochs: 4}}
search: {{trials: {trials}, seed: 2, workers: 1}}
select: {{top_k: 2}}
"""


def states(runs: Path, name: str) -> list[optuna.trial.FrozenTrial]:
    """The study's trials as the search wrote them so far ([] before it exists)."""
    if not (runs / "optuna.journal").exists():
        return []
    try:
        return study_in(runs, name).get_trials(deepcopy=False)
    except KeyError:  # the study is not created yet
        return []


def study_exists(runs: Path, name: str) -> bool:
    if not (runs / "optuna.journal").exists():
        return False
    try:
        study_in(runs, name)
    except KeyError:
        return False
    return True


def start_search(tmp_path: Path, name: str, trials: int, workers: int) -> tuple:
    space = tmp_path / f"{name}.yaml"
    space.write_text(SPACE.format(name=name, trials=trials, workers=workers))
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "automl",
            "search",
            str(space),
            "--quiet",
            "--run-dir",
            str(runs),
            "--reports-dir",
            str(tmp_path / "reports"),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return space, runs, proc


def mlflow_trial_runs(result) -> dict[str, list]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(result.mlflow["tracking_uri"])
    runs: dict[str, list] = {}
    for run in client.search_runs(
        [result.mlflow["experiment_id"]], filter_string="tags.`automl.kind` = 'trial'"
    ):
        runs.setdefault(run.data.tags["optuna.trial_number"], []).append(run)
    return runs


def assert_nothing_left_running(study, result) -> None:
    assert not [t.number for t in study.trials if t.state == TrialState.RUNNING]
    runs = mlflow_trial_runs(result)
    assert all(r.info.status != "RUNNING" for rs in runs.values() for r in rs)
    # exactly one MLflow child run per trial that started
    assert Counter({n: len(rs) for n, rs in runs.items()}).most_common(1)[0][1] == 1
    assert set(runs) == {str(t.number) for t in study.trials if t.state != TrialState.WAITING}


def test_a_retry_queued_after_this_machines_workers_stopped_is_still_trained():
    """Control flow, with canned trials instead of training: this machine's workers stop once
    the budget is spoken for, but a trial running elsewhere is interrupted after that and comes
    back as a retry; the search trains again instead of ending one trial short."""
    from optuna.trial import create_trial

    from automl.config import load_space
    from automl.tuner.runner import train_until_spent
    from automl.tuner.study import INTERRUPTED, finished_trials, retry_interrupted

    search = load_space({"search": {"trials": 3}}).search
    study = optuna.create_study(direction="maximize")
    params = {"x": 1.0}
    distributions = {"x": optuna.distributions.FloatDistribution(0.0, 2.0)}
    rounds: list[float | None] = []

    def train(seconds_left: float | None) -> bool:
        rounds.append(seconds_left)
        if len(rounds) == 1:  # two trials here; the third, elsewhere, is interrupted late
            for value in (0.5, 0.6):
                study.add_trial(
                    create_trial(value=value, params=params, distributions=distributions)
                )
            study.add_trial(
                create_trial(
                    state=TrialState.FAIL,
                    params=params,
                    distributions=distributions,
                    user_attrs={"fail_reason": INTERRUPTED},
                )
            )
            retry_interrupted(study, search.max_retries)
        else:  # the waiting retry
            study.optimize(lambda trial: 0.7 + 0 * trial.suggest_float("x", 0.0, 2.0), n_trials=1)
        return True

    assert train_until_spent(study, study._storage, search, train)
    assert len(rounds) == 2 and finished_trials(study) == 3
    assert not study.get_trials(states=(TrialState.WAITING,))
    assert study.trials[-1].params == params and study.trials[-1].value == 0.7


def test_killed_search_resumes_without_losing_trials(tmp_path):
    space, runs, proc = start_search(tmp_path, "killed", trials=3, workers=1)
    deadline = time.time() + 240
    while time.time() < deadline:  # kill the whole search while its second trial trains
        trials = states(runs, "killed")
        if (
            len(trials) >= 2
            and trials[0].state == TrialState.COMPLETE
            and trials[1].state == TrialState.RUNNING
            and trials[1].intermediate_values
        ):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        raise AssertionError(f"the search never reached its second trial: {states(runs, 'killed')}")
    proc.send_signal(signal.SIGKILL)  # its worker dies with it (the kernel sees to that)
    proc.wait()
    assert states(runs, "killed")[1].state == TrialState.RUNNING  # what a killed process leaves

    result = automl.search(space, workers=0, run_dir=runs, reports_dir=None, progress=False)

    study = study_in(runs, "killed")
    killed = study.trials[1]
    assert killed.state == TrialState.FAIL
    assert killed.user_attrs["fail_reason"].startswith("killed")
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 3  # the first trial kept, the killed one retried, one more
    assert complete[0].number == 0  # the trial finished before the kill is kept
    retry = [t for t in complete if t.user_attrs.get("retry_of") == 1]
    assert len(retry) == 1 and retry[0].params == killed.params  # the same configuration
    assert_nothing_left_running(study, result)
    orphan = mlflow_trial_runs(result)["1"][0]
    assert orphan.info.status == "KILLED" and "killed" in orphan.data.tags["automl.fail_reason"]


def test_workers_killed_at_random_points_lose_nothing(tmp_path):
    """Two workers; three times a worker is SIGKILLed at a random moment of its trial."""
    space, runs, proc = start_search(tmp_path, "chaos", trials=6, workers=2)
    rng = random.Random(7)
    killed: list[int] = []
    deadline = time.time() + 400
    ended_at_last_kill = -1
    while len(killed) < 3 and time.time() < deadline and proc.poll() is None:
        trials = states(runs, "chaos")
        ended = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
        running = [
            t
            for t in trials
            if t.state == TrialState.RUNNING and "worker" in t.user_attrs and t.number not in killed
        ]
        if running and ended > ended_at_last_kill:  # a trial completed since the last kill
            victim = rng.choice(running)
            time.sleep(rng.uniform(0.0, 1.5))  # a random point of the trial
            try:
                os.kill(victim.user_attrs["worker"]["pid"], signal.SIGKILL)
            except ProcessLookupError:  # it finished meanwhile: pick another
                continue
            killed.append(victim.number)
            ended_at_last_kill = ended
        time.sleep(0.25)
    output, _ = proc.communicate(timeout=400)
    assert len(killed) == 3, (killed, output)
    assert proc.returncode == 0, output

    study = study_in(runs, "chaos")
    trials = study.trials
    assert len({t.number for t in trials}) == len(trials)  # every trial number once
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert failed and all(t.user_attrs["fail_reason"].startswith("killed") for t in failed)
    # the budget counts the retries, not the killed attempts: exactly 6 trials ended well
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) == 6
    for t in failed:  # each killed trial was retried with its own configuration (killed while
        # its model was being built, it had only some of its parameters: the retry has those)
        assert any(
            r.user_attrs.get("retry_of") is not None and t.params.items() <= r.params.items()
            for r in trials
            if r.number > t.number
        )
    result = automl.select("chaos", run_dir=runs, reports_dir=None)
    assert_nothing_left_running(study, result)
    assert "chaos@champion" in result.mlflow["alias_uri"]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stop_signals_raise_keyboard_interrupt_even_where_sigint_started_ignored(stop):
    """What `automl search` and `automl worker` install: SIGINT (Ctrl-C, `kill -INT`, a
    coordinator stopping its workers) and SIGTERM (`kill`, `docker stop`) both end in
    KeyboardInterrupt, where a trial is recorded as interrupted. The process starts as a shell
    script's background job does, with SIGINT ignored."""
    code = (
        "import time\n"
        "from automl.cli import stop_cleanly_on_signals\n"
        "stop_cleanly_on_signals()\n"
        "try:\n"  # the signal may land while 'ready' is being printed
        "    print('ready', flush=True)\n"
        "    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        text=True,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert process.stdout.readline() == "ready\n"
        process.send_signal(stop)
        assert process.communicate(timeout=20)[0] == "interrupted\n"
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0


def parent_of(pid: int) -> int | None:
    """The parent process of ``pid`` (Linux), or None when it has ended."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def test_a_second_search_joins_and_kill_leaves_the_study_resumable(tmp_path):
    """A second `automl search` on a live study adds its worker instead of failing the first
    one's trials; `kill` (SIGTERM, as `docker stop` sends) stops it as Ctrl-C does: its worker
    records its trial as interrupted, which the first search retries.

    The order is fixed by gates (tests/gated_models.py), not by timing: the first search's
    trial waits until the second search is training too, and the second's trial waits (still
    running) until the signal has reached it."""
    space = tmp_path / "joined.yaml"
    space.write_text(GATED_SPACE.format(name="joined", trials=4))
    runs = tmp_path / "runs"
    command = [
        sys.executable,
        "-m",
        "automl",
        "search",
        str(space),
        "--quiet",
        "--run-dir",
        str(runs),
        "--reports-dir",
        str(tmp_path / "reports"),
    ]
    gates = {name: tmp_path / f"gate-{name}" for name in ("first", "second")}
    for gate in gates.values():
        gate.touch()

    def start(name: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
            "AUTOML_TEST_GATE": str(gates[name]),
        }
        # started the way a shell script starts a background job (`automl search ... &`): with
        # SIGINT ignored, which its workers inherit; automl search and worker stop on it anyway
        return subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )

    def running(search: subprocess.Popen) -> optuna.trial.FrozenTrial | None:
        """A trial that a worker process of ``search`` runs (a search may start a new worker
        process for a second round, so the worker's parent tells the searches apart)."""
        for t in states(runs, "joined"):
            if (
                t.state == TrialState.RUNNING
                and "worker" in t.user_attrs
                and parent_of(t.user_attrs["worker"]["pid"]) == search.pid
            ):
                return t
        return None

    first, second = start("first"), None
    try:
        wait_until(
            "the first search created the study", lambda: study_exists(runs, "joined"), first
        )
        second = start("second")  # joins a live study; its start overlaps the first one's trial
        wait_until("the first search runs a trial", lambda: running(first), first, second)
        found = wait_until("the second search runs a trial", lambda: running(second), first, second)
        gates["first"].unlink()  # the first trains on; the second's trial stays where it is
        wait_until(
            "the first search completed a trial",
            lambda: any(t.state == TrialState.COMPLETE for t in states(runs, "joined")),
            first,
            second,
        )
        second.send_signal(signal.SIGTERM)  # in the middle of its trial (at the gate); the
        # search tells its worker to stop with SIGINT, which the worker started ignoring
        second_out = second.communicate(timeout=300)[0]
        first_out = first.communicate(timeout=400)[0]
    finally:  # a failed wait leaves no search running (their workers die with them)
        for search in (first, second):
            if search is not None and search.poll() is None:
                search.kill()
                search.wait()
    assert first.returncode == 0, first_out
    assert "interrupted" in second_out, second_out
    # the first search's summary counts the stopped trial as interrupted, not as failed
    assert re.search(r"study: joined, \d+ trials \(\d+ complete, 1 interrupted\b", first_out), (
        first_out
    )

    trials = study_in(runs, "joined").trials
    interrupted = [t for t in trials if t.state == TrialState.FAIL]
    assert [t.number for t in interrupted] == [found.number]  # no live trial was failed
    assert interrupted[0].user_attrs["fail_reason"].startswith("interrupted")
    # resumed by the first search: run to its end (or pruned, as any trial may be)
    assert any(
        t.user_attrs.get("retry_of") == found.number
        and t.params == found.params
        and t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        and parent_of(t.user_attrs["worker"]["pid"]) != second.pid
        for t in trials
    )
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) >= 4
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


LOCKER = """
import sys, time, optuna
from automl.tuner.study import StartLock
storage = optuna.storages.get_storage(sys.argv[1])
lock = StartLock(storage, "race")
lock.acquire()
print(time.time(), flush=True)
time.sleep(float(sys.argv[2]))
lock.release()
"""


def test_one_worker_at_a_time_checks_the_budget_and_starts_its_trial(tmp_path):
    """Two workers that both saw the last trial left started a seventh of six (seen in the
    distributed test on a slow machine): the check and the start hold a lock across workers."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.create_study(study_name="race", storage=url)
    first = subprocess.Popen(
        [sys.executable, "-c", LOCKER, url, "3"], stdout=subprocess.PIPE, text=True
    )
    held_at = float(first.stdout.readline())
    second = subprocess.run(
        [sys.executable, "-c", LOCKER, url, "0"], capture_output=True, text=True, timeout=60
    )
    first.wait(timeout=60)
    assert second.returncode == 0, second.stderr
    assert float(second.stdout.strip()) >= held_at + 2.5  # it waited for the first to let go

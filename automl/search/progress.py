"""What a search shows while it runs: trial n of N, best so far, ETA, and the running trial's epoch."""

from __future__ import annotations

import math
from typing import Any

import optuna


class SearchProgress:
    """A rich progress display; silent when ``enabled`` is False.

    Use as a context manager; hand :meth:`on_trial` to ``study.optimize(callbacks=...)`` and
    :meth:`on_epoch` to the objective.
    """

    def __init__(self, total: int, done: int, objective: str, max_epochs: int,
                 enabled: bool = True) -> None:
        self.enabled = enabled
        self.objective = objective
        self.max_epochs = max_epochs
        self.best: float | None = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.console = Console(stderr=True, log_path=False)
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                 console=self.console, transient=False)
        self.trials = self.progress.add_task("trials", total=total, completed=done,
                                             info="best: -")
        self.epochs = self.progress.add_task("epochs", total=max_epochs, info="")

    def __enter__(self) -> "SearchProgress":
        if self.enabled:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.progress.remove_task(self.epochs)
            self.progress.__exit__(*exc)

    def on_epoch(self, trial: int, epoch: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        value = metrics.get(self.objective, math.nan)
        self.progress.update(self.epochs, completed=epoch + 1,
                             description=f"trial {trial}",
                             info=f"{self.objective} {value:.4f}")

    def on_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state == optuna.trial.TrialState.COMPLETE:
            better = (self.best is None or
                      (trial.value > self.best if study.direction.name == "MAXIMIZE"
                       else trial.value < self.best))
            if better:
                self.best = trial.value
        if not self.enabled:
            return
        state = trial.state.name.lower()
        detail = f"{self.objective}={trial.value:.4f}" if trial.value is not None else \
            trial.user_attrs.get("fail_reason", "")
        if state == "pruned":
            last = trial.intermediate_values
            detail = f"at epoch {max(last) + 1 if last else '?'}"
        seconds = trial.user_attrs.get("seconds", 0)
        self.console.log(f"trial {trial.number:>3} {state:<8} {detail}  ({seconds:.0f}s)")
        best = f"best {self.objective}: {self.best:.4f}" if self.best is not None else "best: -"
        self.progress.update(self.trials, advance=1, info=best)
        self.progress.reset(self.epochs, total=self.max_epochs, info="")

"""What a search shows while it runs: trial n of N, best so far, ETA, and the running trial's epoch."""

from __future__ import annotations

import math
from typing import Any


class SearchProgress:
    """A rich progress display; silent when ``enabled`` is False.

    Use as a context manager and hand it the workers' events (:meth:`on_event`).
    """

    def __init__(self, total: int, done: int, objective: str, max_epochs: int,
                 maximize: bool = True, enabled: bool = True) -> None:
        self.enabled = enabled
        self.maximize = maximize
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

    def on_trial(self, number: int, state: str, value: float | None, reason: str,
                 epochs: int, seconds: float) -> None:
        """A trial ended: log one line, advance the bar, update the best so far."""
        if state == "COMPLETE" and value is not None:
            if self.best is None or (value > self.best if self.maximize else value < self.best):
                self.best = value
        if not self.enabled:
            return
        if state == "COMPLETE":
            detail = f"{self.objective}={value:.4f}"
        elif state == "PRUNED":
            detail = f"at epoch {epochs}"
        else:
            detail = reason
        self.console.log(f"trial {number:>3} {state.lower():<8} {detail}  ({seconds:.0f}s)")
        best = f"best {self.objective}: {self.best:.4f}" if self.best is not None else "best: -"
        self.progress.update(self.trials, advance=1, info=best)
        self.progress.reset(self.epochs, total=self.max_epochs, info="")

    def on_event(self, event: tuple) -> None:
        """An event from a worker process (see ``worker.py``)."""
        kind, *args = event
        if kind == "epoch":
            self.on_epoch(*args)
        elif kind == "trial":
            self.on_trial(*args)

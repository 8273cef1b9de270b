"""What a search shows while it runs: trial n of N, best so far, ETA, and an epoch bar for each
trial that is training (several, when several workers run).

In a Jupyter notebook rich draws the bars through ipywidgets; without ipywidgets it could only
warn, so there each trial's line carries the count and the best so far instead of the bars.
"""

from __future__ import annotations

import math
import time
from typing import Any

from automl.tuner.events import EpochEnded, Event, TrialEnded, WorkerStopped


class SearchProgress:
    """A rich progress display; silent when ``enabled`` is False.

    Use as a context manager and hand it the workers' events (:meth:`on_event`).
    """

    def __init__(
        self,
        total: int,
        done: int,
        objective: str,
        max_epochs: int,
        maximize: bool = True,
        enabled: bool = True,
        timeout: float | None = None,
    ) -> None:
        self.enabled = enabled
        self.timeout = timeout  # the search's time budget: the ETA never goes past its end
        self.maximize = maximize
        self.objective = objective
        self.max_epochs = max_epochs
        self.best: float | None = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(stderr=True, log_path=False)
        self.live = live_display_possible(self.console)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            _remaining_column(),
            console=self.console,
            transient=False,
        )
        self.trials = self.progress.add_task("trials", total=total, completed=done, info="best: -")
        self.epochs: dict[int, Any] = {}  # running trial -> its epoch bar

    def __enter__(self) -> "SearchProgress":
        if self.enabled and self.timeout is not None:
            self.progress.update(self.trials, deadline=time.monotonic() + self.timeout)
        if self.enabled and self.live:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled and self.live:
            for bar in self.epochs.values():
                self.progress.remove_task(bar)
            self.progress.__exit__(*exc)

    def on_epoch(self, event: EpochEnded) -> None:
        if not self.enabled:
            return
        if event.trial not in self.epochs:
            self.epochs[event.trial] = self.progress.add_task(
                f"trial {event.trial}", total=self.max_epochs, info=""
            )
        value = event.metrics.get(self.objective, math.nan)
        self.progress.update(
            self.epochs[event.trial],
            completed=event.epoch + 1,
            info=f"{self.objective} {value:.4f}",
        )

    def on_trial(self, event: TrialEnded) -> None:
        """A trial ended: log one line, advance the bar, update the best so far."""
        number, state, value, reason = event.number, event.state, event.value, event.reason
        epochs, seconds = event.epochs, event.seconds
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
        best = f"best {self.objective}: {self.best:.4f}" if self.best is not None else "best: -"
        self.progress.update(self.trials, advance=1, info=best)
        count = ""
        if not self.live:  # no bars to show it: the count and the best on the trial's line
            task = next(t for t in self.progress.tasks if t.id == self.trials)
            count = f"  [{task.completed:.0f}/{task.total:.0f}, {best}]"
        self.console.log(f"trial {number:>3} {state.lower():<8} {detail}  ({seconds:.0f}s)" + count)
        bar = self.epochs.pop(number, None)
        if bar is not None:
            self.progress.remove_task(bar)

    def on_event(self, event: Event) -> None:
        """A record from a worker (see ``events.py``)."""
        if isinstance(event, EpochEnded):
            self.on_epoch(event)
        elif isinstance(event, TrialEnded):
            self.on_trial(event)
        elif isinstance(event, WorkerStopped) and self.enabled:
            self.console.log(f"[bold red]stopped:[/] {event.message}")


def _remaining_column() -> Any:
    """Rich's time-remaining column, capped by a task's ``deadline`` field: a search with a
    timeout ends then, however many trials its count still asks for."""
    from rich.progress import TimeRemainingColumn
    from rich.text import Text

    class BudgetRemainingColumn(TimeRemainingColumn):
        def render(self, task: Any) -> Text:
            deadline = task.fields.get("deadline")
            if deadline is None or task.finished:
                return super().render(task)
            left = max(deadline - time.monotonic(), 0.0)
            estimate = task.time_remaining
            seconds = int(left if estimate is None else min(estimate, left))
            return Text(
                f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}",
                style="progress.remaining",
            )

    return BudgetRemainingColumn()


def live_display_possible(console: Any) -> bool:
    """Whether rich can draw live bars on ``console``: in a terminal, or in Jupyter when
    ipywidgets is installed (there rich draws through it; without it rich only warns)."""
    import importlib.util

    return not console.is_jupyter or importlib.util.find_spec("ipywidgets") is not None

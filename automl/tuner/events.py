"""What a worker tells whoever watches it: typed records, one JSON line each.

A worker started by ``automl search`` writes these to a pipe its coordinator reads; the
coordinator shows them (progress bar, one line per trial). A worker started by hand
(``automl worker``) shows them on its own console instead.

Example:
    >>> line = encode(TrialEnded(number=3, state="COMPLETE", value=0.91, reason="", epochs=5,
    ...                          seconds=12.5))
    >>> decode(line)
    TrialEnded(number=3, state='COMPLETE', value=0.91, reason='', epochs=5, seconds=12.5)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class WorkerReady:
    """The worker loaded the study and the data and is about to ask for its first trial."""

    pid: int
    host: str
    started: int  # process start time (see ``study.WorkerId``)
    device: str


@dataclass(frozen=True)
class EpochEnded:
    """One epoch of a trial ended, with the epoch's metrics (train and validation)."""

    trial: int
    epoch: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialEnded:
    """A trial ended: COMPLETE, PRUNED or FAIL, with its objective value or the reason."""

    number: int
    state: str
    value: float | None
    reason: str
    epochs: int
    seconds: float


@dataclass(frozen=True)
class WorkerStopped:
    """The worker stopped the study on purpose: ``message`` says why (all trials failing ...)."""

    message: str


Event = WorkerReady | EpochEnded | TrialEnded | WorkerStopped
_KINDS: dict[str, type] = {
    cls.__name__: cls for cls in (WorkerReady, EpochEnded, TrialEnded, WorkerStopped)
}


def encode(event: Event) -> str:
    """One line of JSON, ``{"kind": ..., **fields}``."""
    return json.dumps({"kind": type(event).__name__, **asdict(event)})


def decode(line: str) -> Event | None:
    """The record a line holds, or None for a line that is not one (stray output)."""
    try:
        data = json.loads(line)
        cls = _KINDS[data.pop("kind")]
        return cls(**data)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None

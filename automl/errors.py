"""The errors automl raises, split the way KerasTuner splits them.

* :class:`UsageError` and its subclasses are *fatal* and the user's to fix: a broken space file, a
  missing data file, a request that needs the network. The CLI prints the message (one plain
  sentence naming the file, key and fix) and exits with code 2, without a traceback.
* :class:`TrialFailed` is *not* fatal: one trial went wrong (its loss diverged, say). The study
  records the trial as failed with the reason and goes on with the next one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class AutomlError(Exception):
    """Base class of every error automl raises on purpose."""


class UsageError(AutomlError):
    """Something the user asked for cannot be done as asked; the message says how to fix it."""


class ConfigError(UsageError):
    """A search-space file (or an override of it) is invalid.

    Args:
        message: what is wrong and what is allowed, as one sentence.
        file: the space file, when there is one.
        key: the key path of the offending value, e.g. ``training.optimizer.adam.learning_rate``.
        line: the 1-based line of that value in the file, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.key = key
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}"
            if self.line:
                where += f", line {self.line}"
            where += ": "
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.message}"


class DataError(UsageError):
    """A data source cannot be loaded or does not fit the task."""


class NetworkRequired(UsageError):
    """The request needs a download, and automl never downloads at run time."""


class UnhealthyTraining(AutomlError):
    """A trial's gradients vanished or exploded for several epochs: it is pruned, with the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TrialFailed(AutomlError):
    """One trial failed for a reason worth recording (divergence, ...); the study goes on."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# ---- the words of a refusal ------------------------------------------------------------


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, transpositions."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def did_you_mean(word: Any, allowed: Iterable[str]) -> str:
    """``"; did you mean 'adam'?"`` for a near miss (a typo or swapped letters), else ``""``."""
    word = str(word).lower()
    scored = sorted((_edit_distance(word, name.lower()), name) for name in allowed)
    if scored and scored[0][0] <= max(1, len(word) // 3):
        return f"; did you mean {scored[0][1]!r}?"
    close = difflib.get_close_matches(word, sorted(allowed), n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def allowed_list(allowed: Iterable[str], limit: int = 100) -> str:
    """The allowed names, cut short (with where to find the rest) so a message fits a line."""
    names = sorted(map(str, allowed))
    text = ", ".join(names)
    if len(text) <= limit:
        return text
    shown: list[str] = []
    for name in names:
        if len(", ".join(shown + [name])) > limit - 30:
            break
        shown.append(name)
    return f"{', '.join(shown)} and {len(names) - len(shown)} more: automl schema lists them"

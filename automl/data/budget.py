"""How much decoded data a process may hold in memory: ``data.memory_budget``'s default.

Past the budget an image folder is decoded to a file on disk instead (:mod:`automl.data.streamed`).
"""

from __future__ import annotations

import os
from pathlib import Path

BUDGET_SHARE = 8  # auto: an eighth of this machine's memory (coordinator, workers, TensorFlow)


def default_budget() -> int:
    """``data.memory_budget: auto``: an eighth of this machine's memory (of the container's
    limit where a cgroup sets a lower one), in bytes."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()  # cgroup v2
        if limit.isdigit():
            total = min(total, int(limit))
    except OSError:
        pass
    return total // BUDGET_SHARE

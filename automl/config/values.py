"""One setting's value checked, with one refusal naming its key: the keys of a mapping, a whole
number in range, a name from a table, a path that exists, a duration."""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from automl import domains
from automl.config.reader import Document
from automl.errors import allowed_list, did_you_mean


def parse_duration(value: Any, key: str, doc: Document) -> float | None:
    """``90``, ``"90s"``, ``"10m"``, ``"1.5h"`` -> seconds; ``None`` for no limit."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    match = re.fullmatch(domains.DURATION, str(value))
    if isinstance(value, str) and match and float(match.group(1)) > 0:
        return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    raise doc.error(key, f"expects a duration like 90s, 10m or 1h; found {value!r}")


def parse_size(value: Any, key: str, doc: Document) -> int | None:
    """``"512MB"``, ``"4GB"``, ``"1.5TB"`` (1GB = 1024**3 bytes) -> bytes; ``"auto"`` -> None."""
    if value is None or value == "auto":
        return None
    match = re.fullmatch(domains.SIZE, str(value)) if isinstance(value, str) else None
    if match and float(match.group(1)) > 0:
        unit = match.group(2).replace("i", "")
        return int(float(match.group(1)) * domains.SIZE_UNITS[unit])
    raise doc.error(key, f"expects a size like 512MB or 4GB, or auto; found {value!r}")


def int_setting(doc: Document, value: Any, key: str, domain: domains.Domain) -> int:
    """A whole number in ``domain`` (one of :mod:`automl.domains`' integer domains)."""
    if not domain.accepts(value):
        raise doc.error(
            key,
            f"expects a whole number from {domain.low:.0f} to {domain.high:,.0f}; found {value!r}",
        )
    return int(value)


def name_setting(doc: Document, value: Any, key: str, allowed: Collection[str], what: str) -> str:
    if value not in allowed:
        raise doc.error(
            key,
            f"unknown {what} {value!r}{did_you_mean(value, allowed)} "
            f"(allowed: {allowed_list(allowed)})",
        )
    return value


def resolve_path(doc: Document, value: Any, key: str, what: str) -> str:
    """A path as written, relative to the current folder or else to the space file's folder."""
    if not isinstance(value, str) or not value:
        raise doc.error(key, f"expects the path of {what}; found {value!r}")
    path = Path(value).expanduser()
    if not path.exists() and doc.file and not path.is_absolute():
        beside = Path(doc.file).parent / path
        if beside.exists():
            path = beside
    if not path.exists():
        raise doc.error(
            key,
            f"{value} does not exist (looked in the current folder"
            f"{' and beside the space file' if doc.file else ''}); give the "
            f"path of {what}",
        )
    return str(path)


def check_keys(doc: Document, section: Any, allowed: set[str], path: str) -> dict[str, Any]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise doc.error(
            path, f"expects a mapping of settings ({allowed_list(allowed)}); found {section!r}"
        )
    for key in section:
        if key not in allowed:
            raise doc.error(
                f"{path}.{key}" if path else str(key),
                f"unknown key {key!r}{did_you_mean(key, allowed)} (allowed: "
                f"{allowed_list(allowed)})",
            )
    return section

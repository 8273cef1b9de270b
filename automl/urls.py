"""Passwords never leave the URL they came in: every URL automl shows or records is redacted.

Example:
    >>> redact("postgresql://alice:s3cret@db:5432/optuna")
    'postgresql://alice:***@db:5432/optuna'
    >>> redact("see postgresql://alice:s3cret@db/optuna for details")
    'see postgresql://alice:***@db/optuna for details'
"""

from __future__ import annotations

import re

# scheme://user:password@  ->  scheme://user:***@
_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)([^@\s]+)(@)")


def redact(text: str | None) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    if not text:
        return text or ""
    return _CREDENTIALS.sub(r"\1***\3", text)


def password_of(url: str | None) -> str | None:
    """The password a URL carries, if any (to scrub it from text that did not come as a URL)."""
    match = _CREDENTIALS.search(url or "")
    return match.group(2) if match else None


def usable_uri(uri: str | None) -> str | None:
    """A recorded (redacted) URI is usable as it is, unless a password was taken out of it."""
    return None if not uri or "***@" in uri else uri

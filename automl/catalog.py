"""The ready spaces that ship with automl, and how to name them on the command line.

They live in the repository's top-level ``search_spaces/`` folder, which the package installs as
``automl.search_spaces`` (see ``[tool.setuptools]`` in ``pyproject.toml``), so ``automl search
mnist1d`` works from any folder after a plain ``pip install``, editable or not. Nothing here
imports TensorFlow: ``automl spaces`` answers at once.

Example:
    >>> sorted(ready_spaces())[:2]
    ['breast_cancer', 'digits']
"""

from __future__ import annotations

import difflib
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

# a checkout run without installing, or installed editable before the folder was mapped
CHECKOUT_FOLDER = Path(__file__).resolve().parent.parent / "search_spaces"


@dataclass(frozen=True)
class ReadySpace:
    """One ready space, as ``automl spaces`` lists it."""

    name: str  # what ``automl search NAME`` takes: the file's stem
    path: Path
    description: str  # the file's ``description:``, else its first comment line
    source: str  # ``data.source`` (or the kind of file the data comes from)

    @property
    def command(self) -> str:
        """The command that runs this space's search."""
        return f"automl search {self.name}"


def ready_spaces() -> dict[str, Path]:
    """The ready spaces by name (``mnist1d`` -> its YAML file), sorted by name."""
    return {path.stem: path for path in sorted(spaces_folder().glob("*.yaml"))}


def spaces_folder() -> Path:
    """The folder of the ready spaces: inside the installed package, else in the checkout."""
    try:
        folder = importlib.resources.files("automl.search_spaces")
    except ModuleNotFoundError:
        return CHECKOUT_FOLDER
    return Path(str(folder))  # pip installs packages as folders, so this is a real path


def describe_ready_spaces() -> list[ReadySpace]:
    """Every ready space with its description and data source, read from its file."""
    return [_describe(name, path) for name, path in ready_spaces().items()]


def suggest_ready_space(value: str) -> str | None:
    """The ready space a mistyped name (or a ``search_spaces/NAME.yaml`` path) most likely means.

    Only a bare name, or a path into a folder called ``search_spaces``, gets a suggestion: a
    path elsewhere is the user's own file, and the loader's "no such space file" fits it better.
    """
    given = Path(value)
    if given.parent.name not in ("", "search_spaces"):
        return None
    close = difflib.get_close_matches(given.stem, list(ready_spaces()), n=1, cutoff=0.6)
    return close[0] if close else None


def _describe(name: str, path: Path) -> ReadySpace:
    """Read one ready space's description and data source without validating it."""
    from ruamel.yaml import YAML

    text = path.read_text(encoding="utf-8")
    tree = YAML(typ="safe", pure=True).load(text)
    tree = tree if isinstance(tree, dict) else {}
    description = str(tree.get("description") or _first_comment(text) or "")
    data = tree.get("data")
    data = data if isinstance(data, dict) else {}
    from automl.config.records import FILE_SOURCES  # the file kinds, from the registry

    source = next(
        (f"{key} file" for key in FILE_SOURCES if key in data),
        str(data.get("source", "?")),
    )
    return ReadySpace(
        name=name, path=path, description=" ".join(description.split()), source=source
    )


def _first_comment(text: str) -> str | None:
    """The first ``#`` comment line of a file, without the ``#``."""
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return None

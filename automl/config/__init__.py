"""The search-space file as typed, validated config.

Loading happens in two steps, both before anything trains:

1. :func:`read_yaml` reads the file safely as YAML 1.2 (``1e-3`` is a float, ``yes`` is a string),
   refuses duplicate keys, tags, several documents, alias bombs and absurd nesting, and remembers
   the line of every key so errors can point at it.
2. :func:`load_space` checks every section against the vocabulary the builders understand and
   returns a :class:`SpaceConfig`.

Every problem raises :class:`~automl.errors.ConfigError` naming the file, line, key path, what was
found and what is allowed, with a "did you mean" for misspelt names.

Example:
    >>> cfg = load_space("search_spaces/mnist1d.yaml", overrides={"trials": 5})
    >>> cfg.search.trials
    5
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from automl import domains
from automl.config.checks import check_augment, check_model, check_text, check_training
from automl.config.reader import Document, read_yaml
from automl.config.records import (
    BUILTIN_SOURCES,
    FILE_SOURCES,
    LOSSES,
    OBJECTIVES,
    SECONDARY_OBJECTIVES,
    SELECT_KEYS,
    TASK_OBJECTIVES,
    TOP_KEYS,
    DataConfig,
    SearchConfig,
    SelectConfig,
    SpaceConfig,
)
from automl.config.sections import check_enqueue, check_grid, data_config, search_config, study_name
from automl.config.values import check_keys, int_setting, parse_duration
from automl.errors import ConfigError, allowed_list, did_you_mean
from automl.registry import AUGMENTATIONS
from automl.space import Group, parse_space


def space_from_tree(doc: Document, text: str | None = None) -> SpaceConfig:
    """Validate a parsed document and build the typed config."""
    tree = check_keys(doc, doc.tree, TOP_KEYS, "")
    default_name = Path(doc.file).stem if doc.file else "automl"
    name = study_name(doc, tree.get("name", default_name))
    if not isinstance(tree.get("description", ""), str):
        raise doc.error("description", "expects one line of text saying what the space is for")
    data_tree = tree.get("data") or {}
    data = data_config(doc, data_tree)

    searched = {
        "data": {
            "augment": (data_tree.get("augment") or {}),
            "text": (data_tree.get("text") or {}),
        },
        "model": tree.get("model") or {},
        "training": tree.get("training") or {},
    }
    for key in ("model", "training"):
        if not isinstance(searched[key], dict):
            raise doc.error(key, f"expects a mapping of settings; found {searched[key]!r}")
    space = parse_space(searched, "", doc.error)
    assert isinstance(space, Group)
    augment = space.group("data").get("augment")
    if not isinstance(augment, Group):
        raise doc.error(
            "data.augment", f"expects a mapping of augmentations ({allowed_list(AUGMENTATIONS)})"
        )
    check_augment(doc, augment)
    tokenizer = space.group("data").get("text")
    if not isinstance(tokenizer, Group):
        raise doc.error(
            "data.text", f"expects a mapping of tokenizer settings ({', '.join(domains.TEXT_ARGS)})"
        )
    check_text(doc, tokenizer)
    check_model(doc, space.group("model"))
    check_training(doc, space.group("training"))

    search = search_config(doc, tree.get("search"))
    check_enqueue(doc, space, search.enqueue)
    if search.sampler == "grid":
        check_grid(doc, space)
    select = check_keys(doc, tree.get("select"), SELECT_KEYS, "select")
    top_k = int_setting(doc, select.get("top_k", 5), "select.top_k", domains.TOP_K)
    ensemble = select.get("ensemble", False)
    if not isinstance(ensemble, bool):
        raise doc.error("select.ensemble", f"must be true or false, not {ensemble!r}")
    return SpaceConfig(
        name=name,
        data=data,
        search=search,
        select=SelectConfig(top_k, ensemble),
        space=space,
        file=doc.file,
        text=text,
        tree=doc.tree,
        lines=dict(doc.lines),
        overridden=doc.overridden,
    )


def load_space(source: str | Path | dict, overrides: dict[str, Any] | None = None) -> SpaceConfig:
    """Read and validate a search space.

    Args:
        source: a path to a YAML file, the name of a ready space (``"mnist1d"``, see
            ``automl spaces``), or the same structure as a dict.
        overrides: values that replace keys of the ``search:`` section (``trials``, ``timeout``,
            ``sampler``, ...), as the CLI's ``--trials`` and the Python API's keywords do.

    Raises:
        ConfigError: naming the file, line and key of the first problem found.
    """
    if isinstance(source, dict):
        doc, text = Document(None, source), None
    else:
        path = Path(source)
        if not path.exists():  # the name of a ready space, as the CLI takes it: "mnist1d"
            from automl.catalog import ready_spaces, suggest_ready_space

            path = ready_spaces().get(str(source), path)
            close = None if path.exists() else suggest_ready_space(str(source))
            if close:
                raise ConfigError(
                    f"no such space file or ready space; did you mean {close!r}? "
                    f"(automl spaces lists them)",
                    file=str(source),
                )
        if not path.is_file():
            hint = " (it is a folder)" if path.is_dir() else ""
            raise ConfigError(
                f"no such space file{hint}; give the path of a YAML file or the "
                f"name of a ready space such as mnist1d (automl spaces lists "
                f"them)",
                file=str(source),
            )
        source = path
        text = path.read_text(encoding="utf-8", errors="replace")
        doc = read_yaml(text, str(source))
    if overrides:
        tree = dict(doc.tree)
        section = tree.get("search")
        search = dict(section) if isinstance(section, dict) else {}
        given = {key: value for key, value in overrides.items() if value is not None}
        search.update(given)
        tree["search"] = search
        doc = replace(doc, tree=tree, overridden=frozenset(f"search.{k}" for k in given))
    return space_from_tree(doc, text)


def config_from_tree(
    tree: dict[str, Any], file: str | None = None, text: str | None = None
) -> SpaceConfig:
    """The config of a document that was validated before (a worker rebuilding its study's)."""
    return space_from_tree(Document(file, tree), text)


__all__ = [
    "BUILTIN_SOURCES",
    "FILE_SOURCES",
    "LOSSES",
    "OBJECTIVES",
    "SECONDARY_OBJECTIVES",
    "TASK_OBJECTIVES",
    "DataConfig",
    "SearchConfig",
    "SelectConfig",
    "SpaceConfig",
    "config_from_tree",
    "did_you_mean",
    "load_space",
    "parse_duration",
    "read_yaml",
    "space_from_tree",
]

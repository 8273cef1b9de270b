"""Reading a space file safely as YAML 1.2: duplicate keys, tags, several documents, alias
bombs and absurd nesting refused; the line of every key remembered, so that errors point at it."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from automl.errors import ConfigError

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_NODES = 100_000


@dataclass
class Document:
    """A parsed file: its plain tree plus the line of every key path, for error messages."""

    file: str | None
    tree: Any
    lines: dict[str, int] = field(default_factory=dict)
    overridden: frozenset[str] = frozenset()  # key paths given as options, not in the file

    def error(self, path: str, message: str) -> ConfigError:
        if path in self.overridden:  # point at the option the user gave, not at the file
            return ConfigError(message, key=f"{path} (given as an option)")
        line = None
        probe = path
        while probe and line is None:  # the nearest enclosing key or list item with a line
            line = self.lines.get(probe)
            probe = probe[: probe.rindex("[")] if probe.endswith("]") else probe.rpartition(".")[0]
        return ConfigError(message, file=self.file, key=path or None, line=line)


_FLOAT_SPECIAL = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
_STANDARD_TAG = re.compile(r"^tag:yaml\.org,2002:(str|int|float|bool|null|map|seq)$")


def read_yaml(text: str, file: str | None = None) -> Document:
    """Parse YAML 1.2 text into plain Python values, remembering the line of every key."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    def fail(message: str, line: int | None = None) -> ConfigError:
        return ConfigError(message, file=file, line=line)

    if len(text.encode()) > MAX_FILE_BYTES:
        raise fail(
            f"the file is {len(text.encode()):,} bytes, too large to be a search space "
            f"(limit {MAX_FILE_BYTES:,}); point at the space file, not at data"
        )
    try:
        documents = list(YAML(typ="safe", pure=True).compose_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise fail(
            f"this is not valid YAML ({problem}); check the indentation and quoting there",
            line=mark.line + 1 if mark else None,
        ) from None
    except YAMLError as exc:
        raise fail(f"this is not valid YAML ({exc})") from None
    except RecursionError:  # thousands of nested brackets: the parser itself gives up
        raise fail(
            f"nesting goes far deeper than {MAX_DEPTH} levels; a space file is a few "
            f"levels deep, flatten the structure"
        ) from None
    if len(documents) != 1 or documents[0] is None:
        raise fail(
            "a space file holds exactly one YAML document; found "
            f"{len(documents) if documents and documents[0] is not None else 'none'}"
            + ("; remove the '---' separators" if len(documents) > 1 else "")
        )
    doc = Document(file, None)
    count = [0]

    def build(node: Any, path: str, depth: int, stack: tuple[int, ...]) -> Any:
        count[0] += 1
        line = node.start_mark.line + 1
        if count[0] > MAX_NODES:
            raise fail(
                f"the file expands to more than {MAX_NODES:,} values (an alias bomb?); "
                f"write the space without repeated aliases",
                line,
            )
        if depth > MAX_DEPTH or id(node) in stack:
            raise fail(
                f"nesting goes deeper than {MAX_DEPTH} levels (a recursive anchor?) at "
                f"{path or 'the top'}; flatten the structure",
                line,
            )
        if not _STANDARD_TAG.match(node.tag or ""):
            raise fail(
                f"{path or 'the document'}: the tag {node.tag!r} is not allowed; space "
                f"files use plain values only",
                line,
            )
        kind = node.tag.rpartition(":")[2]
        stack = stack + (id(node),)
        if kind == "map":
            result: dict[Any, Any] = {}  # keys as YAML reads them; checked below
            for key_node, value_node in node.value:
                key = build(key_node, path, depth + 1, stack)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise fail(f"{path or 'the document'}: keys must be plain names", line)
                key_path = f"{path}.{key}" if path else str(key)
                if key in result or str(key) in map(str, result):
                    raise fail(
                        f"the key {key_path!r} appears twice; keep one of them",
                        key_node.start_mark.line + 1,
                    )
                doc.lines[key_path] = key_node.start_mark.line + 1
                # branch options are named without 'choice' in parameter names
                doc.lines.setdefault(key_path.replace(".choice.", "."), doc.lines[key_path])
                result[key] = build(value_node, key_path, depth + 1, stack)
            return result
        if kind == "seq":
            items = []
            for i, item in enumerate(node.value):
                doc.lines[f"{path}[{i}]"] = item.start_mark.line + 1
                items.append(build(item, f"{path}[{i}]", depth + 1, stack))
            return items
        return _scalar(kind, node.value)

    doc.tree = build(documents[0], "", 0, ())
    if not isinstance(doc.tree, dict):
        raise fail(
            "a space file is a mapping with sections like data:, model:, training:, "
            "search:; found a single value"
        )
    return doc


def _scalar(kind: str, value: str) -> Any:
    if kind == "null":
        return None
    if kind == "bool":
        return value.lower() == "true"
    if kind == "int":
        value = value.replace("_", "")
        return int(value, 0) if value[:2].lower() in ("0x", "0o") else int(value)
    if kind == "float":
        special = _FLOAT_SPECIAL.get(value.lower())
        return special if special is not None else float(value.replace("_", ""))
    return value

"""Declarative search spaces: parse a YAML tree into parameters, sample it with an Optuna trial.

A value in a space file is either *fixed* (a scalar, a list, or a mapping of further values) or
*searched*, written as a mapping with one of these keys::

    dropout: {float: [0.0, 0.5]}                      # uniform float
    learning_rate: {float: [1.0e-4, 1.0e-2], log: true}
    filters: {int: [16, 128], log: true}              # int, optionally with step: 8
    kernel_size: {choice: [3, 5, 7]}                  # one of several scalars
    batch_norm: {bool: true}                          # searched True/False
    architecture:                                     # a choice of mappings is a conditional
      choice:                                         # branch: each option has its own params
        cnn: {blocks: {int: [1, 4]}}
        mlp: {layers: {int: [1, 3]}}

Every searched value becomes one Optuna parameter named by its key path
(``model.architecture.cnn.blocks``); the same names are used in MLflow. Sampling returns plain
Python values; a branch samples to ``{"name": <option>, **its params}``.

Example:
    >>> import optuna
    >>> space = parse_space({"lr": {"float": [1e-4, 1e-2], "log": True}, "epochs": 3})
    >>> params = space.sample(optuna.trial.FixedTrial({"lr": 0.001}))
    >>> params
    {'lr': 0.001, 'epochs': 3}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from automl.errors import ConfigError

SEARCH_KEYS = ("choice", "int", "float", "bool")
MODIFIER_KEYS = ("log", "step")
MAX_INT = 2**53

# Raises a ConfigError for a key path; config.py binds it to the file and its line numbers.
ErrorFactory = Callable[[str, str], ConfigError]


def _plain_error(path: str, message: str) -> ConfigError:
    return ConfigError(message, key=path or None)


class Node:
    """One value of a space: fixed, searched, or a group of further nodes."""

    path: str

    def sample(self, trial: Any) -> Any:
        raise NotImplementedError

    def parameters(self) -> Iterator["Node"]:
        """The searched parameters at or below this node (branches included)."""
        return iter(())

    def possible_values(self) -> list[Any] | None:
        """Every value this node can take, or None for a continuous range."""
        return None

    def describe(self) -> str:
        """The values this node takes, in words (the searched nodes say it their way)."""
        return repr(self.possible_values())


@dataclass
class Fixed(Node):
    path: str
    value: Any

    def sample(self, trial: Any) -> Any:
        return self.value

    def possible_values(self) -> list[Any]:
        return [self.value]


@dataclass
class Choice(Node):
    path: str
    choices: list[Any]

    def sample(self, trial: Any) -> Any:
        return trial.suggest_categorical(self.path, self.choices)

    def parameters(self) -> Iterator[Node]:
        yield self

    def possible_values(self) -> list[Any]:
        return list(self.choices)

    def describe(self) -> str:
        return "choice of " + ", ".join(repr(c) for c in self.choices)

    def size(self) -> float:
        return len(self.choices)


@dataclass
class Range(Node):
    path: str
    kind: str  # "int" or "float"
    low: float
    high: float
    log: bool = False
    step: float | None = None

    def sample(self, trial: Any) -> Any:
        if self.kind == "int":
            return trial.suggest_int(
                self.path, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        return trial.suggest_float(
            self.path, float(self.low), float(self.high), step=self.step, log=self.log
        )

    def parameters(self) -> Iterator[Node]:
        yield self

    @property
    def bounds(self) -> tuple[float, float]:
        return (self.low, self.high)

    def describe(self) -> str:
        extra = " log" if self.log else (f" step {self.step}" if self.step else "")
        return f"{self.kind} in [{self.low}, {self.high}]{extra}"

    def size(self) -> float:
        if self.kind == "int":
            return (int(self.high) - int(self.low)) // int(self.step or 1) + 1
        if self.step:
            return round((self.high - self.low) / self.step) + 1
        return math.inf


@dataclass
class Branch(Node):
    """A choice between named options, each with its own sub-space (a conditional parameter)."""

    path: str
    options: dict[str, "Group"]

    def sample(self, trial: Any) -> dict[str, Any]:
        name = trial.suggest_categorical(self.path, list(self.options))
        return {"name": name, **self.options[name].sample(trial)}

    def parameters(self) -> Iterator[Node]:
        yield self
        for option in self.options.values():
            yield from option.parameters()

    def possible_values(self) -> list[str]:
        return list(self.options)

    def describe(self) -> str:
        return "branch: " + ", ".join(self.options)

    def size(self) -> float:
        return sum(_group_size(option) for option in self.options.values())


@dataclass
class Group(Node):
    """A mapping of named nodes; samples to a dict."""

    path: str
    children: dict[str, Node] = field(default_factory=dict)

    def sample(self, trial: Any) -> dict[str, Any]:
        return {key: child.sample(trial) for key, child in self.children.items()}

    def parameters(self) -> Iterator[Node]:
        for child in self.children.values():
            yield from child.parameters()

    def get(self, key: str) -> Node | None:
        return self.children.get(key)

    def group(self, key: str) -> Group:
        """The child ``key``, a group (a space's ``model``, ``training`` and ``data.augment``
        always are: the config checks them)."""
        child = self.children[key]
        if not isinstance(child, Group):
            raise TypeError(
                f"{child_path(self.path, key)} is a {type(child).__name__}, not a group"
            )
        return child

    def size(self) -> float:
        return _group_size(self)


@dataclass
class Sequence(Node):
    """A list whose items may be searched (``dropout: [0.1, {float: [0.1, 0.5]}]``)."""

    path: str
    items: list[Node]

    def sample(self, trial: Any) -> list[Any]:
        return [item.sample(trial) for item in self.items]

    def parameters(self) -> Iterator[Node]:
        for item in self.items:
            yield from item.parameters()

    def size(self) -> float:
        return _group_size(Group(self.path, {str(i): n for i, n in enumerate(self.items)}))


def _group_size(group: Group) -> float:
    """Number of distinct configurations of a group (inf when a float range is continuous)."""
    total = 1.0
    for child in group.children.values():
        if isinstance(child, Group):
            total *= _group_size(child)
        elif isinstance(child, (Choice, Range, Branch, Sequence)):
            total *= child.size()
    return total


def child_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)


def parse_space(tree: Any, path: str = "", error: ErrorFactory = _plain_error) -> Node:
    """Turn a plain YAML tree into a :class:`Node`, validating every searched value.

    Args:
        tree: the loaded YAML value (mappings, lists, scalars).
        path: the key path of ``tree`` in its document, used in parameter names and errors.
        error: makes the ConfigError for a key path (so errors can name the file and line).
    """
    if isinstance(tree, dict):
        if any(key in tree for key in SEARCH_KEYS):
            return _parse_searched(tree, path, error)
        return Group(
            path, {str(k): parse_space(v, child_path(path, str(k)), error) for k, v in tree.items()}
        )
    if isinstance(tree, list) and any(isinstance(v, dict) for v in tree):
        return Sequence(path, [parse_space(v, f"{path}[{i}]", error) for i, v in enumerate(tree)])
    return Fixed(path, tree)


def _parse_searched(spec: dict, path: str, error: ErrorFactory) -> Node:
    kinds = [key for key in SEARCH_KEYS if key in spec]
    if len(kinds) > 1:
        raise error(
            path,
            f"has both {kinds[0]!r} and {kinds[1]!r}; a searched value uses exactly one "
            f"of {', '.join(SEARCH_KEYS)}",
        )
    kind = kinds[0]
    unknown = [key for key in spec if key not in SEARCH_KEYS + MODIFIER_KEYS]
    if unknown:
        raise error(
            path,
            f"unknown key {unknown[0]!r} next to {kind!r}; a searched value may "
            f"only add 'log' and 'step'",
        )
    body = spec[kind]
    if kind in ("int", "float"):
        return _parse_range(kind, body, spec.get("log", False), spec.get("step"), path, error)
    if "log" in spec or "step" in spec:
        raise error(path, f"'log' and 'step' apply to int and float ranges, not to {kind!r}")
    if kind == "bool":
        if body is not True:
            raise error(
                path,
                "write 'bool: true' to search True and False (or give a fixed "
                "true/false value instead)",
            )
        return Choice(path, [True, False])
    if isinstance(body, dict):
        return _parse_branch(body, path, error)
    return _parse_choice(body, path, error)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse_range(
    kind: str, body: Any, log: Any, step: Any, path: str, error: ErrorFactory
) -> Range:
    example = "[16, 128]" if kind == "int" else "[1.0e-4, 1.0e-2]"
    if not (isinstance(body, list) and len(body) == 2 and all(_is_number(b) for b in body)):
        raise error(
            path,
            f"{kind} expects a list of two numbers [low, high], e.g. {kind}: "
            f"{example}; found {body!r}",
        )
    low, high = body
    if kind == "int":  # [1.0, 8.0]: whole numbers, as JSON counts them
        low, high, step = (
            int(v) if isinstance(v, float) and v.is_integer() else v for v in (low, high, step)
        )
    if not all(math.isfinite(b) for b in (low, high)):
        raise error(path, f"{kind} bounds must be finite numbers; found {body!r}")
    if kind == "int" and not all(isinstance(b, int) for b in (low, high)):
        raise error(
            path,
            f"int bounds must be whole numbers; found {body!r} (use float: for fractional values)",
        )
    if kind == "int" and max(abs(low), abs(high)) > MAX_INT:
        raise error(path, f"int bounds must lie within ±2**53; found {body!r}")
    if low > high:
        raise error(path, f"low bound {low} is above high bound {high}; write [{high}, {low}]")
    if not isinstance(log, bool):
        raise error(path, f"log must be true or false; found {log!r}")
    if log and low <= 0:
        raise error(path, f"a log range needs a low bound above 0; found {low}")
    if step is not None:
        if log:
            raise error(path, "log and step cannot be combined; drop one of them")
        if not _is_number(step) or step <= 0 or not math.isfinite(step):
            raise error(path, f"step must be a positive number; found {step!r}")
        if kind == "int" and not isinstance(step, int):
            raise error(path, f"an int range needs a whole-number step; found {step!r}")
        spans = (high - low) / step
        if abs(spans - round(spans)) > 1e-9:
            raise error(
                path,
                f"step {step} does not divide the range [{low}, {high}]; choose a "
                f"step that does, or bounds that are a whole number of steps apart",
            )
    return Range(path, kind, low, high, log, step)


def _parse_choice(body: Any, path: str, error: ErrorFactory) -> Choice:
    if not isinstance(body, list) or not body:
        raise error(
            path,
            f"choice expects a non-empty list of values (or a mapping of named "
            f"options); found {body!r}",
        )
    for value in body:
        if not (value is None or isinstance(value, (bool, int, float, str))):
            raise error(
                path,
                f"choice values must be plain scalars; found {value!r} (to choose "
                f"between mappings, give choice a mapping of named options)",
            )
    kinds = {
        "bool" if isinstance(v, bool) else "number" if _is_number(v) else type(v).__name__
        for v in body
        if v is not None
    }
    if len(kinds) > 1:
        raise error(
            path,
            f"choice mixes value types ({', '.join(sorted(kinds))}): {body!r}; "
            f"keep the options of one type",
        )
    if len(set(map(repr, body))) != len(body):
        raise error(path, f"choice lists a value twice: {body!r}")
    return Choice(path, list(body))


def _parse_branch(body: dict, path: str, error: ErrorFactory) -> Branch:
    if not body:
        raise error(path, "choice needs at least one option")
    options: dict[str, Group] = {}
    for name, sub in body.items():
        sub_path = child_path(path, str(name))
        if sub is None:
            sub = {}
        if not isinstance(sub, dict) or any(key in sub for key in SEARCH_KEYS):
            raise error(
                sub_path,
                "each option of a branch choice is a mapping of its own "
                "parameters (write {} for an option without parameters)",
            )
        if "name" in sub:
            raise error(
                child_path(sub_path, "name"),
                "'name' is reserved for the chosen option's name; rename this parameter",
            )
        node = parse_space(sub, sub_path, error)
        assert isinstance(node, Group)
        options[str(name)] = node
    return Branch(path, options)

"""The checks of the searched sections (``data.augment``, ``model``, ``training``): every name
against its registry, every fixed or searched value against its domain."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Set
from pathlib import Path

from automl import domains
from automl.config.reader import Document
from automl.config.records import LOSSES, TRAINING_KEYS
from automl.config.values import check_keys, resolve_path
from automl.domains import Domain
from automl.errors import allowed_list, did_you_mean
from automl.models.builder import ACTIVATIONS, MODEL_KEYS
from automl.registry import (
    AUGMENTATIONS,
    COMMON_OPTIMIZER_ARGS,
    FAMILIES,
    INITIALIZERS,
    OPTIMIZERS,
    SCHEDULES,
)
from automl.space import Branch, Choice, Fixed, Group, Node, Range, Sequence


class _Checker:
    """Checks every value a node of the model/training/augment tree can take against its domain.

    The domains come from :mod:`automl.domains`, the same table the JSON Schema is written from.
    """

    def __init__(self, doc: Document) -> None:
        self.doc = doc

    def value(self, node: Node | None, domain: Domain, per_item: bool = False) -> None:
        """Every value ``node`` can take lies in ``domain`` (``per_item``: or a list of such)."""
        if node is None:
            return
        if per_item and isinstance(node, Sequence):
            for item in node.items:
                self.value(item, domain)
            return
        if per_item and isinstance(node, Fixed) and isinstance(node.value, list):
            for i, item in enumerate(node.value):
                self.value(Fixed(f"{node.path}[{i}]", item), domain)
            return
        if isinstance(node, (Group, Branch, Sequence)):
            raise self.doc.error(
                node.path,
                f"expects {domain.describe()} (or a searched "
                f"{'range' if domain.numeric else 'choice'})",
            )
        if isinstance(node, Range):
            if not domain.numeric:
                raise self.doc.error(
                    node.path,
                    f"expects {domain.describe()}; a range "
                    f"({node.kind}:) cannot search it, use choice:",
                )
            if domain.kind == "integer" and node.kind != "int":
                raise self.doc.error(node.path, "expects whole numbers; use int: instead of float:")
        values = list(node.bounds) if isinstance(node, Range) else node.possible_values() or []
        for value in values:
            problem = domain.problem(value)
            if problem:
                if domain.kind == "enum":
                    problem += did_you_mean(value, domain.values)
                raise self.doc.error(node.path, problem)

    def names(self, node: Node | None, allowed: Iterable[str], what: str) -> None:
        """A name (or a choice of names, or a branch of named options) from ``allowed``."""
        if node is None:
            return
        allowed = set(allowed)
        if isinstance(node, (Group, Range, Sequence)):
            raise self.doc.error(node.path, f"expects {what} name ({allowed_list(allowed)})")
        for value in node.possible_values() or []:
            if value not in allowed:
                # a branch option is a key of its own: point at its line
                path = f"{node.path}.{value}" if isinstance(node, Branch) else node.path
                raise self.doc.error(
                    path,
                    f"unknown {what} {value!r}"
                    f"{did_you_mean(value, allowed)} (allowed: "
                    f"{allowed_list(allowed)})",
                )

    def options(
        self,
        node: Node | None,
        table: dict[str, set[str]],
        what: str,
        domain: Callable[[str, str], Domain | None],
        extra_args: Set[str] = frozenset(),
        check: Callable[[Group], None] | None = None,
        needs_options: dict[str, str] | None = None,
    ) -> None:
        """A name from ``table``, or a branch whose options are such names with arguments.

        Args:
            domain: ``(option, argument) -> Domain`` of each argument an option sets (None:
                an argument that ``check`` looks at itself).
            needs_options: option names that cannot stand alone -> the fix to suggest.
        """
        if node is None:
            return
        self.names(node, table, what)
        needs = needs_options or {}
        if not isinstance(node, Branch):
            for name in node.possible_values() or []:
                if name in needs:
                    raise self.doc.error(
                        node.path, f"{name} needs options of its own: {needs[name]}"
                    )
            return
        for name, option in node.options.items():
            if name in needs and not option.children:
                raise self.doc.error(option.path, f"{name} needs options of its own: {needs[name]}")
            if name == "custom":  # a custom builder takes params of its own
                if check:
                    check(option)
                continue
            check_keys(
                self.doc,
                {k: None for k in option.children},
                table[name] | set(extra_args),
                option.path,
            )
            for argument, child in option.children.items():
                found = domain(name, argument)
                if found is not None and argument != "base":  # the others: checked by ``check``
                    self.value(child, found)
            if check:
                check(option)


CUSTOM_FIX = "write architecture: {choice: {custom: {builder: my_models:build}}}"
TRANSFER_FIX = "write architecture: {choice: {transfer: {base: MobileNetV2}}} (or a .keras file)"


def check_model(doc: Document, model: Group) -> None:
    c = _Checker(doc)
    check_keys(doc, {k: None for k in model.children}, MODEL_KEYS, "model")

    def check_arch(option: Group) -> None:
        if option.path.endswith(".transfer"):
            _check_transfer(doc, option)
        elif option.path.endswith(".custom"):
            _check_custom(doc, option)

    c.options(
        model.get("architecture"),
        FAMILIES.args(),
        "architecture",
        lambda family, arg: FAMILIES[family].args[arg],
        check=check_arch,
        needs_options={"custom": CUSTOM_FIX, "transfer": TRANSFER_FIX},
    )
    c.options(
        model.get("initializer"),
        INITIALIZERS.args(),
        "initializer",
        lambda name, arg: INITIALIZERS[name].args[arg],
        check=_initializer_check(doc),
    )
    c.names(model.get("activation"), ACTIVATIONS, "activation")
    for key, domain in domains.MODEL_ARGS.items():
        c.value(model.get(key), domain, per_item=key in domains.PER_ITEM)


def _initializer_check(doc: Document) -> Callable[[Group], None]:
    def check(option: Group) -> None:
        low, high = option.get("minval"), option.get("maxval")
        if (
            isinstance(low, Fixed)
            and isinstance(high, Fixed)
            and isinstance(low.value, (int, float))
            and isinstance(high.value, (int, float))
            and low.value >= high.value
        ):
            raise doc.error(high.path, f"maxval ({high.value}) must be above minval ({low.value})")

    return check


def _check_custom(doc: Document, option: Group) -> None:
    from automl.models.builder import import_builder

    builder = option.get("builder")
    if not isinstance(builder, Fixed) or not isinstance(builder.value, str):
        raise doc.error(
            f"{option.path}.builder",
            f"a custom architecture names its function as builder: module:function; {CUSTOM_FIX}",
        )
    try:
        import_builder(builder.value, search_dirs=_space_dirs(doc))
    except ValueError as error:  # a BuilderError's short form shows its paths relative to cwd
        raise doc.error(f"{option.path}.builder", getattr(error, "short", str(error))) from None


def _space_dirs(doc: Document) -> list[str]:
    """Where relative paths and builder modules are looked up after the current folder."""
    return [str(Path(doc.file).resolve().parent)] if doc.file else []


def _check_transfer(doc: Document, option: Group) -> None:
    base = option.get("base")
    if not isinstance(base, (Fixed, Choice)):
        raise doc.error(
            f"{option.path}.base",
            "a transfer architecture names its base: a Keras "
            "Applications network (MobileNetV2), a .keras file, "
            "or study:NAME (the winner of an earlier study)",
        )
    for value in base.possible_values():
        value = str(value)
        if value.endswith(".keras"):
            found = resolve_path(doc, value, f"{option.path}.base", "a saved .keras model")
            if isinstance(base, Fixed):  # found beside the space file: trials load it there
                base.value = str(Path(found).resolve())
        elif not value.startswith("study:"):
            import keras

            if not callable(getattr(keras.applications, value, None)):
                names = [n for n in dir(keras.applications) if n[:1].isupper()]
                raise doc.error(
                    f"{option.path}.base",
                    f"unknown Keras Applications network {value!r}{did_you_mean(value, names)}",
                )


def check_training(doc: Document, training: Group) -> None:
    c = _Checker(doc)
    check_keys(doc, {k: None for k in training.children}, TRAINING_KEYS, "training")

    def check_schedule(option: Group) -> None:
        if not option.path.endswith(".piecewise"):
            return
        epochs, factors = option.get("epochs"), option.get("factors")
        bounds = epochs.value if isinstance(epochs, Fixed) else [10, 20]
        ok = (
            isinstance(bounds, list)
            and bounds == sorted(bounds)
            and all(isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in bounds)
        )
        if factors is None:
            count = len(bounds) + 1 if ok else -1
        elif (
            isinstance(factors, Fixed)
            and isinstance(factors.value, list)
            and all(domains.POSITIVE.accepts(f) for f in factors.value)
        ):
            count = len(factors.value)
        else:
            count = -1  # searched as a whole, or not positive numbers
        if not ok or count != len(bounds) + 1:
            raise doc.error(
                option.path,
                "piecewise takes increasing epochs: [10, 20] and one "
                "more factor than epochs: [1.0, 0.1, 0.01]",
            )

    c.options(
        training.get("optimizer"),
        OPTIMIZERS.args(),
        "optimizer",
        lambda name, arg: OPTIMIZERS[name].args[arg],
        extra_args=COMMON_OPTIMIZER_ARGS,
    )
    c.options(
        training.get("schedule"),
        SCHEDULES.args(),
        "schedule",
        lambda name, arg: SCHEDULES[name].args[arg],
        check=check_schedule,
    )
    for key, domain in domains.TRAINING_ARGS.items():
        node = training.get(key)
        if key in domains.SWITCHES and node is not None and not isinstance(node, Fixed):
            raise doc.error(
                node.path, "is on or off for the whole search, not searched; write true or false"
            )
        c.value(node, domain)
    c.names(training.get("loss"), LOSSES["classification"] + LOSSES["regression"], "loss")


def check_text(doc: Document, text: Group) -> None:
    """``data.text``: the tokenizer's settings, each in its domain (searched or fixed)."""
    c = _Checker(doc)
    check_keys(doc, {k: None for k in text.children}, set(domains.TEXT_ARGS), "data.text")
    for key, domain in domains.TEXT_ARGS.items():
        c.value(text.get(key), domain)


def check_augment(doc: Document, augment: Group) -> None:
    c = _Checker(doc)
    check_keys(doc, {k: None for k in augment.children}, set(AUGMENTATIONS), "data.augment")
    for key, domain in domains.AUGMENT_ARGS.items():
        c.value(augment.get(key), domain)

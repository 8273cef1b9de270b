"""The JSON Schema and ``automl validate`` judge every space the same way.

Hypothesis writes spaces from the vocabulary and domain tables, with values inside and outside
each argument's domain, in every form (fixed, int/float ranges, choices, bool, branches), with
misspelt keys now and then; the schema and the validator must accept or refuse each one alike.

Left out on purpose, because only the validator can judge them (see ``automl/schema.py``): files
and modules that must exist (csv/images paths, custom builders, transfer bases), a range's low
bound above its high bound, ``step`` that does not divide a range, a log range starting at 0,
the piecewise schedule's lists, and what the data must fit. NaN and infinities are YAML's, not
JSON's: the validator refuses them (tested below), a JSON Schema cannot say so.
"""

from __future__ import annotations

import math

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automl import domains
from automl.config import load_space
from automl.domains import Domain
from automl.errors import ConfigError
from automl.models.builder import ACTIVATIONS
from automl.registry import COMMON_OPTIMIZER_ARGS, INITIALIZERS, OPTIMIZERS, SCHEDULES
from automl.schema import space_schema

VALIDATOR = jsonschema.Draft202012Validator(space_schema())
FAMILIES = {
    "mlp": {"layers", "units", "shrink"},
    "cnn": {"blocks", "filters", "kernel_size", "pooling", "head", "dense_units", "residual"},
}


def finite(low: float = -1e6, high: float = 1e6) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def inside(domain: Domain) -> st.SearchStrategy:
    """A plain value the domain accepts."""
    if domain.kind == "bool":
        return st.booleans()
    if domain.kind in ("enum",):
        return st.sampled_from(domain.values)
    if domain.kind == "text":
        return st.text("abcxyz_", min_size=1, max_size=5)
    low = max(domain.low, -1e6)
    high = min(domain.high, 1e6)
    if domain.kind == "integer":
        return st.integers(
            math.ceil(low + (1 if domain.low_open else 0)),
            math.floor(high - (1 if domain.high_open else 0)),
        )
    return st.floats(
        low, high, allow_nan=False, exclude_min=domain.low_open, exclude_max=domain.high_open
    )


def anything() -> st.SearchStrategy:
    """A plain value of any kind, mostly outside a given domain."""
    return st.one_of(
        st.booleans(),
        st.integers(-100, 100),
        finite(-100, 100),
        st.sampled_from(["adam", "fan_avgg", "max", "", "true"]),
        st.none(),
    )


def scalar(domain: Domain) -> st.SearchStrategy:
    return st.one_of(inside(domain), inside(domain), inside(domain), anything())


def numeric_pair(domain: Domain, whole: bool) -> st.SearchStrategy[list]:
    """Two sorted bounds (low <= high: inverted bounds are the validator's alone)."""
    if not domain.numeric:  # a range of an enum or a switch: both refuse it
        values = st.integers(-5, 5) if whole else finite(-2, 2)
    elif whole:
        values = st.one_of(inside(domain), st.integers(-5, 2000))
    else:
        values = st.one_of(inside(domain), finite(-2, 2))
    return st.lists(values, min_size=2, max_size=2).map(sorted)


def unique_choice(domain: Domain) -> st.SearchStrategy[list]:
    def key(v):  # uniqueness as JSON and the validator count it: 1 == 1.0, True != 1
        return (type(v) is bool, v)

    values = st.one_of(inside(domain), inside(domain), anything())
    return st.lists(values, min_size=1, max_size=3, unique_by=key)


def value(domain: Domain) -> st.SearchStrategy:
    """One key's value in any form the space language has."""
    forms = [
        scalar(domain),
        st.builds(lambda c: {"choice": c}, unique_choice(domain)),
        st.just({"bool": True}),
    ]
    forms.append(st.builds(lambda b: {"int": b}, numeric_pair(domain, whole=True)))
    forms.append(
        st.builds(
            lambda b, log: {"float": b, **({"log": True} if log and b[0] > 0 else {})},
            numeric_pair(domain, whole=False),
            st.booleans(),
        )
    )
    return st.one_of(forms)


def section(domain_of: dict[str, Domain], misspell: bool = True) -> st.SearchStrategy[dict]:
    """A mapping of some of the keys, each with a value (and now and then a misspelt key)."""
    keys = st.lists(st.sampled_from(sorted(domain_of)), max_size=3, unique=True)
    body = keys.flatmap(lambda ks: st.fixed_dictionaries({k: value(domain_of[k]) for k in ks}))
    if not misspell:
        return body
    typo = st.sampled_from([{}] * 9 + [{"dropuot": 0.1}])
    return st.builds(lambda d, t: {**d, **t}, body, typo)


def named(table: dict[str, set[str]], domain: callable) -> st.SearchStrategy:
    """A bare name, a choice of names, or a branch of options with arguments."""
    names = sorted(table)
    bare = st.one_of(
        st.sampled_from(names + ["adamm", "glorot_unifrm"]),
        st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True).map(
            lambda c: {"choice": c}
        ),
    )

    def option(name: str) -> st.SearchStrategy:
        args = {arg: domain(name, arg) for arg in table[name]}
        return (
            st.one_of(st.none(), section(args, misspell=False))
            if args
            else st.sampled_from([None, {}])
        )

    branch = (
        st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)
        .flatmap(lambda chosen: st.fixed_dictionaries({n: option(n) for n in chosen}))
        .map(lambda options: {"choice": options})
    )
    return st.one_of(bare, branch)


@st.composite
def spaces(draw) -> dict:
    """A whole space file (as loaded YAML)."""
    doc: dict = {}
    model = draw(section(domains.MODEL_ARGS))
    if draw(st.booleans()):
        model["architecture"] = draw(named(FAMILIES, lambda _, arg: domains.ARCHITECTURE_ARGS[arg]))
    if draw(st.booleans()):
        model["initializer"] = draw(
            named(INITIALIZERS.args(), lambda _, arg: domains.INITIALIZER_ARGS[arg])
        )
    if draw(st.booleans()):
        model["activation"] = draw(value(domains.enum(*ACTIVATIONS)))
    training = draw(section(domains.TRAINING_ARGS))
    if draw(st.booleans()):
        optimizers = {k: v | COMMON_OPTIMIZER_ARGS for k, v in OPTIMIZERS.args().items()}
        training["optimizer"] = draw(named(optimizers, lambda _, arg: domains.OPTIMIZER_ARGS[arg]))
    if draw(st.booleans()):
        schedules = {k: v for k, v in SCHEDULES.args().items() if k != "piecewise"}
        training["schedule"] = draw(named(schedules, domains.schedule_arg))
    augment = draw(section(domains.AUGMENT_ARGS))
    for key, part in (("model", model), ("training", training)):
        if part or draw(st.booleans()):
            doc[key] = part or None
    if augment:
        doc["data"] = {"source": "mnist1d", "augment": augment}
    if draw(st.booleans()):
        doc["search"] = {
            "trials": draw(st.one_of(st.integers(-1, 50), st.just(3.0))),
            "sampler": draw(st.sampled_from(["tpe", "random", "tpee"])),
        }
    return doc


def validator_accepts(doc: dict) -> tuple[bool, str]:
    try:
        load_space(doc)
    except ConfigError as error:
        return False, str(error)
    return True, ""


def schema_accepts(doc: dict) -> tuple[bool, str]:
    error = jsonschema.exceptions.best_match(VALIDATOR.iter_errors(doc))
    return error is None, "" if error is None else f"{error.json_path}: {error.message[:200]}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spaces())
def test_the_schema_and_the_validator_always_agree(doc):
    by_validator, why_not = validator_accepts(doc)
    by_schema, schema_why = schema_accepts(doc)
    assert by_validator == by_schema, (
        f"validator {'accepts' if by_validator else 'refuses: ' + why_not}; "
        f"schema {'accepts' if by_schema else 'refuses: ' + schema_why}"
    )


@pytest.mark.parametrize(
    "doc",
    [
        {"model": {"architecture": {"choice": {"cnn": {"residual": True}}}}},
        {"model": {"dropout": [0.1, {"float": [0.1, 0.3]}]}},
        {"model": {"dropout": [0.1, 0.2, 0.3]}},
        {"model": {"architecture": {"choice": {"custom": {"builder": "my_models:build"}}}}},
    ],
)
def test_what_the_issue_found_valid_the_schema_accepts(doc):
    assert schema_accepts(doc) == (True, "")


@pytest.mark.parametrize(
    "doc",
    [
        {"data": {"augment": {"flip": True}}},
        {"model": {"architecture": "custom"}},
        {"training": {"optimizer": {"choice": {"adam": {"beta_1": 1.5}}}}},
        {"training": {"mixed_precision": {"bool": True}}},
    ],
)
def test_what_the_validator_refuses_the_schema_refuses(doc):
    assert not validator_accepts(doc)[0]
    assert not schema_accepts(doc)[0]


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(
        [
            (section, key)
            for section, table in (
                ("model", domains.MODEL_ARGS),
                ("training", domains.TRAINING_ARGS),
            )
            for key, domain in table.items()
            if domain.numeric
        ]
    ),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
def test_nan_and_infinity_are_refused_wherever_a_number_goes(where, bad):
    section, key = where
    accepted, why = validator_accepts({section: {key: bad}})
    assert not accepted and f"{section}.{key}" in why

"""The space language: parsing, validation of ranges, sampling within bounds and conditions."""

from __future__ import annotations

import math

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automl.errors import ConfigError
from automl.space import Branch, Choice, Fixed, Group, Range, parse_space


def sample(space, seed=0, n=20):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append((space.sample(trial), trial.params))
        study.tell(trial, 0.0)
    return out


def test_fixed_values_and_groups_sample_as_given():
    space = parse_space({"a": 1, "b": {"c": "x", "d": [1, 2]}})
    assert isinstance(space, Group) and isinstance(space.children["a"], Fixed)
    assert space.sample(None) == {"a": 1, "b": {"c": "x", "d": [1, 2]}}
    assert list(space.parameters()) == []


def test_searched_values_are_named_by_key_path():
    space = parse_space(
        {
            "model": {
                "dropout": {"float": [0.0, 0.5]},
                "units": {"int": [16, 128], "log": True},
                "act": {"choice": ["relu", "gelu"]},
                "bn": {"bool": True},
            }
        }
    )
    names = [p.path for p in space.parameters()]
    assert names == ["model.dropout", "model.units", "model.act", "model.bn"]
    for params, flat in sample(space):
        m = params["model"]
        assert 0.0 <= m["dropout"] <= 0.5 and 16 <= m["units"] <= 128
        assert m["act"] in ("relu", "gelu") and m["bn"] in (True, False)
        assert set(flat) == set(names)


def test_branch_samples_only_the_chosen_options_parameters():
    space = parse_space(
        {
            "arch": {
                "choice": {
                    "cnn": {"filters": {"int": [8, 16]}},
                    "mlp": {"units": {"int": [32, 64]}, "layers": 2},
                }
            }
        }
    )
    seen = set()
    for params, flat in sample(space, n=30):
        arch = params["arch"]
        seen.add(arch["name"])
        if arch["name"] == "cnn":
            assert set(flat) == {"arch", "arch.cnn.filters"} and 8 <= arch["filters"] <= 16
        else:
            assert set(flat) == {"arch", "arch.mlp.units"} and arch["layers"] == 2
    assert seen == {"cnn", "mlp"}


def test_int_step_and_log_ranges_sample_on_grid():
    space = parse_space(
        {"u": {"int": [8, 64], "step": 8}, "lr": {"float": [1e-4, 1e-1], "log": True}}
    )
    for params, _ in sample(space):
        assert params["u"] % 8 == 0
        assert 1e-4 <= params["lr"] <= 1e-1
    assert space.children["u"].size() == 8


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ({"int": [5, 1]}, "above high bound"),
        ({"float": [0.0, 1.0], "log": True}, "low bound above 0"),
        ({"float": [1e-3, 1.0], "log": True, "step": 0.1}, "cannot be combined"),
        ({"int": [0, 10], "step": 3}, "does not divide"),
        ({"int": [0, 10], "step": 0}, "positive number"),
        ({"int": [0.5, 10]}, "whole numbers"),
        ({"float": [0.0, math.inf]}, "finite"),
        ({"float": [math.nan, 1.0]}, "finite"),
        ({"int": [0, 2**60]}, "2**53"),
        ({"choice": []}, "non-empty"),
        ({"choice": [1, "a"]}, "mixes value types"),
        ({"choice": [1, 1]}, "twice"),
        ({"choice": [1, 2], "log": True}, "apply to int and float"),
        ({"int": [1, 2], "float": [1, 2]}, "exactly one"),
        ({"int": [1, 2], "lgo": True}, "unknown key 'lgo'"),
        ({"bool": "yes"}, "bool: true"),
        ({"float": "0.1"}, "list of two numbers"),
    ],
)
def test_bad_ranges_are_refused_with_the_key_path(spec, fragment):
    with pytest.raises(ConfigError) as info:
        parse_space({"model": {"x": spec}})
    assert fragment in str(info.value)
    assert info.value.key == "model.x"


# ---- property-based: any valid range samples within bounds; any inverted range is refused ----

bounds = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    low=bounds,
    width=st.floats(min_value=0.0, max_value=1e6),
    log=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_float_ranges_sample_within_bounds(low, width, log, seed):
    if log:
        low = abs(low) + 1e-6
    high = low + width
    space = parse_space({"p": {"float": [low, high], "log": log}})
    for params, _ in sample(space, seed=seed, n=5):
        assert low <= params["p"] <= high


@settings(max_examples=60, deadline=None)
@given(
    low=st.integers(-1000, 1000),
    width=st.integers(0, 1000),
    step=st.integers(1, 7),
    seed=st.integers(0, 1000),
)
def test_int_ranges_with_steps_sample_on_the_grid(low, width, step, seed):
    high = low + (width // step) * step
    space = parse_space({"p": {"int": [low, high], "step": step}})
    for params, _ in sample(space, seed=seed, n=5):
        assert low <= params["p"] <= high and (params["p"] - low) % step == 0


@settings(max_examples=40, deadline=None)
@given(low=bounds, gap=st.floats(min_value=1e-3, max_value=1e6))
def test_inverted_ranges_always_get_a_clean_error(low, gap):
    with pytest.raises(ConfigError, match="above high bound"):
        parse_space({"p": {"float": [low + gap, low]}})


@settings(max_examples=40, deadline=None)
@given(
    options=st.dictionaries(
        st.text("abcdefgh", min_size=1, max_size=5), st.integers(1, 50), min_size=1, max_size=4
    ),
    seed=st.integers(0, 100),
)
def test_branches_sample_only_declared_options(options, seed):
    tree = {"b": {"choice": {name: {"n": {"int": [1, hi]}} for name, hi in options.items()}}}
    space = parse_space(tree)
    assert isinstance(space.children["b"], Branch)
    for params, flat in sample(space, seed=seed, n=5):
        chosen = params["b"]["name"]
        assert chosen in options and 1 <= params["b"]["n"] <= options[chosen]
        assert set(flat) == {"b", f"b.{chosen}.n"}


def test_choice_and_range_describe_themselves():
    assert "log" in parse_space({"x": {"float": [1e-3, 1.0], "log": True}}).children["x"].describe()
    c = parse_space({"x": {"choice": [1, 2]}}).children["x"]
    assert isinstance(c, Choice) and c.size() == 2
    r = parse_space({"x": {"float": [0, 1]}}).children["x"]
    assert isinstance(r, Range) and r.size() == math.inf


BROKEN = {
    "inverted": lambda lo, w: {"float": [lo + w + 1, lo]},
    "log_nonpositive": lambda lo, w: {"float": [-abs(lo), w + 1], "log": True},
    "log_and_step": lambda lo, w: {
        "float": [abs(lo) + 1, abs(lo) + w + 2],
        "log": True,
        "step": 0.5,
    },
    "step_not_dividing": lambda lo, w: {"int": [int(lo), int(lo) + 7], "step": 3},
    "nan_bound": lambda lo, w: {"float": [math.nan, w]},
    "empty_choice": lambda lo, w: {"choice": []},
    "mixed_choice": lambda lo, w: {"choice": [lo, "text"]},
    "two_kinds": lambda lo, w: {"int": [0, 1], "choice": [1, 2]},
    "unknown_modifier": lambda lo, w: {"float": [0, 1], "logg": True},
}


@settings(max_examples=80, deadline=None)
@given(
    kind=st.sampled_from(sorted(BROKEN)),
    low=st.floats(-1e3, 1e3),
    width=st.floats(0, 1e3),
    depth=st.integers(0, 3),
)
def test_broken_values_always_get_a_clean_error_at_any_depth(kind, low, width, depth):
    tree = {"x": BROKEN[kind](low, width)}
    path = "x"
    for level in range(depth):  # bury it in groups and branches
        tree = {f"g{level}": tree} if level % 2 else {"b": {"choice": {f"o{level}": tree}}}
        path = (f"g{level}." if level % 2 else f"b.o{level}.") + path
    with pytest.raises(ConfigError) as info:
        parse_space(tree)
    assert info.value.key == path

"""Loading space files: YAML traps, vocabulary checks, errors that name file, line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from automl.config import load_space
from automl.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_space(write(tmp_path, text))
    return info.value


def test_builtin_mnist1d_space_covers_every_dimension():
    cfg = load_space(ROOT / "search_spaces" / "mnist1d.yaml")
    names = {name for name, _ in cfg.describe()}
    for expected in [
        "model.architecture",
        "model.architecture.cnn.blocks",
        "model.architecture.cnn.filters",
        "model.architecture.mlp.layers",
        "model.architecture.mlp.units",
        "model.initializer",
        "model.dropout",
        "model.l1",
        "model.l2",
        "model.batch_norm",
        "training.optimizer",
        "training.optimizer.adam.learning_rate",
        "training.optimizer.sgd.momentum",
        "training.optimizer.rmsprop.learning_rate",
        "training.schedule",
        "training.batch_size",
        "data.augment.shift",
        "data.augment.gaussian_noise",
    ]:
        assert expected in names
    assert cfg.search.sampler == "tpe" and cfg.search.pruner != "none"
    assert cfg.select.top_k == 5 and cfg.search.timeout == 600


def test_yaml12_reads_exponents_as_floats(tmp_path):
    cfg = load_space(
        write(
            tmp_path,
            """
        training:
          optimizer: adam
          learning_rate: 1e-3
    """,
        )
    )
    assert cfg.space.sample(None)["training"]["learning_rate"] == pytest.approx(0.001)


def test_yes_where_a_number_is_expected_is_an_error(tmp_path):
    err = error_of(
        tmp_path,
        """
        model:
          dropout: yes
    """,
    )
    assert err.key == "model.dropout" and err.line == 3 and "'yes'" in str(err)


def test_duplicate_keys_are_refused_with_their_line(tmp_path):
    err = error_of(
        tmp_path,
        """
        search:
          trials: 5
          trials: 7
    """,
    )
    assert "appears twice" in str(err) and err.line == 4 and "space.yaml" in str(err)


def test_unknown_optimizer_suggests_the_near_name(tmp_path):
    err = error_of(
        tmp_path,
        """
        training:
          optimizer:
            choice:
              adma: {learning_rate: 0.01}
    """,
    )
    assert "unknown optimizer 'adma'" in str(err) and "did you mean 'adam'" in str(err)
    assert err.key == "training.optimizer.adma" and err.line == 5


def test_unknown_key_suggests_the_near_key(tmp_path):
    err = error_of(tmp_path, "modle: {}\n")
    assert "did you mean 'model'" in str(err) and err.line == 1


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("a: 1\n---\nb: 2\n", "exactly one YAML document"),
        ("model: !!python/object:os.system {}\n", "not allowed"),
        ("model: [unclosed\n", "not valid YAML"),
        ("just a string\n", "found a single value"),
        ("a: &a [*a]\n", "recursive anchor"),
        ("training: {learning_rate: 0}\n", "above 0"),
        ("training: {learning_rate: {float: [-1.0, 1.0]}}\n", "above 0"),
        ("model: {dropout: 1.0}\n", "[0, 1)"),
        ("model: {architecture: {choice: {mlp: {units: 0}}}}\n", "[1,"),
        ("model: {initializer: glorot}\n", "unknown initializer"),
        ("model: {activation: rleu}\n", "did you mean 'relu'"),
        ("training: {schedule: {choice: [cosine, cosin]}}\n", "unknown schedule 'cosin'"),
        ("training: {optimizer: {choice: {sgd: {momentum: 0.9, nestrov: true}}}}\n", "nestrov"),
        ("search: {trials: 0}\n", "from 1"),
        ("search: {timeout: soon}\n", "duration"),
        ("search: {sampler: tpee}\n", "did you mean 'tpe'"),
        ("search: {objective: accuracy}\n", "did you mean 'val_accuracy'"),
        ("data: {source: mnist2d}\n", "did you mean 'mnist1d'"),
        ("data: {split: {validation: 1.5}}\n", "fraction"),
        ("name: 'bad name!'\n", "study name"),
    ],
)
def test_bad_values_get_one_clear_error(tmp_path, text, fragment):
    err = error_of(tmp_path, text)
    assert fragment in str(err)
    assert str(err).startswith(str(tmp_path / "space.yaml"))
    assert "\n" not in str(err)


def test_alias_bomb_is_stopped(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    err = error_of(tmp_path, "\n".join(lines) + "\n")
    assert "alias bomb" in str(err)


def test_deep_nesting_is_refused(tmp_path):
    err = error_of(tmp_path, "model: " + "{a: " * 40 + "1" + "}" * 40 + "\n")
    assert "nesting" in str(err)


def test_oversized_file_is_refused_before_parsing(tmp_path):
    err = error_of(tmp_path, "# " + "x" * 1_100_000 + "\n")
    assert "too large" in str(err)


def test_missing_file_names_the_path():
    with pytest.raises(ConfigError, match="no such space file"):
        load_space("nowhere/space.yaml")


def test_overrides_replace_search_keys_and_are_validated(tmp_path):
    path = write(tmp_path, "search: {trials: 9, timeout: 1h}\n")
    cfg = load_space(path, {"trials": 4, "timeout": "90s"})
    assert cfg.search.trials == 4 and cfg.search.timeout == 90
    with pytest.raises(ConfigError, match="search.trials"):
        load_space(path, {"trials": -1})


def test_study_name_defaults_to_the_file_name(tmp_path):
    assert load_space(write(tmp_path, "search: {trials: 2}\n", "my-space.yaml")).name == "my-space"


def test_piecewise_schedule_needs_one_more_factor_than_epochs(tmp_path):
    err = error_of(
        tmp_path,
        """
        training:
          schedule:
            choice:
              piecewise: {epochs: [5, 10], factors: [1.0, 0.1]}
    """,
    )
    assert "one more factor than epochs" in str(err) and err.line == 5


@pytest.mark.parametrize(
    "doc, valid",
    [
        (
            {
                "training": {"mixed_precision": True, "jit_compile": False, "deterministic": True},
                "search": {"workers": "auto", "max_retries": 0, "max_consecutive_failures": 5},
            },
            True,
        ),
        ({"search": {"workers": 4}}, True),
        ({"training": {"deterministic": 3}}, False),
        ({"search": {"workers": 0}}, True),
        ({"search": {"workers": -1}}, False),
        ({"search": {"workers": "many"}}, False),
        ({"search": {"max_retries": -1}}, False),
    ],
)
def test_schema_and_validator_agree_on_worker_and_device_settings(doc, valid):
    import jsonschema

    from automl.schema import space_schema

    schema_ok = jsonschema.Draft202012Validator(space_schema()).is_valid(doc)
    try:
        load_space(doc)
        validator_ok = True
    except ConfigError:
        validator_ok = False
    assert schema_ok == validator_ok == valid

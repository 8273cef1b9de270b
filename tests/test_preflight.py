"""Everything knowable before training is refused before training, by validate and search alike.

Each mistake that issue 8 lists, written into a real space file: ``automl validate`` exits 2
with one line of at most 300 characters naming the file, the line and the key; ``automl search``
refuses the same way before writing anything. Argument domains get a Hypothesis test.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automl import domains
from automl.cli import main
from automl.config import load_space
from automl.data.facts import BUILTIN_FACTS, describe_source
from automl.errors import ConfigError

MNIST1D = "data: {source: mnist1d}\n"
# (space text, the key the refusal must name, a word of the fix)
MISTAKES = [
    (
        "training:\n  optimizer:\n    choice:\n      adam: {epsilon: .nan}\n",
        "training.optimizer.adam.epsilon",
        "(0, 1]",
    ),
    (
        "training:\n  optimizer:\n    choice:\n      adam: {beta_1: 1.5}\n",
        "training.optimizer.adam.beta_1",
        "[0, 1)",
    ),
    (
        "training:\n  schedule:\n    choice:\n      step: {drop: 50}\n",
        "training.schedule.step.drop",
        "(0, 1]",
    ),
    (
        "training:\n  schedule:\n    choice:\n      step: {every_epochs: 0}\n",
        "training.schedule.step.every_epochs",
        "whole number",
    ),
    (
        "training:\n  schedule:\n    choice:\n      cosine: {warmup_epochs: -2}\n",
        "training.schedule.cosine.warmup_epochs",
        "whole number",
    ),
    (
        "training:\n  schedule:\n    choice:\n      reduce_on_plateau: {factor: 2}\n",
        "training.schedule.reduce_on_plateau.factor",
        "(0, 1)",
    ),
    (
        "training:\n  schedule:\n    choice:\n      cosine: {alpha: 5}\n",
        "training.schedule.cosine.alpha",
        "[0, 1]",
    ),
    (
        "training:\n  schedule:\n    choice:\n      exponential: {decay_rate: 0}\n",
        "training.schedule.exponential.decay_rate",
        "(0, 1]",
    ),
    (
        "model:\n  initializer:\n    choice:\n      variance_scaling: {mode: fan_avgg}\n",
        "model.initializer.variance_scaling.mode",
        "did you mean 'fan_avg'",
    ),
    ("model:\n  initializer: glorot_unifrm\n", "model.initializer", "glorot_uniform"),
    ("search:\n  objective: val_loss\n  direction: maximize\n", "search.direction", "minimize"),
    (
        "data: {source: diabetes}\ntraining:\n  label_smoothing: 0.1\n",
        "training.label_smoothing",
        "regression",
    ),
    (
        "model:\n  dropout: {float: [0.0, 0.3]}\nsearch:\n  enqueue:\n    - {model.dropuot: 0.1}\n",
        "search.enqueue[0].model.dropuot",
        "did you mean 'model.dropout'",
    ),
    (
        "model:\n  dropout: {float: [0.0, 0.3]}\nsearch:\n  enqueue:\n    - {model.dropout: 0.9}\n",
        "search.enqueue[0].model.dropout",
        "outside the space",
    ),
    (
        "data:\n  source: mnist1d\n  augment: {flip: horizontal}\n",
        "data.augment.flip",
        "applies to image",
    ),
    ("data: {source: wine}\nmodel:\n  architecture: cnn\n", "model.architecture", "use one of"),
    (
        "data: {source: diabetes}\nsearch: {objective: val_accuracy}\n",
        "search.objective",
        "regression",
    ),
    (
        "data: {source: mnist1d}\ntraining: {loss: mse}\n",
        "training.loss",
        "categorical_crossentropy",
    ),
    ("data:\n  source: mnist1d\n  classes: [0, 1, 12]\n", "data.classes", "12"),
    ("model:\n  architecture: custom\n", "model.architecture", "builder"),
    ("model:\n  architecture: transfer\n", "model.architecture", "base"),
    ("model:\n  dropout: [0.1, {float: [0.1, 1.5]}]\n", "model.dropout[1]", "[0, 1)"),
    ("data:\n  augment:\n    flip: true\n", "data.augment.flip", "horizontal"),
]


def refusal(tmp_path: Path, text: str, capsys) -> tuple[int, str, str]:
    """``automl validate`` on ``text``: (exit code, the stderr line, the file)."""
    path = tmp_path / "space.yaml"
    path.write_text(text)
    code = main(["validate", str(path)])
    return code, capsys.readouterr().err.strip(), str(path)


def line_of(text: str, key: str) -> int:
    """The line a refusal must point at: the last line that writes the key's last name."""
    last = key.rpartition(".")[2].split("[")[0]
    lines = text.splitlines()
    return max(i for i, line in enumerate(lines, 1) if f"{last}:" in line)


@pytest.mark.parametrize("text,key,fix", MISTAKES, ids=[m[1] for m in MISTAKES])
def test_validate_refuses_each_mistake_with_file_line_and_key(tmp_path, capsys, text, key, fix):
    if "data:" not in text:
        text = MNIST1D + text
    code, message, path = refusal(tmp_path, text, capsys)
    assert code == 2
    assert "\n" not in message and "Traceback" not in message
    assert len(message) <= 300 + len("automl: error: "), message
    assert message.startswith(f"automl: error: {path}, line "), message
    assert f": {key}: " in message, message
    assert fix in message, message
    line = int(message.split(", line ")[1].split(":")[0])
    assert line == line_of(text, key), (line, message)


def test_an_error_inside_a_list_points_at_the_item(tmp_path, capsys):
    text = MNIST1D + "model:\n  dropout:\n    - 0.1\n    - 0.2\n    - {float: [0.1, 1.5]}\n"
    code, message, _ = refusal(tmp_path, text, capsys)
    assert code == 2 and ", line 6: model.dropout[2]: " in message


def test_search_refuses_before_writing_anything(tmp_path, run_cli):
    space = tmp_path / "space.yaml"
    space.write_text("data:\n  source: mnist1d\n  augment: {rotation: 0.1}\n")
    code, out, err = run_cli(
        "search",
        str(space),
        "--run-dir",
        str(tmp_path / "runs"),
        "--reports-dir",
        str(tmp_path / "reports"),
        cwd=tmp_path,
    )
    assert code == 2, err
    assert f"{space}, line 3: data.augment.rotation: rotation does not apply to signal" in err
    assert "Traceback" not in err + out
    assert not (tmp_path / "runs").exists() and not (tmp_path / "reports").exists()


def test_a_csv_without_the_target_column_is_refused_by_validate(tmp_path, capsys):
    table = tmp_path / "wine.csv"
    table.write_text("alcohol,od280/od315_of_diluted_wines,class\n13.2,3.1,0\n12.1,2.2,1\n")
    code, message, _ = refusal(tmp_path, f"data:\n  csv: {table.name}\n  target: klass\n", capsys)
    assert code == 2
    assert "line 3: data.target: the table has no column 'klass'; did you mean 'class'?" in message


def test_a_dry_build_names_the_branch_a_builder_breaks(tmp_path, run_cli):
    """A custom builder beside the space file (run from another folder) that cannot build."""
    folder = tmp_path / "spaces"
    folder.mkdir()
    (folder / "my_models.py").write_text(
        textwrap.dedent("""
        import keras
        def build(params, spec):
            inputs = keras.Input(spec.shape)
            x = keras.layers.Reshape((7, 7))(inputs)   # 40 values do not make 7x7
            out = keras.layers.Dense(spec.num_classes, activation="softmax")(
                keras.layers.Flatten()(x))
            return keras.Model(inputs, out)
    """)
    )
    space = folder / "custom.yaml"
    space.write_text(
        "data: {source: mnist1d, subsample: {train: 200, test: 100}}\n"
        "model:\n  architecture:\n    choice:\n      mlp: {layers: 1, units: 8}\n"
        "      custom: {builder: my_models:build}\n"
        "training: {epochs: 1}\nsearch: {trials: 2}\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out, err = run_cli("search", str(space), "--run-dir", "runs", cwd=elsewhere)
    assert code == 2, err
    assert (
        f"{space}, line 6: model.architecture.custom: building and training the custom "
        f"architecture on one batch fails (ValueError: The total size of the tensor must be "
        f"unchanged"
    ) in err
    assert "Traceback" not in err and not (elsewhere / "runs").exists()


@pytest.mark.parametrize("name", ["mnist1d", "digits", "breast_cancer", "wine", "iris", "diabetes"])
def test_the_builtin_facts_match_the_loaded_data(name):
    from automl.config import DataConfig
    from automl.data import load_source

    arrays = load_source(name)
    facts = describe_source(DataConfig(source=name))
    assert facts == BUILTIN_FACTS[name]
    assert (facts.modality, facts.task) == (arrays.modality, arrays.task)
    assert (facts.classes or ()) == arrays.class_names


def test_npz_facts_come_from_the_header_and_labels(tmp_path):
    from automl.config import DataConfig

    path = tmp_path / "signals.npz"
    np.savez(path, x=np.zeros((30, 12), "float32"), y=np.arange(30) % 3)
    facts = describe_source(DataConfig(source="npz", path=str(path)))
    assert (facts.modality, facts.task, facts.classes) == (
        "signal",
        "classification",
        ("0", "1", "2"),
    )


# ---- argument domains: every value outside a domain is refused, every value inside accepted

ARGUMENTS = [
    *[
        (
            f"training:\n  optimizer:\n    choice:\n      adamw: {{{arg}: VALUE}}\n",
            f"training.optimizer.adamw.{arg}",
            domain,
        )
        for arg, domain in domains.OPTIMIZER_ARGS.items()
        if arg in ("learning_rate", "beta_1", "beta_2", "epsilon", "weight_decay", "clipnorm")
    ],
    *[
        (
            f"training:\n  schedule:\n    choice:\n      {name}: {{{arg}: VALUE}}\n",
            f"training.schedule.{name}.{arg}",
            domains.schedule_arg(name, arg),
        )
        for name, arg in [
            ("step", "drop"),
            ("step", "every_epochs"),
            ("cosine", "alpha"),
            ("exponential", "decay_rate"),
            ("inverse_time", "decay_rate"),
            ("reduce_on_plateau", "factor"),
            ("one_cycle", "start_factor"),
            ("cosine", "warmup_epochs"),
        ]
    ],
    *[
        (
            f"model:\n  initializer:\n    choice:\n      variance_scaling: {{{arg}: VALUE}}\n",
            f"model.initializer.variance_scaling.{arg}",
            domains.INITIALIZER_ARGS[arg],
        )
        for arg in ("scale", "mode", "distribution")
    ],
    *[
        (f"model:\n  {key}: VALUE\n", f"model.{key}", domain)
        for key, domain in domains.MODEL_ARGS.items()
    ],
    *[
        (f"training:\n  {key}: VALUE\n", f"training.{key}", domain)
        for key, domain in domains.TRAINING_ARGS.items()
    ],
]


def yaml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return ".nan"
    if isinstance(value, float) and math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return repr(value) if isinstance(value, str) else str(value)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(ARGUMENTS),
    st.one_of(
        st.floats(-1e4, 1e4),
        st.integers(-1000, 100_000),
        st.booleans(),
        st.sampled_from(["fan_in", "fan_avgg", "uniform", "x"]),
        st.sampled_from([math.nan, math.inf, -math.inf]),
    ),
)
def test_every_argument_is_checked_against_its_domain(tmp_path_factory, argument, value):
    template, key, domain = argument
    text = MNIST1D + template.replace("VALUE", yaml_value(value))
    path = tmp_path_factory.mktemp("space") / "space.yaml"
    path.write_text(text)
    try:
        load_space(path)
    except ConfigError as error:
        assert not domain.accepts(value), str(error)
        assert error.key == key and error.line == text.count("\n"), str(error)
        assert len(str(error)) <= 300
        return
    assert domain.accepts(value), f"{key}: {value!r} was accepted"


def test_a_dry_build_runs_with_deterministic_ops_left_on():
    """A `deterministic: true` search leaves TensorFlow's op determinism on for the process; the
    next search's dry build (noise augmentation is a random op) must still run (CI found it
    refusing every space with "RuntimeError: in user code:")."""
    from tensorflow.python.framework import config as tf_config

    from automl.data import load_source, make_splits
    from automl.data.checks import fit_space_to_data
    from automl.training.dry_build import FirstValues, dry_build

    cfg = load_space(
        {
            "data": {
                "source": "mnist1d",
                "subsample": {"train": 200, "test": 100},
                "augment": {"gaussian_noise": 0.1},
            },
            "model": {
                "architecture": {
                    "choice": {"mlp": {"layers": 1, "units": 8}, "cnn": {"blocks": 1, "filters": 4}}
                }
            },
            "training": {"epochs": 1},
        }
    )
    arrays = load_source(cfg.data)
    cfg = fit_space_to_data(cfg, arrays)
    splits = make_splits(arrays, cfg.data)
    first = cfg.space.sample(FirstValues())
    assert first["data"]["augment"]["gaussian_noise"] == 0.1  # a random op in the pipeline
    tf_config.enable_op_determinism()
    try:
        assert tf_config.is_op_determinism_enabled()
        # CI's failure was a ConfigError raised here ("RuntimeError: in user code:")
        assert dry_build(cfg, splits) is None
    finally:
        tf_config.disable_op_determinism()


def test_a_graph_error_is_reported_by_its_cause_not_its_frame():
    from automl.training.dry_build import _reason

    # the shape of tf.function's error, as CI printed it
    error = RuntimeError(
        'in user code:\n\n    File "automl/data/pipeline.py", line 108, in apply  *\n'
        "        x = x + tf.random.normal(tf.shape(x))\n\n"
        "    RuntimeError: Random ops require a seed to be set when determinism is enabled.\n"
    )
    assert _reason(error) == (
        "RuntimeError: Random ops require a seed to be set when determinism is enabled."
    )

"""The automl command as a user runs it: help, validate, and clean errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def test_help_is_instant_and_does_not_load_tensorflow():
    code = (
        "import sys, automl.cli as c; c.build_parser().format_help(); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'mlflow', 'optuna') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_help_lists_commands_and_examples(run_cli):
    code, out, _ = run_cli("--help")
    assert code == 0 and "search" in out and "validate" in out and "examples:" in out
    code, out, _ = run_cli("search", "--help")
    assert code == 0 and "--trials" in out and "--timeout" in out and "--run-dir" in out


def test_validate_lists_dimensions(run_cli):
    code, out, err = run_cli("validate", str(ROOT / "search_spaces" / "mnist1d.yaml"))
    assert code == 0, err
    assert "valid space 'mnist1d'" in out and "model.architecture.cnn.filters" in out
    assert "searched dimensions, infinitely many configurations (some dimensions are " in out


def test_validate_counts_a_finite_space(run_cli, tmp_path):
    space = tmp_path / "one.yaml"
    space.write_text(
        "name: one\ndata: {source: mnist1d}\n"
        "model: {architecture: {choice: {mlp: {layers: 1, units: 16}}}}\n"
        "training: {optimizer: adam, epochs: 1}\n"
    )
    code, out, err = run_cli("validate", str(space))
    assert code == 0, err
    assert "valid space 'one', 1 searched dimension, 1 configuration\n" in out


def test_validate_accepts_a_builtin_name(run_cli):
    code, out, _ = run_cli("validate", "mnist1d")
    assert code == 0 and "valid space" in out


def test_broken_yaml_is_one_sentence_with_exit_code_2(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  optimizer:\n    choice:\n      adma: {learning_rate: 0.01}\n")
    for command in ("validate", "search"):
        code, out, err = run_cli(command, str(bad))
        assert code == 2
        assert "Traceback" not in err
        lines = err.strip().splitlines()
        assert len(lines) == 1
        assert str(bad) in lines[0] and "line 4" in lines[0]
        assert "training.optimizer.adma" in lines[0] and "did you mean 'adam'" in lines[0]


def test_missing_file_and_bad_option_exit_2(run_cli, tmp_path):
    code, _, err = run_cli("search", str(tmp_path / "nope.yaml"))
    assert code == 2 and "no such space file" in err and "Traceback" not in err
    code, _, err = run_cli(
        "search", str(ROOT / "search_spaces" / "mnist1d.yaml"), "--timeout", "soon"
    )
    assert code == 2 and "search.timeout" in err and "duration" in err
    code, _, err = run_cli("search", "mnist1d", "--trials", "many")
    assert code == 2 and "invalid int value" in err


def test_search_from_the_command_line(run_cli, tmp_path):
    """A regression on a CSV as a European Excel writes it (``;``, decimal commas): the task
    comes from the data, and the console names its metrics (it once said accuracy, then
    failed on KeyError 'accuracy')."""
    rng = np.random.default_rng(0)
    area = rng.uniform(20, 120, 150)
    rows = "".join(
        f"{a:.1f};{r};{3000 * a + rng.normal(0, 2e4):.2f}\n".replace(".", ",")
        for a, r in zip(area, rng.integers(1, 5, 150))
    )
    (tmp_path / "flats.csv").write_text("area (m²);rooms;price (€)\n" + rows, encoding="utf-8")
    space = tmp_path / "cli.yaml"
    space.write_text(
        """
name: cli
data: {csv: flats.csv, target: price (€)}
model: {architecture: {choice: {mlp: {layers: 1, units: {int: [8, 16]}}}}}
training: {optimizer: adam, batch_size: 64, epochs: 1}
search: {trials: 2}
select: {top_k: 1}
""",
        encoding="utf-8",
    )
    # --workers 0: the trials in the search's own process (worker processes: test_interrupt.py)
    code, out, err = run_cli(
        "search", str(space), "--quiet", "--export", "out", "--workers", "0", cwd=tmp_path
    )
    assert code == 0, err
    assert not list((tmp_path / "automl-runs" / "cli" / "logs").glob("worker-*"))
    assert "winner: trial" in out and "automl ui\n" in out and "/#/experiments/" in out
    assert "val_loss" in out and "test loss" in out and "accuracy" not in out
    assert "baselines on the test split (mae): mean " in out
    assert "set data.split.holdout: 0.1 for an unbiased estimate" in out.replace("\n", " ")
    assert (tmp_path / "out" / "model.keras").is_file()
    assert (tmp_path / "reports" / "cli" / "summary.md").is_file()
    assert (tmp_path / "automl-runs" / "optuna.journal").is_file()


def test_data_error_from_the_command_line_is_one_sentence(run_cli, tmp_path):
    (tmp_path / "t.csv").write_text("a,b,label\n1,2,x\n3,4,y\n")
    space = tmp_path / "table.yaml"
    space.write_text(f"data: {{csv: {tmp_path / 't.csv'}, target: lable}}\n")
    code, _, err = run_cli("search", str(space), "--quiet", cwd=tmp_path)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    # refused by the preflight, from the header, naming the file, line and key
    assert (
        f"{space}, line 1: data.target: the table has no column 'lable'; did you mean "
        f"'label'?" in err
    )
    assert not (tmp_path / "automl-runs").exists()  # nothing written


def test_schema_accepts_every_ready_space_and_rejects_a_typo(run_cli):
    import json

    import jsonschema

    from automl.config import read_yaml

    code, out, _ = run_cli("schema")
    assert code == 0
    schema = json.loads(out)
    for path in sorted((ROOT / "search_spaces").glob("*.yaml")):
        jsonschema.validate(read_yaml(path.read_text()).tree, schema)
    with __import__("pytest").raises(jsonschema.ValidationError):
        jsonschema.validate({"training": {"optimizer": "adma"}}, schema)

"""The multi-machine recipes in deploy/: every command line they hold is one automl's own parser
(and MLflow's) accepts, the workers join the study the search starts, and the database password
reaches the processes only through their environment."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from automl.arguments import build_parser

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def compose_commands() -> dict[str, list[str]]:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    return {name: service["command"] for name, service in services.items()}


def kubernetes_containers() -> list[dict]:
    documents = yaml.safe_load_all((DEPLOY / "kubernetes" / "automl.yaml").read_text())
    return [c for d in documents for c in d["spec"]["template"]["spec"]["containers"]]


def automl_commands() -> list[list[str]]:
    found = [c for c in compose_commands().values() if c[0] == "automl"]
    found += [c["command"] for c in kubernetes_containers()]
    return found


def test_the_recipes_hold_automl_commands():
    kinds = sorted(command[1] for command in automl_commands())
    assert kinds == ["search", "search", "worker", "worker"]


@pytest.mark.parametrize("command", automl_commands(), ids=lambda c: " ".join(c[:2]))
def test_each_automl_command_line_is_accepted_by_automls_parser(command):
    assert command[0] == "automl"
    args = build_parser().parse_args(command[1:])  # exits 2 on anything it does not know
    assert args.command == command[1]
    assert not any("postgresql://" in part for part in command)  # no URL, no password


def test_the_workers_join_the_study_the_search_starts():
    from automl.catalog import ready_spaces

    for commands in (
        list(compose_commands().values()),
        [c["command"] for c in kubernetes_containers()],
    ):
        parsed = [build_parser().parse_args(c[1:]) for c in commands if c[0] == "automl"]
        searches = [a for a in parsed if a.command == "search"]
        workers = [a for a in parsed if a.command == "worker"]
        name = yaml.safe_load(ready_spaces()[searches[0].space].read_text())["name"]
        assert {w.study for w in workers} == {name}


def test_mlflow_server_command_is_accepted_by_mlflow():
    from mlflow.cli import server

    command = compose_commands()["mlflow"]
    assert command[:2] == ["mlflow", "server"]
    context = server.make_context("server", command[2:])
    assert context.params["port"] == 5000 and context.params["artifacts_destination"]


def test_connection_strings_come_from_secrets():
    for container in kubernetes_containers():
        env = {e["name"]: e for e in container["env"]}
        assert env["AUTOML_STORAGE"]["valueFrom"]["secretKeyRef"]["name"] == "automl-db"
        assert "value" not in env["AUTOML_STORAGE"]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert compose["secrets"]["db_password"]["file"] == "./db_password.txt"
    assert "db_password.txt" in (DEPLOY / ".gitignore").read_text()
    for name in ("search", "worker", "mlflow"):
        assert "db_password" in compose["services"][name]["secrets"]


def test_with_secrets_puts_the_password_in_the_environment_only(tmp_path):
    secret = tmp_path / "db_password"
    secret.write_text("s3cret-pw")
    done = subprocess.run(
        ["sh", str(DEPLOY / "with-secrets.sh"), "sh", "-c", 'echo "$AUTOML_STORAGE $0 $@"', "x"],
        env={"PATH": os.environ["PATH"], "DB_PASSWORD_FILE": str(secret), "DB_HOST": "db1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split()[0] == "postgresql://automl:s3cret-pw@db1:5432/optuna"
    without = subprocess.run(
        ["sh", str(DEPLOY / "with-secrets.sh"), "sh", "-c", 'echo "[${AUTOML_STORAGE:-}]"'],
        env={"PATH": os.environ["PATH"], "DB_PASSWORD_FILE": str(tmp_path / "none")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert without.stdout.strip() == "[]"  # no secret: nothing made up

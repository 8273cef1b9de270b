"""Ready spaces ship inside the package, `automl spaces` lists them, and custom builders import
from the current folder and from beside the space file. Nothing here trains."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from automl.catalog import describe_ready_spaces, ready_spaces, suggest_ready_space
from automl.cli import _space_path
from automl.errors import UsageError
from automl.models.builder import import_builder

ROOT = Path(__file__).resolve().parent.parent
READY = {"mnist1d", "digits", "mnist1d_base", "breast_cancer", "transfer"}
CACHES = ("__pycache__", "*.pyc")


def _python(*args: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` in ``cwd``; ``pythonpath`` first on the import path when given."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


# --- the wheel: what a plain, non-editable `pip install .` installs --------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built once from a copy of the checkout (no build/ in the repo)."""
    missing = [name for name in ("setuptools", "wheel") if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"building a wheel without network needs {', '.join(missing)} installed")
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("automl", "search_spaces"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns(*CACHES))
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (path,) = out.glob("automl-*.whl")
    return path


def _checkout_files(folder: str, pattern: str = "*") -> set[str]:
    """Files under ROOT/folder matching ``pattern``, relative to ROOT, without caches."""
    return {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / folder).rglob(pattern)
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_wheel_holds_every_ready_space_and_its_helpers(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"automl/{path}" for path in _checkout_files("search_spaces")}
    assert {f"automl/search_spaces/{name}.yaml" for name in READY} <= shipped
    assert "automl/search_spaces/__init__.py" in shipped
    assert shipped <= names, f"left out of the wheel: {sorted(shipped - names)}"


def test_wheel_holds_every_module_of_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = _checkout_files("automl", "*.py")
    assert modules <= names, (
        f"add the subpackage to [tool.setuptools] packages in "
        f"pyproject.toml: {sorted(modules - names)}"
    )


def test_installed_wheel_finds_its_ready_spaces_from_any_folder(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    checked = _python("-m", "automl", "validate", "mnist1d", cwd=elsewhere, pythonpath=site)
    assert checked.returncode == 0, checked.stderr
    assert "valid space 'mnist1d'" in checked.stdout
    assert str(site / "automl" / "search_spaces" / "mnist1d.yaml") in checked.stdout

    listed = _python("-m", "automl", "spaces", cwd=elsewhere, pythonpath=site)
    assert listed.returncode == 0, listed.stderr
    assert all(f"automl search {name}" in listed.stdout for name in READY)
    assert str(site / "automl" / "search_spaces") in listed.stdout


# --- the catalog and the command line -----------------------------------------------------


def test_ready_spaces_are_the_yaml_files_of_search_spaces():
    spaces = ready_spaces()
    assert set(spaces) == {p.stem for p in (ROOT / "search_spaces").glob("*.yaml")}
    assert READY <= set(spaces)
    assert all(path.is_file() and path.suffix == ".yaml" for path in spaces.values())


def test_every_ready_space_has_a_description_and_a_source():
    described = {space.name: space for space in describe_ready_spaces()}
    assert set(described) == set(ready_spaces())
    for space in described.values():
        assert space.description and "\n" not in space.description, space.name
        assert space.source != "?", space.name
    assert described["mnist1d"].source == "mnist1d"
    assert described["mnist1d"].command == "automl search mnist1d"


def test_spaces_command_lists_them_from_another_folder(tmp_path):
    out = _python("-m", "automl", "spaces", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for space in describe_ready_spaces():
        assert space.name in out.stdout and space.description in out.stdout
        assert f"data: {space.source}; run: automl search {space.name}" in out.stdout
    assert "list the ready spaces" in _python("-m", "automl", "--help", cwd=tmp_path).stdout
    assert "copy a file" in _python("-m", "automl", "spaces", "--help", cwd=tmp_path).stdout


def test_validate_a_ready_space_by_name_from_another_folder(tmp_path):
    out = _python("-m", "automl", "validate", "mnist1d", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "valid space 'mnist1d'" in out.stdout


def test_space_path_prefers_an_existing_file_then_a_ready_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _space_path("mnist1d") == str(ready_spaces()["mnist1d"])
    Path("mnist1d").write_text("name: mine\n")
    assert _space_path("mnist1d") == "mnist1d"
    assert _space_path("nothing_like_it.yaml") == "nothing_like_it.yaml"  # the loader's error


@pytest.mark.parametrize("typed", ["mnist1", "mnst1d", "search_spaces/mnist1d.yaml", "mnist1d.yml"])
def test_a_near_miss_suggests_the_ready_space(typed, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as error:
        _space_path(typed)
    message = str(error.value)
    assert message == (
        f"no space file or ready space named {typed!r}; did you mean 'mnist1d'? "
        f"(automl spaces lists them)"
    )


def test_a_missing_path_elsewhere_gets_no_suggestion():
    assert suggest_ready_space("/some/where/mnist1d.yaml") is None
    assert suggest_ready_space("completely_different") is None


def test_a_near_miss_exits_2_with_one_line(tmp_path):
    out = _python("-m", "automl", "search", "mnist1", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "automl: error: no space file or ready space named 'mnist1'; did you mean 'mnist1d'? "
        "(automl spaces lists them)"
    ]
    assert not (tmp_path / "automl-runs").exists()


# --- custom builders: the current folder, then beside the space file ----------------------


@pytest.fixture
def module_name(monkeypatch) -> Iterator[str]:
    """A fresh module name, forgotten again after the test; the current folder is not on the
    import path, as under the ``automl`` console script."""
    name = f"builder_{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", os.getcwd())])
    yield name
    for loaded in [m for m in sys.modules if m == name or m.startswith("sibling_")]:
        del sys.modules[loaded]


def _write_builder(folder: Path, name: str, tag: str, body: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(
        f"{body}\ndef build(params, spec):\n    return {tag!r}, params\n"
    )


def test_builder_beside_the_space_file_imports_from_another_folder(
    tmp_path, monkeypatch, module_name
):
    spaces, elsewhere = tmp_path / "spaces", tmp_path / "elsewhere"
    _write_builder(spaces, module_name, "beside")
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path_before = list(sys.path)

    build = import_builder(f"{module_name}:build", [spaces])
    assert build({"units": 8}, None) == ("beside", {"units": 8})
    assert sys.path == path_before  # the folder was on the path for the import only
    assert import_builder(f"{module_name}:build", [spaces]) is build  # a second call reuses it


def test_builder_in_the_current_folder_imports_without_search_dirs(
    tmp_path, monkeypatch, module_name
):
    _write_builder(tmp_path, module_name, "cwd")
    monkeypatch.chdir(tmp_path)
    assert import_builder(f"{module_name}:build")({}, None) == ("cwd", {})


def test_the_current_folder_wins_over_the_space_folder(tmp_path, monkeypatch, module_name):
    _write_builder(tmp_path / "here", module_name, "cwd")
    _write_builder(tmp_path / "spaces", module_name, "beside")
    monkeypatch.chdir(tmp_path / "here")
    assert import_builder(f"{module_name}:build", [tmp_path / "spaces"])({}, None)[0] == "cwd"


def test_builder_may_import_a_sibling_module(tmp_path, monkeypatch, module_name):
    sibling = f"sibling_{module_name}"
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / f"{sibling}.py").write_text("UNITS = 32\n")
    _write_builder(tmp_path / "spaces", module_name, "beside", body=f"from {sibling} import UNITS")
    monkeypatch.chdir(tmp_path)
    build = import_builder(f"{module_name}:build", [str(tmp_path / "spaces")])
    assert sys.modules[module_name].UNITS == 32 and build({}, None)[0] == "beside"


def test_a_missing_builder_names_the_module_and_the_folders(tmp_path, monkeypatch, module_name):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError) as error:
        import_builder(f"{module_name}:build", [tmp_path / "spaces"])
    message = str(error.value)
    assert module_name in message and str(tmp_path.resolve()) in message
    assert str((tmp_path / "spaces").resolve()) in message
    assert message.count(". ") == 0 and "\n" not in message


@pytest.mark.parametrize(
    "written, expected",
    [
        ("my_models.py:build", "module's import name"),
        ("my_models", "module:function"),
        ("os:no_such_function", "has no function 'no_such_function'"),
    ],
)
def test_a_badly_written_builder_is_one_sentence(written, expected):
    with pytest.raises(ValueError, match=expected):
        import_builder(written)


def test_a_broken_builder_module_is_reported_not_raised(tmp_path, monkeypatch, module_name):
    (tmp_path / f"{module_name}.py").write_text("def build(params, spec)\n")  # no colon
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=f"importing {module_name} failed with SyntaxError"):
        import_builder(f"{module_name}:build")

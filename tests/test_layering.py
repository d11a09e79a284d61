"""`make test` runs `lint-imports` (.importlinter) first: an import that runs
back up the layers, or closes a circle among an app's modules, fails the
build, naming the import."""

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.fixture
def project_copy(tmp_path):
    """The packages the checker reads, and its configuration, outside the work tree."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    for package in config["importlinter"]["root_packages"].split():
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path)
    return tmp_path


def lint_imports(directory: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT_IMPORTS, "--no-cache", "--no-logo"], cwd=directory, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(directory)}, timeout=60)


def test_the_project_keeps_its_layers(project_copy):
    result = lint_imports(project_copy)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_import_back_up_the_layers_fails_naming_it(project_copy):
    with open(project_copy / "signals" / "selectors.py", "a") as module:
        module.write("\nimport charting.views  # noqa: E402,F401\n")

    result = lint_imports(project_copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "signals is not allowed to import charting" in result.stdout
    assert "signals.selectors -> charting.views" in result.stdout


def test_a_circle_of_imports_within_an_app_fails_naming_it(project_copy):
    # selectors import the models: the models importing the selectors close a circle.
    with open(project_copy / "signals" / "models.py", "a") as module:
        module.write("\nimport signals.selectors  # noqa: E402,F401\n")

    result = lint_imports(project_copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "No cycles are allowed in signals" in result.stdout
    assert ".models -> .selectors" in result.stdout or ".selectors -> .models" in result.stdout

"""Layers that only look down: import-linter's contracts (pyproject.toml) hold, and they catch a violation.

The ML core (features, signatures, preprocessing, trainer) is four top-level modules, which import-linter cannot
analyse; their imports are read here with Python's own parser.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")
ML_CORE = ("features", "signatures", "preprocessing", "pretrained", "trainer")
PROJECT_PACKAGES = ("app", "bench", "common", "components", "dataprep", "deploy", "evaluation", "models", "monitoring",
                    "pipeline", "reporting", "scripts", "serving")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT_IMPORTS, "--no-cache", "--no-logo", "--config", str(root / "pyproject.toml")],
                          cwd=root, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
                          capture_output=True, text=True, timeout=120)


def test_every_import_contract_is_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout and " kept" in result.stdout


def copy_of_the_project(tmp: Path) -> Path:
    for package in PROJECT_PACKAGES:
        shutil.copytree(ROOT / package, tmp / package, ignore=shutil.ignore_patterns("__pycache__", "*.yaml", "*.txt"))
    for name in ("pyproject.toml", *(f"{m}.py" for m in ML_CORE)):
        shutil.copy(ROOT / name, tmp / name)
    return tmp


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("serving/client.py", "from reporting import summary", "never import the reporting or pipeline layers"),
    ("app/app.py", "import features", "The app never imports the ML core"),
    ("app/app.py", "import tensorflow_model_analysis", "The app never imports TFMA"),
    ("app/app.py", "from models import pushed_models", "The app never imports TFMA"),
    ("common/files.py", "from pipeline import cli", "(common) import no other layer"),
    ("dataprep/splits.py", "from reporting import history", "Layers only look down"),
    ("serving/errors.py", "from serving import versions", "No cycles inside a package"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, line, contract):
    root = copy_of_the_project(tmp_path)
    path = root / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(root)
    assert result.returncode == 1, result.stdout
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in broken, result.stdout


def imported_top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", ML_CORE)
def test_the_ml_core_imports_nothing_of_the_project_but_itself(module):
    project = set(PROJECT_PACKAGES)
    assert not imported_top_level_names(ROOT / f"{module}.py") & project


def test_the_ml_core_check_sees_a_project_import(tmp_path):
    path = tmp_path / "trainer.py"
    path.write_text("import features\nfrom reporting import summary\nimport tensorflow as tf\n")
    assert imported_top_level_names(path) & set(PROJECT_PACKAGES) == {"reporting"}

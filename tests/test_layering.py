"""The package layering written in pyproject.toml ([tool.importlinter]) holds, and breaking it fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=120)


def _copy_tree(target: Path) -> Path:
    for name in ("service", "training"):
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


def test_every_import_contract_is_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(("module", "line", "expected"), [
    ("model/violation.py", "import service.api.app  # noqa: F401\n",
     ["service.model is not allowed to import service.api:",
      "service.model.violation -> service.api.app (l.1)"]),
    ("bulk/violation.py", "from service.api import metrics  # noqa: F401\n",
     ["The HTTP API and the bulk command do not import each other BROKEN"]),
], ids=["model core imports the API", "bulk imports the API"])
def test_an_import_against_the_layering_breaks_the_build(tmp_path: Path, module: str, line: str,
                                                         expected: list[str]) -> None:
    tree = _copy_tree(tmp_path)
    (tree / "service" / module).write_text(line)
    result = _lint_imports(tree)
    assert result.returncode == 1
    for message in expected:
        assert message in result.stdout

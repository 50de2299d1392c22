"""The code passes the linter configured in ``pyproject.toml`` (``[tool.ruff]``), so the README's
test command runs it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff():
    """The ruff command: the installed module of this interpreter, else one on the PATH."""
    probe = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True, text=True)
    if probe.returncode == 0:
        return [sys.executable, "-m", "ruff"]
    return [shutil.which("ruff")] if shutil.which("ruff") else None


def test_ruff_check_passes():
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]' brings it)")
    out = subprocess.run(ruff + ["check", "--no-cache", "--output-format", "concise", "."], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, f"ruff check found problems (ruff check --fix fixes some):\n{out.stdout}{out.stderr}"

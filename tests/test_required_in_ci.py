"""The ``required_in_ci`` marker: in CI a skip of such a test is a failure."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_PROBE = """
import pytest

@pytest.mark.required_in_ci
def test_needs_a_thing():
    pytest.skip("the thing is missing")
"""


def _run(tmp_path: Path, ci: str) -> subprocess.CompletedProcess:
    test = tmp_path / "test_probe_required.py"
    test.write_text(_PROBE)
    (tmp_path / "conftest.py").write_text((REPO / "tests" / "conftest.py").read_text())
    env = {**os.environ, "CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )


def test_required_test_skip_fails_in_ci(tmp_path):
    res = _run(tmp_path, "true")
    assert res.returncode == 1, res.stdout
    assert "required_in_ci test skipped in CI: Skipped: the thing is missing" in res.stdout


def test_required_test_may_skip_outside_ci(tmp_path):
    res = _run(tmp_path, "")
    assert res.returncode == 0, res.stdout
    assert "1 skipped" in res.stdout

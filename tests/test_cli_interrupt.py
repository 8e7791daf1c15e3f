"""Ctrl-C in any command: one line on stderr, exit code 130, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("typer")

SCRIPT = """
import sys
from neuroalign.cli import _app
def boom():
    raise KeyboardInterrupt
_app.app.registered_commands = [c for c in _app.app.registered_commands if c.name != sys.argv[1]]
_app.app.registered_groups = [
    g for g in _app.app.registered_groups
    if (g.name or g.typer_instance.info.name) != sys.argv[1]
]
_app.app.command(sys.argv[1])(boom)
_app.main(sys.argv[1:])
"""


def _run(*args: str) -> subprocess.CompletedProcess:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.parametrize(("name", "resumes"), [("bench", True), ("encode", False)])
def test_ctrl_c_prints_one_line_and_exits_130(name, resumes):
    res = _run(name)
    assert res.returncode == 130, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted"), res.stderr
    assert ("a re-run resumes" in lines[0]) == resumes


def test_usage_errors_and_success_keep_their_exit_codes():
    from neuroalign.cli import _app

    with pytest.raises(SystemExit) as exit_:
        _app.main(["no-such-command"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        _app.main(["--help"])
    assert exit_.value.code == 0

"""Every script in examples/ runs and prints what it promises."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.slow
def test_quickstart_runs_and_recovers_layers():
    pytest.importorskip("efficientnet_lite_pytorch")
    res = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith("recovered:")
    recovered, true = last.removeprefix("recovered:").split(" true:")
    assert ast.literal_eval(recovered.strip()) == ast.literal_eval(true.strip())


def test_every_example_has_a_test():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert scripts == ["quickstart.py"], "add a test for each new example"

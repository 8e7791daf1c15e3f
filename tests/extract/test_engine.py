"""The extraction engine: cache, resume after SIGKILL, bad files, OOM back-off, text, sources."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuroalign import StimulusSet  # noqa: E402
from neuroalign.core.exceptions import (  # noqa: E402
    ConfigurationError,
    ModelLoadError,
    NeuroalignWarning,
    ValidationError,
)
from neuroalign.extract import (  # noqa: E402
    extract,
    load_model,
    module_fingerprint,
)

from .helpers import PRE, Tiny, tiny  # noqa: E402


def test_cache_serves_stored_layers_and_keys_on_every_ingredient(images, tmp_path):
    model = tiny()
    first = extract(model, images, cache=tmp_path, memory_budget=2000, batch_size=4, quiet=True)
    calls = model.module._calls
    again = extract(model, images, cache=tmp_path, batch_size=4, quiet=True)
    assert model.module._calls == calls  # nothing recomputed
    assert isinstance(again["conv1"], np.memmap)
    for layer in first.layer_names:
        np.testing.assert_array_equal(first[layer], again[layer])
    plain = extract(model, images, batch_size=4, quiet=True)
    for layer in first.layer_names:
        np.testing.assert_allclose(plain[layer], again[layer], rtol=1e-6, atol=1e-6)
    # a new reducer option, new weights or new stimuli are new keys: recomputed, not served
    extract(
        model, images, cache=tmp_path, reduce="srp", reduce_options={"n_components": 8}, quiet=True
    )
    assert model.module._calls > calls
    calls = model.module._calls
    with torch.no_grad():
        model.module.fc.bias += 1
    shifted = extract(model, images, layers=["fc"], cache=tmp_path, quiet=True)
    assert model.module._calls > calls
    np.testing.assert_allclose(shifted["fc"], first["fc"] + 1, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_interrupted_run_resumes_bit_identical_and_bad_chunks_are_recomputed(tmp_path):
    """SIGKILL a slow extraction after some chunks are written; the rerun completes from there
    and equals an uninterrupted run bit for bit; a truncated chunk is detected and redone."""
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys, time, numpy as np, torch
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from helpers import tiny
            from neuroalign import StimulusSet
            from neuroalign.extract import extract
            slow = float(sys.argv[2])
            model = tiny()
            inner = model.module.forward
            def forward(x):
                time.sleep(slow)
                return inner(x)
            forward.cache_key = "slowed-down, same values"  # an instance forward is keyed
            model.module.forward = forward
            rng = np.random.default_rng(1)
            stim = StimulusSet(ids=[f"s{{k}}" for k in range(40)],
                               images=rng.integers(0, 255, (40, 20, 20, 3), dtype=np.uint8))
            acts = extract(model, stim, cache=sys.argv[1], memory_budget=4 * 2100 * 4,
                           batch_size=4, quiet=True)
            np.savez(sys.argv[3], **{{k: np.asarray(acts[k]) for k in acts.layer_names}})
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cache = tmp_path / "cache"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(cache), "0.15", str(tmp_path / "a.npz")], env=env
    )
    deadline = time.time() + 60
    while time.time() < deadline and len(list(cache.rglob("chunk-*.npy"))) < 6:
        time.sleep(0.05)
    time.sleep(np.random.default_rng().uniform(0, 0.3))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = list(cache.rglob("chunk-*.npy"))
    assert written and not list(cache.rglob("features.npy"))  # killed mid-run
    victim = sorted(written)[0]
    victim.write_bytes(victim.read_bytes()[:-7])  # a truncated chunk
    resumed = subprocess.run(
        [sys.executable, str(script), str(cache), "0", str(tmp_path / "b.npz")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "truncated or corrupt" in resumed.stderr
    fresh = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "fresh"), "0", str(tmp_path / "c.npz")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fresh.returncode == 0, fresh.stderr
    b, c = np.load(tmp_path / "b.npz"), np.load(tmp_path / "c.npz")
    assert sorted(b.files) == sorted(c.files) == ["conv1", "conv2", "fc"]
    for k in c.files:
        assert b[k].tobytes() == c[k].tobytes()


def test_corrupt_files_are_listed_or_skipped(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for k in range(4):
        p = tmp_path / f"img{k}.png"
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    paths[1].write_bytes(paths[1].read_bytes()[:60])  # truncated
    paths[3].write_text("not an image")
    stim = StimulusSet(ids=list("abcd"), images=paths)
    with pytest.raises(ValidationError, match=r"2 image file\(s\) cannot be read") as err:
        extract(tiny(), stim, quiet=True)
    assert "img1.png" in str(err.value) and "img3.png" in str(err.value)
    with pytest.warns(NeuroalignWarning, match="left out 2 unreadable"):
        acts = extract(tiny(), stim, on_error="skip", num_workers=0, quiet=True)
    assert list(acts.stimulus_ids) == ["a", "c"] and acts.meta["skipped"] == ["b", "d"]


def test_out_of_memory_halves_the_batch_and_says_so(images):
    ref = extract(tiny(), images, batch_size=8, quiet=True)
    with pytest.warns(NeuroalignWarning, match="out of memory .* continuing with 4"):
        got = extract(tiny(max_batch=5), images, batch_size=8, quiet=True)
    assert got.meta["batch_size_used"] == 4
    for layer in ref.layer_names:
        np.testing.assert_allclose(got[layer], ref[layer], rtol=1e-5, atol=1e-6)


def test_model_left_as_it_was_and_amp_channels_last_match(images):
    model = tiny()
    model.module.train()
    before = module_fingerprint(model.module)
    ref = extract(model, images, layers=["conv2", "fc"], quiet=True)
    fast = extract(model, images, layers=["conv2", "fc"], channels_last=True, quiet=True)
    half = extract(model, images, layers=["conv2", "fc"], amp="bf16", quiet=True)
    assert module_fingerprint(model.module) == before and model.module.training
    assert model.module.conv1.weight.is_contiguous()
    np.testing.assert_allclose(fast["fc"], ref["fc"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(half["fc"], ref["fc"], rtol=0.1, atol=0.05)
    with pytest.raises(ConfigurationError, match="fp16"):
        extract(model, images, amp="fp16", quiet=True)


def test_bad_requests_are_clear_errors(images):
    with pytest.raises(ValidationError, match="empty"):
        extract(tiny(), images.take([]), quiet=True)
    with pytest.raises(ConfigurationError, match="unknown model source 'nosuch'"):
        load_model("nosuch:thing")
    with pytest.raises(ConfigurationError, match="takes image inputs; the stimuli are texts"):
        extract(tiny(), StimulusSet(ids=["a"], texts=["hello"]), quiet=True)
    with pytest.raises(ValidationError, match="unique"):
        StimulusSet(ids=["a", "a"], texts=["x", "y"])


@pytest.mark.realdata
def test_cifar_resnet20_real_weights_through_file_source(shared_data):
    ckpt = shared_data / "resnet20_cifar10" / "resnet20-12fca82f.th"
    if not ckpt.exists():
        pytest.skip("../shared/data/resnet20_cifar10 is absent")
    model = load_model(f"file:{ckpt}", arch="cifar_resnet20")
    assert model.module.bn1.running_var.abs().sum() > 0  # trained statistics were loaded
    rng = np.random.default_rng(0)
    stim = StimulusSet(
        ids=[f"i{k}" for k in range(6)], images=rng.integers(0, 255, (6, 32, 32, 3), dtype=np.uint8)
    )
    a = extract(model, stim, quiet=True)
    b = extract(load_model(f"file:{ckpt}", arch="cifar_resnet20"), stim, quiet=True)
    assert a.layer_names[-1] == "linear" and a["linear"].shape == (6, 10)
    for layer in a.layer_names:
        assert a[layer].tobytes() == b[layer].tobytes()  # deterministic across loads and runs
    with pytest.raises(ModelLoadError, match="does not fit architecture 'torchvision:resnet18'"):
        load_model(f"file:{ckpt}", arch="torchvision:resnet18")
    with pytest.raises(ConfigurationError, match="arch="):
        load_model(f"file:{ckpt}")


def test_file_source_state_dicts_and_pickled_modules(tmp_path):
    net = Tiny()
    torch.save(
        {"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, tmp_path / "sd.pt"
    )
    loaded = load_model(f"file:{tmp_path / 'sd.pt'}", arch=Tiny, preprocess=PRE)
    assert module_fingerprint(loaded.module) == module_fingerprint(net)
    torch.save(net, tmp_path / "full.pt")
    with pytest.raises(ModelLoadError, match="trust_pickle=True"):
        load_model(f"file:{tmp_path / 'full.pt'}", preprocess=PRE)
    whole = load_model(f"file:{tmp_path / 'full.pt'}", preprocess=PRE, trust_pickle=True)
    assert module_fingerprint(whole.module) == module_fingerprint(net)
    with pytest.raises(ConfigurationError, match="takes no option"):
        load_model("torchvision:resnet18", pretrained=False, arch="x")


@pytest.mark.slow
def test_open_clip_both_towers_with_random_weights():
    pytest.importorskip("open_clip")
    model = load_model("open_clip:ViT-S-32", pretrained=False)
    layer = model.text_layers[-1]
    texts = ["a photo of a cat", "a dog"]
    acts = extract(model, StimulusSet(ids=["c", "d"], texts=texts), layers=[layer], quiet=True)
    block = dict(model.module.named_modules())[layer]
    seen = []
    handle = block.register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        ids = model.tokenizer(texts[1:])
        with torch.inference_mode():
            model.module.encode_text(ids)
    finally:
        handle.remove()
    out = seen[0] if seen[0].shape[0] == 1 else seen[0].transpose(0, 1)
    eot = int(ids.argmax(-1)[0])  # content tokens: between the start and end-of-text tokens
    np.testing.assert_allclose(acts[layer][1], out[0, 1:eot].mean(0), atol=1e-5)
    rng = np.random.default_rng(0)
    stim = StimulusSet(ids=["x", "y"], images=rng.integers(0, 255, (2, 50, 60, 3), dtype=np.uint8))
    img = extract(model, stim, reduce="avgpool", quiet=True)
    assert img.layer_names == model.default_layers and img[img.layer_names[0]].shape == (2, 384)


def test_run_killed_between_last_chunk_and_join_still_returns_every_layer(
    images, tmp_path, monkeypatch
):
    from neuroalign.extract._store import LayerEntry

    ref = extract(tiny(), images, quiet=True)
    real = LayerEntry.finalize

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(LayerEntry, "finalize", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract(tiny(), images, cache=tmp_path, memory_budget=3000, batch_size=4, quiet=True)
    monkeypatch.setattr(LayerEntry, "finalize", real)
    model = tiny()
    got = extract(model, images, cache=tmp_path, memory_budget=3000, batch_size=4, quiet=True)
    assert model.module._calls == 0  # every chunk was on disk: only the join ran
    assert got.layer_names == ref.layer_names
    for layer in ref.layer_names:
        np.testing.assert_allclose(got[layer], ref[layer], rtol=1e-6, atol=1e-6)


def test_float32_extraction_on_cuda_turns_tf32_off_and_restores_it():
    """cuDNN convolutions default to TF32 on CUDA (ResNet-18 features moved by 7e-3 from the CPU's
    on an H100): without ``amp`` the forward runs with TF32 off, and the user's flags come back."""
    from types import SimpleNamespace

    from neuroalign.extract._engine import _full_float32

    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
        with _full_float32(SimpleNamespace(type="cuda")):
            assert not torch.backends.cudnn.allow_tf32
            assert not torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        with _full_float32(SimpleNamespace(type="cpu")):  # nothing to do off CUDA
            assert torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old

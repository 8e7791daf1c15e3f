"""The feature store: every input that can change a value is in the key, the manifest is
validated, files are only ever read and deleted inside the entry, cache hits are cheap and give
the layers in the order of a fresh run."""

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuroalign import StimulusSet  # noqa: E402
from neuroalign.core.exceptions import (  # noqa: E402
    ConfigurationError,
    ModelLoadError,
    NeuroalignError,
    NeuroalignWarning,
    ValidationError,
)
from neuroalign.extract import ImagePreprocess, LoadedModel, extract, load_model  # noqa: E402

from .helpers import PRE, Tiny, tiny  # noqa: E402


def _entries(root: Path) -> list[Path]:
    return sorted(p.parent for p in Path(root).rglob("manifest.json"))


# --------------------------------------------------------------------------- the key
def test_callable_reducers_need_a_cache_key_and_never_share_an_entry(images, tmp_path):
    def maxpool(out, layer):
        return out.amax(dim=(2, 3))

    def meanpool(out, layer):
        return out.mean(dim=(2, 3))

    with pytest.raises(ConfigurationError, match="cache_key"):
        extract(tiny(), images, layers=["conv2"], reduce=maxpool, cache=tmp_path, quiet=True)
    assert not _entries(tmp_path)  # refused before any work
    a = extract(
        tiny(),
        images,
        layers=["conv2"],
        reduce=maxpool,
        cache=tmp_path,
        cache_key="max-v1",
        quiet=True,
    )
    b = extract(
        tiny(),
        images,
        layers=["conv2"],
        reduce=meanpool,
        cache=tmp_path,
        cache_key="mean-v1",
        quiet=True,
    )
    ref = extract(tiny(), images, layers=["conv2"], reduce=meanpool, quiet=True)
    np.testing.assert_allclose(b["conv2"], ref["conv2"], rtol=1e-6)
    assert not np.allclose(a["conv2"], b["conv2"])
    assert len(_entries(tmp_path)) == 2
    # without a cache a callable needs no key
    extract(tiny(), images, layers=["conv2"], reduce=maxpool, quiet=True)


def test_custom_preprocess_is_keyed_by_content_or_an_explicit_key(images, tmp_path):
    model = tiny()
    extract(model, images, layers=["fc"], cache=tmp_path, quiet=True)
    calls = model.module._calls
    same = LoadedModel(model.module, ImagePreprocess(resize=(16, 16)), "test:tiny")  # new object
    extract(same, images, layers=["fc"], cache=tmp_path, quiet=True)
    assert model.module._calls == calls  # equal content, same entry: resumed, not recomputed

    def custom(img):
        return PRE(img) * 2

    with pytest.raises(ConfigurationError, match="cache_key"):
        extract(model.module, images, preprocess=custom, layers=["fc"], cache=tmp_path)
    first = extract(
        model.module,
        images,
        preprocess=custom,
        layers=["fc"],
        cache=tmp_path,
        cache_key="double",
        quiet=True,
    )
    calls = model.module._calls
    again = extract(
        model.module,
        images,
        preprocess=custom,
        layers=["fc"],
        cache=tmp_path,
        cache_key="double",
        quiet=True,
    )
    assert model.module._calls == calls
    np.testing.assert_array_equal(first["fc"], again["fc"])


def test_stimulus_fingerprint_is_length_prefixed_and_covers_word_spans():
    a = StimulusSet(ids=["s1"], texts=["0 cats"])
    b = StimulusSet(ids=["s10"], texts=[" cats"])
    assert a.fingerprint != b.fingerprint
    pair = StimulusSet(ids=["a", "b"], texts=["xy", "z"])
    assert pair.fingerprint != StimulusSet(ids=["a", "b"], texts=["x", "yz"]).fingerprint
    spans = {"char_start": [4], "char_end": [8]}
    w1 = StimulusSet(ids=["w"], texts=["the bank of it"], metadata=spans)
    w2 = StimulusSet(
        ids=["w"], texts=["the bank of it"], metadata={"char_start": [9], "char_end": [11]}
    )
    assert w1.fingerprint != w2.fingerprint
    # metadata that no reducer reads does not split the store
    labelled = StimulusSet(
        ids=["w"], texts=["the bank of it"], metadata={**spans, "category": ["money"]}
    )
    assert labelled.fingerprint == w1.fingerprint


def test_ipca_fit_depends_on_batch_size_so_it_is_in_the_key(images, tmp_path):
    opts = {"n_components": 3}
    kw = dict(layers=["conv2"], reduce="ipca", reduce_options=opts, quiet=True)
    fresh4 = extract(tiny(), images, batch_size=4, **kw)
    fresh8 = extract(tiny(), images, batch_size=8, **kw)
    assert not np.allclose(fresh4["conv2"], fresh8["conv2"], atol=1e-3)  # the fits differ
    extract(tiny(), images, batch_size=4, cache=tmp_path, **kw)
    got8 = extract(tiny(), images, batch_size=8, cache=tmp_path, **kw)
    np.testing.assert_allclose(got8["conv2"], fresh8["conv2"], rtol=1e-4, atol=1e-5)
    # out-of-memory back-off changes the passes, not the fit: same features as batch 8
    with pytest.warns(NeuroalignWarning, match="out of memory"):
        backoff = extract(tiny(max_batch=5), images, batch_size=8, **kw)
    np.testing.assert_allclose(backoff["conv2"], fresh8["conv2"], rtol=1e-4, atol=1e-5)


def test_memory_format_amp_and_device_are_in_the_key(images, tmp_path):
    plain = extract(tiny(), images, layers=["fc"], cache=tmp_path, quiet=True)
    last = extract(tiny(), images, layers=["fc"], cache=tmp_path, channels_last=True, quiet=True)
    bf16 = extract(tiny(), images, layers=["fc"], cache=tmp_path, amp="bf16", quiet=True)
    dirs = {plain.meta["cache"]["fc"], last.meta["cache"]["fc"], bf16.meta["cache"]["fc"]}
    assert len(dirs) == 3
    parts = json.loads((Path(plain.meta["cache"]["fc"]) / "manifest.json").read_text())["parts"]
    assert parts["device"] == "cpu" and parts["amp"] is None and parts["channels_last"] is False


def test_non_persistent_buffers_are_in_the_key(images, tmp_path):
    class Scaled(Tiny):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", torch.ones(1), persistent=False)

        def forward(self, x):
            return super().forward(x * self.scale)

    m = Scaled()
    extract(m, images, layers=["fc"], preprocess=PRE, cache=tmp_path, quiet=True)
    m.scale.fill_(3.0)
    got = extract(m, images, layers=["fc"], preprocess=PRE, cache=tmp_path, quiet=True)
    ref = extract(m, images, layers=["fc"], preprocess=PRE, quiet=True)
    np.testing.assert_allclose(got["fc"], ref["fc"], rtol=1e-6)


# --------------------------------------------------------------------------- hygiene
def _interrupted_entry(images, tmp_path, monkeypatch):
    """An entry whose chunks are all on disk but that was never joined."""
    from neuroalign.extract._store import LayerEntry

    real = LayerEntry.finalize

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(LayerEntry, "finalize", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract(
            tiny(),
            images,
            layers=["fc"],
            cache=tmp_path,
            memory_budget=200,
            batch_size=4,
            quiet=True,
        )
    monkeypatch.setattr(LayerEntry, "finalize", real)
    (entry,) = _entries(tmp_path)
    return entry


def test_manifest_with_wrong_shapes_is_recomputed_not_a_crash(images, tmp_path):
    ref = extract(tiny(), images, layers=["fc"], quiet=True)
    extract(tiny(), images, layers=["fc"], cache=tmp_path, quiet=True)
    (entry,) = _entries(tmp_path)
    manifest = json.loads((entry / "manifest.json").read_text())
    for bad in (
        {**manifest, "chunks": [], "final": "x"},
        {**manifest, "final": {"file": 3}},
        {**manifest, "chunk_size": "big", "final": None, "chunks": {"0": "chunk-00000.npy"}},
        ["not", "a", "dict"],
    ):
        (entry / "manifest.json").write_text(json.dumps(bad))
        with pytest.warns(NeuroalignWarning, match="manifest"):
            got = extract(tiny(), images, layers=["fc"], cache=tmp_path, quiet=True)
        np.testing.assert_allclose(got["fc"], ref["fc"], rtol=1e-6)


def test_chunk_files_outside_the_entry_are_never_read_or_deleted(images, tmp_path, monkeypatch):
    entry = _interrupted_entry(images, tmp_path / "cache", monkeypatch)
    manifest = json.loads((entry / "manifest.json").read_text())
    outside = tmp_path / "precious.npy"
    shutil.copy(entry / "chunk-00000.npy", outside)
    manifest["chunks"]["0"]["file"] = str(outside)  # an absolute path: not a chunk name
    manifest["chunks"]["1"]["file"] = "../../precious.npy"
    (entry / "manifest.json").write_text(json.dumps(manifest))
    with pytest.warns(NeuroalignWarning, match="not a chunk"):
        got = extract(tiny(), images, layers=["fc"], cache=tmp_path / "cache", quiet=True)
    assert outside.exists()
    ref = extract(tiny(), images, layers=["fc"], quiet=True)
    np.testing.assert_allclose(got["fc"], ref["fc"], rtol=1e-6)


def test_renames_are_flushed_with_their_directory(images, tmp_path, monkeypatch):
    import neuroalign.extract._store as store

    flushed = []
    real = store._fsync_dir
    monkeypatch.setattr(store, "_fsync_dir", lambda p: flushed.append(p) or real(p))
    acts = extract(
        tiny(), images, layers=["fc"], cache=tmp_path, memory_budget=80, batch_size=4, quiet=True
    )
    entry = Path(acts.meta["cache"]["fc"])
    assert flushed and all(p == entry for p in flushed)
    # a flush per chunk rename (6 chunks of 4 rows of 20 bytes), the join's rename, its manifest, the cleanup
    manifest = json.loads((entry / "manifest.json").read_text())
    assert len(flushed) >= 6 + 3 and manifest["final"]["size"] > 0


def test_stale_temporary_files_are_swept(images, tmp_path, monkeypatch):
    entry = _interrupted_entry(images, tmp_path, monkeypatch)
    dead = 2**22 + 12345  # beyond pid_max on Linux: no such process
    stale = [entry / f".features.npy.{dead}.tmp", entry / f".chunk-00002.npy.{dead}.tmp"]
    for p in stale:
        p.write_bytes(b"\0" * 4096)
    live = entry / f".chunk-00003.npy.{os.getpid()}.tmp"  # a writer that is still running
    live.write_bytes(b"\0")
    extract(tiny(), images, layers=["fc"], cache=tmp_path, quiet=True)
    assert not any(p.exists() for p in stale)
    assert live.exists()


def test_cache_hits_trust_size_and_mtime_full_check_on_request(images, tmp_path, monkeypatch):
    import neuroalign.extract._store as store

    extract(tiny(), images, layers=["fc"], cache=tmp_path, quiet=True)
    hashed = []
    real = store.final_matches
    monkeypatch.setattr(store, "final_matches", lambda p, f: hashed.append(p) or real(p, f))
    model = tiny()
    extract(model, images, layers=["fc"], cache=tmp_path, quiet=True)
    assert hashed == [] and model.module._calls == 0  # a hit reads no bytes to check them
    extract(model, images, layers=["fc"], cache=tmp_path, verify_cache=True, quiet=True)
    assert len(hashed) == 1
    (entry,) = _entries(tmp_path)
    feats = entry / "features.npy"
    st = feats.stat()
    data = bytearray(feats.read_bytes())
    data[-1] ^= 0xFF
    feats.write_bytes(bytes(data))
    os.utime(feats, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime
    with pytest.warns(NeuroalignWarning, match="checksum"):
        extract(model, images, layers=["fc"], cache=tmp_path, verify_cache=True, quiet=True)
    assert model.module._calls > 0  # recomputed
    calls = model.module._calls
    with open(feats, "r+b") as f:  # a change that moves the mtime is seen without hashing
        f.seek(-4, 2)
        f.write(b"\1\2\3\4")
    with pytest.warns(NeuroalignWarning, match="changed"):
        extract(model, images, layers=["fc"], cache=tmp_path, quiet=True)
    assert model.module._calls > calls


@pytest.mark.parametrize("where", ["header", "first row", "middle row"])
def test_verify_rehashes_the_header_and_every_range_of_rows(images, tmp_path, where):
    """``verify_cache`` checks each row range against its own SHA-256 (the ones computed while
    the chunks were written) and the header against its: a flipped byte anywhere is seen."""
    model = tiny()
    kw = dict(layers=["fc"], cache=tmp_path, memory_budget=2 * 4 * 20, batch_size=2, quiet=True)
    extract(model, images, **kw)  # chunks of 4 rows of 5 floats
    (entry,) = _entries(tmp_path)
    final = json.loads((entry / "manifest.json").read_text())["final"]
    assert len(final["rows_sha256"]) == 6  # 23 rows in chunks of 4
    feats = entry / "features.npy"
    head = feats.stat().st_size - 23 * 5 * 4
    at = {"header": head - 2, "first row": head, "middle row": head + 11 * 20 + 3}[where]
    st = feats.stat()
    with open(feats, "r+b") as f:
        f.seek(at)
        old = f.read(1)
        f.seek(at)  # the header's padding: a tab for a space still parses
        f.write(b"\t" if where == "header" else bytes([old[0] ^ 0x01]))
    os.utime(feats, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime
    calls = model.module._calls
    extract(model, images, **kw)
    assert model.module._calls == calls  # a hit trusts size and mtime
    with pytest.warns(NeuroalignWarning, match="checksum"):
        extract(model, images, verify_cache=True, **kw)
    assert model.module._calls > calls


@pytest.mark.parametrize("header", [b"(23, 4)", b"(2!, 5)"])
def test_a_hit_whose_header_changed_is_an_error_not_other_numbers(images, tmp_path, header):
    """Size and mtime kept, the header rewritten: a shape that still parses would have served
    other numbers (the first 23 × 4 floats), one that does not parse a raw ValueError."""
    from neuroalign.core.exceptions import CacheError

    kw = dict(layers=["fc"], cache=tmp_path, quiet=True)
    extract(tiny(), images, **kw)
    (entry,) = _entries(tmp_path)
    feats = entry / "features.npy"
    st, data = feats.stat(), feats.read_bytes()
    assert data.count(b"(23, 5)") == 1
    feats.write_bytes(data.replace(b"(23, 5)", header))
    os.utime(feats, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(CacheError, match=r"changed after it was written.*verify_cache=True"):
        extract(tiny(), images, **kw)
    with pytest.warns(NeuroalignWarning, match="checksum"):  # the fix the message names
        got = extract(tiny(), images, verify_cache=True, **kw)
    assert np.asarray(got["fc"]).shape == (23, 5)


def test_cache_hit_gives_the_layers_in_forward_order(images, tmp_path):
    class Backwards(torch.nn.Module):  # registered fc, conv; runs conv, fc
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.fc = torch.nn.Linear(4 * 16 * 16, 3)
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            return self.fc(self.conv(x).flatten(1))

    m = Backwards()
    kw = dict(layers=["fc", "conv"], preprocess=PRE, cache=tmp_path, quiet=True)
    fresh = extract(m, images, **kw)
    assert fresh.layer_names == ("conv", "fc")
    assert extract(m, images, **kw).layer_names == ("conv", "fc")
    half = extract(m, images, layers=["fc"], preprocess=PRE, cache=tmp_path / "b", quiet=True)
    assert half.layer_names == ("fc",)
    mixed = extract(m, images, **{**kw, "cache": tmp_path / "b"})  # fc stored, conv computed
    assert mixed.layer_names == ("conv", "fc")


# --------------------------------------------------------------------------- bad inputs
def test_cache_that_is_a_file_fails_before_the_forward_pass(images, tmp_path):
    model = tiny()
    afile = tmp_path / "cache.txt"
    afile.write_text("x")
    with pytest.raises(ValidationError, match="cache") as err:
        extract(model, images, cache=afile, quiet=True)
    assert "not a directory" in str(err.value) and model.module._calls == 0


def test_device_and_memory_budget_vocabulary(images):
    model = tiny()
    if not torch.cuda.is_available():
        with pytest.raises(ConfigurationError, match="CUDA") as err:
            extract(model, images, device="cuda", quiet=True)
        assert "device='cpu'" in str(err.value)
    with pytest.raises(ConfigurationError, match="'cpu', 'cuda', 'cuda:N'"):
        extract(model, images, device="gpu", quiet=True)
    for bad in ("lots", -5, 0, True, "2 parsecs"):
        with pytest.raises(ValidationError, match="memory_budget"):
            extract(model, images, memory_budget=bad, quiet=True)
    assert model.module._calls == 0
    a = extract(model, images, layers=["fc"], device=None, memory_budget=10**6, quiet=True)
    b = extract(model, images, layers=["fc"], device="cpu", memory_budget="1MB", quiet=True)
    np.testing.assert_array_equal(a["fc"], b["fc"])


def test_unreadable_checkpoints_say_what_is_wrong(tmp_path):
    net = Tiny()
    torch.save(net.state_dict(), tmp_path / "legacy.th", _use_new_zipfile_serialization=False)
    data = (tmp_path / "legacy.th").read_bytes()
    (tmp_path / "trunc.th").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.th").write_bytes(b"")
    for name, why in (("trunc.th", "truncated"), ("empty.th", "empty")):
        with pytest.raises(ModelLoadError, match=why) as err:
            load_model(f"file:{tmp_path / name}", arch=Tiny, preprocess=PRE)
        assert ": ." not in str(err.value) and "bytes" in str(err.value)


def test_disk_errors_in_the_store_are_one_clear_error(images, tmp_path, monkeypatch):
    import neuroalign.extract._store as store

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.np, "save", full)
    with pytest.raises(NeuroalignError, match="No space left on device") as err:
        extract(tiny(), images, layers=["fc"], cache=tmp_path, quiet=True)
    assert str(tmp_path) in str(err.value)
    assert not list(tmp_path.rglob("*.tmp"))

"""Changes a researcher makes between two runs in one cache directory, each of which used to be
served the old features from the store (an audit made each one; the values differed from a run
without the store by 0.04-3.7): now each is recomputed, or refused until named by a cache_key."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from neuroalign import StimulusSet
from neuroalign.core.exceptions import ConfigurationError
from neuroalign.extract import REDUCERS, ImagePreprocess, LoadedModel, extract

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


class Scaled(torch.nn.Module):
    """A plain setting its repr does not show (as GoogLeNet's transform_input)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.temperature = 1.0

    def forward(self, x):
        return self.conv(x / self.temperature)


PRE = ImagePreprocess(resize=16)


def _stim(seed: int = 0, n: int = 4) -> StimulusSet:
    rng = np.random.default_rng(seed)
    return StimulusSet(
        ids=[f"s{i}" for i in range(n)], images=rng.integers(0, 256, (n, 16, 16, 3), np.uint8)
    )


def _get(model, stim, cache, **kw):
    return extract(model, stim, layers=["conv"], quiet=True, cache=cache, **kw)["conv"]


def test_a_plain_module_setting_is_in_the_key(tmp_path):
    model = LoadedModel(Scaled(), PRE, "scaled", ("conv",))
    stim = _stim()
    first = _get(model, stim, tmp_path)
    model.module.temperature = 2.0
    served = _get(model, stim, tmp_path)
    np.testing.assert_allclose(served, _get(model, stim, None), atol=1e-6)
    assert not np.allclose(served, first)


def test_hooks_and_instance_forwards_need_a_key_and_are_in_it(tmp_path):
    model = LoadedModel(Scaled(), PRE, "scaled", ("conv",))
    stim = _stim()
    plain = _get(model, stim, tmp_path)
    lesion = model.module.conv.register_forward_hook(lambda m, i, o: o * 0)
    try:
        with pytest.raises(ConfigurationError, match="forward_hook on conv"):
            _get(model, stim, tmp_path)
        lesioned = _get(model, stim, tmp_path, cache_key="lesion-all-v1")
    finally:
        lesion.remove()
    assert np.all(lesioned == 0) and not np.all(plain == 0)
    inner = model.module.forward
    model.module.forward = lambda x: inner(x) * 3
    with pytest.raises(ConfigurationError, match="forward assigned on the model"):
        _get(model, stim, tmp_path)
    del model.module.forward
    np.testing.assert_array_equal(_get(model, stim, tmp_path), plain)  # the first entry again


def test_image_files_overwritten_under_one_stimulus_set(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()

    def write(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for i, im in enumerate(rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)):
            Image.fromarray(im).save(folder / f"im{i}.png")

    model = LoadedModel(Scaled(), PRE, "scaled", ("conv",))
    write(0)
    stim = StimulusSet.from_path(folder)
    first = _get(model, stim, tmp_path / "store")
    write(1)  # same names, other pixels, the same StimulusSet object
    served = _get(model, stim, tmp_path / "store")
    np.testing.assert_allclose(served, _get(model, StimulusSet.from_path(folder), None), atol=1e-6)
    assert not np.allclose(served, first)


def test_an_image_array_edited_in_place(tmp_path):
    model = LoadedModel(Scaled(), PRE, "scaled", ("conv",))
    arr = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    stim = StimulusSet(ids=["a", "b", "c"], images=arr)
    first = _get(model, stim, tmp_path)
    arr[:] = 255 - arr  # the caller's array, which the set shares
    served = _get(model, stim, tmp_path)
    np.testing.assert_allclose(served, _get(model, stim, None), atol=1e-6)
    assert not np.allclose(served, first)


def test_a_registered_reducer_is_keyed_by_its_code(tmp_path, monkeypatch):
    model = LoadedModel(Scaled(), PRE, "scaled", ("conv",))
    stim = _stim()

    def pool_max():
        return lambda out, layer: out.amax(dim=(2, 3))

    def pool_mean():
        return lambda out, layer: out.mean(dim=(2, 3))

    monkeypatch.setitem(REDUCERS, "user_pool", pool_max)
    first = _get(model, stim, tmp_path, reduce="user_pool")
    monkeypatch.setitem(REDUCERS, "user_pool", pool_mean)  # the same name, edited code
    served = _get(model, stim, tmp_path, reduce="user_pool")
    np.testing.assert_allclose(served, _get(model, stim, None, reduce="user_pool"), atol=1e-6)
    assert not np.allclose(served, first)


def test_an_image_preprocess_subclass_needs_its_own_key(tmp_path):
    class Gray(ImagePreprocess):
        def batch(self, images):
            x = super().batch(images)
            return x.mean(1, keepdim=True).expand_as(x).contiguous()

    model = LoadedModel(Scaled(), Gray(resize=16), "scaled", ("conv",))
    with pytest.raises(ConfigurationError, match="preprocess=Gray"):
        _get(model, _stim(), tmp_path)
    assert ImagePreprocess(resize=16).cache_key  # the class itself is keyed by its fields


def test_benchmark_data_fingerprint_knows_whose_rdm_is_whose():
    """bootstrap_rsa pools sessions by the subject descriptor: relabelling subjects changes
    the score, so it changes the benchmark data's fingerprint (the cells were served)."""
    import pandas as pd

    from neuroalign import RDMs
    from neuroalign.bench import BenchmarkData

    stim = _stim(n=5)
    d = np.random.default_rng(0).random((4, 10))
    ids = stim.stimulus_ids
    a = RDMs(d, ids, pd.DataFrame({"subject": ["a", "b", "c", "d"]}))
    b = RDMs(d, ids, pd.DataFrame({"subject": ["a", "a", "b", "b"]}))
    assert BenchmarkData(stim, a).fingerprint != BenchmarkData(stim, b).fingerprint
    assert BenchmarkData(stim, a).fingerprint == BenchmarkData(stim, a).fingerprint

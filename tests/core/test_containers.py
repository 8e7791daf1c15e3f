import numpy as np
import pandas as pd
import pytest

from neuroalign import Activations, RDMs, Responses, StimulusSet, align
from neuroalign.core.exceptions import (
    LayerNotFoundError,
    NeuroalignWarning,
    ShapeError,
    StimulusMismatchError,
    ValidationError,
)


def _acts(ids, n_feat=3):
    return Activations(
        "toy:net", ids, {"l1": np.arange(len(ids) * n_feat, dtype=float).reshape(len(ids), n_feat)}
    )


def test_stimulus_set_duplicate_ids_named():
    with pytest.raises(
        ValidationError, match=r"ids must be unique; 1 id\(s\) occur more than once: \['a'\]"
    ):
        StimulusSet(ids=["a", "b", "a"], texts=["x", "y", "z"])


def test_stimulus_set_length_mismatch_and_content():
    with pytest.raises(ShapeError, match="ids has 2 entries but texts has 3"):
        StimulusSet(ids=["a", "b"], texts=["x", "y", "z"])
    with pytest.raises(ValidationError, match="needs images or texts"):
        StimulusSet(ids=["a"])


def test_stimulus_set_select_fingerprint_and_images():
    imgs = np.random.default_rng(0).integers(0, 255, size=(3, 5, 5, 3), dtype=np.uint8)
    s = StimulusSet(ids=["a", "b", "c"], images=imgs, metadata=pd.DataFrame({"cat": [1, 2, 3]}))
    sub = s.select(["c", "a"])
    assert sub.ids.tolist() == ["c", "a"]
    assert sub.metadata["cat"].tolist() == [3, 1]
    np.testing.assert_array_equal(sub.load_image(0), imgs[2])
    assert s.fingerprint == StimulusSet(ids=["a", "b", "c"], images=imgs.copy()).fingerprint
    changed = imgs.copy()
    changed[0, 0, 0, 0] ^= 1
    assert s.fingerprint != StimulusSet(ids=["a", "b", "c"], images=changed).fingerprint
    with pytest.raises(ValueError):  # immutable
        s.images[0, 0, 0, 0] = 1
    with pytest.raises(StimulusMismatchError, match="'zz'"):
        s.select(["zz"])


def test_grayscale_and_rgba_converted():
    gray = np.zeros((2, 4, 4), np.uint8)
    s = StimulusSet(ids=["a", "b"], images=gray)
    assert s.load_image(0).shape == (4, 4, 3)
    rgba = [np.zeros((4, 4, 4), np.uint8)]
    assert StimulusSet(ids=["a"], images=rgba).load_image(0).shape == (4, 4, 3)


def test_activations_validation():
    with pytest.raises(ShapeError, match=r"layers\['l'\] has 2 rows but there are 3 stimulus_ids"):
        Activations("m", ["a", "b", "c"], {"l": np.zeros((2, 4))})
    with pytest.raises(ShapeError, match="must be 2-D"):
        Activations("m", ["a"], {"l": np.zeros(4)})
    with pytest.raises(ValidationError, match=r"NaN.*layers\['l'\]|layers\['l'\] contains 1 NaN"):
        Activations("m", ["a", "b"], {"l": np.array([[1.0, np.nan], [0, 1]])})
    a = Activations("m", ["a", "b"], {"conv1": np.zeros((2, 2, 2, 2))})
    assert a["conv1"].shape == (2, 8)
    with pytest.raises(LayerNotFoundError, match="Did you mean 'conv1'"):
        a["conv2"]


def test_responses_shapes_nan_and_reps():
    rng = np.random.default_rng(0)
    with pytest.raises(ValidationError, match="data contains 1 NaN"):
        Responses(["a", "b"], data=np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(ShapeError, match="n_stimuli=3"):
        Responses(["a", "b", "c"], repetitions=rng.normal(size=(2, 4, 5)))
    reps = rng.normal(size=(3, 4, 2))
    r = Responses(list("abcd"), repetitions=reps, targets=pd.DataFrame({"roi": ["V1", "IT"]}))
    np.testing.assert_allclose(r.data, reps.mean(0))
    assert r.roi("IT").n_targets == 1
    with pytest.raises(ValidationError, match="Did you mean 'IT'"):
        r.roi("ITT")
    reps[1, 2] = np.nan
    with pytest.warns(NeuroalignWarning, match="1 missing"):
        r2 = Responses(list("abcd"), repetitions=reps)
    np.testing.assert_allclose(r2.data[2], reps[[0, 2], 2].mean(0))
    reps[0, 0, 0] = np.nan
    with pytest.raises(ValidationError, match="only some targets"):
        Responses(list("abcd"), repetitions=reps)


def test_responses_time_and_export():
    r = Responses(["a", "b"], data=np.ones((2, 3, 4)), times=np.linspace(0, 0.3, 4))
    assert r.is_timeseries
    assert len(r.to_pandas()) == 2 * 3 * 4
    xr = r.to_xarray()
    assert xr.dims == ("stimulus_id", "target", "time")
    with pytest.raises(ShapeError, match="times"):
        Responses(["a", "b"], data=np.ones((2, 3)), times=np.arange(3))


def test_align_exact_lists_missing_ids_on_both_sides():
    a = _acts(["s1", "s2", "s3"])
    r = Responses(["s3", "s4", "s1"], data=np.ones((3, 2)))
    with pytest.raises(StimulusMismatchError) as info:
        align(a, r)
    msg = str(info.value)
    assert "missing from Responses: ['s2']" in msg
    assert "missing from Activations: ['s4']" in msg


def test_align_reorders_and_inner_warns():
    a = _acts(["s1", "s2", "s3"])
    data = np.array([[3.0], [1.0], [2.0]])
    r = Responses(["s3", "s1", "s2"], data=data)
    a2, r2 = align(a, r)
    assert r2.stimulus_ids.tolist() == ["s1", "s2", "s3"]
    np.testing.assert_array_equal(r2.data[:, 0], [1.0, 2.0, 3.0])
    assert a2 is a
    r_small = Responses(["s3", "s1"], data=data[:2])
    with pytest.warns(NeuroalignWarning, match="dropped 1 from Activations and 0 from Responses"):
        a3, r3 = align(a, r_small, how="inner")
    assert a3.stimulus_ids.tolist() == ["s1", "s3"] == r3.stimulus_ids.tolist()


def test_rdms_square_condensed_roundtrip_and_select():
    from scipy.spatial.distance import pdist, squareform

    X = np.random.default_rng(1).normal(size=(6, 4))
    vec = pdist(X)
    r = RDMs(vec, list("abcdef"))
    np.testing.assert_allclose(r.square()[0], squareform(vec))
    r2 = RDMs(r.square(), list("abcdef"))
    np.testing.assert_allclose(r2.dissimilarities, r.dissimilarities)
    sub = r.select(["f", "a", "c"])
    np.testing.assert_allclose(sub.square()[0], squareform(vec)[np.ix_([5, 0, 2], [5, 0, 2])])
    with pytest.raises(ShapeError, match="need 15"):
        RDMs(np.ones(14), list("abcdef"))


def test_to_xarray_and_pandas_roundtrip():
    a = _acts(["x", "y"])
    ds = a.to_xarray()
    np.testing.assert_array_equal(ds["l1"].values, a["l1"])
    assert a.to_pandas("l1").shape == (2, 3)
    s = StimulusSet(ids=["x", "y"], texts=["hello", "world"])
    assert s.to_pandas()["text"].tolist() == ["hello", "world"]


def test_save_and_load_roundtrip(tmp_path):
    from neuroalign import load_activations, load_responses, save_activations, save_responses

    rng = np.random.default_rng(0)
    acts = Activations(
        "m:x",
        ["a", "b", "c"],
        {"z": rng.normal(size=(3, 4)), "y": rng.normal(size=(3, 2))},
        reduce="avgpool",
    )
    back = load_activations(save_activations(acts, tmp_path / "acts.npz"))
    assert back.layer_names == ("z", "y") and back.model == "m:x" and back.reduce == "avgpool"
    np.testing.assert_array_equal(back["z"], acts["z"])
    resp = Responses(
        list("abc"),
        repetitions=rng.normal(size=(2, 3, 2)),
        targets=pd.DataFrame({"roi": ["V1", "IT"], "x": [1.5, 2.5]}),
    )
    r2 = load_responses(save_responses(resp, tmp_path / "resp.npz"))
    np.testing.assert_array_equal(r2.repetitions, resp.repetitions)
    assert r2.targets["roi"].tolist() == ["V1", "IT"] and r2.targets["x"].tolist() == [1.5, 2.5]
    np.savez(
        tmp_path / "plain.npz",
        stimulus_ids=np.array(["a", "b"]),
        data=np.ones((2, 3)),
        roi=np.array(["A", "A", "B"]),
    )
    plain = load_responses(tmp_path / "plain.npz")
    assert plain.rois == ["A", "B"]
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(ValidationError, match=r"not a readable \.npz"):
        load_responses(tmp_path / "bad.npz")


def _memmap(path, shape, rng, missing=()):
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
    for r in range(shape[0]):
        arr[r] = rng.standard_normal(shape[1:], dtype=np.float32)
    for rep, stim in missing:
        arr[rep, stim] = np.nan
    arr.flush()
    del arr
    return np.load(path, mmap_mode="r")


def test_responses_scan_memmapped_repetitions_in_bounded_memory(tmp_path, monkeypatch):
    """Averages and NaN checks of memory-mapped repetitions read a block of targets at a time: the
    peak is the output plus a block, not copies of the (here 48 MB) repetitions."""
    import tracemalloc

    from neuroalign.core import _responses

    monkeypatch.setattr(_responses, "_BLOCK_BYTES", 2**20)
    rng = np.random.default_rng(0)
    shape = (3, 200, 20_000)
    reps = _memmap(tmp_path / "reps.npy", shape, rng, missing=[(1, 5)])
    ids = [f"s{i}" for i in range(shape[1])]
    out_bytes = shape[1] * shape[2] * 4  # the average (16 MB) is the one full-size allocation
    tracemalloc.start()
    try:
        with pytest.warns(NeuroalignWarning, match="1 missing"):
            r = Responses(ids, repetitions=reps)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reps.nbytes > 2 * out_bytes
    assert peak < out_bytes + 6 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    expect = np.asarray(reps).mean(axis=0)
    expect[5] = np.asarray(reps)[[0, 2], 5].mean(axis=0)
    np.testing.assert_allclose(r.data, expect, rtol=1e-5, atol=1e-6)
    assert np.shares_memory(r.repetitions, reps)  # not copied into RAM


def test_responses_memmapped_data_checked_without_full_temporaries(tmp_path, monkeypatch):
    import tracemalloc

    from neuroalign.core import _responses

    monkeypatch.setattr(_responses, "_BLOCK_BYTES", 2**20)
    rng = np.random.default_rng(1)
    reps = _memmap(tmp_path / "reps.npy", (2, 300, 20_000), rng)
    data = _memmap(tmp_path / "data.npy", (1, 300, 20_000), rng)[0]
    ids = [f"s{i}" for i in range(300)]
    tracemalloc.start()
    try:
        r = Responses(ids, data=data, repetitions=reps)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"peak {peak / 2**20:.1f} MiB for 24 MB data + 48 MB repetitions"
    assert np.shares_memory(r.data, data)
    bad = np.array(data)
    bad[7, 123] = np.inf
    with pytest.raises(
        ValidationError, match=r"data contains 1 NaN.*1 target\(s\) affected, first: \[123\]"
    ):
        Responses(ids, data=bad)
    reps_bad = np.array(reps[:, :5, :10])
    reps_bad[0, 1, 3] = np.nan
    with pytest.raises(ValidationError, match="only some targets of repetition 0, stimulus 1"):
        Responses(ids[:5], repetitions=reps_bad)


def test_finite_check_fast_path_is_exact():
    """The sum shortcut of check_finite: any NaN or inf is still found (also where a sum
    overflows), and finite values whose sum overflows are still accepted."""
    from neuroalign.core._validation import check_finite

    big = np.full((100, 100), 3e38, dtype=np.float32)  # finite; the float32 sum overflows
    check_finite(big, "x")
    for bad in (np.nan, np.inf, -np.inf):
        for where in ((0, 0), (57, 13), (99, 99)):
            arr = np.ones((100, 100), dtype=np.float32)
            arr[where] = bad
            with pytest.raises(ValidationError, match="1 NaN or infinite"):
                check_finite(arr, "x")
            big2 = big.copy()
            big2[where] = bad
            with pytest.raises(ValidationError, match="1 NaN or infinite"):
                check_finite(big2, "x")

"""Algonauts 2019 RSA benchmarks on a synthetic release tree in the challenge's layout.

Layout (the challenge's own evaluation script and participants' code read it so):
``Training_Data/<n>_Image_Set/target_fmri.mat`` (MATLAB v7.3 with ``EVC_RDMs`` / ``IT_RDMs``,
15 subjects x n x n in MATLAB's axis order, read as ``np.transpose`` of the h5py dataset:
dnn-hvs/Algonauts-Challange ``Testing/test.py`` l.11) and ``<n>images/*.jpg`` next to it.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from PIL import Image
from scipy.spatial.distance import squareform

pytest.importorskip("torch")
h5py = pytest.importorskip("h5py")

from neuroalign.bench import load_benchmark, run, tiny_cnn  # noqa: E402
from neuroalign.core.exceptions import ConfigurationError  # noqa: E402

N_SUBJECTS = 15


def _write_v73(path, variables):
    """HDF5 behind MATLAB's 512-byte userblock, arrays stored column-major + ``MATLAB_class``."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            ds = f.create_dataset(name, data=np.ascontiguousarray(value.T))
            ds.attrs["MATLAB_class"] = np.bytes_("double")
    head = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2019 HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write((head.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM").ljust(512, b"\x00"))


def _write_tree(root, n, rng):
    folder = root / "algonauts2019" / "Training_Data" / f"{n}_Image_Set"
    (folder / f"{n}images").mkdir(parents=True)
    for i in range(n):
        img = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(img).save(folder / f"{n}images" / f"image_{i + 1:02d}.jpg")
    pairs = n * (n - 1) // 2
    rdms = {
        roi: np.stack([squareform(v) for v in rng.random((N_SUBJECTS, pairs))])
        for roi in ("EVC", "IT")
    }
    _write_v73(folder / "target_fmri.mat", {f"{roi}_RDMs": r for roi, r in rdms.items()})
    return folder, rdms


@pytest.fixture
def tree92(tmp_path, monkeypatch):
    folder, rdms = _write_tree(tmp_path, 92, np.random.default_rng(0))
    monkeypatch.setenv("NEUROALIGN_DATA", str(tmp_path))
    return folder, rdms


def test_algonauts2019_reads_another_data_folder_in_the_same_process(tmp_path, monkeypatch):
    """The loader is memoised on the files (path, size, mtime), not on (roi, n_images): switching
    $NEUROALIGN_DATA in one session served the first folder's RDMs under the new fingerprint."""
    firsts = []
    for k in range(2):
        root = tmp_path / f"data{k}"
        _, rdms = _write_tree(root, 92, np.random.default_rng(k))
        monkeypatch.setenv("NEUROALIGN_DATA", str(root))
        data = load_benchmark("Algonauts2019.IT92-rsa").load()
        np.testing.assert_array_equal(data.brain.square(), rdms["IT"])
        firsts.append(data.brain.dissimilarities[0, 0])
    assert firsts[0] != firsts[1]


def test_algonauts2019_reads_one_roi_per_variable_in_image_order(tree92):
    folder, rdms = tree92
    for roi in ("EVC", "IT"):
        data = load_benchmark(f"Algonauts2019.{roi}92-rsa").load()
        assert data.brain.n_rdms == N_SUBJECTS
        assert list(data.stimuli.stimulus_ids) == [f"image_{i + 1:02d}" for i in range(92)]
        with h5py.File(folder / "target_fmri.mat", "r") as f:  # the challenge's plain read
            plain = np.transpose(f[f"{roi}_RDMs"][()])
        np.testing.assert_array_equal(data.brain.square(), plain)
        np.testing.assert_array_equal(plain, rdms[roi])


def test_algonauts2019_scores_equal_compare_on_the_same_rdms(tree92, tmp_path):
    from neuroalign.compare import rsa_table
    from neuroalign.extract import extract

    b = load_benchmark("Algonauts2019.IT92-rsa")
    b = type(b)(**{**b.__dict__, "metric_params": {**b.metric_params, "n_boot": 10}})
    res = run({"m": functools.partial(tiny_cnn, seed=2)}, [b], store=tmp_path / "s", quiet=True)
    data = b.load()
    acts = extract(tiny_cnn(seed=2), data.stimuli, quiet=True)
    direct = rsa_table(
        acts, {"IT": data.brain}, n_boot=10, over="stimuli", dtype="float64"
    ).table.set_index("layer")
    t = res.table
    ours = t[(t.statistic == "layer_score") & (t.split == "all")].set_index("layer")
    assert len(ours) >= 2
    for col in ("value", "ceiling_low", "ceiling_high"):
        np.testing.assert_allclose(ours[col], direct.loc[ours.index, col], rtol=0, atol=1e-12)


def test_algonauts2019_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROALIGN_DATA", str(tmp_path))
    with pytest.raises(ConfigurationError, match="neuroalign data fetch algonauts2019"):
        load_benchmark("Algonauts2019.EVC118-rsa").load()

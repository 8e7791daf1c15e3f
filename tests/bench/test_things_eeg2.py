"""The THINGS-EEG2 benchmark reader on a tiny file tree in the release's exact layout."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from neuroalign.bench import load_benchmark
from neuroalign.core.exceptions import ConfigurationError

BID = "Gifford2022.EEG-rsa"


def _write_tree(root, rng, n_img=6, n_rep=4, n_ch=3, n_t=20):
    base = root / "things-eeg2"
    names = []
    for i in range(n_img):
        concept = base / "test_images" / f"{i + 1:05d}_concept{i}"
        concept.mkdir(parents=True)
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(
            concept / f"concept{i}_01s.jpg"
        )
        names.append(f"concept{i}_01s")
    times = np.linspace(-0.2, 0.75, n_t)  # 0.05 s steps: 0.1 .. 0.3 holds 5 samples
    eegs = []
    for s in (1, 2):
        eeg = rng.standard_normal((n_img, n_rep, n_ch, n_t))
        d = base / "preprocessed_data" / f"sub-{s:02d}"
        d.mkdir(parents=True)
        payload = {"preprocessed_eeg_data": eeg, "ch_names": ["O1", "Oz", "O2"], "times": times}
        np.save(d / "preprocessed_eeg_test.npy", payload, allow_pickle=True)
        eegs.append(eeg)
    return names, times, eegs


def test_things_eeg2_rdms_are_the_window_and_repetition_average(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    names, times, eegs = _write_tree(tmp_path, rng)
    monkeypatch.setenv("NEUROALIGN_DATA", str(tmp_path))
    from neuroalign.bench._builtin import load_things_eeg2

    data = load_things_eeg2((1, 2))
    assert list(data.stimuli.stimulus_ids) == names
    assert list(data.brain.stimulus_ids) == names
    win = (times >= 0.1 - 1e-9) & (times <= 0.3 + 1e-9)
    assert win.sum() == 5
    iu = np.triu_indices(len(names), 1)
    for k, eeg in enumerate(eegs):
        pattern = eeg.mean(axis=1)[:, :, win].mean(axis=2)  # images × channels
        expected = (1 - np.corrcoef(pattern))[iu]
        np.testing.assert_allclose(data.brain.dissimilarities[k], expected, atol=1e-10)
    assert data.brain.n_rdms == 2
    b = load_benchmark(BID)
    assert (b.metric, b.dataset, b.roi) == ("rsa", "Gifford2022", "EEG")


def test_things_eeg2_says_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROALIGN_DATA", str(tmp_path))
    with pytest.raises(ConfigurationError, match="neuroalign data fetch things-eeg2"):
        load_benchmark(BID).load()

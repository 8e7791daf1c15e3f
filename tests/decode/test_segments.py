"""Continuous segments: aligned M/EEG and stimulus windows, top-k retrieval of held-out windows."""

import warnings

import numpy as np
import pytest

from neuroalign import TimeSeries
from neuroalign.core.exceptions import StimulusMismatchError, ValidationError
from neuroalign.decode import RidgeDecoder, aligned_windows, decode_segments


def _speech(n_runs=3, dur=60.0, stim_rate=50.0, meg_rate=50.0, n_feat=8, n_chan=10, seed=0):
    """Slow 'audio-model' features; M/EEG channels a fixed mixture of them 100 ms later + noise."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(n_feat, n_chan))
    feats, meg = {}, {}
    for r in range(n_runs):
        n = int(dur * stim_rate)
        f = rng.normal(size=(n, n_feat))
        f = np.apply_along_axis(lambda x: np.convolve(x, np.ones(25) / 25, "same"), 0, f)
        tm, ts = np.arange(int(dur * meg_rate)) / meg_rate, np.arange(n) / stim_rate
        drive = np.stack([np.interp(tm - 0.1, ts, f[:, j]) for j in range(n_feat)], 1)
        meg[f"run{r}"] = drive @ mix + 0.5 * drive.std() * rng.normal(size=(len(tm), n_chan))
        feats[f"run{r}"] = f
    return TimeSeries.from_runs(meg, rate=meg_rate), TimeSeries.from_runs(feats, rate=stim_rate)


class FlatRidge:
    """A linear decoder on the flattened window (a quick stand-in for the contrastive one)."""

    def fit(self, X, E):
        self.d = RidgeDecoder().fit(X.reshape(len(X), -1), E)
        return self

    def predict(self, X):
        return self.d.predict(X.reshape(len(X), -1))


def test_windows_cut_the_same_stretch_from_both():
    meg, feats = _speech(meg_rate=100.0)
    w = aligned_windows(meg, feats, 3.0, step=1.5)
    assert w.brain.shape[1:] == (10, 300) and w.stimulus.shape[1] == 8
    assert w.ids[1] == "run0@1.500"
    i = 3  # run0 at 4.5 s: brain samples 450…749, stimulus frames 225…374, averaged
    np.testing.assert_allclose(w.brain[i], meg.run_data("run0")[450:750].T, rtol=1e-6)
    np.testing.assert_allclose(
        w.stimulus[i], feats.run_data("run0")[225:375].mean(0), rtol=1e-5, atol=1e-6
    )
    assert w.starts.max() + 3.0 <= 60.0  # every window fits inside its run


def test_mismatched_runs_are_an_error():
    meg, feats = _speech()
    with pytest.raises(StimulusMismatchError, match="run2"):
        aligned_windows(meg, feats.select_runs(["run0", "run1"]))
    with pytest.raises(ValidationError, match="test_runs"):
        decode_segments(meg, feats, ["run7"])


def test_held_out_segments_are_identified():
    meg, feats = _speech()
    res = decode_segments(meg, feats, ["run2"], decoder=FlatRidge())
    t = res.table.set_index("scoring")
    assert t.loc["top1", "chance"] == pytest.approx(1 / 20)
    assert t.loc["top1", "value"] > 0.5 and t.loc["top5", "value"] > 0.8
    assert res.params["n_test_windows"] == 20 and res.params["n_train_windows"] == 40
    # shuffled training pairs: nothing to learn, retrieval at chance
    rng = np.random.default_rng(1)
    shuffled = TimeSeries(
        np.asarray(feats.data)[rng.permutation(feats.n_samples)], feats.runs, feats.times
    )
    bad = decode_segments(meg, shuffled, ["run2"], decoder=FlatRidge()).table.set_index("scoring")
    assert bad.loc["top1", "value"] < 0.3


@pytest.mark.slow
def test_contrastive_decoder_on_segments():
    pytest.importorskip("torch")
    from neuroalign.decode import ContrastiveDecoder

    meg, feats = _speech()
    dec = ContrastiveDecoder(brain_module="linear", hidden=32, max_epochs=60, batch_size=16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = decode_segments(meg, feats, ["run2"], decoder=dec)
    t = res.table.set_index("scoring")
    assert t.loc["pairwise", "value"] > 0.7  # chance 0.5 (0.81 seen)
    assert t.loc["top5", "value"] > 2 * t.loc["top5", "chance"]  # chance 0.25 (0.65 seen)

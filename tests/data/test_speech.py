"""naplib's speech sample and nitime's grasshopper: loaders read ../shared/data as documented."""

from __future__ import annotations

import numpy as np
import pytest

from neuroalign.core.exceptions import ValidationError
from neuroalign.data import load_grasshopper, load_speech_sample

pytest.importorskip("h5py")


@pytest.fixture(scope="module")
def speech(shared_data):
    folder = shared_data / "naplib_speech"
    if not folder.is_dir():
        pytest.skip("naplib_speech is not in ../shared/data")
    return load_speech_sample(folder)


@pytest.mark.realdata
def test_speech_sample_layout(speech):
    assert speech.trials == tuple(f"stim{i:02d}" for i in range(1, 11))
    assert speech.spectrogram.data.shape[1] == 128 and speech.responses.data.shape[1] == 10
    assert speech.rate == 100.0 and speech.audio.rate == 11025.0
    r = "stim01"
    assert len(speech.spectrogram.run_data(r)) == 6197  # README: trial 1 is 6 197 samples
    # the audio spans the spectrogram's clock
    assert abs(speech.audio.duration(r) - 6197 / 100.0) < 0.02
    assert speech.transcripts[r].startswith("IT IS ME AGAIN HANK THE COW DOG")
    lengths = [len(e) for e in speech.epochs("responses")]
    assert lengths == [len(e) for e in speech.epochs("spectrogram")]


@pytest.mark.realdata
@pytest.mark.slow
def test_speech_envelope_follows_the_spectrogram(speech):
    env = speech.envelope()
    assert [len(e) for e in env] == [len(e) for e in speech.epochs("spectrogram")]
    # the audio envelope and the spectrogram's broadband energy rise and fall together
    spec = speech.epochs("spectrogram")[0].sum(1)
    assert np.corrcoef(env[0][:, 0], spec)[0, 1] > 0.5


@pytest.mark.realdata
def test_grasshopper(shared_data):
    g = load_grasshopper(shared_data / "nitime")
    assert g.stimulus.shape == (200000,) and g.stimulus_rate == 20000.0
    assert len(g.spike_times) > 900 and 0 < g.spike_times.min() and g.spike_times.max() < 10.0
    stim, counts = g.binned(1000.0)
    assert stim.shape == counts.shape == (10000,) and counts.sum() == len(g.spike_times)


def test_missing_files_say_where_to_look(tmp_path):
    with pytest.raises(ValidationError, match=r"demo_data\.mat was not found"):
        load_speech_sample(tmp_path)
    with pytest.raises(ValidationError, match=r"grasshopper_stimulus1\.txt"):
        load_grasshopper(tmp_path)


@pytest.mark.realdata
def test_grasshopper_trf_predicts_the_held_out_rate(shared_data):
    """A forward TRF (stimulus amplitude → smoothed spike rate, lags 0–20 ms, 1 kHz) predicts each
    held-out 1-s segment from the nine others; pairing each rate with the next segment's stimulus
    (a time-shuffled control) predicts nothing."""
    from neuroalign.encode import cross_validate_trf

    g = load_grasshopper(shared_data / "nitime")
    X, Y = g.epochs(rate=1000.0, n_segments=10, smooth=0.002)
    assert len(X) == 10 and all(x.shape == y.shape == (1000, 1) for x, y in zip(X, Y, strict=True))
    # each segment's spikes are counted once: the rate integrates to the spike count
    assert abs(sum(float(y.sum()) / 1000.0 for y in Y) - len(g.spike_times)) < 1.0
    alphas = [1e-4, 1e-2, 1e0, 1e2]
    res = cross_validate_trf(X, Y, 0.0, 0.02, 1000.0, alphas, target_names=["rate"])
    r = res.arrays["fold_scores"][:, 0]
    assert r.mean() > 0.4 and r.min() > 0.3  # measured mean 0.534, worst segment 0.449
    shuffled = cross_validate_trf(X[1:] + X[:1], Y, 0.0, 0.02, 1000.0, alphas)
    r_shuffled = shuffled.arrays["fold_scores"][:, 0]
    assert abs(r_shuffled.mean()) < 0.1  # measured −0.011
    assert r.mean() > r_shuffled.mean() + 0.3

"""Time-resolved stimulus reconstruction: a backward TRF per window of the recording or of lags
recovers where (and at which lag) a simulated envelope is encoded; naplib's envelope per window."""

from __future__ import annotations

import numpy as np
import pytest

from neuroalign.core.exceptions import ValidationError
from neuroalign.encode import reconstruct_over_time

SFREQ = 100.0


def _simulate(rng, encoded_until=None, delay=0.12, n_epochs=6, n_times=3000, n_channels=8):
    """Envelopes (white noise smoothed over 2 samples) and channels = mixing × envelope delayed
    by ``delay`` s (the brain follows the stimulus) + noise; the envelope is present only before
    ``encoded_until`` s when given."""
    d = round(delay * SFREQ)
    mixing = rng.normal(size=(1, n_channels))
    brain, env = [], []
    for _ in range(n_epochs):
        e = np.convolve(rng.normal(size=n_times + 1), [0.5, 0.5], "valid")[:, None]
        shifted = np.zeros_like(e)
        shifted[d:] = e[:-d]
        gain = np.ones((n_times, 1))
        if encoded_until is not None:
            gain[round(encoded_until * SFREQ) :] = 0.0
        brain.append(gain * shifted @ mixing + rng.normal(size=(n_times, n_channels)))
        env.append(e)
    return brain, env


def test_windows_of_the_recording_find_where_the_envelope_is_encoded(rng):
    brain, env = _simulate(rng, encoded_until=15.0)
    res = reconstruct_over_time(brain, env, SFREQ, tmin=-0.2, tmax=0.0, window=5.0)
    t = res.table
    assert t["time"].tolist() == [2.5, 7.5, 12.5, 17.5, 22.5, 27.5]
    assert (t["method"] == "trf_backward").all() and (t["split"] == "cv").all()
    r = t["value"].to_numpy()
    assert np.all(r[:3] > 0.6), r  # encoded in the first 15 s
    assert np.all(np.abs(r[3:]) < 0.15), r  # absent after
    assert res.arrays["fold_scores"].shape == (6, 6, 1)
    np.testing.assert_allclose(res.arrays["fold_scores"].mean(1)[:, 0], r)
    # overlapping windows: step < width
    half = reconstruct_over_time(brain, env, SFREQ, tmin=-0.2, tmax=0.0, window=5.0, step=2.5)
    assert len(half.table) == 11


def test_lag_windows_find_the_response_delay(rng):
    brain, env = _simulate(rng, delay=0.12)
    res = reconstruct_over_time(brain, env, SFREQ, tmin=-0.3, tmax=0.0, over="lag", window=0.04)
    t = res.table
    best = t.loc[t["value"].idxmax()]
    # the brain lags the stimulus by 120 ms: the backward model needs lag −0.12 s
    assert res.arrays["window_start"][t["value"].argmax()] <= -0.12
    assert res.arrays["window_stop"][t["value"].argmax()] >= -0.12
    assert best["value"] > 0.6
    far = np.abs(t["time"].to_numpy() + 0.12) > 0.05
    assert np.all(np.abs(t["value"].to_numpy()[far]) < 0.15), t[["time", "value"]]


def test_bad_inputs_are_named(rng):
    brain, env = _simulate(rng, n_epochs=3, n_times=300)
    with pytest.raises(ValidationError, match="over"):
        reconstruct_over_time(brain, env, SFREQ, over="space")
    with pytest.raises(ValidationError, match="shortest epoch"):
        reconstruct_over_time(brain, env, SFREQ, window=10.0)
    with pytest.raises(ValidationError, match="longer than the lags"):
        reconstruct_over_time(brain, env, SFREQ, tmin=-0.2, window=0.1)
    with pytest.raises(ValidationError, match="≥ 3 epochs"):
        reconstruct_over_time(brain[:2], env[:2], SFREQ)
    with pytest.raises(ValidationError, match="same n_times"):
        reconstruct_over_time(brain, [e[:-1] for e in env], SFREQ, window=1.0)


def test_result_plots_as_a_time_course(rng):
    pytest.importorskip("matplotlib")
    brain, env = _simulate(rng, n_epochs=3, n_times=600)
    res = reconstruct_over_time(brain, env, SFREQ, window=2.0)
    fig = res.plot()
    ax = fig.axes[0]
    assert ax.get_xlabel() == "time (s)"
    np.testing.assert_allclose(ax.lines[0].get_xdata(), res.table["time"].to_numpy())


@pytest.mark.realdata
@pytest.mark.slow
def test_naplib_envelope_reconstruction_per_window(shared_data):
    pytest.importorskip("h5py")
    from neuroalign.data import load_speech_sample

    if not (shared_data / "naplib_speech").is_dir():
        pytest.skip("naplib_speech is not in ../shared/data")
    speech = load_speech_sample(shared_data / "naplib_speech")
    res = reconstruct_over_time(
        speech.epochs("responses"), speech.envelope(), speech.rate, tmin=-0.25, window=10.0
    )
    r = res.table["value"].to_numpy()
    assert res.table["time"].tolist() == [5.0, 15.0, 25.0, 35.0, 45.0]
    assert np.all(r > 0.7), r  # measured 0.84–0.87 (whole trials: 0.858)

"""TRFs on naplib's real speech: the channels (simulated from STRFs of the spectrogram) are
predicted from the spectrogram with leave-one-trial-out r; the envelope is decoded back."""

from __future__ import annotations

import numpy as np
import pytest

from neuroalign.encode import cross_validate_trf

pytest.importorskip("h5py")
ALPHAS = [1e1, 1e3, 1e5]


@pytest.fixture(scope="module")
def speech(shared_data):
    from neuroalign.data import load_speech_sample

    if not (shared_data / "naplib_speech").is_dir():
        pytest.skip("naplib_speech is not in ../shared/data")
    return load_speech_sample(shared_data / "naplib_speech")


def _bands(epochs, n):
    return [e.reshape(len(e), n, -1).mean(-1) for e in epochs]


@pytest.mark.realdata
@pytest.mark.slow
def test_spectrogram_trf_predicts_the_channels(speech):
    X = _bands(speech.epochs("spectrogram"), 16)
    y = speech.epochs("responses")
    res = cross_validate_trf(X, y, 0.0, 0.25, speech.rate, ALPHAS, layer="spectrogram16")
    t = res.table
    per = t[t["aggregate"] == "none"]["value"].to_numpy()
    assert per.shape == (10,) and res.arrays["fold_scores"].shape == (10, 10)
    assert per.mean() > 0.7  # measured 0.826 (docs/naturalistic.md); mis-paired trials: 0.03
    assert res.arrays["coef"].shape == (10, 16, 26)
    # the envelope alone carries less: the spectrogram's spectral detail matters
    env = cross_validate_trf(speech.envelope(), y, 0.0, 0.25, speech.rate, ALPHAS)
    env_r = env.table.query("aggregate == 'none'")["value"].to_numpy()
    assert per.mean() > env_r.mean() + 0.03  # measured 0.826 vs 0.750


@pytest.mark.realdata
@pytest.mark.slow
def test_backward_model_decodes_the_envelope(speech):
    env = speech.envelope()
    res = cross_validate_trf(
        speech.epochs("responses"), env, -0.25, 0.0, speech.rate, ALPHAS, direction="backward"
    )
    r = res.table.query("aggregate == 'none'")["value"].to_numpy()
    assert r.shape == (1,) and r[0] > 0.7  # measured 0.858
    assert res.table["method"].iloc[0] == "trf_backward"
    assert np.all(res.arrays["lags"] <= 0)

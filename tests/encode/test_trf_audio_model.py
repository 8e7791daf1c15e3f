"""TRFs from an audio model's layers on naplib's real speech: audio (11 025 Hz) → 16 kHz → a small
random-weight wav2vec2 (built offline from a config) per layer with its frame times → the 100 Hz
response clock → leave-one-trial-out TRF → per-channel r per layer."""

from __future__ import annotations

import numpy as np
import pytest

from neuroalign.core import TimedSignals, align_runs
from neuroalign.encode import cross_validate_trf, resample, resample_series

pytest.importorskip("h5py")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

LAYERS = ["feature_extractor.conv_layers.6", "encoder.layers.1"]


@pytest.fixture(scope="module")
def speech(shared_data):
    from neuroalign.data import load_speech_sample

    if not (shared_data / "naplib_speech").is_dir():
        pytest.skip("naplib_speech is not in ../shared/data")
    return load_speech_sample(shared_data / "naplib_speech")


def _audio_16k(speech) -> TimedSignals:
    out = {}
    for r in speech.trials:
        x = np.asarray(speech.audio[r], dtype=np.float64)
        n = round(len(x) / speech.audio.rate * 16000)
        t_old = np.arange(len(x)) / speech.audio.rate
        out[r] = resample(x, t_old, np.arange(n) / 16000.0, "linear")[:, 0].astype(np.float32)
    return TimedSignals(out, rate=16000.0)


@pytest.mark.realdata
@pytest.mark.slow
def test_audio_model_layers_predict_the_channels(speech):
    from neuroalign.extract import audio_features

    torch.manual_seed(0)
    config = transformers.Wav2Vec2Config(  # wav2vec2's conv geometry (20-ms frames), tiny widths
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
    )
    model = transformers.Wav2Vec2Model(config).eval()
    audio = _audio_16k(speech)
    assert abs(audio.duration("stim01") - speech.audio.duration("stim01")) < 1e-3
    feats = audio_features(model, audio, LAYERS, window=None, quiet=True)
    scores = {}
    for layer in LAYERS:
        ts = feats[layer]
        assert ts.meta["rate"] == pytest.approx(50.0)  # 16 kHz / 320
        assert np.diff(ts.run_times("stim01")) == pytest.approx(0.02)
        # frames on the model's clock → the responses' 100 Hz clock, run by run
        on_clock = resample_series(ts, speech.responses, "linear", tolerance=0.05)
        x, y = align_runs(on_clock, speech.responses)  # same runs, same sample times
        X = [x.run_data(r) for r in x.run_ids]
        Y = [y.run_data(r) for r in y.run_ids]
        assert [len(e) for e in X] == [len(e) for e in speech.epochs("responses")]
        res = cross_validate_trf(X, Y, 0.0, 0.25, speech.rate, 1e3, layer=layer)
        per = res.table.query("aggregate == 'none'")
        assert list(per["target"]) == [str(i) for i in range(10)]
        assert (per["layer"] == layer).all()
        r = per["value"].to_numpy()
        assert r.shape == (10,) and np.isfinite(r).all()
        scores[layer] = r
    # random weights still carry the speech's timing; measured mean r 0.707 (last convolution)
    # and 0.73 (encoder.layers.1) vs 0.826 for the spectrogram (docs/naturalistic.md)
    for layer, r in scores.items():
        assert r.mean() > 0.5, (layer, r)
        assert r.mean() < 0.826, (layer, r)

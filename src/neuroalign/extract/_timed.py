"""Features on the stimulus's own clock: one :class:`~neuroalign.core.TimeSeries` per layer.

- :func:`word_features` — a language model's features for each word at its onset: the word in a
  context of up to ``context`` previous words of its run, its tokens pooled with the one token
  policy of ``_text`` (character spans); causal (GPT-2 style) and masked (BERT style) models;
- :func:`audio_features` — an audio model's features per frame (wav2vec2 / HuBERT style: a
  convolutional feature encoder then transformer layers, each layer's frame times from the
  encoder's kernels and strides; Whisper-style encoders on log-mel windows, 20-ms frames);
- :func:`video_features` — an image model per frame, or a video model per clip of frames;
- simple features without a model (``acoustic_features``, ``event_rate``) are in ``_acoustic``.

Model features all go through :func:`~neuroalign.extract.extract` (one forward pass per batch,
the feature store with ``cache=``); each result row carries its run and time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core import StimulusSet, TimedEvents, TimedSignals, TimeSeries
from ..core._validation import check_choice
from ..core.exceptions import ConfigurationError, ValidationError
from ._extract import extract
from ._sources import LoadedModel

__all__ = ["audio_features", "conv_frame_times", "video_features", "word_features"]


def _by_layer(acts: Any, runs: np.ndarray, times: np.ndarray, name: str) -> dict[str, TimeSeries]:
    return {
        layer: TimeSeries(
            np.asarray(acts[layer]),
            runs,
            times,
            name=f"{name}:{layer}",
            meta={"model": acts.model, "layer": layer},
        )
        for layer in acts.layer_names
    }


# ---------------------------------------------------------------------------------- words
def word_features(
    model: LoadedModel | str,
    events: TimedEvents,
    layers: Any = None,
    *,
    context: int = 20,
    reduce: str = "avgpool",
    batch_size: int = 32,
    device: str | None = "cpu",
    cache: Any = None,
    memory_budget: int | str = "2GB",
    max_length: int | None = None,
    quiet: bool = False,
) -> dict[str, TimeSeries]:
    """A language model's features for every word, at the word's onset.

    Each word is given with up to ``context`` previous words of its run (joined by spaces), and
    represented by its own tokens (found by character span): ``avgpool`` averages them,
    ``last_token`` takes the last (for a causal model, the position that has read the whole
    word). Masked models get the same left context.

    Parameters
    ----------
    model : LoadedModel or model id
        A text model with a fast tokenizer (``hf:gpt2``, ``hf:bert-base-uncased``, or a
        :class:`LoadedModel` built around any Hugging Face module and tokenizer).
    events : TimedEvents
        The words (one row each) with onsets.
    layers :
        As in :func:`extract` (default: the transformer blocks).
    context : int
        Previous words given with each word (0: the word alone).
    reduce : {"avgpool", "last_token"}
    batch_size, device, cache, memory_budget, max_length, quiet :
        As in :func:`extract`; with ``cache`` a word's features are stored under the content of
        its context and span.

    Returns
    -------
    dict layer → TimeSeries (n_words, n_features), one row per word at its onset.
    """
    if isinstance(context, bool) or not isinstance(context, int) or context < 0:
        raise ValidationError(f"context must be an integer >= 0 (previous words); got {context!r}.")
    check_choice(reduce, "reduce", ("avgpool", "last_token"))
    if not isinstance(events, TimedEvents):
        raise ValidationError(f"events must be a TimedEvents; got {type(events).__name__}.")
    texts, starts, ends, ids = [], [], [], []
    for run in events.run_ids:
        words = events.labels[events.runs == run]
        for i in range(len(words)):
            ctx = list(words[max(0, i - context) : i + 1])
            text = " ".join(ctx)
            texts.append(text)
            starts.append(len(text) - len(ctx[-1]))
            ends.append(len(text))
            ids.append(f"{run}:{i}")
    stimuli = StimulusSet(
        ids, texts=texts, metadata=pd.DataFrame({"char_start": starts, "char_end": ends})
    )
    acts = extract(
        model,
        stimuli,
        layers,
        reduce=reduce,
        batch_size=batch_size,
        device=device,
        cache=cache,
        memory_budget=memory_budget,
        max_length=max_length,
        quiet=quiet,
    )
    return _by_layer(acts, events.runs, events.onsets, "words")


# ---------------------------------------------------------------------------------- audio
def conv_frame_times(
    n_samples: int, rate: float, kernels: Sequence[int], strides: Sequence[int]
) -> list[np.ndarray]:
    """Frame times (seconds, centre of each frame's receptive field) after each convolution of a
    stack without padding, e.g. wav2vec2's feature encoder.

    Layer ``k`` has ``n_k = (n_{k-1} − kernel_k) // stride_k + 1`` frames; frame ``j`` starts at
    sample ``j · S_k`` (``S_k`` = product of the strides so far) and spans ``R_k`` samples (the
    receptive field), so its centre is ``(j · S_k + (R_k − 1) / 2) / rate``.

    Examples
    --------
    >>> [t.round(4).tolist() for t in conv_frame_times(16, 8.0, (4, 2), (2, 2))]
    [[0.1875, 0.4375, 0.6875, 0.9375, 1.1875, 1.4375, 1.6875], [0.3125, 0.8125, 1.3125]]
    """
    if len(kernels) != len(strides) or not kernels:
        raise ValidationError(
            f"kernels and strides must be equally long and non-empty; got {list(kernels)} and "
            f"{list(strides)}."
        )
    out, n, jump, field = [], int(n_samples), 1, 1
    for k, s in zip(kernels, strides, strict=True):
        n = (n - int(k)) // int(s) + 1
        if n < 1:
            raise ValidationError(
                f"{n_samples} samples are too few for the convolution stack (kernels "
                f"{list(kernels)}, strides {list(strides)}); give a longer window."
            )
        field += (int(k) - 1) * jump
        jump *= int(s)
        out.append((np.arange(n) * jump + (field - 1) / 2) / rate)
    return out


def _conv_geometry(module: Any, kernels: Any, strides: Any) -> tuple[list[int], list[int]]:
    config = getattr(module, "config", None)
    kernels = kernels if kernels is not None else getattr(config, "conv_kernel", None)
    strides = strides if strides is not None else getattr(config, "conv_stride", None)
    if kernels is None or strides is None:
        raise ConfigurationError(
            f"{type(module).__name__} has no config.conv_kernel / conv_stride (wav2vec2, HuBERT, "
            "WavLM, data2vec-audio have); give kernels= and strides= of its feature encoder."
        )
    return [int(k) for k in kernels], [int(s) for s in strides]


def _conv_index(layer: str) -> int | None:
    """``feature_extractor.conv_layers.3`` (and its sub-modules) → 3; other layers → None."""
    parts = layer.split(".")
    if "conv_layers" in parts:
        i = parts.index("conv_layers")
        if i + 1 < len(parts) and parts[i + 1].isdigit():
            return int(parts[i + 1])
    return None


def audio_features(
    model: LoadedModel | Any,
    audio: TimedSignals,
    layers: Any = None,
    *,
    window: float | None = 20.0,
    kernels: Sequence[int] | None = None,
    strides: Sequence[int] | None = None,
    batch_size: int = 4,
    device: str | None = "cpu",
    cache: Any = None,
    memory_budget: int | str = "2GB",
    quiet: bool = False,
) -> dict[str, TimeSeries]:
    """An audio model's features per frame, each layer on its own clock.

    The waveform of each run (mono) is cut into windows of ``window`` seconds (the last one
    zero-padded, its frames past the run's end dropped; ``None``: one window per run), which go
    through :func:`extract` as a tensor of windows (``cache`` works). A layer inside the
    convolutional feature encoder (``feature_extractor.conv_layers.k``, output (batch, channels,
    frames)) is on that convolution's clock; every later layer (output (batch, frames, dim)) is
    on the last convolution's clock (wav2vec2 / HuBERT: 20 ms frames at 16 kHz).

    Parameters
    ----------
    model : LoadedModel or torch module
        Takes a (batch, n_samples) float waveform (``Wav2Vec2Model``, ``HubertModel``, ...);
        ``model.config.conv_kernel`` / ``conv_stride`` give the frame geometry unless ``kernels``
        and ``strides`` are given. A Whisper model (``config.model_type == "whisper"``) runs its
        encoder on log-mel windows of its fixed length (30 s; ``window`` is ignored), computed
        by ``transformers.WhisperFeatureExtractor``; its frames are 20 ms apart.
    audio : TimedSignals (kind "audio")
        At the rate the model expects (16 kHz for wav2vec2 / HuBERT); it is not resampled here.
    layers :
        As in :func:`extract` (default: the transformer blocks).
    window : float or None
        Seconds per forward pass.

    Returns
    -------
    dict layer → TimeSeries (n_frames, n_features); each row's time is the centre of its
    frame's receptive field.
    """
    if not isinstance(audio, TimedSignals) or audio.kind != "audio":
        raise ValidationError(f"audio must be TimedSignals of kind 'audio'; got {audio!r}.")
    loaded = model if isinstance(model, LoadedModel) else None
    module = loaded.module if loaded is not None else model
    if getattr(getattr(module, "config", None), "model_type", "") == "whisper":
        return _whisper_features(
            model, module, audio, layers, batch_size, device, cache, memory_budget, quiet
        )
    kern, strd = _conv_geometry(module, kernels, strides)
    rate = audio.rate
    runs = audio.run_ids
    lengths = {r: audio.n_samples(r) for r in runs}
    win = max(lengths.values()) if window is None else round(window * rate)
    if window is not None and win < 1:
        raise ValidationError(f"window must be positive seconds; got {window!r}.")
    rows, ids, where = [], [], []  # where: (run, first sample, samples of the run in it)
    for r in runs:
        x = np.asarray(audio[r], dtype=np.float32)
        x = x.mean(axis=1) if x.ndim == 2 else x
        size = len(x) if window is None else win
        for k, a in enumerate(range(0, len(x), size)):
            piece = x[a : a + size]
            seg = np.zeros(size, np.float32)
            seg[: len(piece)] = piece
            rows.append(seg)
            ids.append(f"{r}:{k}")
            where.append((r, a, len(piece)))
    opts = (layers, batch_size, device, cache, memory_budget, quiet)
    if window is None:  # runs of different lengths: one extract call per run
        parts = [
            _audio_pass(module, loaded, [row], [i], *opts) for row, i in zip(rows, ids, strict=True)
        ]
    else:
        parts = [_audio_pass(module, loaded, rows, ids, *opts)]
    names = list(parts[0].layer_names)
    out: dict[str, TimeSeries] = {}
    for layer in names:
        ci = _conv_index(layer)
        data, run_col, time_col = [], [], []
        row = 0
        for acts in parts:
            block = np.asarray(acts[layer])
            for j in range(block.shape[0]):
                r, a, n_in = where[row]
                n_win = len(rows[row])
                times = conv_frame_times(n_win, rate, kern, strd)
                t = times[len(kern) - 1 if ci is None else ci]
                n_frames = len(t)
                width = block.shape[1]
                if width % n_frames:
                    raise ValidationError(
                        f"layer {layer!r} gives {width} values per window, not a multiple of its "
                        f"{n_frames} frames; check kernels/strides or choose another layer."
                    )
                dim = width // n_frames
                feats = (
                    block[j].reshape(dim, n_frames).T
                    if ci is not None
                    else (block[j].reshape(n_frames, dim))
                )
                keep = t * rate < n_in  # frames whose centre is inside the run
                data.append(feats[keep])
                time_col.append(t[keep] + a / rate + audio.starts[r])  # type: ignore[index]
                run_col.append(np.full(int(keep.sum()), r, dtype=object))
                row += 1
        model_id = parts[0].model
        out[layer] = TimeSeries(
            np.concatenate(data),
            np.concatenate(run_col),
            np.concatenate(time_col),
            name=f"audio:{layer}",
            meta={
                "model": model_id,
                "layer": layer,
                "rate": rate / np.prod(strd[: (len(strd) if ci is None else ci + 1)]),
            },
        )
    return out


def _whisper_encoder(module: Any, x: Any) -> Any:
    """Run only the encoder of a Whisper model (or a bare Whisper encoder) on log-mel inputs."""
    encoder = getattr(module, "encoder", None) or getattr(
        getattr(module, "model", None), "encoder", None
    )
    return (encoder if encoder is not None else module)(x)


def _whisper_features(
    model: Any,
    module: Any,
    audio: TimedSignals,
    layers: Any,
    batch_size: int,
    device: str | None,
    cache: Any,
    memory_budget: int | str,
    quiet: bool,
) -> dict[str, TimeSeries]:
    """Whisper-style encoders: log-mel windows of the encoder's fixed length (30 s for Whisper:
    ``max_source_positions`` × 2 mel frames of ``hop`` samples), zero-padded; encoder frame ``j``
    is centred on mel frame ``2j`` (conv1 stride 1, conv2 stride 2, both padded), i.e. at
    ``2 j · hop / rate`` s (20 ms)."""
    import torch
    from transformers import WhisperFeatureExtractor

    cfg = module.config
    hop, sr = 160, 16000
    if audio.rate != sr:
        raise ValidationError(
            f"Whisper encoders take 16 kHz audio; the audio is at {audio.rate} Hz. Resample it first."
        )
    n_mel = int(cfg.max_source_positions) * 2
    win = n_mel * hop
    if win % sr:
        raise ValidationError(f"Whisper window of {win} samples is not a whole number of seconds.")
    fe = WhisperFeatureExtractor(
        feature_size=int(cfg.num_mel_bins), sampling_rate=sr, hop_length=hop, chunk_length=win // sr
    )
    rows, ids, where = [], [], []
    for r in audio.run_ids:
        x = np.asarray(audio[r], dtype=np.float32)
        x = x.mean(axis=1) if x.ndim == 2 else x
        for k, a in enumerate(range(0, len(x), win)):
            rows.append(x[a : a + win])
            ids.append(f"{r}:{k}")
            where.append((r, a, len(rows[-1])))
    mel = fe(rows, sampling_rate=sr, return_tensors="np")["input_features"].astype(np.float32)
    acts = extract(
        model,
        torch.from_numpy(mel),
        layers,
        reduce="flatten",
        batch_size=batch_size,
        device=device,
        cache=cache,
        memory_budget=memory_budget,
        quiet=quiet,
        ids=ids,
        forward=_whisper_encoder,
    )
    n_frames = int(cfg.max_source_positions)
    t = np.arange(n_frames) * 2 * hop / sr
    out: dict[str, TimeSeries] = {}
    for layer in acts.layer_names:
        block = np.asarray(acts[layer]).reshape(len(ids), n_frames, -1)
        data, run_col, time_col = [], [], []
        for j, (r, a, n_in) in enumerate(where):
            keep = t * sr < n_in
            data.append(block[j][keep])
            time_col.append(t[keep] + a / sr + audio.starts[r])  # type: ignore[index]
            run_col.append(np.full(int(keep.sum()), r))
        out[layer] = TimeSeries(
            np.concatenate(data),
            np.concatenate(run_col),
            np.concatenate(time_col),
            name=f"audio:{layer}",
            meta={"model": acts.model, "layer": layer, "rate": sr / (2 * hop)},
        )
    return out


def _audio_pass(
    module: Any,
    loaded: LoadedModel | None,
    rows: list[np.ndarray],
    ids: list[str],
    layers: Any,
    batch_size: int,
    device: str | None,
    cache: Any,
    memory_budget: int | str,
    quiet: bool,
) -> Any:
    import torch

    model = loaded if loaded is not None else module
    return extract(
        model,
        torch.from_numpy(np.stack(rows)),
        layers,
        reduce="flatten",
        batch_size=batch_size,
        device=device,
        cache=cache,
        memory_budget=memory_budget,
        quiet=quiet,
        ids=ids,
    )


# ---------------------------------------------------------------------------------- video
def video_features(
    model: LoadedModel | Any,
    video: TimedSignals,
    layers: Any = None,
    *,
    clip: int | None = None,
    preprocess: Callable[[Any], Any] | None = None,
    reduce: str | None = None,
    batch_size: int = 16,
    device: str | None = "cpu",
    cache: Any = None,
    memory_budget: int | str = "2GB",
    quiet: bool = False,
) -> dict[str, TimeSeries]:
    """A vision model's features per video frame, or a video model's per clip of frames.

    Parameters
    ----------
    model : LoadedModel or torch module
        ``clip=None``: an image model (frames go through :func:`extract` as an image
        :class:`StimulusSet`, preprocessed by the model's or the given ``preprocess``). ``clip=k``:
        a video model taking (batch, channels, k, height, width); each frame is made a
        (channels, h, w) tensor by ``preprocess`` (default: float in [0, 1], channels first).
    video : TimedSignals (kind "video")
    clip : int, optional
        Frames per clip (non-overlapping; a last, shorter clip is left out, with its frames).
    reduce : str, optional
        As in :func:`extract` (default ``avgpool``: the mean over space of a frame's (channels,
        h, w) maps, over time and space of a clip's (channels, time, h, w) maps).

    Returns
    -------
    dict layer → TimeSeries, one row per frame (at the frame's time) or per clip (at the centre
    of its frames).
    """
    if not isinstance(video, TimedSignals) or video.kind != "video":
        raise ValidationError(f"video must be TimedSignals of kind 'video'; got {video!r}.")
    reduce = reduce or "avgpool"
    run_col, time_col = [], []
    if clip is None:
        ids, frames = [], []
        for r in video.run_ids:
            arr, t = video[r], video.times(r)
            for j in range(arr.shape[0]):
                ids.append(f"{r}:{j}")
                frames.append(np.asarray(arr[j]))
            run_col += [r] * arr.shape[0]
            time_col.append(t)
        acts = extract(
            model,
            StimulusSet(ids, images=frames),
            layers,
            reduce=reduce,
            batch_size=batch_size,
            device=device,
            preprocess=preprocess,
            cache=cache,
            memory_budget=memory_budget,
            quiet=quiet,
        )
        return _by_layer(acts, np.asarray(run_col), np.concatenate(time_col), "video")
    import torch

    if isinstance(clip, bool) or not isinstance(clip, int) or clip < 1:
        raise ValidationError(f"clip must be a number of frames >= 1; got {clip!r}.")
    prep = preprocess or _frame_to_tensor
    clips, ids = [], []
    for r in video.run_ids:
        arr, t = video[r], video.times(r)
        n_clips = arr.shape[0] // clip
        if n_clips == 0:
            raise ValidationError(
                f"run {r!r} has {arr.shape[0]} frames, fewer than one clip of {clip}."
            )
        for c in range(n_clips):
            frames = [prep(arr[c * clip + j]) for j in range(clip)]
            clips.append(torch.stack([torch.as_tensor(f) for f in frames], dim=1))
            ids.append(f"{r}:{c}")
        run_col += [r] * n_clips
        time_col.append(t[: n_clips * clip].reshape(n_clips, clip).mean(axis=1))
    acts = extract(
        model,
        torch.stack(clips),
        layers,
        reduce=reduce,
        batch_size=batch_size,
        device=device,
        cache=cache,
        memory_budget=memory_budget,
        quiet=quiet,
        ids=ids,
    )
    return _by_layer(acts, np.asarray(run_col), np.concatenate(time_col), "video")


def _frame_to_tensor(frame: Any) -> Any:
    import torch

    x = torch.as_tensor(np.asarray(frame, dtype=np.float32))
    if np.asarray(frame).dtype == np.uint8:
        x = x / 255.0
    return x.permute(2, 0, 1) if x.ndim == 3 else x[None]

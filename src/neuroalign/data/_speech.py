"""Continuous real data for temporal response functions: naplib's speech sample and nitime's
grasshopper receptor.

Neither file is vendored (the naplib file is 82 MB). Each loader takes the file's folder (or the
file) and otherwise looks in ``$NEUROALIGN_DATA/<name>/`` (:func:`get_data_dir`); the shared data
of the project keeps both under ``../shared/data/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core import TimedSignals, TimeSeries
from ..core._validation import require
from ..core.exceptions import ValidationError
from ._fetch import get_data_dir

__all__ = [
    "GRASSHOPPER_CITATION",
    "NAPLIB_SPEECH_CITATION",
    "Grasshopper",
    "SpeechSample",
    "load_grasshopper",
    "load_speech_sample",
]

NAPLIB_SPEECH_CITATION = (
    "Mischler G., Raghavan V., Keshishian M., Mesgarani N. (2023). naplib-python: Neural acoustic "
    "data processing and analysis tools in python. Software Impacts 17:100541. Sample data "
    "`naplib/io/sample_data/demo_data.mat` (naplib 2.6.0, MIT licence): audiobook excerpts of "
    '"Hank the Cow Dog" with 10 channels simulated from spectro-temporal receptive fields.'
)
GRASSHOPPER_CITATION = (
    "nitime (nipy/nitime, BSD-3 licence), nitime/data/grasshopper_stimulus1.txt and "
    "grasshopper_spike_times1.txt: an auditory receptor neuron of a grasshopper responding to a "
    "Gaussian amplitude-modulated 2.5 kHz carrier (Rokem et al. 2006, J Neurophysiol 95:2541)."
)


def _find(path: Any, folder: str, filename: str) -> Path:
    p = Path(path).expanduser() if path is not None else get_data_dir() / folder
    if p.is_dir():
        p = p / filename
    if not p.is_file():
        where = "path" if path is not None else f"$NEUROALIGN_DATA/{folder}"
        raise ValidationError(
            f"{filename} was not found at {str(p)!r} (from {where}); pass path= the folder "
            f"holding it (the project's copy is ../shared/data/{folder}/) or set $NEUROALIGN_DATA."
        )
    return p


@dataclass(frozen=True)
class SpeechSample:
    """naplib's speech sample: ten audiobook trials with a spectrogram and 10 channels at 100 Hz.

    Attributes
    ----------
    spectrogram : TimeSeries (n_samples, 128)
        Auditory spectrogram, one run per trial (``stim01`` …), 100 Hz, times from each trial's
        start.
    responses : TimeSeries (n_samples, 10)
        The 10 channels on the same clock (simulated by naplib's authors from STRFs of the
        spectrogram, plus noise).
    audio : TimedSignals
        The waveform of each trial at 11 025 Hz, starting with the spectrogram.
    transcripts : mapping trial → str
        Upper-case transcript (no word timings).
    rate : float
        100.0 (samples per second of ``spectrogram`` and ``responses``).
    """

    spectrogram: TimeSeries
    responses: TimeSeries
    audio: TimedSignals
    transcripts: Mapping[str, str]
    rate: float = 100.0
    citation: str = NAPLIB_SPEECH_CITATION

    @property
    def trials(self) -> tuple[str, ...]:
        return self.spectrogram.run_ids

    def epochs(self, which: str = "spectrogram") -> list[np.ndarray]:
        """One array per trial of ``spectrogram`` or ``responses`` (for ``ReceptiveField``)."""
        ts = {"spectrogram": self.spectrogram, "responses": self.responses}.get(which)
        if ts is None:
            raise ValidationError(f"which={which!r}; choose 'spectrogram' or 'responses'.")
        return [np.asarray(ts.run_data(r)) for r in ts.run_ids]

    def envelope(self) -> list[np.ndarray]:
        """Broadband envelope of each trial's audio on the 100 Hz clock, one (n_samples, 1)
        array per trial: |analytic signal|, anti-aliased and linearly resampled
        (:func:`neuroalign.encode.resample`, written in ``core`` so readers can use it)."""
        from scipy.signal import hilbert

        from ..core._resample import resample

        out = []
        for r in self.trials:
            x = np.asarray(self.audio[r], dtype=np.float64)
            amp = np.abs(hilbert(x))
            t_audio = np.arange(len(x)) / self.audio.rate
            env = resample(amp, t_audio, self.spectrogram.run_times(r), "linear")
            out.append(env.astype(np.float32))
        return out


def _text(f: Any, ref: Any) -> str:
    return "".join(map(chr, np.asarray(f[ref]).ravel()))


def load_speech_sample(path: Any = None) -> SpeechSample:
    """Load naplib's speech sample (``demo_data.mat``, MATLAB v7.3 via h5py).

    Parameters
    ----------
    path : str or Path, optional
        The file or its folder; default ``$NEUROALIGN_DATA/naplib_speech/``.

    Returns
    -------
    SpeechSample with 10 trials of 52–85 s.
    """
    h5py = require("h5py", "neuro", "reading the MATLAB v7.3 speech sample")

    file = _find(path, "naplib_speech", "demo_data.mat")
    spec, resp, audio, scripts, times = {}, {}, {}, {}, {}
    with h5py.File(file, "r") as f:
        out = f["out"]
        n = out["name"].shape[0]
        rates = set()
        for i in range(n):
            name = _text(f, out["name"][i, 0])
            spec[name] = np.asarray(f[out["aud"][i, 0]], dtype=np.float32)
            resp[name] = np.asarray(f[out["resp"][i, 0]], dtype=np.float32)
            audio[name] = np.asarray(f[out["sound"][i, 0]], dtype=np.float32).ravel()
            scripts[name] = _text(f, out["script"][i, 0]).strip()
            rates.add(float(np.asarray(f[out["soundf"][i, 0]]).ravel()[0]))
            rate = float(np.round(np.asarray(f[out["dataf"][i, 0]]).ravel()[0], 6))
            times[name] = np.arange(len(spec[name])) / rate
            if spec[name].shape[0] != resp[name].shape[0]:
                raise ValidationError(
                    f"{file}: trial {name} has {spec[name].shape[0]} spectrogram rows but "
                    f"{resp[name].shape[0]} response rows; the file is not naplib's sample."
                )
    if len(rates) != 1:
        raise ValidationError(f"{file}: the trials have different audio rates {sorted(rates)}.")
    return SpeechSample(
        spectrogram=TimeSeries.from_runs(spec, times=times, name="spectrogram"),
        responses=TimeSeries.from_runs(resp, times=times, name="responses"),
        audio=TimedSignals(audio, rate=rates.pop()),
        transcripts=dict(scripts),
        rate=rate,
    )


@dataclass(frozen=True)
class Grasshopper:
    """A grasshopper auditory receptor's spikes to a stimulus waveform (nitime's sample).

    Attributes
    ----------
    stimulus : array (n_samples,)
        Stimulus amplitude (the envelope of the carrier) every 50 µs (20 kHz), 10 s.
    stimulus_rate : float
        20 000.0 Hz.
    spike_times : array (n_spikes,)
        Spike times in seconds from the stimulus start.
    """

    stimulus: np.ndarray
    stimulus_rate: float
    spike_times: np.ndarray
    citation: str = GRASSHOPPER_CITATION

    def binned(self, rate: float = 1000.0) -> tuple[np.ndarray, np.ndarray]:
        """Stimulus (box-averaged) and spike counts in bins of ``1/rate`` s:
        two arrays (n_bins,)."""
        from ..core._resample import resample

        if not 0 < rate <= self.stimulus_rate:
            raise ValidationError(
                f"rate must be in (0, {self.stimulus_rate}] Hz (the stimulus rate); got {rate!r}."
            )
        n_bins = int(len(self.stimulus) / self.stimulus_rate * rate)
        edges = np.arange(n_bins + 1) / rate
        counts = np.histogram(self.spike_times, bins=edges)[0].astype(np.float32)
        t = np.arange(len(self.stimulus)) / self.stimulus_rate
        stim = resample(self.stimulus, t, edges[:-1] + 0.5 / rate, "box")[:, 0]
        return stim.astype(np.float32), counts

    def epochs(
        self, rate: float = 1000.0, n_segments: int = 10, smooth: float = 0.002
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The recording cut into ``n_segments`` contiguous, equally long segments (epochs for
        leave-one-segment-out cross-validation of a TRF; a last partial segment is dropped).

        Parameters
        ----------
        rate : float
            Bins per second (:meth:`binned`).
        n_segments : int
            Number of segments (≥ 3 for cross-validation).
        smooth : float
            Standard deviation in seconds of the Gaussian that smooths each segment's spike rate
            (0: raw counts × rate).

        Returns
        -------
        stimulus, spike_rate : two lists of ``n_segments`` arrays (n_bins_per_segment, 1)
            Box-averaged stimulus amplitude and spike rate (spikes/s), on one clock.
        """
        from scipy.ndimage import gaussian_filter1d

        if isinstance(n_segments, bool) or not isinstance(n_segments, int) or n_segments < 1:
            raise ValidationError(f"n_segments must be a positive integer; got {n_segments!r}.")
        if not smooth >= 0:
            raise ValidationError(f"smooth must be >= 0 seconds; got {smooth!r}.")
        stim, counts = self.binned(rate)
        size = len(stim) // n_segments
        if size < 2:
            raise ValidationError(
                f"{len(stim)} bins at {rate} Hz cannot make {n_segments} segments of ≥ 2 bins; "
                "use fewer segments or a higher rate."
            )
        xs, ys = [], []
        for k in range(n_segments):
            seg = slice(k * size, (k + 1) * size)
            y = counts[seg] * np.float32(rate)
            if smooth > 0:
                y = gaussian_filter1d(y, smooth * rate, mode="nearest")
            xs.append(stim[seg, None])
            ys.append(y.astype(np.float32)[:, None])
        return xs, ys


def load_grasshopper(path: Any = None) -> Grasshopper:
    """Load nitime's grasshopper receptor recording (two text files; times in µs).

    Parameters
    ----------
    path : str or Path, optional
        The folder holding ``grasshopper_stimulus1.txt`` and ``grasshopper_spike_times1.txt``;
        default ``$NEUROALIGN_DATA/nitime/``.
    """
    stim_file = _find(path, "nitime", "grasshopper_stimulus1.txt")
    spike_file = _find(stim_file.parent, "nitime", "grasshopper_spike_times1.txt")
    stim = np.loadtxt(stim_file)
    if stim.ndim != 2 or stim.shape[1] != 2:
        raise ValidationError(
            f"{stim_file} should hold two columns (time in µs, amplitude); got shape {stim.shape}."
        )
    dt = np.diff(stim[:, 0])
    if not np.allclose(dt, dt[0]):
        raise ValidationError(f"{stim_file}: the stimulus is not regularly sampled.")
    spikes = np.loadtxt(spike_file, comments="#") * 1e-6
    return Grasshopper(
        stimulus=stim[:, 1].astype(np.float32),
        stimulus_rate=1e6 / float(dt[0]),
        spike_times=np.sort(spikes.ravel()),
    )

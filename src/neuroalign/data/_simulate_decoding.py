"""Simulators for decoding with known ground truth.

``make_epochs`` simulates M/EEG epochs in which each class has a known spatial pattern that appears
only inside known latency windows, so a time-resolved decoder must recover those windows.
``make_decoding_problem`` simulates K subjects who saw the same stimuli: each stimulus has a known
latent embedding, mixed into each subject's voxels/sensors by a subject-specific (linear or
non-linear) map with a known signal-to-noise ratio and a subject-specific number of targets, so
retrieval, contrastive and cross-subject decoders can be checked against the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core._validation import check_positive
from ..core.exceptions import ValidationError

__all__ = ["DecodingProblem", "SimulatedEpochs", "make_decoding_problem", "make_epochs"]


@dataclass(frozen=True, eq=False)
class SimulatedEpochs:
    """Epochs with class patterns at known latencies.

    Attributes
    ----------
    epochs : array (n_epochs, n_channels, n_times) float32
    labels : array (n_epochs,) int, classes ``0 .. n_classes - 1`` in equal numbers
    times : array (n_times,) s
    patterns : array (n_classes, n_channels)
        The spatial pattern each class adds to the sensors inside the windows.
    windows : tuple of (start, stop) in s
        Where the class signal is present (half-open ``start <= t < stop``).
    informative : array (n_times,) bool
        ``True`` at the time samples inside a window.
    groups : array (n_epochs,) int
        A "run" per epoch (``n_runs`` runs, classes balanced in each), for run-aware CV.
    """

    epochs: np.ndarray
    labels: np.ndarray
    times: np.ndarray
    patterns: np.ndarray
    windows: tuple[tuple[float, float], ...]
    informative: np.ndarray
    groups: np.ndarray


def make_epochs(
    n_epochs: int = 200,
    n_channels: int = 32,
    n_times: int = 100,
    *,
    n_classes: int = 2,
    sfreq: float = 100.0,
    tmin: float = -0.2,
    windows: Sequence[tuple[float, float]] = ((0.1, 0.3),),
    snr: float = 0.5,
    n_runs: int = 5,
    noise_smoothness: float = 0.0,
    seed: int = 0,
) -> SimulatedEpochs:
    """Simulate epochs in which class ``c`` adds ``snr * patterns[c]`` inside ``windows`` only.

    The noise is spatially correlated (white noise mixed by a random channel-mixing matrix scaled to
    unit variance per channel) and, with ``noise_smoothness > 0``, temporally autocorrelated
    (AR(1) with that coefficient). Outside the windows the epochs carry no class information.

    Parameters
    ----------
    n_epochs, n_channels, n_times : int
    n_classes : int
        Balanced: ``n_epochs`` must be a multiple of ``n_classes``.
    sfreq, tmin : float
        Sampling rate (Hz) and time of the first sample (s).
    windows : sequence of (start, stop)
        Latency windows (s) in which the class patterns are present.
    snr : float
        Amplitude of the class pattern (unit-norm per channel on average) relative to the noise SD;
        0 gives null data.
    n_runs : int
        Number of runs in ``groups``.
    noise_smoothness : float in [0, 1)
        AR(1) coefficient of the noise over time.
    seed : int

    Examples
    --------
    >>> sim = make_epochs(60, 8, 50, seed=1)
    >>> sim.epochs.shape, int(sim.informative.sum()), np.bincount(sim.labels).tolist()
    ((60, 8, 50), 20, [30, 30])
    """
    if n_classes < 2:
        raise ValidationError(f"n_classes must be >= 2; got {n_classes}.")
    if n_epochs % n_classes:
        raise ValidationError(
            f"n_epochs={n_epochs} must be a multiple of n_classes={n_classes} (balanced classes)."
        )
    check_positive(sfreq, "sfreq")
    check_positive(snr, "snr", strict=False)
    if not 0 <= noise_smoothness < 1:
        raise ValidationError(f"noise_smoothness must be in [0, 1); got {noise_smoothness}.")
    rng = np.random.default_rng(seed)
    times = tmin + np.arange(n_times) / sfreq
    informative = np.zeros(n_times, bool)
    for start, stop in windows:
        if stop <= start:
            raise ValidationError(f"window ({start}, {stop}) must have start < stop.")
        eps = 1e-6 / sfreq  # sample times carry rounding error (-0.2 + 30/100 < 0.1)
        informative |= (times >= start - eps) & (times < stop - eps)
    labels = np.repeat(np.arange(n_classes), n_epochs // n_classes)
    rng.shuffle(labels)
    groups = np.empty(n_epochs, int)
    for c in range(n_classes):
        idx = np.flatnonzero(labels == c)
        groups[idx] = np.arange(len(idx)) % n_runs
    patterns = rng.standard_normal((n_classes, n_channels))
    patterns -= patterns.mean(0)  # no class-independent evoked signal
    patterns /= np.sqrt((patterns**2).mean(1, keepdims=True))
    mixing = rng.standard_normal((n_channels, n_channels)) / np.sqrt(n_channels)
    mixing += np.eye(n_channels)
    mixing /= np.sqrt((mixing**2).sum(1, keepdims=True))
    white = rng.standard_normal((n_epochs, n_channels, n_times))
    if noise_smoothness:
        a = noise_smoothness
        for t in range(1, n_times):
            white[:, :, t] = a * white[:, :, t - 1] + np.sqrt(1 - a * a) * white[:, :, t]
    noise = np.einsum("cd,edt->ect", mixing, white)
    signal = snr * patterns[labels][:, :, None] * informative[None, None, :]
    return SimulatedEpochs(
        epochs=(noise + signal).astype(np.float32),
        labels=labels,
        times=times,
        patterns=patterns,
        windows=tuple((float(a), float(b)) for a, b in windows),
        informative=informative,
        groups=groups,
    )


@dataclass(frozen=True, eq=False)
class DecodingProblem:
    """Several subjects' responses to the same stimuli, generated from known latent embeddings.

    Attributes
    ----------
    stimulus_ids : array (n_stimuli,) str
    latents : array (n_stimuli, n_latents) float32
        The true embedding of each stimulus (standard normal).
    responses : list of arrays, one per subject
        ``(n_stimuli, n_targets_s)`` or, with ``n_times``, ``(n_stimuli, n_targets_s, n_times)``.
    mixing : list of arrays (n_latents, n_targets_s)
        Each subject's latent-to-target map (before the non-linearity).
    noise : float
        Noise SD relative to the signal SD of each target.
    nonlinear : bool
    """

    stimulus_ids: np.ndarray
    latents: np.ndarray
    responses: list[np.ndarray]
    mixing: list[np.ndarray]
    noise: float
    nonlinear: bool


def make_decoding_problem(
    n_stimuli: int = 400,
    n_latents: int = 16,
    n_targets: int | Sequence[int] = 200,
    *,
    n_subjects: int | None = None,
    noise: float = 1.0,
    nonlinear: bool = False,
    n_times: int | None = None,
    seed: int = 0,
) -> DecodingProblem:
    """Simulate subjects whose targets mix known stimulus latents, with known noise.

    Subject ``s`` has ``n_targets[s]`` targets and its own random map ``A_s``
    ``(n_latents, n_targets_s)``; its clean response is ``Z A_s`` (linear) or
    ``sin(2 Z A_s)`` (``nonlinear=True``: not invertible by any linear decoder), each target scaled
    to unit SD, plus Gaussian noise of SD ``noise``. With ``n_times`` each target's response is the
    clean response times a known temporal kernel (a bump peaking at one third of the epoch) plus
    noise at every sample, giving ``(n_stimuli, n_targets_s, n_times)`` epochs.

    Parameters
    ----------
    n_stimuli, n_latents : int
    n_targets : int or sequence of int
        Targets per subject; a sequence gives each subject its own count.
    n_subjects : int, optional
        Defaults to ``len(n_targets)`` (or 1 when ``n_targets`` is an int).
    noise : float
        Noise SD relative to the unit signal SD (``0`` gives noiseless data).
    nonlinear : bool
    n_times : int, optional
    seed : int

    Examples
    --------
    >>> p = make_decoding_problem(50, 4, [30, 40], seed=0)
    >>> p.latents.shape, [r.shape for r in p.responses]
    ((50, 4), [(50, 30), (50, 40)])
    """
    sizes = [n_targets] if isinstance(n_targets, (int, np.integer)) else list(n_targets)
    sizes = [int(v) for v in sizes]
    if n_subjects is None:
        n_subjects = len(sizes)
    if len(sizes) == 1:
        sizes = sizes * n_subjects
    if len(sizes) != n_subjects:
        raise ValidationError(
            f"n_targets has {len(sizes)} entries but n_subjects={n_subjects}; give one per subject."
        )
    check_positive(noise, "noise", strict=False)
    rng = np.random.default_rng(seed)
    latents = rng.standard_normal((n_stimuli, n_latents))
    kernel = None
    if n_times is not None:
        t = np.arange(n_times)
        kernel = np.exp(-0.5 * ((t - n_times / 3) / max(1.0, n_times / 10)) ** 2)
    responses, mixing = [], []
    for n_t in sizes:
        a = rng.standard_normal((n_latents, n_t)) / np.sqrt(n_latents)
        clean = latents @ a
        if nonlinear:
            clean = np.sin(2.0 * clean)
        clean = (clean - clean.mean(0)) / clean.std(0)
        if kernel is not None:
            clean = clean[:, :, None] * kernel
        responses.append((clean + noise * rng.standard_normal(clean.shape)).astype(np.float32))
        mixing.append(a.astype(np.float32))
    return DecodingProblem(
        stimulus_ids=np.array([f"stim{i:05d}" for i in range(n_stimuli)]),
        latents=latents.astype(np.float32),
        responses=responses,
        mixing=mixing,
        noise=float(noise),
        nonlinear=bool(nonlinear),
    )

"""Simulators with known answers for the non-linear readouts and the in-context encoder.

- :func:`make_spatial_rf_targets`: feature maps and targets with known spatial receptive fields
  (Gaussian masks) and known feature weights — ``y = Σ_c w_c Σ_s m_s F_cs + noise``.
- :func:`make_token_targets`: token sets where each ROI reads one token whose position varies by
  stimulus (it is marked by an ROI-specific direction); the planted positions are returned.
- :func:`make_voxel_family`: stimulus embeddings and many voxels whose linear weights come from a
  low-rank prior ``w = U z`` (the family every voxel of a subject is drawn from).

Each returns a :class:`ReadoutSimulation` of plain arrays plus its ``truth``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import cast

import numpy as np

from ..core._validation import check_positive
from ..core.exceptions import ValidationError

__all__ = [
    "ReadoutSimulation",
    "make_spatial_rf_targets",
    "make_token_targets",
    "make_voxel_family",
]


@dataclass(frozen=True, eq=False)
class ReadoutSimulation:
    """Simulated features, responses and what generated them.

    Attributes
    ----------
    features : array
        Feature maps (n_stimuli, C, H, W), tokens (n_stimuli, T, D) or embeddings (n_stimuli, D).
    responses : array (n_stimuli, n_targets)
        Signal plus Gaussian noise.
    signal : array (n_stimuli, n_targets)
        The noise-free responses (unit variance per target).
    truth : mapping of str to array
        The generating parameters (see each ``make_*``).
    noise_ceiling : array (n_targets,)
        Pearson r between ``signal`` and ``responses`` in expectation: ``1 / sqrt(1 + noise²)``.
    """

    features: np.ndarray
    responses: np.ndarray
    signal: np.ndarray
    truth: Mapping[str, np.ndarray] = field(default_factory=dict)
    noise_ceiling: np.ndarray = field(default_factory=lambda: np.empty(0))

    def __post_init__(self) -> None:
        object.__setattr__(self, "truth", MappingProxyType(dict(self.truth)))


def _check_counts(**counts: int) -> None:
    for name, v in counts.items():
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValidationError(f"{name} must be a positive integer; got {v!r}.")


def _finish(signal: np.ndarray, noise: float, rng: np.random.Generator) -> tuple:
    signal = signal - signal.mean(0)
    signal = signal / np.where(signal.std(0) > 0, signal.std(0), 1.0)
    responses = signal + noise * rng.standard_normal(signal.shape)
    ceiling = np.full(signal.shape[1], 1.0 / np.sqrt(1.0 + noise**2))
    return signal.astype(np.float32), responses.astype(np.float32), ceiling


def _smooth_maps(rng: np.random.Generator, n: int, c: int, size: int, width: float) -> np.ndarray:
    """Gaussian random fields (n, c, size, size): white noise blurred by a Gaussian, unit variance."""
    maps = rng.standard_normal((n, c, size, size))
    if width > 0:
        k = np.fft.fftfreq(size)
        kernel = np.exp(-2 * (np.pi * width) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2))
        maps = np.fft.ifft2(np.fft.fft2(maps) * kernel).real
    return (maps / maps.std()).astype(np.float32)


def make_spatial_rf_targets(
    n_stimuli: int = 1000,
    n_channels: int = 16,
    size: int = 14,
    n_targets: int = 50,
    rf_size: float | None = 1.5,
    n_active_channels: int | None = None,
    noise: float = 0.5,
    smoothness: float = 0.5,
    seed: int = 0,
) -> ReadoutSimulation:
    """Feature maps and targets with known spatial receptive fields.

    Maps (n_stimuli, n_channels, size, size) are Gaussian random fields; each target has a
    Gaussian receptive field of width ``rf_size`` (positions) centred at a random location and
    random Gaussian feature weights on ``n_active_channels`` channels (all by default);
    ``y = Σ_c w_c Σ_s m_s F_cs`` scaled to unit variance plus Gaussian noise of SD ``noise``.
    ``rf_size=None`` gives no spatial structure: every mask is uniform over the map.

    Returns
    -------
    ReadoutSimulation
        ``truth``: ``masks`` (n_targets, size, size) unit L2 norm, ``weights`` (n_targets,
        n_channels), ``centres`` (n_targets, 2) or empty.

    Examples
    --------
    >>> sim = make_spatial_rf_targets(n_stimuli=20, n_channels=4, size=6, n_targets=3)
    >>> sim.features.shape, sim.responses.shape, sim.truth["masks"].shape
    ((20, 4, 6, 6), (20, 3), (3, 6, 6))
    """
    _check_counts(n_stimuli=n_stimuli, n_channels=n_channels, size=size, n_targets=n_targets)
    check_positive(noise, "noise", strict=False)
    rng = np.random.default_rng(seed)
    F = _smooth_maps(rng, n_stimuli, n_channels, size, smoothness)
    if rf_size is None:
        masks = np.ones((n_targets, size, size))
        centres = np.empty((0, 2))
    else:
        check_positive(rf_size, "rf_size")
        centres = rng.uniform(1, size - 2, size=(n_targets, 2))
        yy, xx = np.mgrid[:size, :size]
        d2 = (yy[None] - centres[:, 0, None, None]) ** 2 + (
            xx[None] - centres[:, 1, None, None]
        ) ** 2
        masks = np.exp(-d2 / (2 * rf_size**2))
    masks /= np.linalg.norm(masks.reshape(n_targets, -1), axis=1)[:, None, None]
    weights = rng.standard_normal((n_targets, n_channels))
    if n_active_channels is not None:
        _check_counts(n_active_channels=n_active_channels)
        off = np.argsort(rng.random((n_targets, n_channels)), 1)[:, n_active_channels:]
        np.put_along_axis(weights, off, 0.0, axis=1)
    # signal = einsum("nchw,vhw,vc->nv"): one GEMM per chunk of targets (bounded memory)
    flat = F.reshape(n_stimuli, -1)
    signal = np.empty((n_stimuli, n_targets), dtype=np.float32)
    step = max(1, 2**26 // flat.shape[1])
    for v0 in range(0, n_targets, step):
        v = slice(v0, v0 + step)
        kernel = (weights[v, :, None, None] * masks[v, None]).astype(np.float32)
        signal[:, v] = flat @ kernel.reshape(len(kernel), -1).T
    signal, responses, ceiling = _finish(signal, noise, rng)
    truth: dict[str, np.ndarray] = {
        "masks": masks.astype(np.float32),
        "weights": weights.astype(np.float32),
    }
    truth["centres"] = centres
    return ReadoutSimulation(F, responses, signal, truth, ceiling)


def make_token_targets(
    n_stimuli: int = 1000,
    n_tokens: int = 16,
    dim: int = 16,
    n_rois: int = 2,
    n_targets_per_roi: int = 20,
    marker_strength: float = 4.0,
    varying: bool = True,
    noise: float = 0.5,
    seed: int = 0,
) -> ReadoutSimulation:
    """Tokens where each ROI reads the content of one token whose position varies by stimulus.

    Tokens (n_stimuli, n_tokens, dim) are standard Gaussian. For each stimulus and ROI ``r`` one
    position ``p_r`` is drawn (uniformly when ``varying``, else fixed per ROI; different ROIs get
    different positions) and the token there gets ``marker_strength · k_r`` added, ``k_r`` a unit
    direction of the ROI. Target ``v`` of ROI ``r`` responds ``a_v · t_{p_r}`` with ``a_v``
    orthogonal to every marker (the content, not the marker, drives it), scaled to unit variance,
    plus Gaussian noise of SD ``noise``.

    Returns
    -------
    ReadoutSimulation
        ``truth``: ``positions`` (n_stimuli, n_rois), ``roi`` (n_targets,) labels ``roi0``...,
        ``markers`` (n_rois, dim), ``weights`` (n_targets, dim).

    Examples
    --------
    >>> sim = make_token_targets(n_stimuli=10, n_tokens=4, dim=8, n_rois=2, n_targets_per_roi=3)
    >>> sim.features.shape, sim.responses.shape, sim.truth["positions"].shape
    ((10, 4, 8), (10, 6), (10, 2))
    """
    _check_counts(n_stimuli=n_stimuli, n_tokens=n_tokens, dim=dim, n_rois=n_rois)
    _check_counts(n_targets_per_roi=n_targets_per_roi)
    if n_rois > n_tokens or 2 * n_rois >= dim:
        raise ValidationError(
            f"n_rois={n_rois} needs n_tokens >= n_rois (got {n_tokens}) and dim > 2·n_rois "
            f"(got {dim}) so that markers and content fit."
        )
    rng = np.random.default_rng(seed)
    tokens = rng.standard_normal((n_stimuli, n_tokens, dim))
    basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    markers = basis[:, :n_rois].T  # orthonormal marker directions
    content = basis[:, n_rois:]  # the content space, orthogonal to the markers
    if varying:
        positions = np.argsort(rng.random((n_stimuli, n_tokens)), 1)[:, :n_rois]
    else:
        positions = np.tile(rng.permutation(n_tokens)[:n_rois], (n_stimuli, 1))
    rows = np.arange(n_stimuli)
    for r in range(n_rois):
        tokens[rows, positions[:, r]] += marker_strength * markers[r]
    V = n_rois * n_targets_per_roi
    weights = rng.standard_normal((V, content.shape[1])) @ content.T
    roi = np.repeat(np.arange(n_rois), n_targets_per_roi)
    read = tokens[rows[:, None], positions[:, roi]]  # (n, V, dim): the token each target reads
    signal = np.einsum("nvd,vd->nv", read, weights)
    signal, responses, ceiling = _finish(signal, noise, rng)
    truth = {
        "positions": positions,
        "roi": np.array([f"roi{r}" for r in roi]),
        "markers": markers.astype(np.float32),
        "weights": weights.astype(np.float32),
    }
    return ReadoutSimulation(tokens.astype(np.float32), responses, signal, truth, ceiling)


def make_voxel_family(
    n_stimuli: int = 500,
    n_features: int = 32,
    n_voxels: int = 1000,
    rank: int = 4,
    noise: float | tuple[float, float] = (0.3, 1.0),
    feature_correlation: float = 0.5,
    seed: int = 0,
) -> ReadoutSimulation:
    """Stimulus embeddings and a family of voxels with linear weights from a low-rank prior.

    Embeddings (n_stimuli, n_features) are Gaussian with a decaying spectrum
    (``feature_correlation`` mixes the features); the family shares a loading matrix ``U``
    (n_features, rank) and each voxel draws ``z ~ N(0, I_rank)``, so ``w = U z`` and
    ``y = X w + b`` scaled to unit variance plus Gaussian noise whose SD is ``noise`` (or uniform
    in ``noise = (low, high)`` per voxel). Split the voxels to meta-train an in-context encoder
    on some and test it on others.

    Returns
    -------
    ReadoutSimulation
        ``truth``: ``loadings`` U, ``weights`` (n_features, n_voxels), ``intercepts`` (n_voxels,),
        ``noise_sd`` (n_voxels,).

    Examples
    --------
    >>> sim = make_voxel_family(n_stimuli=30, n_features=8, n_voxels=5, rank=2)
    >>> sim.features.shape, sim.responses.shape, sim.truth["weights"].shape
    ((30, 8), (30, 5), (8, 5))
    """
    _check_counts(n_stimuli=n_stimuli, n_features=n_features, n_voxels=n_voxels, rank=rank)
    if rank > n_features:
        raise ValidationError(f"rank={rank} cannot exceed n_features={n_features}.")
    rng = np.random.default_rng(seed)
    mix = np.eye(n_features) + feature_correlation * rng.standard_normal(
        (n_features, n_features)
    ) / np.sqrt(n_features)
    X = rng.standard_normal((n_stimuli, n_features)) @ mix
    U = rng.standard_normal((n_features, rank)) / np.sqrt(rank)
    W = U @ rng.standard_normal((rank, n_voxels))
    b = rng.standard_normal(n_voxels)
    signal = X @ W
    sd = signal.std(0)
    W, signal = W / sd, signal / sd
    lo, hi = cast("tuple[float, float]", (noise, noise) if np.isscalar(noise) else noise)
    noise_sd = rng.uniform(lo, hi, n_voxels)
    responses = signal - signal.mean(0) + b + noise_sd * rng.standard_normal(signal.shape)
    truth = {"loadings": U, "weights": W, "intercepts": b, "noise_sd": noise_sd}
    return ReadoutSimulation(
        X.astype(np.float32),
        responses.astype(np.float32),
        (signal - signal.mean(0) + b).astype(np.float32),
        truth,
        1.0 / np.sqrt(1.0 + noise_sd**2),
    )

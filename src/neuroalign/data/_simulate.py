"""Simulators with known ground truth: synthetic images and brain responses from known features.

``make_shape_images`` draws images from known latent factors (shape, position, size, rotation,
colour, background grating). ``make_responses`` simulates ROIs whose responses are a known linear
function of a known feature space (for example one layer of a fixed network, or low-level image
statistics) plus Gaussian noise of known level, with repetitions. Because the generative model is
known, so are the best feature space (layer) of each ROI and each target's true noise ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from ..core import Activations, Responses, StimulusSet
from ..core._validation import check_array, check_positive
from ..core.exceptions import ConfigurationError, ValidationError, close_matches

__all__ = [
    "SHAPES",
    "SimulationTruth",
    "compute_image_statistics",
    "make_responses",
    "make_shape_images",
]

SHAPES = ("circle", "square", "triangle", "cross", "bar")


def _hsv_to_rgb(h: np.ndarray, s: float, v: np.ndarray) -> np.ndarray:
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = np.stack(
        [
            np.stack(c, -1)
            for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))
        ]
    )
    return table[i, np.arange(len(h))]


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray, soft: float) -> np.ndarray:
    """Soft-edged mask (values in [0, 1]) of a unit-size shape in rotated coordinates (u, v)."""
    if shape == "circle":
        d = np.sqrt(u**2 + v**2) - 1.0
    elif shape == "square":
        d = np.maximum(np.abs(u), np.abs(v)) - 0.85
    elif shape == "triangle":
        k = np.sqrt(3.0)
        d = np.maximum(np.maximum(-v - 0.5, (k * u + v) / 2 - 0.5), (-k * u + v) / 2 - 0.5) * 1.3
    elif shape == "cross":
        d = np.minimum(
            np.maximum(np.abs(u) - 1.0, np.abs(v) - 0.33),
            np.maximum(np.abs(u) - 0.33, np.abs(v) - 1.0),
        )
    elif shape == "bar":
        d = np.maximum(np.abs(u) - 1.1, np.abs(v) - 0.3)
    else:  # pragma: no cover - guarded by the caller
        raise ValueError(shape)
    return np.clip(0.5 - d / soft, 0.0, 1.0)


def make_shape_images(
    n_stimuli: int = 600, image_size: int = 96, seed: int = 0, shapes: tuple[str, ...] = SHAPES
) -> StimulusSet:
    """Synthetic images of one coloured shape on a grating background, from known latent factors.

    Each image's factors are drawn independently: ``shape`` (category), position ``x``, ``y``
    (fraction of the image, 0–1), ``size`` (radius as a fraction of the image), ``rotation``
    (radians), ``hue`` and ``brightness`` of the shape, and the background grating's
    ``grating_orientation`` (radians), ``grating_frequency`` (cycles per image) and
    ``grating_contrast``. They are returned in ``metadata``.

    Parameters
    ----------
    n_stimuli : int
        Number of images.
    image_size : int
        Height and width in pixels.
    seed : int
        Random seed; the same seed gives the same images.
    shapes : tuple of str
        Shape categories to draw from (any of ``SHAPES``).

    Returns
    -------
    StimulusSet
        ``images`` of shape (n_stimuli, image_size, image_size, 3), uint8; ids ``shape_0000``...

    Examples
    --------
    >>> s = make_shape_images(4, image_size=32)
    >>> s.images.shape, sorted(s.metadata.columns)[:3]
    ((4, 32, 32, 3), ['brightness', 'grating_contrast', 'grating_frequency'])
    """
    if n_stimuli < 1 or image_size < 8:
        raise ValidationError(
            f"need n_stimuli >= 1 and image_size >= 8; got {n_stimuli}, {image_size}."
        )
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        raise ConfigurationError(
            f"unknown shapes {unknown}; choose from {SHAPES}." + close_matches(unknown[0], SHAPES)
        )
    rng = np.random.default_rng(seed)
    n = n_stimuli
    lat = pd.DataFrame(
        {
            "shape": rng.choice(np.array(shapes), size=n),
            "x": rng.uniform(0.3, 0.7, n),
            "y": rng.uniform(0.3, 0.7, n),
            "size": rng.uniform(0.12, 0.24, n),
            "rotation": rng.uniform(0, np.pi, n),
            "hue": rng.uniform(0, 1, n),
            "brightness": rng.uniform(0.5, 1.0, n),
            "grating_orientation": rng.uniform(0, np.pi, n),
            "grating_frequency": rng.uniform(2, 10, n),
            "grating_contrast": rng.uniform(0.05, 0.4, n),
        }
    )
    yy, xx = np.mgrid[0:image_size, 0:image_size] / image_size
    colours = _hsv_to_rgb(lat["hue"].to_numpy(), 0.8, lat["brightness"].to_numpy())
    images = np.empty((n, image_size, image_size, 3), dtype=np.uint8)
    soft = 2.0 / image_size
    for i, row in enumerate(lat.itertuples(index=False)):
        phase = (
            2
            * np.pi
            * row.grating_frequency
            * (xx * np.cos(row.grating_orientation) + yy * np.sin(row.grating_orientation))
        )
        background = 0.5 + 0.5 * row.grating_contrast * np.sin(phase)
        dx, dy = (xx - row.x) / row.size, (yy - row.y) / row.size
        c, s = np.cos(row.rotation), np.sin(row.rotation)
        mask = _shape_mask(row.shape, c * dx + s * dy, -s * dx + c * dy, soft / row.size)[..., None]
        img = (1 - mask) * background[..., None] + mask * colours[i]
        images[i] = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
    ids = np.array([f"shape_{i:04d}" for i in range(n)])
    return StimulusSet(ids=ids, images=images, metadata=lat, name="shapes")


def compute_image_statistics(
    stimuli: StimulusSet, grid: int = 8, n_orientations: int = 4
) -> np.ndarray:
    """Low-level image statistics: a feature space for "early visual" simulated ROIs.

    Per image: the luminance on a ``grid × grid`` raster (local mean), the mean of each colour
    channel, the RMS contrast, and the Fourier energy in ``n_orientations`` orientation bands at a
    low and a high spatial-frequency band (log energy).

    Parameters
    ----------
    stimuli : StimulusSet
        Image stimuli (any size; converted to RGB).
    grid : int
        Side of the luminance raster.
    n_orientations : int
        Orientation bands of the spectral energy.

    Returns
    -------
    array (n_stimuli, grid² + 4 + 2·n_orientations), float64

    Examples
    --------
    >>> compute_image_statistics(make_shape_images(3, image_size=32)).shape
    (3, 76)
    """
    feats = []
    for i in range(len(stimuli)):
        img = stimuli.load_image(i).astype(np.float64) / 255.0
        lum = img @ np.array([0.299, 0.587, 0.114])
        h, w = lum.shape
        hh, ww = h - h % grid, w - w % grid
        raster = lum[:hh, :ww].reshape(grid, hh // grid, grid, ww // grid).mean(axis=(1, 3)).ravel()
        spec = np.abs(np.fft.fftshift(np.fft.fft2(lum - lum.mean()))) ** 2
        fy, fx = np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij")
        radius = np.hypot(fy / h, fx / w)
        angle = np.mod(np.arctan2(fy, fx), np.pi)
        bands = []
        for low, high in ((0.02, 0.12), (0.12, 0.5)):
            ring = (radius >= low) & (radius < high)
            for k in range(n_orientations):
                wedge = (angle >= k * np.pi / n_orientations) & (
                    angle < (k + 1) * np.pi / n_orientations
                )
                bands.append(np.log1p(spec[ring & wedge].sum()))
        feats.append(np.concatenate([raster, img.mean(axis=(0, 1)), [lum.std()], bands]))
    return np.asarray(feats)


@dataclass(frozen=True, eq=False)
class SimulationTruth:
    """What generated simulated responses.

    Attributes
    ----------
    roi_sources : mapping of str to str
        ROI name → the feature space (layer) that drives it.
    signal : array, shape (n_stimuli, n_targets)
        Noise-free responses, each target with unit variance across stimuli.
    noise_sd : array, shape (n_targets,)
        Standard deviation of the single-trial noise per target.
    n_reps : int
    noise_ceiling : array, shape (n_targets,)
        The true ceiling of Pearson r with the repetition average,
        ``sqrt(var(signal) / (var(signal) + noise_sd**2 / n_reps))``.
    n_components : int
        Number of principal components of the source feature space the signal lives in.
    seed : int
    """

    roi_sources: Mapping[str, str]
    signal: np.ndarray
    noise_sd: np.ndarray
    n_reps: int
    noise_ceiling: np.ndarray
    n_components: int
    seed: int
    weights: Mapping[str, np.ndarray] = field(default_factory=dict)

    def ceiling_by_roi(self, targets: pd.DataFrame) -> dict[str, float]:
        """Mean true ceiling per ROI, given the ``targets`` table of the simulated Responses."""
        rois = targets["roi"].astype(str).to_numpy()
        return {r: float(self.noise_ceiling[rois == r].mean()) for r in self.roi_sources}


def _principal_components(x: np.ndarray, k: int) -> np.ndarray:
    """The top-``k`` principal-component scores of ``x`` (columns scaled to unit variance)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(0)
    sd = x.std(0)
    x = x[:, sd > 1e-12 * max(1.0, float(sd.max(initial=0)))]
    if x.shape[1] == 0:
        raise ValidationError(
            "a source feature space is constant across stimuli; it cannot drive an ROI."
        )
    # the Gram matrix is small (n_stimuli²) whatever the number of features
    evals, evecs = np.linalg.eigh(x @ x.T)
    order = np.argsort(evals)[::-1][: min(k, x.shape[0] - 1)]
    scores = evecs[:, order]
    return (scores - scores.mean(0)) / scores.std(0)


def make_responses(
    features: Activations | Mapping[str, np.ndarray],
    roi_sources: Mapping[str, str],
    n_targets_per_roi: int = 50,
    n_reps: int = 4,
    noise_sd: float | tuple[float, float] = (1.0, 2.0),
    n_components: int = 8,
    stimulus_ids: list[str] | np.ndarray | None = None,
    seed: int = 0,
) -> tuple[Responses, SimulationTruth]:
    """Simulate ROIs whose responses are linear in known feature spaces, with repetitions.

    For each ROI, the source features are reduced to their top ``n_components`` principal
    components (unit variance each); each target's noise-free signal is a random Gaussian
    combination of them, scaled to unit variance across stimuli; each repetition adds independent
    Gaussian noise with the target's ``noise_sd``. The signal is therefore exactly linear in the
    source layer's features: that layer is the true best layer of the ROI.

    Parameters
    ----------
    features : Activations or mapping of str to array (n_stimuli, n_features)
        Candidate feature spaces (layers); the ROIs' sources are picked from them.
    roi_sources : mapping of str to str
        ROI name → name of its source feature space.
    n_targets_per_roi : int
        Targets (voxels) per ROI.
    n_reps : int
        Repetitions per stimulus.
    noise_sd : float or (low, high)
        Single-trial noise standard deviation (signal sd is 1); a tuple draws each target's level
        uniformly in that range.
    n_components : int
        Dimensionality of the signal inside the source space.
    stimulus_ids : sequence of str, optional
        Required when ``features`` is a plain mapping; taken from ``Activations`` otherwise.
    seed : int

    Returns
    -------
    responses : Responses
        ``repetitions`` (n_reps, n_stimuli, n_targets) and their mean; ``targets`` with columns
        ``roi``, ``source``, ``noise_sd``.
    truth : SimulationTruth

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> feats = {"low": rng.normal(size=(200, 30)), "high": rng.normal(size=(200, 30))}
    >>> resp, truth = make_responses(feats, {"V1": "low", "IT": "high"}, n_targets_per_roi=5,
    ...                              stimulus_ids=[f"s{i}" for i in range(200)])
    >>> resp.repetitions.shape, resp.rois
    ((4, 200, 10), ['V1', 'IT'])
    """
    if isinstance(features, Activations):
        ids = features.stimulus_ids
        spaces: Mapping[str, np.ndarray] = features.layers
    else:
        if stimulus_ids is None:
            raise ValidationError("stimulus_ids is required when features is a plain mapping.")
        ids = np.asarray(stimulus_ids)
        spaces = features
    if not roi_sources:
        raise ValidationError("roi_sources is empty; name at least one ROI and its source layer.")
    for roi, src in roi_sources.items():
        if src not in spaces:
            raise ConfigurationError(
                f"roi_sources[{roi!r}] = {src!r} is not among the feature spaces {list(spaces)}."
                + close_matches(src, spaces)
            )
    if n_reps < 1 or n_targets_per_roi < 1 or n_components < 1:
        raise ValidationError(
            f"n_reps, n_targets_per_roi and n_components must be >= 1; got {n_reps}, "
            f"{n_targets_per_roi}, {n_components}."
        )
    rng = np.random.default_rng(seed)
    n = len(ids)
    signals, noise, rows, weights = [], [], [], {}
    for roi, src in roi_sources.items():
        x = check_array(spaces[src], f"features[{src!r}]", ndim=2)
        if x.shape[0] != n:
            raise ValidationError(f"features[{src!r}] has {x.shape[0]} rows; expected {n} stimuli.")
        pcs = _principal_components(x, n_components)
        w = rng.normal(size=(pcs.shape[1], n_targets_per_roi))
        s = pcs @ w
        s = (s - s.mean(0)) / s.std(0)
        weights[roi] = w
        if isinstance(noise_sd, tuple):
            lo, hi = (check_positive(float(v), "noise_sd") for v in noise_sd)
            sd = rng.uniform(lo, hi, n_targets_per_roi)
        else:
            sd = np.full(n_targets_per_roi, check_positive(float(noise_sd), "noise_sd"))
        signals.append(s)
        noise.append(sd)
        rows.append(pd.DataFrame({"roi": roi, "source": src, "noise_sd": sd}))
    signal = np.concatenate(signals, axis=1)
    sds = np.concatenate(noise)
    reps = signal[None] + rng.normal(size=(n_reps, *signal.shape)) * sds
    targets = pd.concat(rows, ignore_index=True)
    targets.insert(
        0,
        "target",
        [
            f"{r}_{i:03d}"
            for r, i in zip(targets["roi"], targets.groupby("roi").cumcount(), strict=True)
        ],
    )
    responses = Responses(
        stimulus_ids=ids,
        repetitions=reps.astype(np.float32),
        targets=targets,
        name="simulated",
        meta={"simulated": True, "seed": seed},
    )
    ceiling = np.sqrt(1.0 / (1.0 + sds**2 / n_reps))
    truth = SimulationTruth(
        roi_sources=MappingProxyType(dict(roi_sources)),
        signal=signal,
        noise_sd=sds,
        n_reps=n_reps,
        noise_ceiling=ceiling,
        n_components=n_components,
        seed=seed,
        weights=MappingProxyType(weights),
    )
    return responses, truth

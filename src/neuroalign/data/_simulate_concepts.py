"""Simulated targets with known selectivity, for the explain analyses.

- :func:`make_concept_voxels`: voxels whose encoding weights in a joint image–text embedding space
  are known mixtures of planted concept directions (ground truth for concept ranking);
- :func:`make_functional_types`: targets whose readout weights cluster into known functional
  types (ground truth for most-discriminative-stimuli clustering).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core import Responses
from ..core.exceptions import ValidationError

__all__ = ["ConceptVoxels", "FunctionalTypes", "make_concept_voxels", "make_functional_types"]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@dataclass(frozen=True, eq=False)
class ConceptVoxels:
    """Simulated image embeddings, voxel responses and a concept vocabulary with known answers.

    Attributes
    ----------
    image_embeddings : array (n_images, n_features)
        Unit-norm "image tower" embeddings; each image shows one scene of co-occurring concepts.
    responses : Responses
        (n_images, n_voxels) responses ``Y = X W + noise`` (ids ``img0000`` ..., targets ``v000`` ...).
    concepts : list of str
        The vocabulary (``concept00`` ...).
    concept_embeddings : array (n_concepts, n_features)
        Unit-norm "text tower" embeddings: the concept directions plus a shared modality offset
        and noise (as the gap between CLIP's image and text embeddings).
    planted : array (n_voxels, concepts_per_voxel)
        Indices of each voxel's planted concepts; ``mixture`` holds their weights (rows sum to 1).
    weights : array (n_features, n_voxels)
        The true encoding weights.
    snr : float
        Variance of the signal over variance of the noise.
    """

    image_embeddings: np.ndarray
    responses: Responses
    concepts: list[str]
    concept_embeddings: np.ndarray
    planted: np.ndarray
    mixture: np.ndarray
    weights: np.ndarray
    snr: float


def make_concept_voxels(
    n_images: int = 2000,
    n_voxels: int = 60,
    n_concepts: int = 40,
    n_features: int = 128,
    concepts_per_voxel: int = 3,
    n_scenes: int = 20,
    snr: float = 0.5,
    modality_gap: float = 0.5,
    text_noise: float = 0.3,
    seed: int = 0,
) -> ConceptVoxels:
    """Voxels selective for known mixtures of concepts, seen through a joint embedding space.

    Concept directions ``c_j`` are random unit vectors; concepts co-occur in ``n_scenes`` scenes of
    ``concepts_per_voxel`` concepts each. An image shows one scene (its concepts with weights
    U(0.5, 1)), half the images one unrelated concept too (weight U(0.2, 0.5)); its embedding is the
    unit-normalised sum plus isotropic noise. A concept's text embedding is
    ``unit(c_j + gap · g + noise)`` with one shared offset ``g`` (the image–text modality gap).
    Voxel ``i`` prefers one scene: weights ``w_i = Σ_j β_ij c_j`` over that scene's concepts
    (``β ~ Dirichlet(4)``), responses ``y_i = X w_i + ε`` with ``var(Xw_i) / var(ε) = snr``.

    Examples
    --------
    >>> sim = make_concept_voxels(n_images=200, n_voxels=5, seed=1)
    >>> sim.image_embeddings.shape, sim.responses.data.shape, sim.planted.shape
    ((200, 128), (200, 5), (5, 3))
    """
    if not 1 <= concepts_per_voxel <= n_concepts:
        raise ValidationError(
            f"concepts_per_voxel must be between 1 and n_concepts={n_concepts}; got {concepts_per_voxel}."
        )
    if snr <= 0:
        raise ValidationError(f"snr must be > 0; got {snr}.")
    rng = np.random.default_rng(seed)
    C = _unit(rng.standard_normal((n_concepts, n_features)))
    gap = _unit(rng.standard_normal(n_features))
    text = _unit(
        C + modality_gap * gap + text_noise * rng.standard_normal(C.shape) / np.sqrt(n_features)
    )
    scenes = np.stack(
        [
            np.sort(rng.choice(n_concepts, concepts_per_voxel, replace=False))
            for _ in range(n_scenes)
        ]
    )
    scene_of_image = rng.integers(n_scenes, size=n_images)
    X = np.einsum(
        "ik,ikd->id",
        rng.uniform(0.5, 1.0, (n_images, concepts_per_voxel)),
        C[scenes[scene_of_image]],
    )
    extra = rng.random(n_images) < 0.5  # half the images also show one unrelated concept
    X[extra] += (
        rng.uniform(0.2, 0.5, (int(extra.sum()), 1))
        * C[rng.integers(n_concepts, size=int(extra.sum()))]
    )
    X = _unit(X + 0.5 * rng.standard_normal(X.shape) / np.sqrt(n_features))
    planted = scenes[rng.integers(n_scenes, size=n_voxels)]
    mixture = rng.dirichlet(np.full(concepts_per_voxel, 4.0), size=n_voxels)
    W = np.einsum("vk,vkd->dv", mixture, C[planted])
    signal = X @ W
    noise = rng.standard_normal(signal.shape) * np.sqrt(signal.var(0) / snr)
    ids = np.array([f"img{i:04d}" for i in range(n_images)])
    targets = pd.DataFrame({"target": [f"v{i:03d}" for i in range(n_voxels)], "roi": "sim"})
    responses = Responses(
        ids, data=(signal + noise).astype(np.float32), targets=targets, name="concept_voxels"
    )
    return ConceptVoxels(
        X.astype(np.float32),
        responses,
        [f"concept{j:02d}" for j in range(n_concepts)],
        text.astype(np.float32),
        planted,
        mixture,
        W.astype(np.float32),
        float(snr),
    )


@dataclass(frozen=True, eq=False)
class FunctionalTypes:
    """Readout weights of targets that fall into known functional types.

    Attributes
    ----------
    weights : array (n_features, n_targets)
        ``prototype[type] + noise`` per target, columns grouped by type.
    labels : array (n_targets,)
        The true type of each target.
    prototypes : array (n_types, n_features)
    """

    weights: np.ndarray
    labels: np.ndarray
    prototypes: np.ndarray


def make_functional_types(
    n_features: int,
    n_types: int = 4,
    n_per_type: int = 10,
    noise: float = 0.3,
    feature_covariance: np.ndarray | None = None,
    seed: int = 0,
) -> FunctionalTypes:
    """Targets whose readout weights are one of ``n_types`` unit-norm prototypes plus noise of
    relative size ``noise`` (ground truth for functional-type clustering).

    With ``feature_covariance`` Σ (of the features over the stimuli the types are told apart by),
    the weights are ``Σ^{-1/2} u``: the types then differ in their *responses* (uncorrelated,
    equally strong response profiles), not only in weight space, as functional types are defined.

    Examples
    --------
    >>> ft = make_functional_types(16, n_types=3, n_per_type=4)
    >>> ft.weights.shape, np.bincount(ft.labels).tolist()
    ((16, 12), [4, 4, 4])
    """
    if n_types < 2 or n_per_type < 1:
        raise ValidationError(
            f"need n_types >= 2 and n_per_type >= 1; got {n_types}, {n_per_type}."
        )
    rng = np.random.default_rng(seed)
    protos = _unit(rng.standard_normal((n_types, n_features)))
    labels = np.repeat(np.arange(n_types), n_per_type)
    W = (
        protos[labels]
        + noise * rng.standard_normal((labels.size, n_features)) / np.sqrt(n_features)
    ).T
    if feature_covariance is not None:
        cov = np.asarray(feature_covariance, np.float64)
        if cov.shape != (n_features, n_features):
            raise ValidationError(
                f"feature_covariance must be ({n_features}, {n_features}); got {cov.shape}."
            )
        ev, V = np.linalg.eigh((cov + cov.T) / 2)
        ev = np.maximum(ev, ev.max() * 1e-2)  # regularised: no direction amplified > 10x
        W = (V / np.sqrt(ev)) @ V.T @ W
    return FunctionalTypes(W.astype(np.float32), labels, protos.astype(np.float32))

"""Cross-subject decoding: a shared response model (SRM) and a shared decoder with subject adapters.

SRM (Chen et al. 2015, "A reduced-dimension fMRI shared response model", NeurIPS; the
deterministic variant of brainiak's ``DetSRM``, written from the paper) models each subject's
responses ``X_s`` ``(n_stimuli, n_targets_s)`` to the same stimuli as ``S W_sᵀ`` plus noise, with a
shared response ``S`` ``(n_stimuli, k)`` and a subject map ``W_s`` ``(n_targets_s, k)`` with
orthonormal columns, so subjects with different voxel counts meet in one k-dimensional space. It
alternates two closed forms that each lower ``Σ_s ||X_s − S W_sᵀ||²``:

- ``W_s = U Vᵀ`` from the SVD ``X_sᵀ S = U Σ Vᵀ`` (orthogonal Procrustes);
- ``S = (1/m) Σ_s X_s W_s``.

:class:`SharedDecoder` (the "shared decoder + subject adapters" design of MindBridge and "See
Through Their Minds") fits SRM on K subjects, a ridge decoder from the shared space to the
embeddings on all subjects' data pooled, and then, for a new subject, fits only that subject's
adapter ``W_new`` by Procrustes against the shared responses of the (few) training stimuli it saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core._validation import check_array, check_same_length
from ..core.exceptions import NotFittedError, ShapeError, ValidationError
from ._embedding import DEFAULT_ALPHAS, RidgeDecoder

__all__ = ["SharedDecoder", "fit_srm", "procrustes"]


def procrustes(X: np.ndarray, S: np.ndarray) -> np.ndarray:
    """``W`` ``(n_targets, k)`` with orthonormal columns minimising ``||X − S Wᵀ||``."""
    U, _, Vt = np.linalg.svd(X.T @ S, full_matrices=False)
    return U @ Vt


def _check_subjects(Xs: Sequence[Any], name: str = "X") -> list[np.ndarray]:
    if isinstance(Xs, np.ndarray) or not len(Xs):
        raise ValidationError(f"{name} must be a list with one array per subject.")
    out = [check_array(x, f"{name}[{i}]", dtype=np.float64) for i, x in enumerate(Xs)]
    shapes = [x.shape for x in out]
    if len({x.ndim for x in out}) > 1 or any(x.ndim not in (2, 3) for x in out):
        raise ShapeError(f"every subject needs (n_stimuli, n_targets[, n_times]); got {shapes}.")
    if out[0].ndim == 3 and len({x.shape[2] for x in out}) > 1:
        raise ShapeError(
            f"subjects have time axes of different lengths {[x.shape[2] for x in out]}; resample "
            "or crop them to a common time axis first."
        )
    if len({len(x) for x in out}) > 1:
        raise ShapeError(
            f"subjects have different numbers of stimuli {[len(x) for x in out]}; align them on "
            "the shared stimulus ids first."
        )
    return [x.reshape(len(x), -1) for x in out]


def fit_srm(
    Xs: Sequence[Any], n_components: int, n_iter: int = 20, seed: int = 0
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Deterministic shared response model.

    Parameters
    ----------
    Xs : list of arrays (n_stimuli, n_targets_s)
        One array per subject (targets may differ; stimuli are shared and in the same order).
        Each is centred per target.
    n_components : int
        ``k``, at most the smallest number of targets.
    n_iter : int
    seed : int
        Seeds the random orthonormal initial maps.

    Returns
    -------
    W : list of arrays (n_targets_s, k) with orthonormal columns
    S : array (n_stimuli, k)
    objective : array (n_iter,)
        ``Σ_s ||X_s − S W_sᵀ||²`` after each iteration (non-increasing).
    """
    Xs = [x - x.mean(0) for x in _check_subjects(Xs)]
    k = int(n_components)
    if not 1 <= k <= min(x.shape[1] for x in Xs):
        raise ValidationError(
            f"n_components={k} must be between 1 and the smallest number of targets "
            f"({min(x.shape[1] for x in Xs)})."
        )
    rng = np.random.default_rng(seed)
    W = [np.linalg.qr(rng.standard_normal((x.shape[1], k)))[0] for x in Xs]
    S = np.mean([x @ w for x, w in zip(Xs, W, strict=True)], axis=0)
    objective = np.empty(n_iter)
    for it in range(n_iter):
        W = [procrustes(x, S) for x in Xs]
        S = np.mean([x @ w for x, w in zip(Xs, W, strict=True)], axis=0)
        objective[it] = sum(((x - S @ w.T) ** 2).sum() for x, w in zip(Xs, W, strict=True))
    return W, S, objective


class SharedDecoder:
    """A decoder shared across subjects, reached through one adapter per subject.

    Parameters
    ----------
    n_components : int
        Dimension ``k`` of the shared space.
    alphas : array-like
        Ridge penalties of the shared decoder (one chosen per embedding dimension).
    n_iter, seed : SRM iterations and initialisation.

    Attributes
    ----------
    adapters_ : dict of str to array (n_targets_s, k)
    shared_ : array (n_stimuli, k)
        The shared response of every training stimulus.
    decoder_ : RidgeDecoder
        Shared space → embedding.

    Examples
    --------
    >>> from neuroalign.data import make_decoding_problem
    >>> p = make_decoding_problem(200, 8, [60, 80, 70, 90], noise=0.5, seed=0)
    >>> dec = SharedDecoder(8).fit(p.responses[:3], p.latents, subjects=["a", "b", "c"])
    >>> _ = dec.add_subject("d", p.responses[3][:40], np.arange(40))
    >>> dec.predict(p.responses[3], "d").shape
    (200, 8)
    """

    def __init__(
        self, n_components: int, alphas: Any = DEFAULT_ALPHAS, n_iter: int = 20, seed: int = 0
    ) -> None:
        self.n_components = n_components
        self.alphas = alphas
        self.n_iter = n_iter
        self.seed = seed

    def fit(
        self, Xs: Sequence[Any], embeddings: Any, subjects: Sequence[str] | None = None
    ) -> SharedDecoder:
        """Fit SRM on the subjects' responses to the same stimuli and the shared decoder."""
        Xs = _check_subjects(Xs)
        E = check_array(embeddings, "embeddings", ndim=2, dtype=np.float64)
        check_same_length("embeddings", len(E), "X (stimuli)", len(Xs[0]))
        names = (
            [str(s) for s in subjects] if subjects is not None else [str(i) for i in range(len(Xs))]
        )
        check_same_length("subjects", len(names), "X (subjects)", len(Xs))
        self.means_ = {s: x.mean(0) for s, x in zip(names, Xs, strict=True)}
        W, self.shared_, self.objective_ = fit_srm(Xs, self.n_components, self.n_iter, self.seed)
        self.adapters_ = dict(zip(names, W, strict=True))
        pooled = np.concatenate(
            [(x - self.means_[s]) @ self.adapters_[s] for s, x in zip(names, Xs, strict=True)]
        )
        self.decoder_ = RidgeDecoder(self.alphas, standardize=False).fit(
            pooled, np.tile(E, (len(Xs), 1))
        )
        return self

    def add_subject(self, subject: str, X: Any, stimulus_index: Any) -> SharedDecoder:
        """Fit only the adapter of a new subject from its responses to some training stimuli.

        Parameters
        ----------
        subject : str
        X : array (n_samples, n_targets_new)
        stimulus_index : array (n_samples,) of int
            Which training stimuli (rows of the training data) these responses are to.
        """
        if not hasattr(self, "shared_"):
            raise NotFittedError("SharedDecoder is not fitted; call fit(...) first.")
        X = _check_subjects([X])[0]
        idx = np.asarray(stimulus_index, dtype=int)
        check_same_length("stimulus_index", len(idx), "X", len(X))
        if idx.min() < 0 or idx.max() >= len(self.shared_):
            raise ValidationError(
                f"stimulus_index must lie in [0, {len(self.shared_)}) (the training stimuli)."
            )
        if X.shape[1] < self.n_components:
            raise ValidationError(
                f"the new subject has {X.shape[1]} targets, fewer than n_components={self.n_components}."
            )
        S = self.shared_[idx]
        W = procrustes(X - X.mean(0), S - S.mean(0))
        self.adapters_[str(subject)] = W
        # x ≈ s Wᵀ + μ: the offset makes the few stimuli land on their shared responses
        self.means_[str(subject)] = X.mean(0) - S.mean(0) @ W.T
        return self

    def transform(self, X: Any, subject: str) -> np.ndarray:
        """Responses of ``subject`` in the shared space, (n_samples, k)."""
        if str(subject) not in self.adapters_:
            raise ValidationError(
                f"unknown subject {subject!r}; fitted: {sorted(self.adapters_)} (add_subject first)."
            )
        X = _check_subjects([X])[0]
        return (X - self.means_[str(subject)]) @ self.adapters_[str(subject)]

    def predict(self, X: Any, subject: str) -> np.ndarray:
        """Decoded embeddings (n_samples, n_dims)."""
        return self.decoder_.predict(self.transform(X, subject))

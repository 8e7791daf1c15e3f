"""Brain → embedding decoding: ridge from responses to model embeddings, one α per dimension.

Why a small solver here rather than ``neuroalign.encode``'s: encode and decode are siblings and
must not import each other, and decoding needs only the textbook closed form. With the thin SVD of
the centred responses ``X = U diag(s) Vᵀ`` (``r = min(n, p)`` components) every α costs one
``(n × r) @ (r × d)`` product: predictions ``Ŷ_α = U diag(s²/(s²+α)) UᵀY``, the leave-one-out
residuals ``(Y − Ŷ_α) / (1 − h_α)`` with leverages ``h_α = 1/n + Σ_j U_ij² s_j²/(s_j²+α)`` (the
``1/n`` is the unpenalised intercept), and the weights of the chosen α per dimension
``W = V diag(s/(s²+α)) UᵀY``. This is scikit-learn's ``RidgeCV(alphas, alpha_per_target=True)``
(efficient leave-one-out) and is tested against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

from ..core import Result, make_table
from ..core._validation import check_array, check_ids, check_n_samples, check_same_length
from ..core.exceptions import NotFittedError, ValidationError
from ..core.metrics import pearson_score

__all__ = ["DEFAULT_ALPHAS", "RidgeDecoder", "decode_embeddings", "solve_ridge_loo"]

DEFAULT_ALPHAS = np.logspace(-2, 6, 17)


def solve_ridge_loo(
    X: np.ndarray, Y: np.ndarray, alphas: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ridge with a leave-one-out-chosen α per column of ``Y``.

    Returns ``coef`` (n_features, n_dims), ``intercept`` (n_dims,), ``alpha`` (n_dims,) and the
    leave-one-out mean squared error ``loo_mse`` (n_alphas, n_dims).
    """
    xm, ym = X.mean(0), Y.mean(0)
    Xc, Yc = X - xm, Y - ym
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    keep = s > s.max() * max(X.shape) * np.finfo(float).eps if s.size else s > 0
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    UtY = U.T @ Yc
    n = len(X)
    U2 = U * U
    loo = np.empty((len(alphas), Y.shape[1]))
    for i, a in enumerate(alphas):
        shrink = s**2 / (s**2 + a)
        resid = Yc - U @ (shrink[:, None] * UtY)
        lev = 1.0 / n + U2 @ shrink
        loo[i] = ((resid / (1 - lev)[:, None]) ** 2).mean(0)
    best = loo.argmin(0)
    coef = np.empty((X.shape[1], Y.shape[1]))
    for i in np.unique(best):
        cols = best == i
        coef[:, cols] = Vt.T @ ((s / (s**2 + alphas[i]))[:, None] * UtY[:, cols])
    return coef, ym - xm @ coef, alphas[best], loo


class RidgeDecoder(RegressorMixin, BaseEstimator):
    """Ridge from brain responses to embeddings, with a leave-one-out α per embedding dimension.

    Parameters
    ----------
    alphas : array-like
        Candidate penalties.
    standardize : bool
        z-score every target (voxel / channel) with the training mean and SD first.

    Attributes
    ----------
    coef_ : array (n_targets, n_dims)
    intercept_ : array (n_dims,)
    alpha_ : array (n_dims,)

    Examples
    --------
    >>> from neuroalign.data import make_decoding_problem
    >>> p = make_decoding_problem(300, 8, 100, noise=0.5, seed=0)
    >>> dec = RidgeDecoder().fit(p.responses[0][:200], p.latents[:200])
    >>> bool(dec.score(p.responses[0][200:], p.latents[200:]) > 0.5)
    True
    """

    def __init__(self, alphas: Any = DEFAULT_ALPHAS, standardize: bool = True) -> None:
        self.alphas = alphas
        self.standardize = standardize

    def fit(self, X: Any, y: Any) -> RidgeDecoder:
        X = check_array(X, "X", ndim=2, dtype=np.float64, min_rows=3)
        Y = check_array(y, "y", ndim=(1, 2), dtype=np.float64)
        check_same_length("y", len(Y), "X", len(X))
        self._1d = Y.ndim == 1
        Y = Y.reshape(len(Y), -1)
        alphas = np.atleast_1d(np.asarray(self.alphas, dtype=float))
        if (alphas <= 0).any():
            raise ValidationError(f"alphas must be > 0; got {alphas.tolist()}.")
        self.mean_ = X.mean(0)
        sd = X.std(0) if self.standardize else np.ones(X.shape[1])
        self.scale_ = np.where(sd == 0, 1.0, sd)
        coef, b, self.alpha_, self.loo_mse_ = solve_ridge_loo(
            (X - self.mean_) / self.scale_, Y, alphas
        )
        self.coef_ = coef / self.scale_[:, None]
        self.intercept_ = b - self.mean_ @ self.coef_
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise NotFittedError("RidgeDecoder is not fitted; call fit(X, y) first.")
        X = check_array(X, "X", ndim=2, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ValidationError(
                f"X has {X.shape[1]} features but the decoder was fit on {self.n_features_in_}."
            )
        out = X @ self.coef_ + self.intercept_
        return out[:, 0] if self._1d else out

    def score_targets(self, X: Any, y: Any) -> np.ndarray:
        """R² of every embedding dimension, shape (n_dims,)."""
        Y = np.asarray(y, dtype=float).reshape(len(y), -1)
        P = self.predict(X).reshape(len(Y), -1)
        ss = ((Y - Y.mean(0)) ** 2).sum(0)
        return 1 - ((Y - P) ** 2).sum(0) / np.where(ss == 0, 1.0, ss)


def _paired(
    X: Any, embeddings: Any, stimulus_ids: Any, embedding_ids: Any, model: str, layer: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, str]:
    """Brain rows and embedding rows of the same stimuli, joined by id through ``align``."""
    from ..core import Activations, Responses, align

    if isinstance(embeddings, Activations):
        names = list(embeddings.layer_names)
        if not layer and len(names) != 1:
            raise ValidationError(f"embeddings holds layers {names}; pass layer=...")
        layer = layer or names[0]
        if layer not in names:
            raise ValidationError(f"embeddings has no layer {layer!r}; it has {names}.")
        acts = embeddings.select_layers([layer])
        model = model or acts.model
    else:
        E = check_array(embeddings, "embeddings", ndim=2, dtype=np.float64)
        eids = embedding_ids if embedding_ids is not None else stimulus_ids
        if eids is None:
            raise ValidationError(
                "embeddings is an array without ids; pass embedding_ids (or stimulus_ids, the "
                "ids of the rows of both) or Activations."
            )
        eids = check_ids(eids, "embedding_ids" if embedding_ids is not None else "stimulus_ids")
        check_same_length("embedding ids", len(eids), "embeddings", len(E))
        acts = Activations(model or "embeddings", eids, {"embeddings": E})
    if isinstance(X, Responses):
        if X.data is None:
            raise ValidationError("X (Responses) has no data; average its repetitions first.")
        resp = X
    else:
        Xa = check_array(X, "X", ndim=2, dtype=np.float64)
        if stimulus_ids is None:
            raise ValidationError(
                "X is an array without ids; pass stimulus_ids (one per row) or Responses."
            )
        ids = check_ids(stimulus_ids)
        check_same_length("stimulus_ids", len(ids), "X", len(Xa))
        resp = Responses(ids, data=Xa)
    acts, resp = align(acts, resp)
    Xo = np.asarray(resp.data, dtype=np.float64)
    Xo = check_array(Xo.reshape(len(Xo), -1), "X", ndim=2)
    E = check_array(acts[acts.layer_names[0]], "embeddings", ndim=2, dtype=np.float64)
    return Xo, E, np.asarray(acts.stimulus_ids), model, layer


def decode_embeddings(
    X: Any,
    embeddings: Any,
    stimulus_ids: Any = None,
    *,
    embedding_ids: Any = None,
    cv: int = 5,
    alphas: Any = DEFAULT_ALPHAS,
    k: int | Sequence[int] = (1, 5),
    similarity: str = "cosine",
    seed: int = 0,
    model: str = "",
    layer: str = "",
    subject: str = "",
) -> Result:
    """Cross-validated brain → embedding ridge, scored by identification among held-out stimuli.

    Each fold fits :class:`RidgeDecoder` on the training stimuli and ranks the held-out stimuli's
    embeddings for every held-out response (:func:`~neuroalign.decode.identification`); values are
    means over folds (``se`` over folds), plus ``r2`` (mean over dimensions of the test R²).

    Rows of ``X`` and ``embeddings`` are paired by stimulus id (:func:`~neuroalign.core.align`):
    a stimulus missing on one side is a :class:`~neuroalign.core.exceptions.StimulusMismatchError`
    naming it, and the order of either side does not matter.

    Parameters
    ----------
    X : Responses or array (n_stimuli, n_targets)
        Brain responses (Responses: their ``data``, flattened per stimulus, and their ids).
    embeddings : Activations or array (n_stimuli, n_dims)
        Activations: the layer ``layer`` (default: the only one) and their ids.
    stimulus_ids : array (n_stimuli,), optional
        Unique ids of the rows of an array ``X`` (and of an array ``embeddings`` unless
        ``embedding_ids`` is given).
    embedding_ids : array (n_stimuli,), optional
        Unique ids of the rows of an array ``embeddings``, when they differ from ``X``'s.
    cv : int
        Folds (shuffled with ``seed``).
    alphas, k, similarity : see :class:`RidgeDecoder` and ``identification``.

    Returns
    -------
    Result
        kind ``"retrieval.embedding"``: rows ``top{k}``, ``rank``, ``pairwise`` (means over
        folds, with ``se``) with chance levels, and the embedding's fit on the out-of-fold
        predictions of every stimulus: ``r2`` pooled over dimensions (variance-weighted) and
        ``pearson`` (mean r per dimension); arrays ``predicted`` (out-of-fold embeddings) and ``alpha`` (per fold × dim).
    """
    from sklearn.model_selection import KFold

    from ._retrieval import identification

    X, E, ids, model, layer = _paired(X, embeddings, stimulus_ids, embedding_ids, model, layer)
    check_n_samples(len(X), cv, "X", min_per_fold=max(2, max([k] if isinstance(k, int) else k)))
    pred = np.empty_like(E)
    tables, alpha = [], []
    for train, test in KFold(cv, shuffle=True, random_state=seed).split(X):
        dec = RidgeDecoder(alphas).fit(X[train], E[train])
        pred[test] = dec.predict(X[test])
        alpha.append(dec.alpha_)
        t = identification(
            pred[test],
            E[test],
            query_ids=ids[test],
            candidate_ids=ids[test],
            k=k,
            similarity=similarity,
        ).table
        tables.append(t)
    allt = pd.concat(tables, ignore_index=True)
    g = allt.groupby("scoring", sort=False)
    rows = pd.DataFrame(
        {
            "scoring": list(g.groups),
            "value": g["value"].mean().to_numpy(),
            "se": (g["value"].std(ddof=1) / np.sqrt(cv)).to_numpy(),
            "chance": g["chance"].mean().to_numpy(),
        }
    )
    # the fit of the embedding itself, on the out-of-fold predictions of every stimulus: R² pooled
    # over dimensions (variance-weighted: a near-constant dimension cannot drive it to -280 as a
    # mean of per-dimension R² over small test folds did) and the mean Pearson r per dimension
    from sklearn.metrics import r2_score

    fit = pd.DataFrame(
        {
            "scoring": ["r2", "pearson"],
            "value": [
                float(r2_score(E, pred, multioutput="variance_weighted")),
                float(np.nanmean(np.asarray(pearson_score(E, pred)))),
            ],
            "se": [np.nan, np.nan],
            "chance": [0.0, 0.0],
        }
    )
    rows = pd.concat([rows, fit], ignore_index=True)
    table = make_table(
        rows,
        analysis="retrieval",
        model=model,
        layer=layer,
        subject=subject,
        method="ridge",
        statistic="cv_score",
        split="cv",
        n=len(X),
        resampled="none",
    )
    params = {"cv": cv, "similarity": similarity, "seed": seed, "k": k}
    return Result(
        table,
        kind="retrieval.embedding",
        arrays={"predicted": pred, "alpha": np.array(alpha)},
        params=params,
    )

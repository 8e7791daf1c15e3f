"""Temporal response functions: ridge on a time-delayed design, solved from lagged covariances.

``ReceptiveField(tmin, tmax, sfreq, alpha)`` has the names and shapes of
``mne.decoding.ReceptiveField`` (``fit(X, y)`` with ``X`` ``(n_times[, n_epochs], n_features)``,
``coef_`` ``(n_outputs, n_features, n_delays)``, ``delays_``, ``valid_samples_``) and equals its
``TimeDelayingRidge`` path: each epoch (run, trial) is delayed on its own with zero padding (lags
never cross an epoch boundary), features and outputs are centred with their mean over all times
and epochs when ``fit_intercept``, and the ridge penalty is ``α·‖w‖²`` on the unscaled sums of
squares (scikit-learn's ``Ridge`` convention).

The delay-embedded design ``Z`` (``n_times·n_epochs × n_features·n_delays``) is never built. Its
Gram matrix ``ZᵀZ`` is block-Toeplitz: the block of delays ``(d, e)`` is the cross-correlation of
the features at lag ``e − d`` minus the products that the zero padding removes at the epoch's
head and tail (a few rows each); ``Zᵀy`` holds the cross-correlations of features and outputs.
Both are computed a block of rows at a time, directly (one GEMM per block) or, from 24 delays on,
in the Fourier domain (overlap-save blocks, ``≈ 4·p·q`` flops per row instead of
``2·n_delays·p·q``). Cross-validation needs nothing else: per-epoch sums (Gram, cross-products,
sums over each delay's valid rows, row counts) give every training fit and every held-out score
exactly, including re-centring with the training epochs' means. α is then solved for a whole grid
at once in the eigenbasis of the training Gram matrix.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, RegressorMixin

from ..core._validation import check_array, check_choice
from ..core.exceptions import NotFittedError, ShapeError, ValidationError
from ._lagged import (
    _centred,
    _Stats,
    _valid_range,
    edge_stats,
    lagged_stats,
    times_to_delays,
)

__all__ = ["ReceptiveField", "lagged_stats", "times_to_delays"]


def _penalty(p: int, L: int, bands: list[np.ndarray] | None, ratios: tuple[float, ...]):
    """Per-coefficient penalty scale (P,) for one band-ratio candidate (1 without bands)."""
    scale = np.ones(p)
    if bands is not None:
        for b, r in zip(bands, ratios, strict=True):
            scale[b] = r
    return np.repeat(scale, L)


def _solve_grid(gram, cross, alphas, pen):
    """Ridge weights (n_alphas, P, o) for all α at once: (G + α·diag(pen)) w = c."""
    s = 1.0 / np.sqrt(pen)
    g = gram * s[:, None] * s[None, :]
    evals, evecs = linalg.eigh(g)
    proj = evecs.T @ (cross * s[:, None])
    out = np.empty((len(alphas), *cross.shape))
    for i, a in enumerate(alphas):
        out[i] = s[:, None] * (evecs @ (proj / (np.maximum(evals, 0) + a)[:, None]))
    return out


def _solve_one(gram, cross, alpha, pen):
    mat = np.array(gram, dtype=np.float64, copy=True)
    mat.flat[:: mat.shape[0] + 1] += alpha * pen
    try:
        return linalg.solve(mat, cross, assume_a="pos", overwrite_a=True, check_finite=False)
    except linalg.LinAlgError:
        mat = np.array(gram, dtype=np.float64, copy=True)
        mat.flat[:: mat.shape[0] + 1] += alpha * pen
        return linalg.lstsq(mat, cross)[0]


def _heldout_scores(w, b, s: _Stats, dx, scoring):
    """Scores (n_alphas, o) of ŷ = Z(X − dx)·w + b on a held-out epoch, from its statistics."""
    gram, cross = _centred(s, dx, np.zeros(s.ysum.shape))
    P = gram.shape[0]
    zsum_d = (np.einsum("fdd->fd", s.zsum) - dx[:, None] * np.diag(s.count)[None]).reshape(P)
    yh_sum = np.einsum("p,apo->ao", zsum_d, w) + s.n * b
    yh_sq = np.einsum("apo,pq,aqo->ao", w, gram, w) + 2 * b * (yh_sum - s.n * b) + s.n * b**2
    yh_y = np.einsum("apo,po->ao", w, cross) + b * s.ysum
    n = s.n
    if scoring == "r2":
        sse = s.ysq - 2 * yh_y + yh_sq
        sst = s.ysq - s.ysum**2 / n
        return 1 - sse / np.where(sst > 0, sst, np.inf)
    cov = yh_y - yh_sum * s.ysum / n
    vy = s.ysq - s.ysum**2 / n
    vh = yh_sq - yh_sum**2 / n
    den = np.sqrt(np.maximum(vy, 0) * np.maximum(vh, 0))
    return np.where(den > 0, cov / np.where(den > 0, den, 1), 0.0)


def _mean_without(epochs: list[np.ndarray], fold: np.ndarray) -> np.ndarray:
    keep = np.setdiff1d(np.arange(len(epochs)), fold)
    return _mean([epochs[e] for e in keep])


def _mean(epochs: list[np.ndarray]) -> np.ndarray:
    """Mean over all rows of all epochs (float64)."""
    total = sum(e.sum(axis=0, dtype=np.float64) for e in epochs)
    return np.asarray(total) / sum(len(e) for e in epochs)


def _pearson(y, yhat):
    yc = y - y.mean(0)
    hc = yhat - yhat.mean(0)
    den = np.sqrt((yc**2).sum(0) * (hc**2).sum(0))
    return np.where(den > 0, (yc * hc).sum(0) / np.where(den > 0, den, 1), 0.0)


def _r2(y, yhat):
    sst = ((y - y.mean(0)) ** 2).sum(0)
    return 1 - ((y - yhat) ** 2).sum(0) / np.where(sst > 0, sst, np.inf)


#: scoring name (MNE's) → per-output score function ``f(y_true, y_pred) -> (n_outputs,)``
TRF_SCORERS = {"r2": _r2, "corrcoef": _pearson}


class ReceptiveField(RegressorMixin, BaseEstimator):
    """Temporal response function (forward/encoding or backward/decoding) by ridge regression.

    Parameters
    ----------
    tmin, tmax : float
        First and last lag in seconds (``sfreq=1`` for samples). Positive lags: the output at
        ``t`` depends on the input at ``t − lag`` (forward models: tmin ≥ 0); a backward model
        (stimulus reconstruction from the brain) uses negative lags, e.g. ``tmin=-0.25, tmax=0``.
    sfreq : float
        Sampling rate of X and y in Hz.
    alpha : float or sequence of float
        Ridge penalty. A scalar fits that α; a sequence selects one α per output by
        cross-validation over epochs (leave-one-epoch-out, or ``cv`` grouped folds; never
        splitting an epoch). Default a log grid 10⁻²…10⁸.
    fit_intercept : bool
        Centre X and y with their means over all times and epochs (as MNE).
    scoring : {"r2", "corrcoef"}
        Per-output score (MNE's names) of ``score_targets`` and of α selection; ``score``
        averages it over outputs.
    bands : sequence of sequences of int, optional
        Feature groups (feature spaces) each with its own α: α_b = α · ratio_b, the ratios
        chosen by cross-validation from ``band_ratios`` (the first band fixed at 1).
    band_ratios : sequence of float
        Candidate ratios for the bands after the first.
    cv : int, optional
        Number of grouped folds over epochs for α selection; default one fold per epoch.
    dtype : {"float32", "float64"}
        Precision of the lagged products (accumulated and solved in float64).
    feature_names : sequence of str, optional
        Kept for MNE compatibility and plots.

    Attributes
    ----------
    coef_ : array (n_outputs, n_features, n_delays), or (n_features, n_delays) for 1-D y
    intercept_ : array (n_outputs,) or float
    delays_ : int array (n_delays,)
    valid_samples_ : slice of the rows unaffected by the zero padding
    alpha_ : array (n_outputs,) chosen α; ``band_ratios_`` (n_outputs, n_bands) with bands
    cv_scores_ : array (n_candidates, n_outputs) held-out scores when α was selected, each
        held-out epoch scored as :meth:`score` scores it (rows ``valid_samples_``), so the
        choice does not depend on the features' mean

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((500, 2))
    >>> y = np.convolve(X[:, 0], [0, 1, 0.5], mode="full")[:500, None]
    >>> rf = ReceptiveField(0, 2, 1.0, alpha=1e-3).fit(X, y)
    >>> rf.coef_.shape, np.round(rf.coef_[0, 0], 2)
    ((1, 2, 3), array([0. , 1. , 0.5]))
    """

    def __init__(
        self,
        tmin: float,
        tmax: float,
        sfreq: float,
        alpha: Any = None,
        *,
        fit_intercept: bool = True,
        scoring: str = "r2",
        bands: Any = None,
        band_ratios: Any = (0.01, 0.1, 1.0, 10.0, 100.0),
        cv: int | None = None,
        dtype: str = "float32",
        feature_names: Any = None,
    ) -> None:
        self.tmin = tmin
        self.tmax = tmax
        self.sfreq = sfreq
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.scoring = scoring
        self.bands = bands
        self.band_ratios = band_ratios
        self.cv = cv
        self.dtype = dtype
        self.feature_names = feature_names

    # -- inputs ------------------------------------------------------------------------------
    def _epochs(
        self, X: Any, name: str, *, n_feat: int | None = None
    ) -> tuple[list[np.ndarray], str]:
        """X as a list of (n_times_e, n_features) epochs and its layout ("2d", "3d", "list")."""
        dt = np.dtype(self.dtype)
        if isinstance(X, (list, tuple)):
            if not X:
                raise ValidationError(f"{name} is an empty list; give at least one epoch.")
            eps = [check_array(e, f"{name}[{i}]", ndim=(1, 2), dtype=dt) for i, e in enumerate(X)]
            eps = [e[:, None] if e.ndim == 1 else e for e in eps]
            kind = "list"
        else:
            arr = check_array(X, name, ndim=(1, 2, 3), dtype=dt)
            if arr.ndim == 3:
                eps, kind = [arr[:, e] for e in range(arr.shape[1])], "3d"
            else:
                eps, kind = [arr[:, None] if arr.ndim == 1 else arr], "2d"
        widths = {e.shape[1] for e in eps}
        if len(widths) > 1:
            raise ShapeError(f"the epochs of {name} have different numbers of features: {widths}.")
        if n_feat is not None and eps[0].shape[1] != n_feat:
            raise ShapeError(
                f"{name} has {eps[0].shape[1]} features; the model was fit on {n_feat}."
            )
        return eps, kind

    def _epochs_y(self, Xs: list[np.ndarray], y: Any, kind: str) -> tuple[list[np.ndarray], bool]:
        """y as epochs matching ``Xs`` (each (n_times_e, n_outputs)) and whether y was 1-D."""
        dt = np.dtype(self.dtype)
        lengths = [len(e) for e in Xs]
        if kind == "list":
            if not isinstance(y, (list, tuple)) or len(y) != len(Xs):
                raise ShapeError(
                    f"X is a list of {len(Xs)} epochs; give y as a list of as many arrays."
                )
            ys = [check_array(e, f"y[{i}]", ndim=(1, 2), dtype=dt) for i, e in enumerate(y)]
            one_d = ys[0].ndim == 1
            ys = [e[:, None] if e.ndim == 1 else e for e in ys]
        else:
            arr = check_array(y, "y", ndim=(1, 2, 3), dtype=dt)
            n_e = len(Xs)
            if kind == "3d":
                one_d = arr.ndim == 2 and arr.shape == (lengths[0], n_e)
                arr3 = arr[..., None] if one_d else arr
                if arr3.ndim != 3 or arr3.shape[:2] != (lengths[0], n_e):
                    raise ShapeError(
                        f"y has shape {arr.shape} but X has {lengths[0]} times and {n_e} epochs; "
                        "give y as (n_times, n_epochs[, n_outputs])."
                    )
                ys = [arr3[:, e] for e in range(n_e)]
            else:
                one_d = arr.ndim == 1
                ys = [arr[:, None] if one_d else arr]
                if arr.ndim == 3:
                    raise ShapeError(f"y has shape {arr.shape} but X is 2-D (one epoch).")
        for i, (a, b) in enumerate(zip(Xs, ys, strict=True)):
            if len(a) != len(b):
                raise ShapeError(
                    f"y has shape {b.shape} in epoch {i} but X has {len(a)} times there; give y "
                    "as (n_times[, n_epochs][, n_outputs]) matching X."
                )
        return ys, one_d

    def _alphas(self) -> tuple[np.ndarray, bool]:
        if self.alpha is None:
            return np.logspace(-2, 8, 11), True
        a = np.atleast_1d(np.asarray(self.alpha, dtype=float))
        if a.ndim != 1 or a.size == 0 or np.any(a < 0) or not np.all(np.isfinite(a)):
            raise ValidationError(
                f"alpha must be a non-negative float or a 1-D grid of them; got {self.alpha!r}."
            )
        return a, np.ndim(self.alpha) > 0

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> ReceptiveField:
        """Fit on X ``(n_times[, n_epochs], n_features)`` and y ``(n_times[, n_epochs][,
        n_outputs])``; or on lists of epochs of different lengths (``X[e]`` ``(n_times_e,
        n_features)``, ``y[e]`` ``(n_times_e[, n_outputs])``)."""
        check_choice(self.scoring, "scoring", TRF_SCORERS)
        check_choice(str(self.dtype), "dtype", ("float32", "float64"))
        Xs, kind = self._epochs(X, "X")
        ys, self._y_1d = self._epochs_y(Xs, y, kind)
        self.delays_ = times_to_delays(self.tmin, self.tmax, self.sfreq)
        d = self.delays_
        self.valid_samples_ = slice(
            int(d[-1]) if d[-1] > 0 else None, int(d[0]) if d[0] < 0 else None
        )
        alphas, select = self._alphas()
        n_e, p, o = len(Xs), Xs[0].shape[1], ys[0].shape[1]
        L = len(d)
        bands = self._check_bands(p)
        if self.feature_names is not None and len(self.feature_names) != p:
            raise ShapeError(f"feature_names has {len(self.feature_names)} names for {p} features.")
        n_folds = n_e if self.cv is None else int(self.cv)
        if select and not 2 <= n_folds <= n_e:
            raise ValidationError(
                f"selecting α by cross-validation needs at least 2 epochs (got {n_e}) and "
                f"2 ≤ cv ≤ n_epochs (got cv={self.cv}); give X as (n_times, n_epochs, "
                "n_features) or a scalar alpha."
            )
        mx = _mean(Xs) if self.fit_intercept else np.zeros(p)
        my = _mean(ys) if self.fit_intercept else np.zeros(o)
        Xc = [e - mx.astype(e.dtype) for e in Xs]
        yc = [e - my.astype(e.dtype) for e in ys]
        # per-epoch statistics are kept only when α is selected (each is (n_features·n_delays)²)
        per_epoch: list[_Stats] = []  # each epoch's statistics, and those of its valid rows
        valid: list[_Stats] = []
        total: _Stats | None = None
        for a, b in zip(Xc, yc, strict=True):
            st = lagged_stats(a, b, d)
            total = st if total is None else total + st
            if select:
                per_epoch.append(st)
                valid.append(st - edge_stats(a, b, d))
        assert total is not None
        if bands is None:
            ratio_sets: list[tuple[float, ...]] = [()]
        else:
            ratio_sets = [
                (1.0, *r) for r in itertools.product(self.band_ratios, repeat=len(bands) - 1)
            ]
        if select:
            folds = np.array_split(np.arange(n_e), n_folds)
            scores = np.zeros((len(ratio_sets), len(alphas), o))
            for fold in folds:
                held = per_epoch[fold[0]]
                held_valid = valid[fold[0]]
                for e in fold[1:]:
                    held = held + per_epoch[e]
                    held_valid = held_valid + valid[e]
                train = total - held
                # training-epoch means (in the globally centred coordinates); held-out epochs
                # are scored as score() scores them: predicted as predict() does (raw X,
                # training intercept) on the rows no zero padding reaches (valid_samples_).
                # Scoring the padded edge rows too made α depend on the features' mean: padded
                # zeros are −mean/sd away from centred features (5 SDs: α 10 → 100)
                dx = _mean_without(Xc, fold) if self.fit_intercept else np.zeros(p)
                dy = _mean_without(yc, fold) if self.fit_intercept else np.zeros(o)
                gram, cross = _centred(train, dx, dy)
                for ri, ratios in enumerate(ratio_sets):
                    pen = _penalty(p, L, bands, ratios)
                    w = _solve_grid(gram, cross, alphas, pen)
                    b = dy - np.einsum("p,apo->ao", np.repeat(mx + dx, L), w)
                    sc = _heldout_scores(w, b, held_valid, -mx, self.scoring)
                    scores[ri] += sc * len(fold)
            scores /= n_e
            flat = scores.reshape(-1, o)
            best = np.argmax(flat, axis=0)
            self.cv_scores_ = flat
            best_r, best_a = np.unravel_index(best, scores.shape[:2])
        else:
            best_r = np.zeros(o, dtype=int)
            best_a = np.zeros(o, dtype=int)
            if len(ratio_sets) > 1:
                raise ValidationError(
                    "bands= needs an alpha grid to choose the per-band ratios by "
                    "cross-validation; give alpha as a sequence (or None for the default grid)."
                )
        gram, cross = _centred(total, np.zeros(p), np.zeros(o))
        W = np.empty((p * L, o))
        for ri, ai in sorted(set(zip(best_r.tolist(), best_a.tolist(), strict=False))):
            cols = np.flatnonzero((best_r == ri) & (best_a == ai))
            pen = _penalty(p, L, bands, ratio_sets[ri])
            W[:, cols] = _solve_one(gram, cross[:, cols], alphas[ai], pen)
        self.alpha_ = alphas[best_a]
        if bands is not None:
            self.band_ratios_ = np.array([ratio_sets[r] for r in best_r])
        coef = W.T.reshape(o, p, L)
        self.intercept_ = my - np.einsum("f,ofl->o", mx, coef)
        self.coef_ = coef[0] if self._y_1d else coef
        self.n_features_in_ = p
        return self

    def _check_bands(self, p: int) -> list[np.ndarray] | None:
        if self.bands is None:
            return None
        bands = [np.asarray(b, dtype=int).ravel() for b in self.bands]
        allf = np.concatenate(bands) if bands else np.array([], int)
        if len(bands) < 2 or np.sort(allf).tolist() != list(range(p)):
            raise ValidationError(
                f"bands must split the {p} features into ≥ 2 groups, each feature in exactly one "
                f"(e.g. [[0, 1], [2, 3, 4]]); got {self.bands!r}."
            )
        return bands

    # -- predict / score ---------------------------------------------------------------------
    def _coef3(self) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise NotFittedError("This ReceptiveField is not fitted yet; call fit(X, y) first.")
        return self.coef_[None] if self._y_1d else self.coef_

    def predict(self, X: Any) -> Any:
        """Predictions ``(n_times[, n_epochs][, n_outputs])`` (a list of arrays for a list of
        epochs), zero padding at the edges (as MNE); rows ``valid_samples_`` are free of edge
        effects."""
        coef = self._coef3()
        Xs, kind = self._epochs(X, "X", n_feat=coef.shape[1])
        preds = [self._predict_epoch(e, coef) for e in Xs]
        if self._y_1d:
            preds = [p_[:, 0] for p_ in preds]
        if kind == "list":
            return preds
        if kind == "2d":
            return preds[0]
        return np.stack(preds, axis=1)

    def _predict_epoch(self, X: np.ndarray, coef: np.ndarray) -> np.ndarray:
        n_t = X.shape[0]
        out = np.zeros((n_t, coef.shape[0]), dtype=np.float64)
        cf = coef.astype(X.dtype)
        for i, d in enumerate(self.delays_):
            lo, hi = _valid_range(n_t, int(d))
            if hi > lo:
                out[lo:hi] += X[lo - d : hi - d] @ cf[:, :, i].T
        return out + self.intercept_

    def score_targets(self, X: Any, y: Any) -> np.ndarray:
        """Per-output score (``scoring``) on the rows ``valid_samples_`` of every epoch."""
        coef = self._coef3()
        Xs, kind = self._epochs(X, "X", n_feat=coef.shape[1])
        ys, _ = self._epochs_y(Xs, y, kind)
        vs = self.valid_samples_
        yt = np.concatenate([e[vs] for e in ys]).astype(np.float64)
        yp = np.concatenate([self._predict_epoch(e, coef)[vs] for e in Xs])
        return TRF_SCORERS[self.scoring](yt, yp)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean over outputs of :meth:`score_targets` (one float, as scikit-learn)."""
        return float(np.mean(self.score_targets(X, y)))

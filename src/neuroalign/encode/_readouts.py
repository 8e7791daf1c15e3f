"""Readouts beyond ridge on flattened features: a factorised spatial × feature readout on feature
maps and an attention readout (learned queries cross-attending over tokens).

Both are scikit-learn estimators trained by Adam with early stopping on a validation split
(``_torch_fit``); torch is imported inside methods only. ``score`` is ONE float (mean Pearson r
over targets); ``score_targets`` gives the per-target values.

Costs (n stimuli, C channels, S = H·W positions, V targets) per epoch: the factorised readout does
two GEMMs of ``n·S·C·V`` multiply-adds (forward ``F·Wᵀ``, backward ``dHᵀ·F``), i.e. ``≈ 4·n·S·C·V``
FLOPs; the attention readout ``O(n·T·D·d + n·V·d)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..core._validation import check_array, check_positive
from ..core.exceptions import ShapeError, ValidationError
from ..core.metrics import pearson_score
from ._torch_fit import (
    _torch,
    check_responses,
    parse_bytes,
    resolve_device,
    train_early_stopping,
    train_val_split,
)

__all__ = ["AttentionReadout", "FactorizedReadout", "as_feature_maps", "as_tokens"]


# ----------------------------------------------------------------------------- input shapes
def _stack(X: Any, name: str) -> np.ndarray:
    if isinstance(X, (list, tuple)) and len(X) and hasattr(X[0], "shape"):
        shapes = sorted({tuple(np.shape(x)) for x in X})
        if len(shapes) > 1:
            raise ShapeError(
                f"{name}: the stimuli have different shapes {shapes[:4]} (token counts or map "
                "sizes differ across stimuli); pad, crop or pool them to one shape first."
            )
        X = np.stack([np.asarray(x) for x in X])
    return check_array(X, name, dtype=np.float32)


def as_feature_maps(X: Any, feature_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``X`` as float32 feature maps (n_stimuli, channels, height, width).

    4-D input is taken as is; 2-D input (flattened layers, as in ``Activations``) is reshaped with
    ``feature_shape=(C, H, W)``. Anything else raises a :class:`ShapeError` saying what works.
    """
    F = _stack(X, "X")
    if F.ndim == 2 and feature_shape is not None:
        shape = tuple(int(s) for s in feature_shape)
        if len(shape) != 3 or math.prod(shape) != F.shape[1]:
            raise ShapeError(
                f"feature_shape={feature_shape!r} does not fit X with {F.shape[1]} features per "
                "stimulus; give (channels, height, width) whose product is that number."
            )
        F = F.reshape(len(F), *shape)
    if F.ndim != 4:
        raise ShapeError(
            f"a spatial readout needs feature maps (n_stimuli, channels, height, width); got X of "
            f"shape {F.shape}. Pass 4-D maps, or 2-D flattened maps with feature_shape=(C, H, W); "
            "for pooled or token features without spatial axes use RidgeEncoder or AttentionReadout."
        )
    return F


def as_tokens(X: Any, feature_shape: tuple[int, ...] | None = None) -> tuple[np.ndarray, tuple]:
    """``X`` as float32 tokens (n_stimuli, n_tokens, dim) and the grid of the tokens.

    3-D input is tokens (grid ``(T,)``); 4-D feature maps (n, C, H, W) become H·W tokens of
    dimension C (grid ``(H, W)``); 2-D input is reshaped with ``feature_shape`` (``(T, D)`` or
    ``(C, H, W)``).
    """
    T = _stack(X, "X")
    if T.ndim == 2 and feature_shape is not None:
        if math.prod(feature_shape) != T.shape[1] or len(feature_shape) not in (2, 3):
            raise ShapeError(
                f"feature_shape={feature_shape!r} does not fit X with {T.shape[1]} features per "
                "stimulus; give (n_tokens, dim) or (channels, height, width)."
            )
        T = T.reshape(len(T), *feature_shape)
    if T.ndim == 4:
        n, c, h, w = T.shape
        return np.ascontiguousarray(T.reshape(n, c, h * w).transpose(0, 2, 1)), (h, w)
    if T.ndim != 3:
        raise ShapeError(
            f"an attention readout needs tokens (n_stimuli, n_tokens, dim) or feature maps "
            f"(n_stimuli, channels, height, width); got X of shape {T.shape}. For 2-D flattened "
            "features pass feature_shape=(n_tokens, dim) or (C, H, W)."
        )
    return T, (T.shape[1],)


# ----------------------------------------------------------------------------- shared base
class _TorchReadout(BaseEstimator):
    """Validation, the score methods and the fitted-state check shared by the readouts."""

    def _prepare(self, X: np.ndarray, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        Y, self._y_1d = check_responses(y, len(X))
        for name in ("lr", "batch_size", "max_epochs", "patience"):
            check_positive(getattr(self, name), name)
        tr, va = train_val_split(len(X), self.val_fraction, self.seed)
        self.device_ = resolve_device(self.device)
        self.n_targets_ = Y.shape[1]
        return Y, tr, va

    def _finish(self, pred: np.ndarray) -> np.ndarray:
        return pred[:, 0] if self._y_1d else pred

    def score_targets(self, X: Any, y: Any) -> np.ndarray:
        """Pearson r of the predictions per target, shape (n_targets,)."""
        Y = check_array(y, "y", ndim=(1, 2))
        pred = np.asarray(self.predict(X)).reshape(len(Y), -1)
        return pearson_score(Y.reshape(len(Y), -1).astype(np.float64), pred.astype(np.float64))

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean Pearson r over targets (one float; per target: :meth:`score_targets`)."""
        if sample_weight is not None:
            raise ValidationError(f"{type(self).__name__}.score does not support sample_weight.")
        return float(np.nanmean(self.score_targets(X, y)))

    @property
    def best_cv_scores_(self) -> np.ndarray:
        """Validation-split Pearson r per target at the kept epoch (training data only)."""
        check_is_fitted(self)
        return self.val_scores_


def _standardize(a: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    mean = a.mean(axes, dtype=np.float64)
    sd = a.std(axes, dtype=np.float64)
    return mean.astype(np.float32), np.where(sd > 0, sd, 1.0).astype(np.float32)


def _prepare_maps(
    F: np.ndarray, tr: np.ndarray, n_components: int | None, device: str
) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray | None]:
    """Standardised maps as a torch tensor (n, S, K), channels last, built chunk by chunk.

    Channel means and SDs come from the training stimulus rows ``tr``. With ``n_components``,
    the channels are projected on the top principal axes of their (standardised) covariance
    over stimuli and positions (``basis`` (C, K)); otherwise K = C and ``basis`` is None.
    """
    torch = _torch()
    n, C, H, W = F.shape
    S = H * W
    rows = max(1, 2**26 // (C * S))
    total, sq = np.zeros(C), np.zeros(C)
    for i in range(0, len(tr), rows):
        block = torch.as_tensor(F[tr[i : i + rows]]).double()
        total += block.sum((0, 2, 3)).numpy()
        sq += (block**2).sum((0, 2, 3)).numpy()
    count = len(tr) * S
    mu = total / count
    sd = np.sqrt(np.maximum(sq / count - mu**2, 0.0))
    sd = np.where(sd > 0, sd, 1.0)
    mu_t = torch.as_tensor(mu, dtype=torch.float32)
    sd_t = torch.as_tensor(sd, dtype=torch.float32)

    def standard(i: int) -> Any:  # (rows, S, C) float32
        block = torch.as_tensor(F[i : i + rows]).reshape(-1, C, S).transpose(1, 2)
        return (block - mu_t) / sd_t

    basis = None
    if n_components is not None:
        k = int(n_components)
        if not 1 <= k <= C:
            raise ValidationError(f"n_components must be in [1, {C}] (the channels); got {k}.")
        cov = torch.zeros((C, C), dtype=torch.float64)
        for i in range(0, n, rows):
            sel = np.intersect1d(np.arange(i, min(n, i + rows)), tr) - i
            block = standard(i)[torch.as_tensor(sel)].reshape(-1, C).double()
            cov += block.T @ block
        _, vecs = torch.linalg.eigh(cov)
        basis = vecs[:, -k:].flip(1).float()
    K = C if basis is None else basis.shape[1]
    out = torch.empty((n, S, K), dtype=torch.float32, device=device)
    for i in range(0, n, rows):
        block = standard(i)
        out[i : i + rows] = (block if basis is None else block @ basis).to(device)
    return out, mu, sd, (None if basis is None else basis.double().numpy())


def _laplacian(m: Any) -> Any:
    """Discrete Laplacian of masks (V, H, W) with replicated edges (a uniform mask has none)."""
    torch = _torch()
    p = torch.nn.functional.pad(m[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    return 4 * m - p[:, :-2, 1:-1] - p[:, 2:, 1:-1] - p[:, 1:-1, :-2] - p[:, 1:-1, 2:]


def _ridge_gcv(P: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Ridge weights (K, V) of centred ``P`` (n, K) with one α chosen by generalised
    cross-validation: one SVD, one product ``AᵀY``, then every α in closed form."""
    A, sv, Bt = np.linalg.svd(P.astype(np.float64), full_matrices=False)
    AtY = A.T @ Y.astype(np.float64)  # (K, V)
    proj = (AtY**2).sum(1)  # energy of Y along each singular direction
    outside = float((Y.astype(np.float64) ** 2).sum() - proj.sum())
    s2, n = sv**2, len(P)
    best, best_gcv = 1.0, np.inf
    for alpha in np.logspace(-3, 5, 17) * max(s2.mean(), 1e-12):
        shrink = s2 / (s2 + alpha)
        gcv = (outside + (((1 - shrink) ** 2) * proj).sum()) / max(n - shrink.sum(), 1e-3) ** 2
        if gcv < best_gcv:
            best, best_gcv = alpha, gcv
    W = Bt.T @ ((sv / (s2 + best))[:, None] * AtY)
    return W.astype(np.float32)


# ----------------------------------------------------------------------------- factorised
class FactorizedReadout(_TorchReadout):
    """Factorised spatial × feature readout: ``y_v = Σ_c w_vc Σ_s m_vs F_cs + b_v``.

    Each target has a spatial mask ``m_v`` (its receptive field on the feature map) and feature
    weights ``w_v``: V·(S + C) parameters instead of V·S·C for ridge on flattened maps. The masks
    are penalised for roughness (squared discrete Laplacian) and size (L1), the feature weights
    by L2. Features are standardised per channel and responses per target; the masks start
    uniform and the feature weights at ridge on the spatially averaged features, so training
    starts from the average-pooling readout. Adam on minibatches of stimuli; each target keeps
    the parameters of its best epoch on a validation split (targets share no parameter).

    Parameters
    ----------
    feature_shape : (C, H, W), optional
        Shape of one stimulus's maps when ``X`` is passed flattened (2-D).
    n_components : int, optional
        Fit the feature weights in the span of the top ``n_components`` principal axes of the
        channels (covariance over training stimuli and positions): ``C / n_components`` times
        less compute, exact when the channels have at most that many dimensions. ``None``: all.
    smoothness, sparsity : float
        Weights of the Laplacian and L1 penalties on the masks.
    alpha : float
        Weight of the L2 penalty on the feature weights.
    lr, batch_size, max_epochs, patience : training (Adam step, stimuli per step, epochs,
        epochs without improvement before stopping).
    val_fraction : float
        Fraction of the training stimuli held out for early stopping.
    memory_budget : int or str
        Bytes for the per-step intermediate (chunks of targets are processed in turn).
    device : {"cpu", "cuda", "cuda:N"} or None
    seed : int
        Seeds the split, initialisation and batch order (deterministic on CPU).
    quiet : bool

    Attributes
    ----------
    masks_ : array (n_targets, H, W)
        Spatial receptive fields, unit L2 norm, largest entry positive.
    feature_weights_ : array (n_targets, C)
        In the units of the raw features (standardisation folded in), scaled so that
        ``predict`` = ``einsum("nchw,vhw,vc->nv", X, masks_, feature_weights_) + intercept_``.
    intercept_ : array (n_targets,)
    val_scores_ : array (n_targets,)
        Pearson r on the validation split at each target's kept epoch.
    history_ : list of float
        Mean validation loss (standardised units) before training and after each epoch.

    Examples
    --------
    >>> from neuroalign.data import make_spatial_rf_targets
    >>> sim = make_spatial_rf_targets(n_stimuli=150, n_channels=4, size=6, n_targets=3, seed=0)
    >>> est = FactorizedReadout(max_epochs=10, seed=0).fit(sim.features[:120], sim.responses[:120])
    >>> est.masks_.shape, est.score(sim.features[120:], sim.responses[120:]) > 0.5
    ((3, 6, 6), True)
    """

    def __init__(
        self,
        feature_shape: tuple[int, int, int] | None = None,
        n_components: int | None = None,
        smoothness: float = 0.1,
        sparsity: float = 0.01,
        alpha: float = 0.01,
        lr: float = 0.03,
        batch_size: int = 64,
        max_epochs: int = 50,
        patience: int = 5,
        val_fraction: float = 0.1,
        memory_budget: int | str = "1GB",
        device: str | None = None,
        seed: int = 0,
        quiet: bool = True,
    ) -> None:
        self.feature_shape = feature_shape
        self.n_components = n_components
        self.smoothness = smoothness
        self.sparsity = sparsity
        self.alpha = alpha
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_fraction = val_fraction
        self.memory_budget = memory_budget
        self.device = device
        self.seed = seed
        self.quiet = quiet

    def fit(self, X: Any, y: Any) -> FactorizedReadout:
        """Fit on feature maps ``X`` (n_stimuli, C, H, W) and responses ``y`` (n_stimuli[, V])."""
        torch = _torch()
        F = as_feature_maps(X, self.feature_shape)
        Y, tr, va = self._prepare(F, y)
        _, C, H, W = F.shape
        S, V = H * W, Y.shape[1]
        budget = parse_bytes(self.memory_budget)
        dev = self.device_
        # standardised maps, channels last (n, S, K): the forward product F·Wᵀ is one GEMM
        Fs, mu, sd, basis = _prepare_maps(F, tr, self.n_components, dev)
        K = Fs.shape[2]
        # contract the smaller of (positions, channels) last: the per-step intermediate is
        # (batch, min(S, K), targets), the GEMM of either order costs batch·S·K·targets
        channels_first = K < S
        if channels_first:
            Fs = Fs.transpose(1, 2).contiguous()  # (n, K, S)
        ym, ys = _standardize(Y[tr], (0,))
        Ys = torch.as_tensor((Y - ym) / ys).to(dev)
        tr_t = torch.as_tensor(tr, device=dev)
        space = 2 if channels_first else 1
        pooled = torch.cat([Fs[tr_t[i : i + 256]].mean(space) for i in range(0, len(tr), 256)])
        W0 = _ridge_gcv(pooled.cpu().numpy(), Ys[tr].cpu().numpy())  # (K, V)
        # parameters in units where Adam's step is relative: masks = m·S^-½, weights = w·K^-½
        m_unit, w_unit = S**-0.5, K**-0.5
        M = torch.nn.Parameter(torch.ones((V, S), device=dev))
        Wt = torch.nn.Parameter(torch.as_tensor(W0.T * (K / S) ** 0.5).contiguous().to(dev))
        b = torch.nn.Parameter(torch.zeros(V, device=dev))
        params = {"masks": M, "weights": Wt, "bias": b}
        chunk = max(1, budget // (3 * 4 * max(self.batch_size, 1) * min(S, K)))

        def penalty(Mc: Any, Wc: Any) -> Any:
            lap = _laplacian(Mc.reshape(-1, H, W))
            return (
                self.smoothness * (lap**2).sum()
                + self.sparsity * Mc.abs().sum()
                + self.alpha * (Wc**2).sum()
            )

        def forward(xb: Any, sl: slice) -> Any:
            masks, weights = m_unit * M[sl], w_unit * Wt[sl]
            if channels_first:
                return ((xb @ masks.T) * weights.T).sum(1) + b[sl]
            return ((xb @ weights.T) * masks.T).sum(1) + b[sl]

        def step(idx: np.ndarray) -> float:
            rows = tr_t[torch.as_tensor(idx, device=dev)]
            xb, yb = Fs[rows], Ys[rows]
            total = 0.0
            for s0 in range(0, V, chunk):
                sl = slice(s0, min(V, s0 + chunk))
                err = ((forward(xb, sl) - yb[:, sl]) ** 2).mean(0).sum()
                loss = err + penalty(m_unit * M[sl], w_unit * Wt[sl])
                loss.backward()
                total += float(loss.detach())
            return total

        va_t = torch.as_tensor(va, device=dev)

        def val_pred() -> Any:
            return self._apply(Fs[va_t], lambda xb, sl: forward(xb, sl), V, chunk)

        def val_loss() -> Any:
            return ((val_pred() - Ys[va_t]) ** 2).mean(0)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.history_ = train_early_stopping(
                params,
                step,
                val_loss,
                len(tr),
                batch_size=self.batch_size,
                max_epochs=self.max_epochs,
                patience=self.patience,
                lr=self.lr,
                seed=self.seed,
                per_target=True,
                quiet=self.quiet,
                description="fit factorised readout",
            )
        with torch.no_grad():
            self.val_scores_ = pearson_score(
                Ys[va_t].cpu().numpy().astype(np.float64), val_pred().cpu().numpy()
            )
            m = m_unit * M.detach().cpu().numpy().astype(np.float64)
            w = w_unit * Wt.detach().cpu().numpy().astype(np.float64)
            bb = b.detach().cpu().numpy().astype(np.float64)
        # back from the channel basis, fold the standardisation in, then normalise the masks
        if basis is not None:
            w = w @ basis.T
        w = w * ys[:, None] / sd[None, :]
        intercept = ym + ys * bb - (w @ mu) * m.sum(1)
        peak = m[np.arange(V), np.abs(m).argmax(1)]
        scale = np.linalg.norm(m, axis=1) * np.sign(peak)
        scale[scale == 0] = 1.0
        self.masks_ = (m / scale[:, None]).reshape(V, H, W).astype(np.float32)
        self.feature_weights_ = (w * scale[:, None]).astype(np.float32)
        self.intercept_ = intercept.astype(np.float32)
        self.n_epochs_ = len(self.history_) - 1
        self.feature_shape_ = (C, H, W)
        return self

    def _apply(self, xs: Any, fn: Any, V: int, chunk: int) -> Any:
        torch = _torch()
        out = torch.empty((len(xs), V), device=xs.device)
        rows = max(1, self.batch_size * 4)
        for r0 in range(0, len(xs), rows):
            for s0 in range(0, V, chunk):
                sl = slice(s0, min(V, s0 + chunk))
                out[r0 : r0 + rows, sl] = fn(xs[r0 : r0 + rows], sl)
        return out

    def predict(self, X: Any) -> np.ndarray:
        """Predicted responses (n_stimuli, n_targets) for feature maps ``X``."""
        check_is_fitted(self, "masks_")
        torch = _torch()
        F = as_feature_maps(X, self.feature_shape)
        if F.shape[1:] != self.feature_shape_:
            raise ShapeError(
                f"X has maps of shape {F.shape[1:]}; this readout was fitted on {self.feature_shape_}."
            )
        n, C, H, W = F.shape
        V, S = self.n_targets_, H * W
        dev = self.device_
        Mt = torch.as_tensor(self.masks_.reshape(V, S), device=dev)
        Wt = torch.as_tensor(self.feature_weights_, device=dev)
        Ft = torch.as_tensor(F.reshape(n, C, S))  # (n, C, S): contract S first when C < S
        if C < S:
            fn = lambda xb, sl: ((xb.to(dev) @ Mt[sl].T) * Wt[sl].T).sum(1)  # noqa: E731
        else:
            Ft = Ft.transpose(1, 2)
            fn = lambda xb, sl: ((xb.to(dev) @ Wt[sl].T) * Mt[sl].T).sum(1)  # noqa: E731
        rows = max(1, self.batch_size * 4)
        chunk = max(1, parse_bytes(self.memory_budget) // (3 * 4 * rows * min(S, C)))
        with torch.no_grad():
            pred = self._apply(Ft, fn, V, chunk)
        return self._finish(pred.cpu().numpy() + self.intercept_)


# ----------------------------------------------------------------------------- attention
def _attention_module(
    d_in: int, dim: int, n_queries: int, n_tokens: int, positional: bool, assign: np.ndarray
) -> Any:
    torch = _torch()
    nn = torch.nn

    class AttentionModule(nn.Module):
        """Learned queries cross-attending over tokens; each target reads its query's output."""

        def __init__(self) -> None:
            super().__init__()
            self.key = nn.Linear(d_in, dim, bias=False)
            self.value = nn.Linear(d_in, dim)
            self.queries = nn.Parameter(torch.randn(n_queries, dim) / dim**0.5)
            self.pos = nn.Parameter(torch.zeros(n_tokens, dim)) if positional else None
            self.readout = nn.Parameter(torch.randn(len(assign), dim) * 0.01)
            self.bias = nn.Parameter(torch.zeros(len(assign)))
            self.register_buffer("assign", torch.as_tensor(assign, dtype=torch.long))

        def attention(self, x: Any) -> Any:
            k = self.key(x)
            if self.pos is not None:
                k = k + self.pos
            return torch.softmax(torch.einsum("btd,qd->bqt", k, self.queries) / dim**0.5, -1)

        def forward(self, x: Any) -> Any:
            out = torch.einsum("bqt,btd->bqd", self.attention(x), self.value(x))
            return (out[:, self.assign] * self.readout).sum(-1) + self.bias

    return AttentionModule()


class AttentionReadout(_TorchReadout):
    """Learned queries cross-attending over tokens; each target reads its query's output linearly.

    One query per ROI (``rois`` in :meth:`fit`) or per cluster of targets (k-means on the
    training responses, ``n_queries`` clusters). Query ``q`` attends over the tokens of a stimulus
    with softmax(``q · (W_k t + p)``/√d) (``p`` a learned positional embedding when
    ``positional``), its output is the attention-weighted ``W_v t``, and target ``v`` predicts
    ``w_v · out_q(v) + b_v``. Tokens are ViT patch tokens (n, T, D) or CNN feature maps (n, C, H, W)
    taken as H·W tokens. Where a region "looks" is :meth:`attention_maps`.

    Parameters
    ----------
    n_queries : int
        Number of target clusters when ``rois`` is not given to ``fit``.
    dim : int
        Key/value dimension.
    positional : bool or "auto"
        Learned positional embedding on the keys; ``"auto"``: on for feature maps, off for tokens
        (ViT tokens already carry their position).
    alpha : float
        L2 penalty on the per-target read-out weights.
    feature_shape, lr, batch_size, max_epochs, patience, val_fraction, device, seed, quiet
        As :class:`FactorizedReadout` (early stopping on the total validation loss).

    Attributes
    ----------
    query_labels_ : array (n_targets,) of int
    query_names_ : array (n_queries,) of str
    val_scores_, history_, n_epochs_
    """

    def __init__(
        self,
        n_queries: int = 8,
        dim: int = 32,
        positional: bool | str = "auto",
        alpha: float = 1e-3,
        feature_shape: tuple[int, ...] | None = None,
        lr: float = 0.01,
        batch_size: int = 64,
        max_epochs: int = 60,
        patience: int = 8,
        val_fraction: float = 0.1,
        device: str | None = None,
        seed: int = 0,
        quiet: bool = True,
    ) -> None:
        self.n_queries = n_queries
        self.dim = dim
        self.positional = positional
        self.alpha = alpha
        self.feature_shape = feature_shape
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_fraction = val_fraction
        self.device = device
        self.seed = seed
        self.quiet = quiet

    def _queries(self, Ys: np.ndarray, rois: Any) -> None:
        V = Ys.shape[1]
        if rois is not None:
            g = np.asarray(rois).astype(str)
            if g.shape != (V,):
                raise ShapeError(f"rois must have one label per target ({V}); got {g.shape}.")
            self.query_names_, self.query_labels_ = np.unique(g, return_inverse=True)
            return
        k = int(self.n_queries)
        if k < 1:
            raise ValidationError(f"n_queries must be >= 1; got {self.n_queries!r}.")
        if k >= V:
            self.query_labels_ = np.arange(V)
        else:
            from sklearn.cluster import KMeans

            km = KMeans(k, n_init=4, random_state=self.seed).fit(Ys.T.astype(np.float64))
            self.query_labels_ = km.labels_.astype(np.int64)
        self.query_names_ = np.array([f"cluster{i}" for i in range(self.query_labels_.max() + 1)])

    def fit(self, X: Any, y: Any, rois: Any = None) -> AttentionReadout:
        """Fit on tokens/maps ``X`` and responses ``y``; ``rois`` (n_targets,) are ROI labels
        (one query each); without it targets are clustered into ``n_queries`` queries."""
        torch = _torch()
        tokens, grid = as_tokens(X, self.feature_shape)
        Y, tr, va = self._prepare(tokens, y)
        mu, sd = _standardize(tokens[tr], (0, 1))
        ym, ys = _standardize(Y[tr], (0,))
        Ys = (Y - ym) / ys
        self._queries(Ys[tr], rois)
        positional = len(grid) == 2 if self.positional == "auto" else bool(self.positional)
        dev = self.device_
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            module = _attention_module(
                tokens.shape[2],
                int(self.dim),
                len(self.query_names_),
                tokens.shape[1],
                positional,
                self.query_labels_,
            ).to(dev)
            Xt = torch.as_tensor((tokens - mu) / sd).to(dev)
            Yt = torch.as_tensor(Ys).to(dev)
            tr_t = torch.as_tensor(tr, device=dev)
            params = dict(module.named_parameters())

            def step(idx: np.ndarray) -> float:
                rows = tr_t[torch.as_tensor(idx, device=dev)]
                err = ((module(Xt[rows]) - Yt[rows]) ** 2).mean(0).sum()
                loss = err + self.alpha * (module.readout**2).sum()
                loss.backward()
                return float(loss.detach())

            def val_loss() -> Any:
                return ((module(Xt[va]) - Yt[va]) ** 2).mean(0)

            self.history_ = train_early_stopping(
                params,
                step,
                val_loss,
                len(tr),
                batch_size=self.batch_size,
                max_epochs=self.max_epochs,
                patience=self.patience,
                lr=self.lr,
                seed=self.seed,
                per_target=False,
                quiet=self.quiet,
                description="fit attention readout",
            )
        module.eval()
        with torch.no_grad():
            self.val_scores_ = pearson_score(
                Ys[va].astype(np.float64), module(Xt[va]).cpu().numpy().astype(np.float64)
            )
        self.module_ = module
        self.scalers_ = (mu, sd, ym, ys)
        self.grid_ = grid
        self.n_tokens_ = tokens.shape[1]
        self.n_epochs_ = len(self.history_) - 1
        return self

    def _tokens(self, X: Any) -> Any:
        check_is_fitted(self, "module_")
        tokens, _ = as_tokens(X, self.feature_shape)
        if tokens.shape[1] != self.n_tokens_:
            raise ShapeError(
                f"X has {tokens.shape[1]} tokens per stimulus; this readout was fitted on "
                f"{self.n_tokens_} (with a positional embedding the count cannot change)."
            )
        mu, sd = self.scalers_[:2]
        return _torch().as_tensor((tokens - mu) / sd).to(self.device_)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted responses (n_stimuli, n_targets)."""
        torch = _torch()
        Xt = self._tokens(X)
        with torch.no_grad():
            out = [self.module_(Xt[i : i + 256]).cpu().numpy() for i in range(0, len(Xt), 256)]
        ym, ys = self.scalers_[2:]
        return self._finish(np.concatenate(out) * ys + ym)

    def attention_maps(self, X: Any) -> np.ndarray:
        """Attention weights per stimulus and query: (n_stimuli, n_queries, n_tokens), or
        (n_stimuli, n_queries, H, W) for feature-map input; each map sums to 1."""
        torch = _torch()
        Xt = self._tokens(X)
        with torch.no_grad():
            a = torch.cat([self.module_.attention(Xt[i : i + 256]) for i in range(0, len(Xt), 256)])
        return a.cpu().numpy().reshape(len(Xt), a.shape[1], *self.grid_)

"""Factorised spatial × feature readout on feature maps (Klindt et al. 2017 style):
``y_v = Σ_c w_vc Σ_s m_vs F_cs + b_v``.

Cost (n stimuli, K channels or components, S = H·W positions, V targets) per epoch: two GEMMs of
``n·S·K·V`` multiply-adds (forward, and the backward product for the parameter on the GEMM side),
i.e. ``≈ 4·n·S·K·V`` FLOPs, plus passes over a (batch × min(S, K) × V) intermediate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..core._validation import parse_memory_budget
from ..core.exceptions import ShapeError, ValidationError
from ..core.metrics import pearson_score
from ._readouts import _standardize, _TorchReadout, as_feature_maps
from ._torch_fit import _torch, train_early_stopping

__all__ = ["FactorizedReadout"]


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
    rows = max(1, 2**24 // (C * S))  # 16 M values (128 MB in float64) per block
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
    smoothness, sparsity : float >= 0
        Weights of the Laplacian and L1 penalties on the masks.
    alpha : float >= 0
        Weight of the L2 penalty on the feature weights. Negative weights (which would reward
        rough, large masks) raise ``ValidationError`` in ``fit``.
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

    _non_negative = ("smoothness", "sparsity", "alpha")

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
        quiet: bool = False,
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
        budget = parse_memory_budget(self.memory_budget)
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
            return self._apply(Fs[va_t], forward, V, chunk, max(1, self.batch_size))

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

    def _apply(self, xs: Any, fn: Any, V: int, chunk: int, rows: int) -> Any:
        """``fn(xs[rows], targets)`` over blocks of ``rows`` stimuli × ``chunk`` targets."""
        torch = _torch()
        out = torch.empty((len(xs), V), device=xs.device)
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
        chunk = max(1, parse_memory_budget(self.memory_budget) // (3 * 4 * rows * min(S, C)))
        with torch.no_grad():
            pred = self._apply(Ft, fn, V, chunk, rows)
        return self._finish(pred.cpu().numpy() + self.intercept_)

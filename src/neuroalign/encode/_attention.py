"""Attention readout, a DETR-style decoder as in "Transformer brain encoders explain human
high-level visual responses": learned queries, one per ROI or per cluster of targets,
cross-attend over frozen tokens; each target reads its query's output linearly.
Cost per epoch ``O(n·T·D·d + n·V·d)`` (T tokens of dimension D, width d).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..core.exceptions import ShapeError, ValidationError
from ..core.metrics import pearson_score
from ._readouts import _standardize, _TorchReadout, as_tokens
from ._torch_fit import _torch, train_early_stopping

__all__ = ["AttentionReadout"]


# ----------------------------------------------------------------------------- attention
def _attention_module(
    d_in: int, dim: int, n_queries: int, n_tokens: int, positional: bool, assign: np.ndarray
) -> Any:
    torch = _torch()
    nn = torch.nn
    module: Any = nn.Module  # torch is imported lazily, so typed as Any

    class AttentionModule(module):
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
    dim : int > 0
        Key/value dimension.
    positional : bool or "auto"
        Learned positional embedding on the keys; ``"auto"``: on for feature maps, off for tokens
        (ViT tokens already carry their position).
    alpha : float >= 0
        L2 penalty on the per-target read-out weights.
    feature_shape, lr, batch_size, max_epochs, patience, val_fraction, device, seed, quiet
        As :class:`FactorizedReadout` (early stopping on the total validation loss).

    Attributes
    ----------
    query_labels_ : array (n_targets,) of int
    query_names_ : array (n_queries,) of str
    val_scores_, history_, n_epochs_
    """

    _positive = ("dim",)
    _non_negative = ("alpha",)

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
        quiet: bool = False,
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
        if tokens.shape[2] != mu.shape[-1]:
            raise ShapeError(
                f"X has {tokens.shape[2]} channels per token; this readout was fitted on "
                f"{mu.shape[-1]}: pass features of the same layer it was fitted on."
            )
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

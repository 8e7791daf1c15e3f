"""A BraInCoRL-style in-context encoder: a small transformer that reads a new voxel's
(stimulus embedding, response) pairs and outputs that voxel's linear encoder weights.

It is meta-trained over many voxels that share a stimulus set (each step: a batch of voxels, a
context of random stimuli whose size is drawn per step, the loss on other "query" stimuli of the
same voxels), then applied zero-shot to new voxels — of a new subject — from a handful of stimuli.
The context is a set: tokens carry no positional encoding and the weights are read from a learned
summary token, so permuting the context leaves the output unchanged (up to float rounding).

Per voxel the context responses are standardised by their own mean and SD; the network predicts
weights in those units and :meth:`InContextEncoder.predict_weights` maps them back. Cost per voxel:
``O(L · (k + 1) · d · (k + d))`` for ``L`` layers, context size ``k``, width ``d``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..core._io import atomic_write, atomic_write_text
from ..core._validation import check_array, check_positive, torch_device
from ..core.exceptions import ShapeError, ValidationError
from ..core.metrics import pearson_score
from ._torch_fit import _torch, check_responses, train_early_stopping

__all__ = ["InContextEncoder", "load_incontext_encoder"]

_CONFIG = "config.json"
_WEIGHTS = "weights.pt"
_FORMAT = 1


def _network(n_features: int, d_model: int, n_layers: int, n_heads: int) -> Any:
    torch = _torch()
    nn = torch.nn
    module: Any = nn.Module  # torch is imported lazily, so typed as Any

    class InContextNet(module):
        """(x, y) context tokens + a summary token → transformer → (w, b) in standardised units."""

        def __init__(self) -> None:
            super().__init__()
            self.embed_x = nn.Linear(n_features, d_model)
            self.embed_y = nn.Linear(1, d_model)
            self.summary = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
            layer = nn.TransformerEncoderLayer(
                d_model,
                n_heads,
                dim_feedforward=2 * d_model,
                dropout=0.0,
                batch_first=True,
                norm_first=True,
            )
            self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, n_features + 1)
            nn.init.zeros_(self.head.weight)  # start at "predict the context mean"
            nn.init.zeros_(self.head.bias)

        def forward(self, cx: Any, cy: Any) -> tuple[Any, Any]:
            # cx (B or 1, k, D) standardised embeddings (1: shared by all voxels, embedded once);
            # cy (B, k) standardised responses
            tokens = self.embed_x(cx) + self.embed_y(cy[..., None])
            s = self.summary.expand(len(tokens), 1, -1)
            h = self.encoder(torch.cat([s, tokens], 1))
            out = self.head(self.norm(h[:, 0]))
            return out[:, :-1], out[:, -1]

    return InContextNet()


class InContextEncoder(BaseEstimator):
    """Few-shot linear encoders for new voxels from (embedding, response) context pairs.

    Parameters
    ----------
    d_model, n_layers, n_heads : int
        Transformer width, depth and heads.
    min_context, max_context : int
        Range of context sizes drawn per meta-training step; contexts given to
        :meth:`predict_weights` must hold at least ``min_context`` stimuli.
    n_query : int
        Query stimuli per voxel on which each meta-training step is scored.
    voxels_per_step, steps_per_epoch, max_epochs, patience, lr : int / float
        Meta-training: voxels per step, steps between validations, epochs, validations without
        improvement before stopping, Adam step.
    val_fraction : float
        Fraction of the training voxels held out to choose the kept network.
    device : {"cpu", "cuda", "cuda:N"} or None
    seed : int
    quiet : bool

    Attributes
    ----------
    net_ : torch module
    x_mean_, x_scale_ : arrays (n_features,)
        Standardisation of the embeddings (from meta-training; kept with saved weights).
    history_ : list of float
        Validation query loss before training and after each epoch.

    Examples
    --------
    >>> from neuroalign.data import make_voxel_family
    >>> sim = make_voxel_family(n_stimuli=60, n_features=8, n_voxels=100, rank=2, seed=0)
    >>> enc = InContextEncoder(d_model=16, max_context=16, n_query=8, voxels_per_step=16,
    ...                        max_epochs=2, steps_per_epoch=5).fit(sim.features, sim.responses[:, :50])
    >>> coef, intercept = enc.predict_weights(sim.features[:10], sim.responses[:10, 50:])
    >>> coef.shape, intercept.shape
    ((8, 50), (50,))
    """

    def __init__(
        self,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        min_context: int = 4,
        max_context: int = 64,
        n_query: int = 32,
        voxels_per_step: int = 64,
        steps_per_epoch: int = 50,
        max_epochs: int = 20,
        patience: int = 4,
        lr: float = 1e-3,
        val_fraction: float = 0.1,
        device: str | None = None,
        seed: int = 0,
        quiet: bool = False,
    ) -> None:
        self.d_model = d_model
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.min_context = min_context
        self.max_context = max_context
        self.n_query = n_query
        self.voxels_per_step = voxels_per_step
        self.steps_per_epoch = steps_per_epoch
        self.max_epochs = max_epochs
        self.patience = patience
        self.lr = lr
        self.val_fraction = val_fraction
        self.device = device
        self.seed = seed
        self.quiet = quiet

    # ------------------------------------------------------------------ meta-training
    def _config(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.get_params()}

    def fit(self, X: Any, y: Any) -> InContextEncoder:
        """Meta-train on embeddings ``X`` (n_stimuli, n_features) and the responses ``y``
        (n_stimuli, n_voxels) of many training voxels sharing those stimuli."""
        torch = _torch()
        X = check_array(X, "X", ndim=2, dtype=np.float32)
        Y, _ = check_responses(y, len(X))
        n, D = X.shape
        k_lo, k_hi = int(self.min_context), int(self.max_context)
        if not 2 <= k_lo <= k_hi:
            raise ValidationError(
                f"need 2 <= min_context <= max_context; got {self.min_context}, {self.max_context}."
            )
        if n < k_hi + self.n_query:
            raise ValidationError(
                f"X has {n} stimuli; meta-training needs at least max_context + n_query = "
                f"{k_hi + self.n_query}. Lower max_context or n_query."
            )
        check_positive(self.lr, "lr")
        V = Y.shape[1]
        n_val = max(1, round(self.val_fraction * V))
        if V - n_val < 2:
            raise ValidationError(f"meta-training needs many voxels; got {V}.")
        rng = np.random.default_rng(self.seed)
        perm = rng.permutation(V)
        val_vox, tr_vox = perm[:n_val], perm[n_val:]
        self.device_ = str(torch_device(self.device))
        self.n_features_in_ = D
        self.x_mean_ = X.mean(0)
        self.x_scale_ = np.where(X.std(0) > 0, X.std(0), 1.0).astype(np.float32)
        Xs = torch.as_tensor((X - self.x_mean_) / self.x_scale_).to(self.device_)
        Yt = torch.as_tensor(Y).to(self.device_)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = _network(D, self.d_model, self.n_layers, self.n_heads).to(self.device_)
        gen = np.random.default_rng(self.seed + 1)
        k_val = gen.integers(k_lo, k_hi + 1, size=4)
        val_sets = [self._episode(gen, n, val_vox, int(k)) for k in k_val]

        def loss_of(vox: np.ndarray, stim: np.ndarray, k: int) -> Any:
            cx, qx = Xs[stim[:, :k]], Xs[stim[:, k:]]  # (B, k, D), (B, q, D)
            yy = Yt[torch.as_tensor(stim), torch.as_tensor(vox)[:, None]]  # (B, k + q)
            cy, qy = yy[:, :k], yy[:, k:]
            m, s = cy.mean(1, keepdim=True), cy.std(1, keepdim=True).clamp_min(1e-6)
            w, b = net(cx, (cy - m) / s)
            pred = (qx @ w[..., None])[..., 0] + b[:, None]
            return (((qy - m) / s - pred) ** 2).mean(1)

        def step(_: np.ndarray) -> float:
            k = int(gen.integers(k_lo, k_hi + 1))
            vox, stim = self._episode(gen, n, tr_vox, k)
            loss = loss_of(vox, stim, k).mean()
            loss.backward()
            return float(loss.detach())

        def val_loss() -> Any:
            return torch.cat(
                [loss_of(v, s, int(k)) for (v, s), k in zip(val_sets, k_val, strict=True)]
            )

        self.history_ = train_early_stopping(
            dict(net.named_parameters()),
            step,
            val_loss,
            int(self.steps_per_epoch),
            batch_size=1,
            max_epochs=self.max_epochs,
            patience=self.patience,
            lr=self.lr,
            seed=self.seed,
            per_target=False,
            quiet=self.quiet,
            description="meta-train in-context encoder",
        )
        net.eval()
        self.net_ = net
        return self

    def _episode(
        self, gen: np.random.Generator, n: int, voxels: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        vox = gen.choice(voxels, size=min(len(voxels), int(self.voxels_per_step)), replace=False)
        stim = np.argsort(gen.random((len(vox), n)), 1)[:, : k + int(self.n_query)]
        return vox, stim

    # ------------------------------------------------------------------ inference
    def predict_weights(
        self, context_X: Any, context_Y: Any, batch_size: int = 4096
    ) -> tuple[np.ndarray, np.ndarray]:
        """Linear encoder weights of new voxels from their context.

        Parameters
        ----------
        context_X : array (k, n_features)
            Embeddings of the context stimuli (the same stimuli for every voxel).
        context_Y : array (k,) or (k, n_voxels)
            The voxels' responses to them; ``k >= min_context``; no NaN, no constant voxel.

        Returns
        -------
        coef : array (n_features, n_voxels)
        intercept : array (n_voxels,)
            ``predict = X @ coef + intercept`` in the units of ``X`` and ``context_Y``.
        """
        check_is_fitted(self, "net_")
        torch = _torch()
        cx = check_array(context_X, "context_X", ndim=2, dtype=np.float32)
        if cx.shape[1] != self.n_features_in_:
            raise ShapeError(
                f"context_X has {cx.shape[1]} features; this encoder was meta-trained on "
                f"{self.n_features_in_}."
            )
        cy, _ = check_responses(context_Y, len(cx), "context_Y")
        if len(cx) < self.min_context:
            raise ValidationError(
                f"the context holds {len(cx)} stimuli; this encoder needs at least "
                f"min_context={self.min_context}."
            )
        m, s = cy.mean(0), cy.std(0, ddof=1)
        xs = torch.as_tensor((cx - self.x_mean_) / self.x_scale_, device=self.device_)[None]
        ys = torch.as_tensor(((cy - m) / s).T.copy(), device=self.device_)
        ws, bs = [], []
        with torch.no_grad():
            for i in range(0, ys.shape[0], batch_size):
                chunk = ys[i : i + batch_size]
                w, b = self.net_(xs, chunk)  # the context embeddings broadcast over voxels
                ws.append(w.cpu().numpy())
                bs.append(b.cpu().numpy())
        w_std, b_std = np.concatenate(ws).T, np.concatenate(bs)  # (D, V), (V,)
        coef = w_std / self.x_scale_[:, None] * s
        intercept = m + s * b_std - self.x_mean_ @ coef
        return coef.astype(np.float32), intercept.astype(np.float32)

    def predict(self, X: Any, context_X: Any, context_Y: Any) -> np.ndarray:
        """Responses (n_stimuli, n_voxels) to ``X`` of the voxels described by the context."""
        coef, intercept = self.predict_weights(context_X, context_Y)
        X = check_array(X, "X", ndim=2, dtype=np.float32)
        return X @ coef + intercept

    def score_targets(self, X: Any, y: Any, context_X: Any, context_Y: Any) -> np.ndarray:
        """Pearson r per voxel of the predictions for ``X`` against ``y`` (n_stimuli, n_voxels)."""
        Y = check_array(y, "y", ndim=(1, 2)).reshape(len(X), -1)
        return pearson_score(Y.astype(np.float64), self.predict(X, context_X, context_Y))

    def score(self, X: Any, y: Any, context_X: Any, context_Y: Any) -> float:
        """Mean Pearson r over voxels (one float)."""
        return float(np.nanmean(self.score_targets(X, y, context_X, context_Y)))

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write ``path/config.json`` (parameters, embedding standardisation) and
        ``path/weights.pt`` (the network's state dict); both atomic. Returns ``path``."""
        check_is_fitted(self, "net_")
        torch = _torch()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = {
            "format": _FORMAT,
            "params": {k: v for k, v in self._config().items() if k not in ("device", "quiet")},
            "n_features": int(self.n_features_in_),
            "x_mean": self.x_mean_.tolist(),
            "x_scale": self.x_scale_.tolist(),
            "history": list(self.history_),
        }
        state = {k: v.detach().cpu() for k, v in self.net_.state_dict().items()}
        atomic_write(path / _WEIGHTS, lambda tmp: torch.save(state, tmp))
        atomic_write_text(path / _CONFIG, json.dumps(config, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> InContextEncoder:
        """Read an encoder written by :meth:`save` (see :func:`load_incontext_encoder`)."""
        return load_incontext_encoder(path, device)


def load_incontext_encoder(path: str | Path, device: str | None = None) -> InContextEncoder:
    """Load pretrained in-context encoder weights from a local folder.

    The folder holds ``config.json`` and ``weights.pt`` as written by
    :meth:`InContextEncoder.save` (e.g. weights meta-trained on a real dataset's voxels and
    shared with colleagues). Nothing is downloaded; the state dict is read with
    ``weights_only=True`` (no pickled code runs).
    """
    torch = _torch()
    path = Path(path)
    missing = [f for f in (_CONFIG, _WEIGHTS) if not (path / f).is_file()]
    if missing:
        raise ValidationError(
            f"{str(path)!r} is not a saved InContextEncoder: missing {missing}; "
            "write one with InContextEncoder.save(path)."
        )

    def corrupt(name: str, err: BaseException) -> ValidationError:
        return ValidationError(
            f"file {str(path / name)!r} is truncated or corrupt ({type(err).__name__}); "
            "re-save the encoder with InContextEncoder.save(path)."
        )

    try:
        config = json.loads((path / _CONFIG).read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise TypeError("not a JSON object")
        if config.get("format") != _FORMAT:
            raise ValidationError(
                f"{str(path)!r} has format {config.get('format')!r}; this version reads {_FORMAT}."
            )
        enc = InContextEncoder(**config["params"], device=device, quiet=True)
        n_features = int(config["n_features"])
        x_mean = np.asarray(config["x_mean"], dtype=np.float32)
        x_scale = np.asarray(config["x_scale"], dtype=np.float32)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as err:
        if isinstance(err, ValidationError):  # a parameter the encoder itself refuses
            raise
        raise corrupt(_CONFIG, err) from err
    enc.device_ = str(torch_device(device))
    enc.n_features_in_ = n_features
    enc.x_mean_ = x_mean
    enc.x_scale_ = x_scale
    enc.history_ = list(config.get("history", []))
    net = _network(enc.n_features_in_, enc.d_model, enc.n_layers, enc.n_heads)
    try:
        state = torch.load(path / _WEIGHTS, map_location="cpu", weights_only=True)
    except Exception as err:  # zip/pickle errors of a cut file; torch raises many kinds
        raise corrupt(_WEIGHTS, err) from err
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise ValidationError(f"weights in {str(path)!r} do not fit its config: {err}") from err
    enc.net_ = net.to(enc.device_).eval()
    return enc

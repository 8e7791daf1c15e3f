"""Contrastive (CLIP-style) brain decoders in torch (imported lazily; the ``torch`` extra).

A brain module maps responses to the embedding space; training aligns each trial's output with its
stimulus embedding against the other stimuli of the batch (Radford et al. 2021's symmetric
InfoNCE, as used for M/EEG by Défossez et al. 2023 and Benchetrit et al. 2024), optionally mixed
with a mean-squared error on the embeddings (``mse_weight``; Benchetrit et al.). Modules:

- ``linear``: one linear map of the flattened responses;
- ``mlp``: linear → GELU → linear (a non-linear readout);
- ``conv``: for ``(n, n_channels, n_times)`` epochs, two temporal convolutions, GELU, mean over
  time, linear (a small version of Défossez et al.'s brain module).

``subject_layers=True`` adds one channel-mixing matrix per subject in front of the module
(initialised to identity; Défossez et al.'s subject layer). Early stopping keeps the weights with
the lowest loss on a held-out validation split. Training on the CPU is deterministic for a seed
(torch's global random state is left untouched); ``device="cuda"`` trains on the GPU.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from ..core._validation import check_array, check_choice, check_same_length, require, torch_device
from ..core.exceptions import NotFittedError, ShapeError, ValidationError

__all__ = ["BRAIN_MODULES", "ContrastiveDecoder", "clip_loss"]

BRAIN_MODULES = ("linear", "mlp", "conv")


def clip_loss(z: Any, e: Any, log_scale: Any) -> Any:
    """Symmetric InfoNCE of cosine similarities scaled by ``exp(log_scale)``: matched pairs are
    the diagonal of the batch's similarity matrix."""
    torch = require("torch", "torch", "the CLIP loss")
    f = torch.nn.functional
    logits = f.normalize(z, dim=1) @ f.normalize(e, dim=1).T * log_scale.exp()
    target = torch.arange(len(z), device=z.device)
    return 0.5 * (f.cross_entropy(logits, target) + f.cross_entropy(logits.T, target))


def _build(kind: str, in_shape: tuple[int, ...], n_dims: int, hidden: int, n_subjects: int) -> Any:
    torch = require("torch", "torch", "ContrastiveDecoder")
    nn = torch.nn

    class Brain(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            c = in_shape[0]
            self.subject = (
                nn.Parameter(torch.eye(c).repeat(n_subjects, 1, 1)) if n_subjects > 0 else None
            )
            if kind == "linear":
                self.body = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(in_shape)), n_dims))
            elif kind == "mlp":
                self.body = nn.Sequential(
                    nn.Flatten(),
                    nn.Linear(int(np.prod(in_shape)), hidden),
                    nn.GELU(),
                    nn.Linear(hidden, n_dims),
                )
            else:
                self.conv = nn.Sequential(
                    nn.Conv1d(c, hidden, 3, padding=1),
                    nn.GELU(),
                    nn.Conv1d(hidden, hidden, 3, padding=2, dilation=2),
                    nn.GELU(),
                )
                self.body = nn.Linear(hidden, n_dims)
            self.log_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))

        def forward(self, x: Any, subj: Any) -> Any:
            if self.subject is not None:  # (n, c, c) @ (n, c, ...) per trial's subject
                m = self.subject[subj]
                x = (m @ x.reshape(len(x), x.shape[1], -1)).reshape(x.shape)
            if kind == "conv":
                return self.body(self.conv(x).mean(-1))
            return self.body(x)

    return Brain()


def _batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    """``order`` cut into batches of ``size``; a last batch of a single sample (which a
    contrastive loss cannot use) is merged into the batch before it."""
    cuts = list(range(size, len(order), size))
    if cuts and len(order) - cuts[-1] == 1:
        cuts.pop()
    return np.split(order, cuts)


class ContrastiveDecoder(BaseEstimator):
    """Brain responses → embeddings trained with a CLIP loss (optionally + MSE).

    Parameters
    ----------
    brain_module : {"linear", "mlp", "conv"}
    hidden : int
        Width of the hidden layer / convolution channels.
    mse_weight : float in [0, 1]
        Loss = ``(1 − w) · CLIP + w · MSE``.
    subject_layers : bool
        One channel-mixing layer per subject (pass ``subjects`` to fit / predict).
    lr, weight_decay, batch_size, max_epochs : AdamW settings. ``batch_size`` must be at least
        2: the CLIP loss contrasts each sample with the others of its batch, so a batch of one
        has a loss of 0 and teaches nothing. A last batch of one sample in an epoch is merged
        into the batch before it (every training sample counts in every epoch).
    patience : int
        Epochs without a lower validation loss before stopping.
    validation_fraction : float
    seed : int
    device : str
        ``"cpu"`` or ``"cuda"`` / ``"cuda:N"``.

    Attributes
    ----------
    module_ : torch.nn.Module
    history_ : list of (train_loss, validation_loss) per epoch
    best_epoch_ : int
    """

    def __init__(
        self,
        brain_module: str = "linear",
        hidden: int = 256,
        mse_weight: float = 0.0,
        subject_layers: bool = False,
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        batch_size: int = 128,
        max_epochs: int = 200,
        patience: int = 15,
        validation_fraction: float = 0.15,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        self.brain_module = brain_module
        self.hidden = hidden
        self.mse_weight = mse_weight
        self.subject_layers = subject_layers
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.device = device

    def _inputs(self, X: Any, subjects: Any) -> tuple[np.ndarray, np.ndarray]:
        X = check_array(X, "X", ndim=(2, 3), dtype=np.float32)
        if self.brain_module == "conv" and X.ndim != 3:
            raise ValidationError(
                f"brain_module='conv' needs epochs (n, n_channels, n_times); got shape {X.shape}."
            )
        if self.subject_layers:
            if subjects is None:
                raise ValidationError("subject_layers=True needs subjects (one id per sample).")
            subj = np.asarray(subjects, dtype=np.int64)
            check_same_length("subjects", len(subj), "X", len(X))
        else:
            subj = np.zeros(len(X), np.int64)
        return X, subj

    def fit(self, X: Any, y: Any, subjects: Any = None) -> ContrastiveDecoder:
        torch = require("torch", "torch", "ContrastiveDecoder")
        check_choice(self.brain_module, "brain_module", BRAIN_MODULES)
        if not 0 <= self.mse_weight <= 1:
            raise ValidationError(f"mse_weight must be in [0, 1]; got {self.mse_weight}.")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, (int, np.integer)):
            raise ValidationError(f"batch_size must be an integer >= 2; got {self.batch_size!r}.")
        if self.batch_size < 2:
            raise ValidationError(
                f"batch_size must be >= 2; got {self.batch_size}. The CLIP loss compares each "
                "sample with the other samples of its batch: a batch of one has nothing to "
                "contrast (its loss is 0) and the decoder would learn nothing."
            )
        X, subj = self._inputs(X, subjects)
        E = check_array(y, "y", ndim=2, dtype=np.float32)
        check_same_length("y", len(E), "X", len(X))
        if self.subject_layers and subj.min() < 0:
            raise ValidationError("subjects must be non-negative integers (0 .. n_subjects - 1).")
        self.n_subjects_ = int(subj.max()) + 1 if self.subject_layers else 0
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(X))
        n_val = max(2, round(self.validation_fraction * len(X)))
        if len(X) - n_val < 4:
            raise ValidationError(f"X has {len(X)} samples; too few for training and validation.")
        val, train = order[:n_val], order[n_val:]
        dev = torch_device(self.device)
        Xt = torch.as_tensor(X, device=dev)
        Et = torch.as_tensor(E, device=dev)
        St = torch.as_tensor(subj, device=dev)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            module = _build(
                self.brain_module, X.shape[1:], E.shape[1], self.hidden, self.n_subjects_
            ).to(dev)
        opt = torch.optim.AdamW(module.parameters(), lr=self.lr, weight_decay=self.weight_decay)

        def loss_of(idx: np.ndarray) -> Any:
            ii = torch.as_tensor(idx, device=dev)
            z = module(Xt[ii], St[ii])
            loss = clip_loss(z, Et[ii], module.log_scale)
            if self.mse_weight:
                mse = torch.nn.functional.mse_loss(z, Et[ii])
                loss = (1 - self.mse_weight) * loss + self.mse_weight * mse
            return loss

        best, best_state, since, history = np.inf, None, 0, []
        for epoch in range(self.max_epochs):
            module.train()
            perm = train[rng.permutation(len(train))]
            total = 0.0
            for batch in _batches(perm, self.batch_size):
                opt.zero_grad()
                loss = loss_of(batch)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(batch)
            module.eval()
            with torch.no_grad():
                v = float(loss_of(val))
            history.append((total / len(train), v))
            if v < best - 1e-6:
                best, best_state, since, self.best_epoch_ = (
                    v,
                    copy.deepcopy(module.state_dict()),
                    0,
                    epoch,
                )
            else:
                since += 1
                if since >= self.patience:
                    break
        module.load_state_dict(best_state)
        self.module_ = module.eval()
        self.history_ = history
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        return self

    def _check_fitted_shape(self, X: np.ndarray) -> None:
        """``X`` of predict against the fitted network's input, before torch sees it."""
        m = self.module_
        if self.brain_module == "conv":
            want, got, what = m.conv[0].in_channels, X.shape[1], "channels"
        else:
            want, got, what = m.body[1].in_features, int(np.prod(X.shape[1:])), "features"
        if m.subject is not None and X.shape[1] != m.subject.shape[-1]:
            want, got, what = m.subject.shape[-1], X.shape[1], "channels"
        if got != want:
            raise ShapeError(
                f"X has {got} {what} per sample (shape {X.shape}) but this ContrastiveDecoder was "
                f"fitted on {want}; pass data with the training data's {what}."
            )

    def predict(self, X: Any, subjects: Any = None) -> np.ndarray:
        """Decoded embeddings (n_samples, n_dims)."""
        if not hasattr(self, "module_"):
            raise NotFittedError("ContrastiveDecoder is not fitted; call fit(X, y) first.")
        torch = require("torch", "torch", "ContrastiveDecoder")
        X, subj = self._inputs(X, subjects)
        self._check_fitted_shape(X)
        dev = next(self.module_.parameters()).device
        with torch.no_grad():
            out = self.module_(torch.as_tensor(X, device=dev), torch.as_tensor(subj, device=dev))
        return out.cpu().numpy()

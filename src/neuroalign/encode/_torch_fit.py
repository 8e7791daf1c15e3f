"""What the gradient-trained readouts share: device, seeding, the validation split and the
training loop with early stopping (per target when every parameter belongs to one target).

torch is imported inside functions only, so ``import neuroalign.encode`` never loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..core._progress import track
from ..core._validation import check_array, check_finite, require
from ..core.exceptions import ShapeError, ValidationError

__all__ = [
    "check_responses",
    "torch_generator",
    "train_early_stopping",
    "train_val_split",
]


def _torch() -> Any:
    return require("torch", "torch", "the gradient-trained readouts")


def torch_generator(seed: int) -> Any:
    """A CPU ``torch.Generator`` seeded with ``seed`` (parameter init, batch order)."""
    g = _torch().Generator()
    g.manual_seed(int(seed))
    return g


def train_val_split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of ``range(n)`` into training and validation indices (sorted)."""
    if not 0 < val_fraction < 1:
        raise ValidationError(f"val_fraction must be in (0, 1); got {val_fraction!r}.")
    n_val = max(2, round(val_fraction * n))
    if n - n_val < 2:
        raise ValidationError(
            f"{n} stimuli are too few for a validation split of {val_fraction}; "
            f"need at least {n_val + 2}."
        )
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def check_responses(y: Any, n_stimuli: int, name: str = "y") -> tuple[np.ndarray, bool]:
    """``y`` as float32 (n_stimuli, n_targets) and whether it was 1-D; NaNs and constant targets
    raise, naming the targets."""
    Y = check_array(y, name, ndim=(1, 2), allow_nan=True)
    if not np.issubdtype(Y.dtype, np.number):
        raise ValidationError(f"{name} must be numeric; got dtype {Y.dtype}.")
    one_d = Y.ndim == 1
    Y = np.asarray(Y.reshape(len(Y), -1), dtype=np.float32)
    check_finite(Y, name, axis_name="target")
    if len(Y) != n_stimuli:
        raise ShapeError(
            f"{name} has {len(Y)} rows but X has {n_stimuli} stimuli; they must match."
        )
    const = np.flatnonzero(Y.std(0) == 0)
    if len(const):
        raise ValidationError(
            f"{name} has {len(const)} constant target(s) (first: {const[:5].tolist()}); "
            "a readout cannot be fitted to them — drop them first."
        )
    return Y, one_d


class _Adam:
    """Adam (Kingma & Ba 2015) on a list of tensors.

    Written here because ``torch.optim`` imports ``torch._dynamo`` on first use (seconds on a
    loaded machine, for a few lines of arithmetic); equal to ``torch.optim.Adam`` (tested).
    """

    def __init__(self, params: list[Any], lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        torch = _torch()
        self.params, self.lr, self.betas, self.eps, self.t = params, lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        torch = _torch()
        b1, b2 = self.betas
        self.t += 1
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        with torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v, strict=True):
                if p.grad is None:
                    continue
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                p.addcdiv_(m, (v / c2).sqrt_().add_(self.eps), value=-self.lr / c1)


def train_early_stopping(
    params: Mapping[str, Any],
    step: Callable[[Any], float],
    val_loss: Callable[[], Any],
    n_train: int,
    *,
    batch_size: int,
    max_epochs: int,
    patience: int,
    lr: float,
    seed: int,
    per_target: bool,
    quiet: bool = False,
    description: str = "fit readout",
) -> list[float]:
    """Adam over minibatches of stimuli with early stopping on a validation loss.

    Parameters
    ----------
    params : mapping of str to torch Parameter
        When ``per_target``, each has the targets on its first axis.
    step : callable
        ``step(batch_indices)`` computes the training loss of that minibatch, calls ``backward``
        (possibly in chunks of targets) and returns the loss as a float.
    val_loss : callable
        ``val_loss()`` → tensor (n_targets,) of validation losses (no gradient).
    per_target : bool
        Keep each target's parameters from its own best epoch (valid when no parameter is
        shared between targets); otherwise keep the epoch with the best total validation loss.
    Training stops when no target (or the total) improved for ``patience`` epochs. The
    parameters hold the best state on return; the history lists the mean validation loss
    before training and after each epoch.
    """
    torch = _torch()
    gen = torch_generator(seed)
    opt = _Adam(list(params.values()), lr=lr)
    with torch.no_grad():
        best = val_loss().detach().clone()
        best_state = {k: p.detach().clone() for k, p in params.items()}
    history = [float(best.mean())]
    stale = 0
    for _ in track(range(max_epochs), max_epochs, description, quiet):
        order = torch.randperm(n_train, generator=gen).numpy()
        for start in range(0, n_train, batch_size):
            opt.zero_grad()
            step(order[start : start + batch_size])
            opt.step()
        with torch.no_grad():
            v = val_loss().detach()
            history.append(float(v.mean()))
            if per_target:
                better = v < best - 1e-6 * best.abs()
                if bool(better.any()):
                    best = torch.where(better, v, best)
                    for k, p in params.items():
                        best_state[k][better] = p.detach()[better]
            else:
                better = v.sum() < best.sum() - 1e-6 * best.sum().abs()
                if bool(better):
                    best = v.clone()
                    best_state = {k: p.detach().clone() for k, p in params.items()}
        stale = 0 if bool(better.any()) else stale + 1
        if stale >= patience:
            break
    with torch.no_grad():
        for k, p in params.items():
            p.copy_(best_state[k])
    return history

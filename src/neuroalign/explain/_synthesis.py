"""Stimulus synthesis through differentiable encoders (torch, imported lazily).

An image ``x`` goes through a model layer (``FeatureModel``) and a fitted linear encoder
(``LinearReadout``): ``ŷ(x) = φ(x) · w + b``. :func:`synthesize` maximises ``ŷ`` of a unit, a voxel
or a region (a roi's mean weights) by gradient ascent on an image parameterisation:

- ``pixel``: ``x = σ(θ)``;
- ``fourier``: ``x = σ(irfft2(θ ⊙ s))`` with ``s_f = 1 / max(|f|, 1/size)^decay`` (natural-image
  spectrum; Olah et al. 2017, "Feature Visualization");

with random jitter (a roll of up to ``jitter`` pixels per step) and a Gaussian blur of the image
(transformation robustness), and, for several images per target, a diversity term
``λ · mean_{i≠j} cos(z_i, z_j)`` on standardised features ``z = (φ(x) − μ)/σ`` (μ, σ over
random images of the parameterisation; Nguyen et al. 2016, "Multifaceted feature
visualization"). The loss per target is ``−mean_i ŷ(x_i)/σ_ŷ + λ · diversity``, with ``σ_ŷ`` the
SD of the target's predicted response over those random images.

Plug-in point (BrainDiVE, Luo et al. 2023): any object with ``init(n, size, generator) -> list of
tensors`` and ``render(params) -> images (n, 3, H, W) in [0, 1]`` can be passed as
``parameterization=``; a diffusion sampler whose ``render`` runs guided denoising from latent
parameters plugs in there (not shipped: it needs a diffusion model and a GPU).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result, make_table
from ..core._progress import track
from ..core._registry import lookup, register
from ..core._validation import torch_device
from ..core.exceptions import ShapeError, ValidationError
from ..extract import IMAGENET_MEAN, IMAGENET_STD
from ._readout import LinearReadout, as_readout

__all__ = ["PARAMETERIZATIONS", "FeatureModel", "FourierImage", "PixelImage", "synthesize"]


class FeatureModel:
    """A differentiable ``images (B, 3, H, W) in [0, 1] → features (B, n_features)`` map: the
    output of ``layer`` (hook removed after every call), average-pooled over every axis but the
    channels (``reduce="avgpool"``, extract's reducer: the same axes, read from the module) or
    flattened, after normalising with ``mean``/``std``.

    The encoder must have been fitted on the same features (same layer and reduction).
    """

    def __init__(
        self,
        module: Any,
        layer: str | None = None,
        reduce: str = "avgpool",
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        size: int | None = None,
    ) -> None:
        import torch

        if reduce not in ("avgpool", "flatten"):
            raise ValidationError(f"reduce={reduce!r}; use 'avgpool' or 'flatten'.")
        module = getattr(module, "module", module)  # a LoadedModel
        if layer is not None and layer not in dict(module.named_modules()):
            from ..core.exceptions import LayerNotFoundError, close_matches

            raise LayerNotFoundError(
                f"layer {layer!r} is not in the model."
                + close_matches(layer, dict(module.named_modules()))
            )
        self.module, self.layer, self.reduce, self.size = module.eval(), layer, reduce, size
        from ..extract._reducers import make_reducer

        self._mods = dict(module.named_modules())
        self._reducer = make_reducer(reduce)[1]
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        for p in module.parameters():
            p.requires_grad_(False)

    def __call__(self, images: Any) -> Any:
        import torch

        x = images
        if self.size is not None and x.shape[-1] != self.size:
            x = torch.nn.functional.interpolate(
                x, size=(self.size, self.size), mode="bilinear", align_corners=False
            )
        x = (x - self.mean.to(x.device)) / self.std.to(x.device)
        if self.layer is None:
            out = self.module(x)
        else:
            store: dict[str, Any] = {}
            mod = dict(self.module.named_modules())[self.layer]
            handle = mod.register_forward_hook(lambda m, i, o: store.__setitem__("out", o))
            try:
                self.module(x)
            finally:
                handle.remove()
            out = store["out"]
        from ..extract._reducers import LAYER_MODULE

        token = LAYER_MODULE.set((self._mods, self.layer) if self.layer is not None else None)
        try:
            return self._reducer(out, self.layer or "output")
        finally:
            LAYER_MODULE.reset(token)


# ---------------------------------------------------------------------------- parameterisations
PARAMETERIZATIONS: dict[str, Any] = {}


class PixelImage:
    """``x = sigmoid(θ)``, θ initialised near 0 (grey) with small noise."""

    def init(self, n: int, size: int, generator: Any) -> list[Any]:
        import torch

        return [(0.1 * torch.randn(n, 3, size, size, generator=generator)).requires_grad_(True)]

    def render(self, params: list[Any]) -> Any:
        return params[0].sigmoid()


class FourierImage:
    """``x = sigmoid(irfft2(θ ⊙ s))`` with a 1/f^decay amplitude scale ``s``."""

    def __init__(self, decay: float = 1.0) -> None:
        self.decay = decay

    def init(self, n: int, size: int, generator: Any) -> list[Any]:
        import torch

        fy = torch.fft.fftfreq(size)[:, None]
        fx = torch.fft.rfftfreq(size)[None, :]
        freq = torch.sqrt(fx**2 + fy**2).clamp(min=1.0 / size)
        self.scale = (1.0 / freq**self.decay) / size
        self.size = size
        spec = 0.01 * torch.randn(n, 3, size, size // 2 + 1, 2, generator=generator)
        return [spec.requires_grad_(True)]

    def render(self, params: list[Any]) -> Any:
        import torch

        spec = torch.view_as_complex(params[0]) * self.scale
        return torch.fft.irfft2(spec, s=(self.size, self.size), norm="ortho").mul(4.0).sigmoid()


@register(PARAMETERIZATIONS)
def pixel() -> PixelImage:
    return PixelImage()


@register(PARAMETERIZATIONS)
def fourier() -> FourierImage:
    return FourierImage()


def _blur(x: Any, sigma: float) -> Any:
    import torch

    if sigma <= 0:
        return x
    radius = max(1, math.ceil(2 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    x = torch.nn.functional.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = torch.nn.functional.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return torch.nn.functional.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _jitter(x: Any, amount: int, generator: Any) -> Any:
    import torch

    if amount <= 0:
        return x
    dy, dx = (int(v) for v in torch.randint(-amount, amount + 1, (2,), generator=generator))
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def _objective_weights(
    readout: LinearReadout, targets: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(w (n_features, T), b (T,)) for target ids or ``roi:<name>`` regions."""
    if isinstance(targets, str):
        targets = [targets]
    if not len(targets):
        raise ValidationError("targets is empty; give target ids or 'roi:<name>' regions.")
    cols, bias = [], []
    means = None
    for t in targets:
        if str(t).startswith("roi:"):
            means = means or readout.roi_means()
            sel = means.select([str(t)])
        else:
            sel = readout.select([str(t)])
        cols.append(sel.coef[:, 0])
        bias.append(sel.intercept[0])
    return np.stack(cols, 1), np.asarray(bias), [str(t) for t in targets]


def _check_settings(*, size: Any, lr: Any, jitter: Any, blur: Any, diversity: Any) -> None:
    """The optimisation settings of :func:`synthesize`, before any model runs."""

    def number(v: Any) -> bool:
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 8:
        raise ValidationError(
            f"size must be an integer >= 8 (image side in pixels, e.g. 64 or 224); got {size!r}."
        )
    if not number(lr) or not np.isfinite(lr) or lr <= 0:
        raise ValidationError(f"lr must be a positive learning rate (e.g. 0.05); got {lr!r}.")
    for name, v in (("jitter", jitter), ("blur", blur), ("diversity", diversity)):
        if not number(v) or not np.isfinite(v) or v < 0:
            raise ValidationError(f"{name} must be a number >= 0 (0 disables it); got {v!r}.")


def synthesize(
    features: FeatureModel | Any,
    encoder: Any,
    targets: Sequence[str] | str,
    *,
    n_images: int = 1,
    size: int = 64,
    steps: int = 128,
    lr: float = 0.05,
    parameterization: str | Any = "fourier",
    jitter: int = 2,
    blur: float = 0.5,
    diversity: float = 0.0,
    seed: int = 0,
    device: str = "cpu",
    quiet: bool = False,
) -> Result:
    """Images that maximise the predicted response of each target.

    Parameters
    ----------
    features : FeatureModel or callable
        ``images (B, 3, size, size) in [0, 1] → features (B, n_features)`` (differentiable).
    encoder : fitted encoder, LinearReadout or ``.npz``
        Fitted on those features; :func:`unit_readout` for model units.
    targets : str or sequence of str
        Target ids, or ``"roi:<name>"`` for a region's mean response.
    n_images : int
        Optima per target, optimised jointly (with ``diversity > 0`` pushed apart).
    size, steps, lr : image side (pixels), Adam steps, learning rate.
    parameterization : {"fourier", "pixel"} or an object with ``init``/``render`` (module doc).
    jitter, blur : int pixels, float Gaussian sigma (pixels); 0 disables.
    diversity : float
        Weight λ of the mean pairwise cosine of standardised features among a target's images,
        in units of the response's SD over random images (the objective is ``−ŷ/SD``); 10–100
        gives visibly different optima at some cost in response.

    Returns
    -------
    Result
        kind ``explain.synthesis``: one row per target × image, ``statistic="predicted_response"``
        of the final image (no jitter), extra column ``image``; arrays ``images``
        (n_targets, n_images, size, size, 3) float32 in [0, 1], ``initial_response``.
    """
    import torch

    _check_settings(size=size, lr=lr, jitter=jitter, blur=blur, diversity=diversity)
    device = torch_device(device)
    readout = as_readout(encoder)
    W, b, names = _objective_weights(readout, targets)
    param = (
        lookup(PARAMETERIZATIONS, parameterization, "parameterization")()
        if isinstance(parameterization, str)
        else parameterization
    )
    if not (hasattr(param, "init") and hasattr(param, "render")):
        raise ValidationError(
            "parameterization must be 'pixel', 'fourier' or an object with init() and render()."
        )
    if n_images < 1 or steps < 1:
        raise ValidationError(f"n_images and steps must be >= 1; got {n_images}, {steps}.")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        probe = features(torch.full((1, 3, size, size), 0.5, device=device))
    if probe.shape[-1] != readout.n_features:
        raise ShapeError(
            f"the feature model gives {probe.shape[-1]} features but the encoder was fitted on "
            f"{readout.n_features}; use the encoder's layer and reduction."
        )
    with torch.no_grad():  # feature spread over random images: the unit of the diversity term
        ref = features(_blur(param.render(param.init(32, size, gen)), blur).to(device))
        f_mean, f_sd = ref.mean(0), ref.std(0).clamp(min=1e-6)
    Wt = torch.as_tensor(W, dtype=torch.float32, device=device)
    bt = torch.as_tensor(b, dtype=torch.float32, device=device)
    images, final, initial, seconds = [], [], [], []
    for j in track(range(len(names)), len(names), "synthesising", quiet):
        t0 = time.perf_counter()
        params = [
            p.detach().to(device).requires_grad_(True) for p in param.init(n_images, size, gen)
        ]
        opt = torch.optim.Adam(params, lr=lr)
        scale = None
        for _ in range(steps):
            x = _blur(param.render(params), blur)
            f = features(_jitter(x, jitter, gen))
            y = f @ Wt[:, j] + bt[j]
            if scale is None:  # the loss in units of the response spread over random images
                scale = float((ref @ Wt[:, j]).std()) or 1.0
                initial.append(y.detach().cpu().numpy())
            loss = -y.mean() / scale
            if diversity > 0 and n_images > 1:
                fn = torch.nn.functional.normalize((f - f_mean) / f_sd, dim=1)
                sim = fn @ fn.T
                off = sim.sum() - sim.diagonal().sum()
                loss = loss + diversity * off / (n_images * (n_images - 1))
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            x = _blur(param.render(params), blur)
            final.append((features(x) @ Wt[:, j] + bt[j]).cpu().numpy())
            images.append(x.permute(0, 2, 3, 1).cpu().numpy())
        seconds.append(time.perf_counter() - t0)
    rows = pd.DataFrame(
        {
            "target": np.repeat(names, n_images),
            "value": np.concatenate(final).astype(np.float64),
            "image": np.tile(np.arange(n_images), len(names)),
        }
    )
    roi_of = dict(zip(readout.targets, readout.rois, strict=True))
    rows["roi"] = [t[4:] if t.startswith("roi:") else roi_of.get(t, "") for t in rows["target"]]
    rows["aggregate"] = ["mean" if t.startswith("roi:") else "none" for t in rows["target"]]
    table = make_table(
        rows,
        analysis="explain",
        model=readout.model,
        layer=readout.layer,
        statistic="predicted_response",
        method="gradient_ascent",
        split="all",
    )
    params_out = {
        "size": size,
        "steps": steps,
        "lr": lr,
        "jitter": jitter,
        "blur": blur,
        "diversity": diversity,
        "n_images": n_images,
        "seed": seed,
        "seconds_per_target": float(np.mean(seconds)),
        "parameterization": parameterization
        if isinstance(parameterization, str)
        else type(param).__name__,
    }
    arrays = {
        "images": np.stack(images).astype(np.float32),
        "initial_response": np.stack(initial),
        "targets": np.asarray(names),
    }
    return Result(table, "explain.synthesis", arrays, params_out)

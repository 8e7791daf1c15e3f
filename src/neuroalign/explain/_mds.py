"""Most discriminative stimuli (MDS) for functional-type clustering (Burg et al. 2024).

Targets (neurons, units, voxels) with a fitted readout are clustered by an EM-like loop:

1. **init**: k-means on the targets' standardised predicted responses to ``init_images``;
2. **M-step**: for each cluster ``c`` optimise one image ``x_c`` that drives cluster ``c`` more
   than the others: maximise ``log softmax_c(r̄_1(x_c)/τ, …, r̄_K(x_c)/τ)``, where ``r̄_k`` is the
   mean standardised predicted response of cluster ``k``'s targets (all clusters in one batch);
3. **E-step**: reassign each target to the cluster whose stimulus drives it most,
   ``argmax_c r̃_i(x_c)``; repeat until no target moves (or ``n_iter``).

Responses are standardised per target, ``r̃_i = (ŷ_i − m_i)/s_i`` with mean and SD over the
init images, so that targets of different gain weigh equally.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core import Result, make_table
from ..core._progress import track
from ..core._registry import lookup
from ..core._validation import torch_device
from ..core.exceptions import ValidationError
from ._readout import as_readout
from ._synthesis import PARAMETERIZATIONS, FeatureModel, _blur, _jitter

__all__ = ["most_discriminative_stimuli"]


def most_discriminative_stimuli(
    features: FeatureModel | Any,
    encoder: Any,
    n_clusters: int,
    *,
    init: str | np.ndarray = "kmeans",
    init_images: Any = None,
    n_iter: int = 10,
    steps: int = 64,
    lr: float = 0.05,
    temperature: float = 0.5,
    size: int = 32,
    parameterization: str = "fourier",
    jitter: int = 1,
    blur: float = 0.5,
    seed: int = 0,
    device: str = "cpu",
    quiet: bool = False,
) -> Result:
    """Cluster the encoder's targets into functional types with most discriminative stimuli.

    Parameters
    ----------
    features : FeatureModel or callable
        Differentiable ``images (B, 3, size, size) in [0, 1] → features``.
    encoder : fitted encoder, LinearReadout or ``.npz``
    n_clusters : int
    init : "kmeans" or array (n_targets,)
        k-means on predicted responses to ``init_images``, or given initial labels.
    init_images : array (n, 3, size, size) in [0, 1], optional
        Default: 128 random smooth (Fourier) images.
    temperature : float
        τ of the softmax contrast between clusters.

    Returns
    -------
    Result
        kind ``explain.mds``: one row per target (``statistic="cluster"``, ``value`` = label) and
        per iteration (``statistic="moved"``); arrays ``labels``, ``images``
        (n_clusters, size, size, 3), ``responses`` (n_targets, n_clusters) to the final stimuli.
    """
    import torch

    device = torch_device(device)
    readout = as_readout(encoder)
    t = readout.n_targets
    if not 2 <= n_clusters <= t:
        raise ValidationError(
            f"n_clusters must be between 2 and the number of targets {t}; got {n_clusters}."
        )
    gen = torch.Generator().manual_seed(seed)
    W = torch.as_tensor(np.array(readout.coef), dtype=torch.float32, device=device)
    param = lookup(PARAMETERIZATIONS, parameterization, "parameterization")()
    with torch.no_grad():
        if init_images is None:
            init_images = param.render(param.init(128, size, gen)).to(device)
        else:
            init_images = torch.as_tensor(
                np.asarray(init_images), dtype=torch.float32, device=device
            )
        R0 = features(init_images) @ W  # (n, targets); the intercept cancels in standardisation
    m, s = R0.mean(0), R0.std(0).clamp(min=1e-8)
    if isinstance(init, str):
        if init != "kmeans":
            raise ValidationError(f"init={init!r}; use 'kmeans' or an array of labels.")
        from sklearn.cluster import KMeans

        Z = ((R0 - m) / s).T.cpu().numpy()
        labels = KMeans(n_clusters, n_init=10, random_state=seed).fit_predict(Z)
    else:
        labels = np.asarray(init, dtype=np.int64)
        if labels.shape != (t,) or labels.min() < 0 or labels.max() >= n_clusters:
            raise ValidationError(f"init labels must be {t} integers in [0, {n_clusters}).")
    moved_rows = []
    params = param.init(n_clusters, size, gen)
    for it in track(range(n_iter), n_iter, "MDS clustering", quiet):
        onehot = torch.zeros(t, n_clusters, device=device)
        onehot[torch.arange(t), torch.as_tensor(labels)] = 1.0
        counts = onehot.sum(0)
        present = counts > 0
        avg = onehot / counts.clamp(min=1)
        params = [p.detach().requires_grad_(True) for p in params]
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(steps):
            x = _jitter(_blur(param.render(params), blur), jitter, gen)
            Z = (features(x) @ W - m) / s  # (clusters, targets)
            logits = (Z @ avg) / temperature  # (stimulus c, cluster k)
            logits = logits.masked_fill(~present[None, :], -torch.inf)
            logp = torch.log_softmax(logits, dim=1).diagonal()
            loss = -logp[present].mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            x = _blur(param.render(params), blur)
            Z = ((features(x) @ W - m) / s).T.cpu().numpy()  # (targets, clusters)
        Z[:, ~present.cpu().numpy()] = -np.inf
        new = Z.argmax(1)
        moved = int((new != labels).sum())
        moved_rows.append({"statistic": "moved", "value": moved, "iteration": it})
        labels = new
        if moved == 0:
            break
    rows = pd.DataFrame(
        {
            "target": readout.targets,
            "roi": readout.rois,
            "value": labels.astype(float),
            "statistic": "cluster",
            "iteration": -1,
        }
    )
    table = make_table(
        pd.concat([rows, pd.DataFrame(moved_rows)], ignore_index=True),
        analysis="explain",
        model=readout.model,
        layer=readout.layer,
        method="most_discriminative_stimuli",
        split="all",
    )
    arrays = {"labels": labels, "images": x.permute(0, 2, 3, 1).cpu().numpy(), "responses": Z}
    return Result(
        table,
        "explain.mds",
        arrays,
        {
            "n_clusters": n_clusters,
            "temperature": temperature,
            "steps": steps,
            "n_iter_run": len(moved_rows),
        },
    )

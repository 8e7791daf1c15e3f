"""In-silico screening: the top-k and bottom-k stimuli of each target, by predicted response
through a fitted encoder (chunked GEMMs and a running top-k; the candidates × targets matrix is
never formed) or by measured response.

Cost: ``2 · n_candidates · n_features · n_targets`` FLOPs in GEMMs of ``chunk × n_features`` by
``n_features × n_targets`` blocks, plus one comparison per score for the running selection.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core import Activations, Responses, Result, make_table
from ..core._backend import chunk_slices, get_backend
from ..core._progress import track
from ..core._validation import check_array, check_finite, check_ids, parse_memory_budget
from ..core.exceptions import ValidationError
from ._readout import (
    LinearReadout,
    as_readout,
    check_features,
    target_labels,
)
from ._topk import RunningTopK

__all__ = ["top_stimuli", "top_stimuli_measured"]

# bytes per (candidate, target) score held at once: the block (4), the hit mask (1), and on a
# dense merge the keys (4), their concatenation (4) and argpartition's positions (8)
_BYTES_PER_SCORE = 21
_MIN_ROWS = 256


def _check_k(k: int, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValidationError(f"k must be a positive integer; got {k!r}.")
    if k > n:
        raise ValidationError(
            f"k={k} is larger than the candidate set ({n} stimuli); use k <= {n} or more candidates."
        )
    return int(k)


def _candidates(
    X: Any, stimulus_ids: Sequence[str] | None, readout: LinearReadout, layer: str | None
) -> tuple[np.ndarray, np.ndarray, str]:
    """Features and ids of the candidates; an ``Activations`` gives both (layer = the encoder's)."""
    if isinstance(X, Activations):
        layer = layer or readout.layer or (X.layer_names[0] if len(X.layer_names) == 1 else None)
        if layer is None:
            raise ValidationError(
                f"candidates hold layers {list(X.layer_names)}; pass layer=... (the encoder's layer)."
            )
        if readout.layer and layer != readout.layer:
            raise ValidationError(
                f"the encoder was fitted on layer {readout.layer!r} but layer={layer!r} was asked; "
                "screen candidates from the encoder's own layer."
            )
        if readout.model and X.model and readout.model != X.model:
            raise ValidationError(
                f"the encoder was fitted on features of {readout.model!r} but the candidates come "
                f"from {X.model!r}; extract them with the encoder's model."
            )
        ids = X.stimulus_ids if stimulus_ids is None else check_ids(stimulus_ids)
        X = X[layer]
    else:
        X = check_array(X, "X", ndim=2, allow_nan=True)
        ids = (
            np.array([f"s{i}" for i in range(X.shape[0])])
            if stimulus_ids is None
            else check_ids(stimulus_ids)
        )
        layer = layer or readout.layer
    X = check_features(X, readout, "candidate features", finite=False)
    if len(ids) != X.shape[0]:
        raise ValidationError(f"stimulus_ids has {len(ids)} ids but X has {X.shape[0]} rows.")
    return X, ids, layer or ""


def _screen(
    blocks: Iterator[tuple[Any, int]], k: int, n_targets: int, bottom: bool, backend: Any
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None]:
    top = RunningTopK(k, n_targets, True, backend)
    low = RunningTopK(k, n_targets, False, backend) if bottom else None
    for S, offset in blocks:
        top.update(S, offset)
        if low is not None:
            low.update(S, offset)
    return top.result(), (low.result() if low is not None else None)


def top_stimuli(
    encoder: Any,
    X: Any,
    k: int = 10,
    *,
    stimulus_ids: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    rois: Sequence[str] | None = None,
    roi_means: bool = False,
    bottom: bool = True,
    layer: str | None = None,
    memory_budget: int | str = "1GB",
    device: str | None = None,
    table: bool = True,
    quiet: bool = False,
) -> Result:
    """The ``k`` stimuli that drive each target most (and least) by *predicted* response.

    Parameters
    ----------
    encoder : fitted RidgeEncoder, LinearReadout, scikit-learn linear model or saved ``.npz``
        Predictions are ``X @ coef + intercept`` (see :func:`as_readout`).
    X : array (n_candidates, n_features) or Activations
        Candidate features from the encoder's model and layer (may be memory-mapped); read in
        row chunks.
    k : int
        Stimuli per target and direction (at most ``n_candidates``).
    stimulus_ids : sequence of str, optional
        Candidate ids (taken from ``Activations``; default ``s0, s1, ...``).
    targets, rois : sequence of str, optional
        Screen only these target ids and/or the targets of these rois.
    roi_means : bool
        Also screen each roi's mean predicted response (targets ``roi:<name>``, aggregate ``mean``).
    bottom : bool
        Also the ``k`` lowest predicted responses.
    memory_budget : int or str
        Bytes for the score blocks and their selection (``"1GB"``); inputs come on top.
    device : str, optional
        ``None``/``"cpu"`` (NumPy), ``"torch"``, ``"cuda"``.
    table : bool
        Build the tidy table (one row per target × direction × rank); ``False`` keeps arrays only
        (faster for 10⁴+ targets).

    Returns
    -------
    Result
        kind ``explain.top_stimuli``; rows with ``statistic="predicted_response"``, extra columns
        ``direction`` (top/bottom), ``rank`` (1 = strongest) and ``stimulus``; arrays
        ``top_index``/``top_value`` (and ``bottom_*``) of shape (n_targets, k), ``targets``,
        ``stimulus_ids``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> r = LinearReadout(rng.normal(size=(5, 2)), np.zeros(2), ["v0", "v1"])
    >>> X = rng.normal(size=(100, 5))
    >>> res = top_stimuli(r, X, k=3)
    >>> bool((res.arrays["top_index"][0] == np.argsort(-(X @ r.coef[:, 0]))[:3]).all())
    True
    """
    readout = as_readout(encoder)
    X, ids, layer = _candidates(X, stimulus_ids, readout, layer)
    k = _check_k(k, X.shape[0])
    sub = readout.select(targets, rois) if (targets is not None or rois is not None) else readout
    aggregate = np.full(sub.n_targets, "none", dtype=object)
    if roi_means:
        means = readout.roi_means() if rois is None else readout.select(rois=rois).roi_means()
        sub = LinearReadout(
            np.concatenate([sub.coef, means.coef], 1),
            np.concatenate([sub.intercept, means.intercept]),
            np.concatenate([sub.targets, means.targets]),
            np.concatenate([sub.rois, means.rois]),
            readout.model,
            readout.layer,
        )
        aggregate = np.concatenate([aggregate, np.full(means.n_targets, "mean", dtype=object)])
    bk = get_backend(device)
    budget = parse_memory_budget(memory_budget)
    n, t = X.shape[0], sub.n_targets
    t_block = max(1, min(t, budget // (_BYTES_PER_SCORE * _MIN_ROWS)))
    rows = max(1, min(n, budget // (_BYTES_PER_SCORE * t_block)))
    tops, lows = [], []
    for ts in track(list(chunk_slices(t, t_block)), None, "screening", quiet or t_block == t):
        W = bk.asarray(np.ascontiguousarray(sub.coef[:, ts].T))  # (targets, features)
        chunks = list(chunk_slices(n, rows))

        def blocks(W: Any = W, chunks: list = chunks) -> Iterator[tuple[Any, int]]:
            for sl in track(chunks, len(chunks), "screening candidates", quiet):
                x = np.asarray(X[sl], np.float32)
                check_finite(x, f"candidate features (rows {sl.start}-{sl.stop - 1})", "feature")
                yield W @ bk.asarray(x).T, sl.start  # (targets, candidates): rows contiguous

        top, low = _screen(blocks(), k, ts.stop - ts.start, bottom, bk)
        tops.append(top)
        lows.append(low)
    top_index = np.concatenate([a[0] for a in tops])
    top_value = np.concatenate([a[1] for a in tops]) + sub.intercept[:, None]
    arrays = {"top_index": top_index, "top_value": top_value}
    if bottom:
        arrays["bottom_index"] = np.concatenate([a[0] for a in lows])  # type: ignore[index]
        arrays["bottom_value"] = np.concatenate([a[1] for a in lows]) + sub.intercept[:, None]  # type: ignore[index]
    return _result(
        arrays,
        sub.targets,
        sub.rois,
        ids,
        aggregate,
        "predicted_response",
        readout.model,
        layer,
        table,
        {
            "k": k,
            "n_candidates": n,
            "n_features": readout.n_features,
            "bottom": bottom,
            "roi_means": roi_means,
            "memory_budget": budget,
            "device": bk.device,
        },
    )


def top_stimuli_measured(
    responses: Responses | Any,
    k: int = 10,
    *,
    stimulus_ids: Sequence[str] | None = None,
    targets: Sequence[str] | pd.DataFrame | None = None,
    rois: Sequence[str] | None = None,
    roi_means: bool = False,
    bottom: bool = True,
    table: bool = True,
) -> Result:
    """The ``k`` stimuli with the highest (and lowest) *measured* response of each target.

    ``responses`` is a :class:`~neuroalign.core.Responses` (ids, targets and rois from it) or an
    array (n_stimuli, n_targets). Same result layout as :func:`top_stimuli`, with
    ``statistic="measured_response"``.

    Examples
    --------
    >>> Y = np.array([[1.0, 5.0], [3.0, 4.0], [2.0, 6.0]])
    >>> top_stimuli_measured(Y, k=1, bottom=False).arrays["top_index"].ravel().tolist()
    [1, 2]
    """
    if isinstance(responses, Responses):
        if responses.is_timeseries:
            raise ValidationError(
                "top_stimuli_measured needs (n_stimuli, n_targets) responses; average or pick a "
                "time window of the time-resolved data first."
            )
        Y, ids = np.asarray(responses.data), responses.stimulus_ids
        targets = responses.targets if targets is None else targets
    else:
        Y = check_array(responses, "responses", ndim=2)
        ids = (
            np.array([f"s{i}" for i in range(Y.shape[0])])
            if stimulus_ids is None
            else check_ids(stimulus_ids)
        )
        if len(ids) != Y.shape[0]:
            raise ValidationError(
                f"stimulus_ids has {len(ids)} ids but responses has {Y.shape[0]} rows."
            )
    tid_list, roi_list = target_labels(targets, None, Y.shape[1])
    tid = np.asarray(tid_list, dtype=str)
    roi = np.asarray(roi_list if roi_list is not None else [""] * Y.shape[1], dtype=str)
    k = _check_k(k, Y.shape[0])
    idx = np.arange(Y.shape[1])
    if rois is not None:
        rois = [rois] if isinstance(rois, str) else list(rois)
        unknown = sorted(set(rois) - set(roi.tolist()))
        if unknown:
            raise ValidationError(
                f"rois {unknown} are not in the responses; they have {sorted(set(roi) - {''})}."
            )
        idx = np.flatnonzero(np.isin(roi, rois))
    cols = [np.asarray(Y[:, idx], np.float32)]
    tids, troi = [tid[idx]], [roi[idx]]
    aggregate = [np.full(idx.size, "none", dtype=object)]
    if roi_means:
        names = [r for r in pd.unique(roi[idx]) if r]
        if not names:
            raise ValidationError("roi_means=True needs targets with a roi (a 'roi' column).")
        cols.append(np.stack([Y[:, roi == r].mean(1) for r in names], 1).astype(np.float32))
        tids.append(np.array([f"roi:{r}" for r in names]))
        troi.append(np.array(names))
        aggregate.append(np.full(len(names), "mean", dtype=object))
    S = np.ascontiguousarray(np.concatenate(cols, 1).T)  # (targets, stimuli)
    top, low = _screen(iter([(S, 0)]), k, S.shape[0], bottom, None)
    arrays = {"top_index": top[0], "top_value": top[1]}
    if low is not None:
        arrays.update(bottom_index=low[0], bottom_value=low[1])
    return _result(
        arrays,
        np.concatenate(tids),
        np.concatenate(troi),
        ids,
        np.concatenate(aggregate),
        "measured_response",
        "",
        "",
        table,
        {"k": k, "n_candidates": int(Y.shape[0]), "bottom": bottom, "roi_means": roi_means},
    )


def _result(
    arrays: dict[str, np.ndarray],
    targets: np.ndarray,
    rois: np.ndarray,
    ids: np.ndarray,
    aggregate: np.ndarray,
    statistic: str,
    model: str,
    layer: str,
    table: bool,
    params: dict[str, Any],
) -> Result:
    frames = []
    t, k = arrays["top_index"].shape
    if table:
        for direction in ("top", "bottom"):
            if f"{direction}_index" not in arrays:
                continue
            index = arrays[f"{direction}_index"]
            frames.append(
                pd.DataFrame(
                    {
                        "target": np.repeat(targets, k),
                        "roi": np.repeat(rois, k),
                        "aggregate": np.repeat(aggregate, k),
                        "value": arrays[f"{direction}_value"].ravel().astype(np.float64),
                        "direction": direction,
                        "rank": np.tile(np.arange(1, k + 1), t),
                        "stimulus": ids[index.ravel()],
                    }
                )
            )
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    tab = make_table(
        rows,
        analysis="explain",
        model=model,
        layer=layer,
        statistic=statistic,
        method="top_stimuli",
        split="all",
        n=len(ids),
    )
    arrays = {
        **arrays,
        "targets": np.asarray(targets, str),
        "rois": np.asarray(rois, str),
        "stimulus_ids": np.asarray(ids, str),
    }
    return Result(tab, "explain.top_stimuli", arrays, params)

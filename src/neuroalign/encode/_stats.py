"""Statistics on encoding scores: permutation tests, FDR, ceiling normalisation, ROI summaries."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result, make_table
from ..core._backend import chunk_slices, get_backend
from ..core._multiple import permutation_p_values
from ..core._progress import track
from ..core._validation import check_array, check_same_length
from ..core.exceptions import NeuroalignWarning, ValidationError

__all__ = ["ceiling_normalized", "permutation_test", "summarize_by_roi"]


def _zscore(x: Any) -> Any:
    x = x - x.mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant column: NaN, reported
        return x / ((x * x).sum(0) ** 0.5)


def _block_permutation(n: int, block_size: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of range(n) that keeps blocks of ``block_size`` consecutive samples intact."""
    starts = np.arange(0, n, block_size)
    order = rng.permutation(len(starts))
    return np.concatenate([np.arange(starts[b], min(n, starts[b] + block_size)) for b in order])


def permutation_test(
    y_true: Any,
    y_pred: Any,
    n_permutations: int = 1000,
    block_size: int = 1,
    seed: int = 0,
    device: str | None = None,
    chunk: int = 64,
    target_ids: Any = None,
    quiet: bool = False,
) -> Result:
    """One-sided permutation test of the per-target Pearson r between measured and predicted.

    The null distribution permutes the stimulus order of ``y_true`` (in blocks of ``block_size``
    consecutive samples for time series, so autocorrelation is kept). With columns z-scored once,
    each permutation's r for every target is ``(Z_true[π] * Z_pred).sum(0)``; ``chunk``
    permutations are evaluated together as one batched contraction.

    Parameters
    ----------
    y_true, y_pred : arrays (n_samples, n_targets)
    n_permutations : int
        Number of permutations (>= 1; p-values cannot be below ``1 / (1 + n_permutations)``).
    block_size : int
        1 for independent stimuli; the length of the autocorrelation for time series.
    seed : int
    device : str, optional
        Backend device.
    chunk : int
        Permutations per batch.
    target_ids : sequence of str, optional
        Names of the targets for the table (default ``"0"``, ``"1"``, ...).
    quiet : bool
        No progress display.

    Returns
    -------
    Result
        ``kind="encoding.permutation"``; one row per target: ``statistic="score"``,
        ``scoring="pearson"``, ``value`` (observed r), ``p_value``
        (``(1 + #{r_null >= r}) / (1 + n_permutations)``), ``n`` (samples). ``arrays["null"]``
        holds the null distribution (n_permutations, n_targets), ``arrays["r"]`` and
        ``arrays["p_values"]`` the per-target values.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=(200, 2))
    >>> pred = np.c_[y[:, 0] + 0.5 * rng.normal(size=200), rng.normal(size=200)]  # 2nd: unrelated
    >>> res = permutation_test(y, pred, n_permutations=200)
    >>> res.table["p_value"].round(3).tolist()
    [0.005, 0.249]
    """
    if (
        not isinstance(n_permutations, (int, np.integer))
        or isinstance(n_permutations, bool)
        or (n_permutations < 1)
    ):
        raise ValidationError(
            f"n_permutations must be a positive integer (e.g. 1000); got {n_permutations!r}."
        )
    if not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValidationError(f"chunk must be a positive integer; got {chunk!r}.")
    y_true = check_array(y_true, "y_true", ndim=2)
    y_pred = check_array(y_pred, "y_pred", ndim=2)
    if y_true.shape != y_pred.shape:
        raise ValidationError(
            f"y_true {y_true.shape} and y_pred {y_pred.shape} must have the same shape."
        )
    if block_size < 1 or block_size > y_true.shape[0] // 2:
        raise ValidationError(f"block_size must be in [1, n_samples/2]; got {block_size}.")
    bk = get_backend(device, "float64")
    zt, zp = _zscore(bk.asarray(y_true)), _zscore(bk.asarray(y_pred))
    r = bk.to_numpy((zt * zp).sum(0))
    rng = np.random.default_rng(seed)
    n = y_true.shape[0]
    perms = np.stack([_block_permutation(n, block_size, rng) for _ in range(n_permutations)])
    null = np.empty((n_permutations, y_true.shape[1]))
    slices = list(chunk_slices(n_permutations, chunk))
    for sl in track(slices, len(slices), "permutations", quiet):
        idx = perms[sl]
        gathered = zt[bk.asarray(idx).long()] if bk.name == "torch" else zt[idx]  # (c, n, t)
        null[sl] = bk.to_numpy((gathered * zp[None]).sum(1))
    p_values = permutation_p_values(null, r)  # NaN for an undefined r (it got the smallest p)
    undefined = ~np.isfinite(r)  # a constant column: r and every null value are NaN
    if undefined.any():
        warnings.warn(
            f"{int(undefined.sum())} target(s) have an undefined correlation (constant y_true or "
            f"y_pred), columns {np.flatnonzero(undefined)[:10].tolist()}: their r and p-value are "
            "NaN.",
            NeuroalignWarning,
            stacklevel=2,
        )
    t = y_true.shape[1]
    names = [str(i) for i in range(t)] if target_ids is None else [str(i) for i in target_ids]
    check_same_length("target_ids", len(names), "targets (columns of y_true)", t)
    table = make_table(
        pd.DataFrame({"target": names, "value": r, "p_value": p_values}),
        analysis="encoding",
        statistic="score",
        scoring="pearson",
        aggregate="none",
        split="test",
        n=n,
    )
    return Result(
        table,
        "encoding.permutation",
        {"r": r, "p_values": p_values, "null": null},
        {
            "n_permutations": int(n_permutations),
            "block_size": int(block_size),
            "seed": seed,
            "test": "one-sided permutation of stimulus order",
        },
    )


#: ceilings below this are too unreliable to divide by (per target)
MIN_CEILING = 0.1


def ceiling_normalized(score: Any, ceiling: Any, min_ceiling: float = MIN_CEILING) -> np.ndarray:
    """``score / ceiling`` per target; NaN where the ceiling is below ``min_ceiling`` (unreliable
    targets would otherwise give huge, meaningless ratios)."""
    score = np.asarray(score, dtype=float)
    ceiling = np.asarray(ceiling, dtype=float)
    check_same_length("score", score.size, "ceiling", ceiling.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ceiling >= min_ceiling, score / ceiling, np.nan)


def summarize_by_roi(values: pd.DataFrame | dict[str, Any], rois: Any) -> pd.DataFrame:
    """Mean, median, SEM and count of each per-target column within each ROI.

    Parameters
    ----------
    values : DataFrame or dict of arrays (n_targets,)
        Per-target scores (e.g. ``r``, ``normalized``, ``significant``).
    rois : array (n_targets,)
        ROI label of each target.
    """
    df = pd.DataFrame(values)
    check_same_length("values rows", len(df), "rois", len(rois))
    df["roi"] = np.asarray(rois).astype(str)
    g = df.groupby("roi", sort=False)
    out = g.agg(["mean", "median", "sem"])
    out.columns = [f"{a}_{b}" for a, b in out.columns]
    out["n_targets"] = g.size()
    return out.reset_index()

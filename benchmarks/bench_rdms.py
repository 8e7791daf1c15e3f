"""RDMs: neuroalign's compute_rdm vs the GEMM peak and vs peers, same input, one process.

Shapes: (1) 50 datasets × 1000 stimuli × 2000 features (the issue's problem), (2) 1000 datasets ×
92 stimuli × 306 channels (many small RDMs: an MEG RDM per time point), which compute_rdm batches. Correlation distance,
float32 (the default). Cost model: one Gram product per dataset, counted as a general GEMM
(2 n² p flops) — compute_rdm issues it as ``x @ xᵀ``, which BLAS runs as a symmetric rank-k update
(half the flops), so "% of GEMM peak" can exceed 100 %. Also printed: the time of the bare
``x @ xᵀ`` products of the same inputs (what no implementation can beat), scipy ``pdist`` (float64,
the reference) and rsatoolbox ``calc_rdm``.

    python benchmarks/bench_rdms.py [--quick]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import gemm_peak, machine, timed

from neuroalign.compare import compute_rdm


def best_of(fn, repeats: int = 5) -> float:
    """Best of ``repeats`` runs after a warm-up: the machine may be shared."""
    fn()
    return min(timed(fn)[0] for _ in range(repeats))


def bench_shape(k: int, n: int, p: int, peak: float, peers: bool) -> None:
    X = np.random.default_rng(0).standard_normal((k, n, p), dtype=np.float32)
    sec = best_of(lambda: compute_rdm(X))
    bare = best_of(lambda: [X[i] @ X[i].T for i in range(k)])
    gflop = 2 * k * n * n * p / 1e9
    print(
        f"{k} datasets × {n} stimuli × {p} features (correlation, float32): {sec:.3f} s = "
        f"{gflop / sec:.0f} GFLOP/s = {gflop / sec / peak * 100:.0f}% of GEMM peak; "
        f"bare x @ xᵀ {bare:.3f} s (compute_rdm takes {sec / bare:.2f}x of it)"
    )
    if not peers:
        return
    from scipy.spatial.distance import pdist

    m = min(k, 5)
    sec_s = best_of(lambda: [pdist(X[i].astype(np.float64), "correlation") for i in range(m)])
    sec_s *= k / m
    print(
        f"  scipy pdist (float64{', extrapolated from 5' if k > 5 else ''}): {sec_s:.2f} s, ratio {sec_s / sec:.1f}x"
    )
    try:
        from rsatoolbox.data import Dataset
        from rsatoolbox.rdm import calc_rdm
    except ImportError:
        return
    sec_r = best_of(lambda: [calc_rdm(Dataset(X[i]), method="correlation") for i in range(m)])
    sec_r *= k / m
    print(
        f"  rsatoolbox calc_rdm ({'extrapolated from 5' if k > 5 else 'all'}): {sec_r:.2f} s, ratio {sec_r / sec:.1f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    peak = gemm_peak()
    print(f"machine: {machine()}; float32 GEMM peak {peak:.0f} GFLOP/s (2048² × 2048, best of 5)")
    if args.quick:
        bench_shape(10, 1000, 2000, peak, peers=True)
        bench_shape(200, 92, 306, peak, peers=False)
    else:
        bench_shape(50, 1000, 2000, peak, peers=True)
        bench_shape(1000, 92, 306, peak, peers=True)
    print(f"GEMM peak re-measured at the end: {gemm_peak():.0f} GFLOP/s (load on the machine)")


if __name__ == "__main__":
    main()

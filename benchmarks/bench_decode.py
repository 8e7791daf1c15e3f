"""Decoding speed: neuroalign vs MNE (time-resolved) and vs the GEMM peak (retrieval), one process.

1. Time-resolved decoding, 300 epochs × 64 channels × 200 times, 2 classes, 5-fold, ridge
   classifier: ``decode_over_time`` vs MNE ``SlidingEstimator(make_pipeline(StandardScaler(),
   RidgeClassifier()))`` and ``temporal_generalization`` vs ``GeneralizingEstimator`` (same
   splitter; accuracies must be identical). Second shape: 200 epochs × 32 channels × 100 times.
2. Retrieval: 10⁴ predicted embeddings × 10⁵ candidates × 512 dims, top-5 by cosine, under a
   memory budget, vs the float32 GEMM peak; peak RSS reported. Second shape: 2 000 × 20 000 × 256.

    python benchmarks/bench_decode.py [--quick] [--skip-mne-generalization] [--part temporal|retrieval]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import gemm_peak, machine, peak_rss_gb, timed

from neuroalign.data import make_epochs


def bench_temporal(n_epochs: int, n_channels: int, n_times: int, generalization: bool) -> None:
    from mne.decoding import GeneralizingEstimator, SlidingEstimator, cross_val_multiscore
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from neuroalign.decode import decode_over_time, temporal_generalization

    sim = make_epochs(n_epochs, n_channels, n_times, snr=0.3, sfreq=200.0, seed=0)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    pipe = make_pipeline(StandardScaler(), RidgeClassifier(alpha=1.0))
    print(f"\n{n_epochs} epochs × {n_channels} channels × {n_times} times, 2 classes, 5-fold ridge")
    cases = [("over time", decode_over_time, SlidingEstimator)]
    if generalization:
        cases.append(("generalization", temporal_generalization, GeneralizingEstimator))
    for name, ours, peer in cases:
        sec_n, r = timed(lambda ours=ours: ours(sim.epochs, sim.labels, cv=cv, alpha=1.0))
        sec_m, ref = timed(
            lambda peer=peer: cross_val_multiscore(
                peer(pipe, n_jobs=1, verbose=False), sim.epochs, sim.labels, cv=cv, verbose=False
            ).mean(0)
        )
        same = np.array_equal(r.arrays["scores"][0], ref)
        print(
            f"  {name:15s} neuroalign {sec_n:7.3f} s   MNE {sec_m:7.2f} s   "
            f"speed-up {sec_m / sec_n:6.1f}×   identical accuracies: {same}"
        )


def bench_retrieval(n_queries: int, n_candidates: int, dim: int, budget: str) -> None:
    from neuroalign.decode import retrieve

    rng = np.random.default_rng(0)
    cand = rng.standard_normal((n_candidates, dim), dtype=np.float32)
    pred = cand[:n_queries] + rng.standard_normal((n_queries, dim), dtype=np.float32)
    peak = gemm_peak()
    retrieve(pred[:256], cand[:4096], k=5)  # warm-up
    sec, res = timed(lambda: retrieve(pred, cand, k=5, memory_budget=budget))
    flops = 2 * n_queries * n_candidates * dim
    top1 = float(np.mean(res.indices[:, 0] == np.arange(n_queries)))
    print(
        f"\nretrieval {n_queries} × {n_candidates} × {dim}, top-5 cosine, memory_budget={budget}: "
        f"{sec:.2f} s = {flops / sec / 1e9:.0f} GFLOP/s = {flops / sec / 1e9 / peak:.0%} of the "
        f"float32 GEMM peak ({peak:.0f} GFLOP/s); top-1 {top1:.3f}; peak RSS {peak_rss_gb():.2f} GB"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="only the second (smaller) shapes")
    ap.add_argument("--skip-mne-generalization", action="store_true")
    ap.add_argument("--part", choices=["temporal", "retrieval", "all"], default="all")
    args = ap.parse_args()
    print(machine())
    if args.part in ("temporal", "all"):
        gen = not args.skip_mne_generalization
        if not args.quick:
            bench_temporal(300, 64, 200, gen)
        bench_temporal(200, 32, 100, gen)
    if args.part in ("retrieval", "all"):
        if not args.quick:
            bench_retrieval(10_000, 100_000, 512, "1GB")
        bench_retrieval(2_000, 20_000, 256, "256MB")


if __name__ == "__main__":
    main()

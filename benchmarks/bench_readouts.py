"""Speed of the non-linear readouts (issue 14), with RidgeEncoder on the same data as reference.

1. FactorizedReadout, the issue's problem: 2000 stimuli × (256 × 14 × 14) feature maps × 5000
   targets (goal: fitted in ≤ 5 min on this CPU), exact and with channel PCA (64 components);
   RidgeEncoder (GCV) on the flattened maps (50 176 features) on the same stimuli. Then a second
   shape (1000 × (64 × 7 × 7) × 1000).
2. InContextEncoder: weights of 10⁴ new voxels from 20-stimulus contexts (goal: ≤ 10 s), against
   per-voxel RidgeEncoder (α by 5-fold CV) fitted on the same 20 stimuli.

Throughput is FLOP/s of the two GEMMs per epoch (forward ``F·Wᵀ`` and backward ``dHᵀ·F``, each
``2·n·S·K·V`` FLOPs, K channels or components) against the float32 GEMM peak measured in this
process with torch. Usage: ``python benchmarks/bench_readouts.py [--quick] [--max-epochs N]``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import torch
from _common import machine, timed

from neuroalign.core.metrics import pearson_score
from neuroalign.data import make_spatial_rf_targets, make_voxel_family
from neuroalign.encode import FactorizedReadout, InContextEncoder, RidgeEncoder


def torch_gemm_peak(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(timed(lambda: a @ b)[0] for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def factorized_case(n, c, size, v, max_epochs, peak, n_components=None, ridge=True):
    n_test = n // 5
    t_sim, sim = timed(
        lambda: make_spatial_rf_targets(
            n_stimuli=n + n_test, n_channels=c, size=size, n_targets=v, rf_size=1.5, seed=0
        )
    )
    F, Y = sim.features, sim.responses
    tr, te = slice(0, n), slice(n, None)
    est = FactorizedReadout(max_epochs=max_epochs, patience=3, n_components=n_components, seed=0)
    t_fit, _ = timed(lambda: est.fit(F[tr], Y[tr]))
    r_fact = est.score(F[te], Y[te])
    k = c if n_components is None else n_components
    n_train = round(n * (1 - est.val_fraction))
    gflop = 2 * 2 * n_train * size * size * k * v / 1e9 * est.n_epochs_
    label = f"{n} × ({c}×{size}×{size}) × {v}" + (f", {k} components" if n_components else "")
    print(f"\nFactorizedReadout [{label}] (simulated in {t_sim:.0f} s)")
    print(
        f"  fit {t_fit:.1f} s, {est.n_epochs_} epochs ({t_fit / max(est.n_epochs_, 1):.1f} s/epoch "
        f"incl. validation); GEMM work {gflop:.0f} GFLOP → {gflop / t_fit:.1f} GFLOP/s "
        f"= {gflop / t_fit / peak:.0%} of the float32 GEMM peak"
    )
    print(
        f"  throughput {n_train * est.n_epochs_ * v / t_fit:.3g} stimulus·target updates/s; "
        f"test r {r_fact:.3f} (ceiling {sim.noise_ceiling[0]:.3f})"
    )
    if ridge:
        flat = F.reshape(len(F), -1)
        enc = RidgeEncoder(cv="gcv", alphas=np.logspace(-1, 7, 9))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_ridge, _ = timed(lambda: enc.fit(flat[tr], Y[tr]))
        r_ridge = float(np.mean(pearson_score(Y[te], enc.predict(flat[te]))))
        print(
            f"  RidgeEncoder (GCV) on {flat.shape[1]} flattened features: fit {t_ridge:.1f} s, "
            f"test r {r_ridge:.3f}; factorised/ridge time ratio {t_fit / t_ridge:.1f}, "
            f"r gain {r_fact - r_ridge:+.3f}"
        )
    return t_fit


def incontext_case(n_voxels: int = 10_000, k: int = 20, dim: int = 512) -> None:
    sim = make_voxel_family(n_stimuli=600, n_features=dim, n_voxels=2000, rank=8, seed=0)
    enc = InContextEncoder(max_epochs=1, steps_per_epoch=20, seed=0)  # default size network
    t_meta, _ = timed(lambda: enc.fit(sim.features[:500], sim.responses[:500]))
    rng = np.random.default_rng(0)
    ctx = rng.choice(500, k, replace=False)
    Yctx = rng.standard_normal((k, n_voxels)).astype(np.float32) + sim.responses[ctx, :1]
    enc.predict_weights(sim.features[ctx], Yctx[:, :100])  # warm-up
    t_icl, (coef, _) = timed(lambda: enc.predict_weights(sim.features[ctx], Yctx))
    ridge = RidgeEncoder(cv=5, alphas=np.logspace(-2, 6, 9))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_ridge, _ = timed(lambda: ridge.fit(sim.features[ctx], Yctx))
    print(
        f"\nInContextEncoder (d_model {enc.d_model}, {enc.n_layers} layers; {dim}-d embeddings; "
        f"meta-training step time {t_meta / 20:.2f} s)"
    )
    print(
        f"  weights of {n_voxels} voxels from {k}-stimulus contexts: {t_icl:.2f} s "
        f"({n_voxels / t_icl:.0f} voxels/s; goal ≤ 10 s); coef {coef.shape}"
    )
    print(f"  per-voxel RidgeEncoder (5-fold CV) on the same contexts: {t_ridge:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the small shapes")
    parser.add_argument("--max-epochs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--skip-small", action="store_true", help="only the issue's shape")
    parser.add_argument(
        "--full-targets", type=int, default=5000, help="targets of the issue's shape (cost ∝ V)"
    )
    parser.add_argument("--components", type=int, default=None, help="also run channel PCA")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine())
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; load average "
        f"{os.getloadavg()[0]:.1f} (the machine is shared: timings are upper bounds)"
    )
    peak = torch_gemm_peak()
    print(f"float32 GEMM peak (torch, this process): {peak:.0f} GFLOP/s")
    if not args.skip_small:
        factorized_case(1000, 64, 7, 1000, args.max_epochs, peak)
        incontext_case()
    if not args.quick:
        t0 = time.perf_counter()
        v = args.full_targets
        if args.components:
            factorized_case(2000, 256, 14, v, args.max_epochs, peak, args.components, ridge=False)
        t_fit = factorized_case(2000, 256, 14, v, args.max_epochs, peak)
        if v != 5000:
            print(
                f"  (cost is linear in targets: ×{5000 / v:.1f} for 5000 → ≈ {t_fit * 5000 / v:.0f} s)"
            )
        print(f"\nissue-shape cases: {time.perf_counter() - t0:.0f} s in all")


if __name__ == "__main__":
    main()

"""RSA inference, RDMs and CKA: neuroalign vs rsatoolbox, same input, one process.

1. Bootstrap RSA over subject RDMs (rsatoolbox ``eval_bootstrap_rdm``, with its bootstrapped noise
   ceiling) on two shapes: 92 stimuli × 10 subjects × 20 models and 150 × 20 × 50, N=200,
   Spearman, τ_a and Pearson; ratio next to the goal (≥ 200×). rsatoolbox's cost is linear in N,
   so it runs ``--peer-boot`` resamples and its time is scaled to N (the ratio is per resample). Also
   checks that the per-sample values are identical when both are fed the same resamples.
2. Linear CKA on 10 000 × 4096 vs 10 000 × 4096 float32 features vs the GEMM cost.

    python benchmarks/bench_rsa.py [--quick]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import gemm_peak, machine, timed

from neuroalign import RDMs
from neuroalign.compare import bootstrap_rsa, cka, compute_rdm

RSA_NAMES = {"spearman": "spearman", "kendall_tau_a": "tau-a", "pearson": "corr"}
GOAL = 200.0


def bench_bootstrap(
    n_boot: int,
    n_stim: int = 92,
    n_subj: int = 10,
    n_models: int = 20,
    peer_boot: int | None = None,
) -> None:
    import rsatoolbox
    from rsatoolbox.inference import boot_noise_ceiling, eval_bootstrap_rdm
    from rsatoolbox.rdm import compare as rsa_compare

    rng = np.random.default_rng(0)
    peer_boot = n_boot if peer_boot is None else peer_boot
    truth = rng.normal(size=(n_stim, 50))
    data = np.stack(
        [compute_rdm(truth + 1.5 * rng.normal(size=truth.shape)) for _ in range(n_subj)]
    )
    models = np.stack(
        [
            compute_rdm(truth + s * rng.normal(size=truth.shape))
            for s in np.linspace(0.5, 8, n_models)
        ]
    )
    ids = [f"s{i}" for i in range(n_stim)]
    rsa_models = [
        rsatoolbox.model.ModelFixed(f"m{j}", rsatoolbox.rdm.RDMs(models[j][None]))
        for j in range(n_models)
    ]
    rsa_data = rsatoolbox.rdm.RDMs(data)
    print(
        f"bootstrap over subject RDMs: {n_stim} stimuli, {n_subj} subjects, {n_models} models, "
        f"N={n_boot} (rsatoolbox N={peer_boot}; times below are per {n_boot} resamples)"
    )
    for method, name in RSA_NAMES.items():
        sec_r, _ = timed(
            lambda name=name: eval_bootstrap_rdm(rsa_models, rsa_data, method=name, N=peer_boot)
        )
        sec_r *= n_boot / peer_boot
        runs = [
            timed(
                lambda method=method: bootstrap_rsa(
                    RDMs(models, ids),
                    RDMs(data, ids),
                    method=method,
                    n_boot=n_boot,
                    over="subjects",
                    seed=1,
                    quiet=True,
                )
            )
            for _ in range(3)
        ]
        secs = sorted(t for t, _ in runs)
        sec_n, res = secs[0], runs[0][1]
        # identical resamples: rsatoolbox's building blocks on our subject indices
        subj = np.random.default_rng(2).integers(0, n_subj, size=(n_boot, n_subj))
        worst = 0.0
        for k in range(min(n_boot, 10)):
            sample = rsatoolbox.rdm.RDMs(data[subj[k]], rdm_descriptors={"index": subj[k]})
            ref = np.mean(rsa_compare(rsatoolbox.rdm.RDMs(models), sample, method=name), axis=1)
            worst = max(worst, float(np.abs(res.arrays["samples"][k] - ref).max()))
            if len(np.unique(subj[k])) > 1:
                low, high = boot_noise_ceiling(sample, method=name)
                worst = max(
                    worst,
                    abs(res.arrays["ceiling_samples"][k, 0] - low),
                    abs(res.arrays["ceiling_samples"][k, 1] - high),
                )
        print(
            f"  {method:14s} rsatoolbox {sec_r:7.2f} s   neuroalign min {sec_n:6.3f} s "
            f"(median of 3 {secs[1]:6.3f} s)   ratio {sec_r / sec_n:7.1f}x (goal >= {GOAL:.0f}x; "
            f"{sec_r / secs[1]:.1f}x on the median)   max |Δ| per sample (values and ceilings, "
            f"10 samples) {worst:.1e}"
        )


def bench_cka(peak: float, quick: bool) -> None:
    n, p = (4000, 2048) if quick else (10_000, 4096)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, p), dtype=np.float32)
    Y = X @ (rng.standard_normal((p, p), dtype=np.float32) / np.sqrt(p)) + rng.standard_normal(
        (n, p), dtype=np.float32
    )
    xc, yc = X - X.mean(0), Y - Y.mean(0)

    def bare() -> None:  # the three products CKA needs, one at a time (XᵀX, YᵀY run as syrk)
        for a, b in ((xc, yc), (xc, xc), (yc, yc)):
            a.T @ b

    secs, bares = [], []
    for _ in range(3):  # interleaved: the machine's load changes between runs
        sec, value = timed(lambda: cka(X, Y))
        secs.append(sec)
        bares.append(timed(bare)[0])
    sec, sec_bare = min(secs), min(bares)
    gflop = 3 * 2 * n * p * p / 1e9  # XᵀY, XᵀX, YᵀY counted as three GEMMs
    print(
        f"linear CKA (debiased) {n} × {p} vs {n} × {p} float32: {sec:.2f} s, {gflop / sec:.0f} "
        f"GFLOP/s = {gflop / sec / peak * 100:.0f}% of GEMM peak (three GEMMs' work; XᵀX and YᵀY "
        f"run as syrk, half the multiply-adds); the three bare products alone take {sec_bare:.2f} s: "
        f"CKA at {sec_bare / sec * 100:.0f}% of its product bound (goal >= 80%) (CKA = {value:.4f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument(
        "--peer-boot", type=int, default=50, help="rsatoolbox resamples (its cost is linear in N)"
    )
    ap.add_argument("--skip-cka", action="store_true")
    ap.add_argument("--shapes", default="1,2", help="which bootstrap shapes: 1 (92×10×20), 2")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    peak = gemm_peak()
    print(f"machine: {machine()}; float32 GEMM peak {peak:.0f} GFLOP/s")
    print(
        "RSA resampling is sort- and count-bound (integer ranks, Fenwick counts), not GEMM-bound; "
        "the GEMM peak is printed for scale"
    )
    shapes = args.shapes.split(",")
    if "1" in shapes:
        bench_bootstrap(args.n_boot, peer_boot=args.peer_boot)
    if not args.quick and "2" in shapes:
        bench_bootstrap(args.n_boot, 150, 20, 50, peer_boot=args.peer_boot)
    if not args.skip_cka:
        bench_cka(peak, args.quick)


if __name__ == "__main__":
    main()

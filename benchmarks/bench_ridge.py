"""Voxelwise ridge with per-target α: neuroalign vs himalaya vs scikit-learn, same input, one process.

Default problem (issue 3): n=3000 stimuli, p=1024 features, t=20000 targets, 10 alphas, 5 folds,
float32. Prints one line per method (seconds, ratio to himalaya RidgeCV numpy), the agreement of
held-out predictions and chosen alphas with himalaya, and neuroalign's GFLOP/s against the
machine's measured GEMM peak.

    python benchmarks/bench_ridge.py                  # full size (several minutes: the peers are slow)
    python benchmarks/bench_ridge.py --t 2000 --quick  # smaller, fewer peers
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import gemm_peak, machine, timed

from neuroalign.core.metrics import pearson_score
from neuroalign.encode import RidgeEncoder


def make_problem(n: int, p: int, t: int, n_test: int, seed: int = 0):
    """Correlated features; targets = a few latent directions × weights + noise of varied level."""
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((p, p)).astype(np.float32) / np.sqrt(p)
    X = (rng.standard_normal((n + n_test, p)).astype(np.float32) @ mix) * np.linspace(
        0.2, 2, p, dtype=np.float32
    )
    W = (
        rng.standard_normal((p, 32)).astype(np.float32)
        @ rng.standard_normal((32, t)).astype(np.float32)
        / 32
    )
    signal = X @ W
    signal /= signal.std(0)
    noise = rng.standard_normal((n + n_test, t)).astype(np.float32) * np.geomspace(
        0.3, 10, t, dtype=np.float32
    )
    Y = signal + noise
    return X[:n], Y[:n], X[n:], Y[n:]


def kfold_flops(n: int, p: int, t: int, k: int, a: int) -> float:
    """Multiply-adds × 2 of neuroalign's k-fold path (primal, n_train > p), eigh excluded."""
    n_va = n / k
    n_tr = n - n_va
    per_fold = p * p * n_tr + n_va * p * p + n_va * p * t + p * p * t + a * n_va * p * t
    refit = p * p * n + p * n * t + 2 * p * p * t
    return 2 * (k * per_fold + p * n * t + refit)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--p", type=int, default=1024)
    ap.add_argument("--t", type=int, default=20000)
    ap.add_argument("--n-alphas", type=int, default=10)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument(
        "--quick", action="store_true", help="skip scikit-learn and himalaya's torch backend"
    )
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    n, p, t, k = args.n, args.p, args.t, args.folds
    alphas = np.logspace(-1, 6, args.n_alphas)
    X, Y, Xte, Yte = make_problem(n, p, t, n_test=500)
    peak = gemm_peak()
    print(f"machine: {machine()}")
    print(
        f"problem: n={n} p={p} t={t} alphas={len(alphas)} folds={k} float32; GEMM peak {peak:.0f} GFLOP/s"
    )

    rows = []
    dev = None if args.device == "cpu" else args.device
    # the same selection criterion as himalaya (squared error over folds), so the alphas can agree
    sec, enc = timed(
        lambda: RidgeEncoder(alphas=alphas, cv=k, scoring="neg_mse_score", device=dev).fit(X, Y)
    )
    rows.append(
        (
            "neuroalign RidgeEncoder k-fold (numpy)"
            if dev is None
            else f"neuroalign k-fold ({dev})",
            sec,
        )
    )
    gflops = kfold_flops(n, p, t, k, len(alphas)) / sec / 1e9
    pred_na = enc.predict(Xte)
    sec_g, enc_g = timed(lambda: RidgeEncoder(alphas=alphas, cv="gcv", device=dev).fit(X, Y))
    rows.append(("neuroalign RidgeEncoder GCV", sec_g))
    if dev is None:
        sec_t, _ = timed(lambda: RidgeEncoder(alphas=alphas, cv=k, device="torch").fit(X, Y))
        rows.append(("neuroalign RidgeEncoder k-fold (torch cpu)", sec_t))

    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV as HRidgeCV

    set_backend("numpy", on_error="raise")
    sec_h, h = timed(lambda: HRidgeCV(alphas=alphas, cv=k, fit_intercept=True).fit(X, Y))
    rows.append(("himalaya RidgeCV (numpy)", sec_h))
    pred_h = np.asarray(h.predict(Xte))
    alpha_h = np.asarray(h.best_alphas_)
    if not args.quick:
        backend = "torch_cuda" if dev == "cuda" else "torch"
        set_backend(backend, on_error="raise")
        sec_ht, _ = timed(lambda: HRidgeCV(alphas=alphas, cv=k, fit_intercept=True).fit(X, Y))
        rows.append((f"himalaya RidgeCV ({backend})", sec_ht))
        set_backend("numpy")
        from sklearn.linear_model import RidgeCV as SkRidgeCV

        sec_s, _ = timed(lambda: SkRidgeCV(alphas=alphas, alpha_per_target=True).fit(X, Y))
        rows.append(("scikit-learn RidgeCV(alpha_per_target=True) (efficient LOO)", sec_s))

    print(f"{'method':62s} {'seconds':>9s} {'× vs himalaya numpy':>20s}")
    for name, sec in rows:
        print(f"{name:62s} {sec:9.2f} {sec_h / sec:20.2f}")
    scale = np.abs(pred_h).max(0)
    rel = np.abs(pred_na - pred_h).max(0) / np.where(scale > 0, scale, 1)
    same = np.isclose(enc.best_alphas_, alpha_h, rtol=1e-6)
    print(
        f"k-fold vs himalaya: same alpha for {same.mean() * 100:.2f}% of targets; held-out predictions "
        f"max relative difference {rel.max():.2e} (median {np.median(rel):.2e}); "
        f"among targets with the same alpha {rel[same].max():.2e}"
    )
    r_k = pearson_score(Yte, pred_na)
    r_g = pearson_score(Yte, enc_g.predict(Xte))
    print(
        f"GCV vs k-fold test-set Pearson r: mean {r_g.mean():.4f} vs {r_k.mean():.4f} "
        f"(|Δ| {abs(r_g.mean() - r_k.mean()):.4f}; max per-target |Δ| {np.abs(r_g - r_k).max():.4f})"
    )
    print(
        f"neuroalign k-fold: {gflops:.0f} GFLOP/s = {gflops / peak * 100:.0f}% of the measured GEMM peak"
    )


if __name__ == "__main__":
    main()

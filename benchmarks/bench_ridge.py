"""Voxelwise ridge with per-target α: neuroalign vs himalaya (every CPU backend), one process.

Three problems (float32, 5 folds, α by squared error as himalaya):

* ``default``: n=3000 stimuli, p=1024 features, t=20000 targets, 10 alphas (issue 3);
* ``second``: n=2000, p=800, t=10000, 15 alphas (issue 10);
* ``wide``: n=1500, p=4096, t=20000, 10 alphas — more features than stimuli, so every fold and
  the refit take the dual (kernel) path: eigen-decompositions of n × n Gram matrices (issue 21).

Goal (issue 21): k-fold ≥ 5× the fastest himalaya configuration on every problem and ≥ 80 % of the
GEMM peak. ``--breakdown`` also prints where neuroalign's k-fold time goes (fold Gram products and
eigh, the α loop's GEMMs and scoring, the refit) from timers wrapped around its internals.

For each: neuroalign k-fold and GCV (best of ``--repeats``), himalaya ``RidgeCV`` on its numpy and
torch (CPU) backends, and numpy with one BLAS thread (the fastest himalaya configuration on a
loaded machine), each best of ``--peer-repeats``; the ratio to the FASTEST himalaya configuration,
the agreement of the chosen α and of held-out predictions, and neuroalign's GFLOP/s as a fraction
of the float32 GEMM peak measured in the same process just before.

    python benchmarks/bench_ridge.py                       # both problems, full size (slow peers)
    python benchmarks/bench_ridge.py --t-scale 0.2         # targets × 0.2 for every method
    python benchmarks/bench_ridge.py --only default --skip-peers
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import gemm_peak, machine, timed

from neuroalign.core.metrics import pearson_score
from neuroalign.encode import RidgeEncoder

PROBLEMS = {
    "default": dict(n=3000, p=1024, t=20000, n_alphas=10),
    "second": dict(n=2000, p=800, t=10000, n_alphas=15),
    "wide": dict(n=1500, p=4096, t=20000, n_alphas=10),
}
GOAL = 5.0
FOLDS = 5


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
    """2 × multiply-adds of neuroalign's k-fold path (primal when n_train > p, else dual), eigh
    excluded."""
    n_va = n / k
    n_tr = n - n_va
    if n_tr <= p:  # dual: Gram Z Zᵀ, A = (Z_va Zᵀ) V, B = Vᵀ Y_tr, predictions; refit dual too
        per_fold = n_tr * n_tr * p + n_va * n_tr * p + n_va * n_tr * n_tr
        per_fold += (n_tr * n_tr + a * n_va * n_tr) * t
        refit = n * n * p + (2 * n * n + p * n) * t
        return 2 * (k * per_fold + refit)
    per_fold = p * p * n_tr + n_va * p * p + (p * p + n_va * p + a * n_va * p) * t
    refit = p * p * n + 2 * p * p * t  # its Xᵀ Y is the folds' shared one (fit in the same pass)
    return 2 * (k * per_fold + p * n * t + refit)


def gcv_flops(n: int, p: int, t: int, a: int) -> float:
    """2 × multiply-adds of neuroalign's GCV path (primal, or dual when n <= p), eigh excluded."""
    if n <= p:
        return 2 * (n * n * p + (2 * n * n + a * n + p * n) * t)
    return 2 * (p * p * n + n * p * p + (n * p + a * p + p * p) * t)


def _numpy(x) -> np.ndarray:
    """A himalaya output (NumPy array or torch tensor) as a NumPy array."""
    return np.asarray(x.cpu()) if hasattr(x, "cpu") else np.asarray(x)


def best_of(fn, repeats: int):
    best, out = np.inf, None
    for _ in range(max(1, repeats)):
        sec, out = timed(fn)
        best = min(best, sec)
    return best, out


def himalaya_configs(keys: str = "numpy,numpy1,torch"):
    """(name, backend, BLAS threads or None) for the himalaya CPU configurations in ``keys``."""
    known = {
        "numpy": ("himalaya RidgeCV numpy", "numpy", None),
        "numpy1": ("himalaya RidgeCV numpy 1 thread", "numpy", 1),
        "torch": ("himalaya RidgeCV torch (cpu)", "torch", None),
    }
    out = [known[k] for k in keys.split(",") if k]
    try:
        import torch  # noqa: F401
    except ImportError:
        out = [c for c in out if c[1] != "torch"]
    return out


def breakdown(X, Y, alphas, k: int, peak: float) -> None:
    """One k-fold fit with timers around neuroalign's internals: where the time goes."""
    import time

    from neuroalign.encode import _ridge, _ridge_folds

    spent: dict[str, float] = {}
    originals = []

    def wrap(module, name: str, label: str) -> None:  # where the call resolves the name
        fn = getattr(module, name)
        originals.append((module, name, fn))

        def timed_fn(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t0

        setattr(module, name, timed_fn)

    for module, name, label in (
        (_ridge_folds, "_all_fold_factors", "fold factors (Gram, eigh, A; with the refit's)"),
        (_ridge_folds, "_eigh", "  of which eigh (summed over threads)"),
        (_ridge, "_kfold_scores", "k-fold scores (total)"),
        (_ridge_folds, "_coef_chunk", "refit (coefficients, in the same pass)"),
    ):
        wrap(module, name, label)
    try:
        t0 = time.perf_counter()
        RidgeEncoder(alphas=alphas, cv=k).fit(X, Y)
        total = time.perf_counter() - t0
    finally:
        for module, name, fn in originals:
            setattr(module, name, fn)
    n, p = X.shape
    t, a = Y.shape[1], len(alphas)
    n_va = n / k
    r = min(n - n_va, p)
    refit = spent.get("refit (coefficients, in the same pass)", 0.0)
    loop = (
        spent["k-fold scores (total)"]
        - spent["fold factors (Gram, eigh, A; with the refit's)"]
        - refit
    )
    loop_flops = 2 * k * (a * n_va * r + r * (n - n_va if r < p else r)) * t
    print(f"breakdown of one k-fold fit ({total:.2f} s wall):")
    for label in (
        "fold factors (Gram, eigh, A; with the refit's)",
        "  of which eigh (summed over threads)",
        "refit (coefficients, in the same pass)",
    ):
        print(
            f"  {label:42s} {spent.get(label, 0):7.2f} s  {spent.get(label, 0) / total * 100:5.1f} %"
        )
    print(
        f"  {'α loop (B, A·D·B GEMMs, residual, sums)':42s} {loop:7.2f} s  {loop / total * 100:5.1f} %"
        f"   {loop_flops / loop / 1e9:.0f} GFLOP/s = {loop_flops / loop / 1e9 / peak * 100:.0f}% of peak"
    )
    rest = total - spent["k-fold scores (total)"]
    print(
        f"  {'input checks, constant targets, rest':42s} {rest:7.2f} s  {rest / total * 100:5.1f} %"
    )


#: relative CV-score difference below which two α are a tie in float32 (scores are means of
#: squared errors over ~10⁵ float32 products; neuroalign's float32 scores are within 5e-7 of its
#: float64 ones on the wide problem)
TIE_RTOL = 1e-5


def agreement(enc, alpha_h: np.ndarray, score_h: np.ndarray, alphas: np.ndarray) -> None:
    """Print the α agreement with himalaya: overall, and where neuroalign's CV scores of the two
    choices differ by more than :data:`TIE_RTOL` (a float32 tie is not a disagreement); and the
    agreement of the CV scores at the chosen α (himalaya's score at its α vs neuroalign's at its)."""
    scores = np.asarray(enc.cv_scores_, dtype=np.float64)  # (n_alphas, t), neg MSE
    cols = np.arange(scores.shape[1])
    i_na = np.argmax(scores, axis=0)
    i_h = np.argmin(np.abs(np.log(alphas)[:, None] - np.log(alpha_h)[None, :]), axis=0)
    best = scores[i_na, cols]
    gap = (best - scores[i_h, cols]) / np.abs(best)
    differ = i_na != i_h
    real = differ & (gap > TIE_RTOL)
    rel = np.abs(score_h - best) / np.abs(best)
    print(
        f"k-fold vs himalaya (float32): same alpha for {100 * (1 - differ.mean()):.2f}% of "
        f"targets; {100 * (1 - real.mean()):.2f}% once ties are allowed (the {differ.sum()} "
        f"differing targets' CV scores of the two alphas differ by at most "
        f"{gap[differ].max() if differ.any() else 0:.1e} relative; tie below {TIE_RTOL:.0e}; "
        f"goal 100%)"
    )
    print(
        f"  CV score at the chosen alpha, himalaya vs neuroalign: max relative difference "
        f"{rel.max():.1e} (median {np.median(rel):.1e})"
    )


def run(name: str, prob: dict, args) -> None:
    n, p, k = prob["n"], prob["p"], FOLDS
    t = max(100, int(prob["t"] * args.t_scale))
    alphas = np.logspace(-1, 6, prob["n_alphas"])
    X, Y, Xte, Yte = make_problem(n, p, t, n_test=500)
    peak = gemm_peak()
    print(f"\n== {name}: n={n} p={p} t={t} alphas={len(alphas)} folds={k} float32")
    print(f"float32 GEMM peak measured now: {peak:.0f} GFLOP/s")
    from threadpoolctl import threadpool_limits

    rows = []
    sec_k, enc = best_of(lambda: RidgeEncoder(alphas=alphas, cv=k).fit(X, Y), args.repeats)
    rows.append(("neuroalign RidgeEncoder k-fold (numpy)", sec_k))
    with threadpool_limits(1):
        sec_k1, _ = best_of(lambda: RidgeEncoder(alphas=alphas, cv=k).fit(X, Y), args.repeats)
    rows.append(("neuroalign RidgeEncoder k-fold (numpy, 1 thread)", sec_k1))
    sec_g, enc_g = best_of(lambda: RidgeEncoder(alphas=alphas, cv="gcv").fit(X, Y), args.repeats)
    rows.append(("neuroalign RidgeEncoder GCV (numpy)", sec_g))
    with threadpool_limits(1):
        sec_g1, _ = best_of(lambda: RidgeEncoder(alphas=alphas, cv="gcv").fit(X, Y), args.repeats)
    rows.append(("neuroalign RidgeEncoder GCV (numpy, 1 thread)", sec_g1))
    sec_k, sec_g = min(sec_k, sec_k1), min(sec_g, sec_g1)
    gf_k = kfold_flops(n, p, t, k, len(alphas)) / sec_k / 1e9
    gf_g = gcv_flops(n, p, t, len(alphas)) / sec_g / 1e9  # of the fastest configuration
    peers = []
    if not args.skip_peers:
        from himalaya.backend import set_backend
        from himalaya.ridge import RidgeCV as HRidgeCV
        from sklearn.model_selection import KFold

        folds = KFold(k, shuffle=True, random_state=0)  # neuroalign's default folds
        for label, backend, threads in himalaya_configs(args.himalaya):
            set_backend(backend, on_error="raise")
            with threadpool_limits(threads):
                sec, h = best_of(
                    lambda: HRidgeCV(alphas=alphas, cv=folds, fit_intercept=True).fit(X, Y),
                    args.peer_repeats,
                )
            peers.append((label, sec, h))
            rows.append((label, sec))
        set_backend("numpy")
    fastest = min((s for _, s, _ in peers), default=np.nan)
    print(f"{'method':50s} {'seconds':>9s} {'× vs fastest himalaya':>22s}")
    for label, sec in rows:
        print(f"{label:50s} {sec:9.2f} {fastest / sec:22.2f}")
    print(
        f"fastest neuroalign vs fastest himalaya: k-fold {fastest / sec_k:.2f}× (goal >= {GOAL:.0f}×), "
        f"GCV {fastest / sec_g:.2f}×"
    )
    print(
        f"neuroalign k-fold: {gf_k:.0f} GFLOP/s = {gf_k / peak * 100:.0f}% of the GEMM peak; "
        f"GCV: {gf_g:.0f} GFLOP/s = {gf_g / peak * 100:.0f}% (goal for k-fold >= 80%)"
    )
    if args.breakdown:
        breakdown(X, Y, alphas, k, peak)
    if peers:
        h = min(peers, key=lambda r: r[1])[2]
        alpha_h = _numpy(h.best_alphas_)
        agreement(enc, alpha_h, _numpy(h.cv_scores_).ravel(), alphas)
        same = np.isclose(enc.best_alphas_, alpha_h, rtol=1e-5)
        pred_na = enc.predict(Xte)
        pred_h = Xte @ _numpy(h.coef_) + _numpy(h.intercept_)
        scale = np.abs(pred_h).max(0)
        rel = np.abs(pred_na - pred_h).max(0) / np.where(scale > 0, scale, 1)
        print(
            f"  held-out predictions where the alpha is the same: max relative difference "
            f"{rel[same].max():.1e}"
        )
    r_k = pearson_score(Yte, enc.predict(Xte))
    r_g = pearson_score(Yte, enc_g.predict(Xte))
    print(
        f"GCV vs k-fold test-set Pearson r: mean {r_g.mean():.4f} vs {r_k.mean():.4f} "
        f"(max per-target |Δ| {np.abs(r_g - r_k).max():.4f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=sorted(PROBLEMS), help="run one problem")
    ap.add_argument("--t-scale", type=float, default=1.0, help="multiply every t by this")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many (neuroalign)")
    ap.add_argument("--peer-repeats", type=int, default=1, help="best of this many (himalaya)")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--breakdown", action="store_true", help="where neuroalign's k-fold time goes")
    ap.add_argument(
        "--himalaya",
        default="numpy,numpy1,torch",
        help="himalaya configurations: numpy (default threads), numpy1 (one BLAS thread), torch",
    )
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    print(f"machine: {machine()}")
    for name, prob in PROBLEMS.items():
        if args.only in (None, name):
            run(name, prob, args)


if __name__ == "__main__":
    main()

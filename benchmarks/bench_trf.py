"""Temporal response functions: neuroalign ``ReceptiveField`` vs MNE's two paths.

Fits one TRF at a fixed α on continuous data at 128 Hz and reports, in one process:

- neuroalign ``ReceptiveField`` (float32 lagged products, float64 solve; the delayed design is
  never built) and the same in float64;
- MNE ``ReceptiveField(estimator=TimeDelayingRidge)`` (FFT correlations + edge correction);
- MNE ``ReceptiveField(estimator=sklearn Ridge)`` (materialises the delayed design): on
  ``--ridge-minutes`` of data (the full hour needs ~4.5 GB for the design alone, in float64, plus
  scikit-learn's centred copy) and scaled linearly in time to the full length (its cost is
  ``n_times × (n_features·n_lags)²``, linear in time), said so in the output.

Shapes: ``forward`` = 20 stimulus features → 64 channels, 61 lags (0–469 ms), the issue's case;
``backward`` = 64 channels → 1 stimulus envelope, 33 lags (−250–0 ms), stimulus reconstruction.
Prints times, ratios against the faster MNE path, the coefficient agreement and neuroalign's
effective rate (the direct method's flop count over the end-to-end fit time) as a fraction of the
float32 GEMM peak measured in this process.

    python benchmarks/bench_trf.py                     # both shapes, 1 hour (several minutes)
    python benchmarks/bench_trf.py --minutes 5         # quick
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _common import gemm_peak, machine, peak_rss_gb

SHAPES = {
    # name: (n_features in X, n_outputs in y, tmin, tmax in samples)
    "forward": (20, 64, 0, 60),
    "backward": (64, 1, -32, 0),
}
SFREQ = 128.0


def make(n_times: int, n_x: int, n_y: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_times, n_x)).astype(np.float32)
    y = (X[:, : min(n_x, n_y)].sum(1, keepdims=True) * 0.1).repeat(n_y, 1)
    y = (y + rng.standard_normal((n_times, n_y))).astype(np.float32)
    return X, y


def run(name: str, minutes: float, ridge_minutes: float, alpha: float = 1e3) -> dict:
    import mne
    from mne.decoding import ReceptiveField as MneRF
    from mne.decoding import TimeDelayingRidge
    from sklearn.linear_model import Ridge

    from neuroalign.encode import ReceptiveField

    mne.set_log_level("ERROR")
    n_x, n_y, smin, smax = SHAPES[name]
    tmin, tmax = smin / SFREQ, smax / SFREQ
    n = int(minutes * 60 * SFREQ)
    L = smax - smin + 1
    X, y = make(n, n_x, n_y)
    # warm every contender up once (imports, FFT plans, thread pools) on a few seconds of data
    Xw, yw = X[:2048], y[:2048]
    ReceptiveField(tmin, tmax, SFREQ, alpha=alpha).fit(Xw, yw)
    est = TimeDelayingRidge(tmin, tmax, SFREQ, alpha=alpha)
    MneRF(tmin, tmax, SFREQ, estimator=est).fit(Xw.astype(np.float64), yw.astype(np.float64))
    print(f"\n[{name}] {n_x} features -> {n_y} outputs, {L} lags, {n} samples ({minutes:g} min)")

    t0 = time.perf_counter()
    ours = ReceptiveField(tmin, tmax, SFREQ, alpha=alpha).fit(X, y)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours64 = ReceptiveField(tmin, tmax, SFREQ, alpha=alpha, dtype="float64").fit(X, y)
    t_ours64 = time.perf_counter() - t0
    lag_flops = 2 * n * n_x * (L * n_x + L * n_y)  # Toeplitz blocks + cross products
    print(f"neuroalign float32: {t_ours:7.2f} s   float64: {t_ours64:7.2f} s")

    t0 = time.perf_counter()
    est = TimeDelayingRidge(tmin, tmax, SFREQ, alpha=alpha)
    tdr = MneRF(tmin, tmax, SFREQ, estimator=est).fit(X.astype(np.float64), y.astype(np.float64))
    t_tdr = time.perf_counter() - t0
    print(f"MNE TimeDelayingRidge:  {t_tdr:7.2f} s")

    nr = min(n, int(ridge_minutes * 60 * SFREQ))
    t0 = time.perf_counter()
    rid = MneRF(tmin, tmax, SFREQ, estimator=Ridge(alpha=alpha, fit_intercept=True))
    rid.fit(X[:nr].astype(np.float64), y[:nr].astype(np.float64))
    t_ridge_part = time.perf_counter() - t0
    t_ridge = t_ridge_part * n / nr
    scaled = f" (measured on {nr / SFREQ / 60:.1f} min, scaled x{n / nr:.1f})" if nr < n else ""
    print(f"MNE Ridge path:         {t_ridge:7.2f} s{scaled}")

    rel32 = np.abs(ours.coef_ - tdr.coef_).max() / np.abs(tdr.coef_).max()
    rel64 = np.abs(ours64.coef_ - tdr.coef_).max() / np.abs(tdr.coef_).max()
    faster = min(t_tdr, t_ridge)
    which = "TimeDelayingRidge" if t_tdr <= t_ridge else "Ridge"
    print(
        f"coef vs MNE TimeDelayingRidge: float64 {rel64:.1e}, float32 {rel32:.1e} (max relative)\n"
        f"speed-up vs the faster MNE path ({which}): float32 {faster / t_ours:.1f}x, "
        f"float64 {faster / t_ours64:.1f}x"
    )
    return {
        "t_ours": t_ours,
        "t_ours64": t_ours64,
        "t_tdr": t_tdr,
        "t_ridge": t_ridge,
        "rel32": rel32,
        "rel64": rel64,
        "lag_gflop": lag_flops / 1e9,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--ridge-minutes", type=float, default=5.0)
    ap.add_argument(
        "--threads", type=int, default=1, help="BLAS threads for every contender (shared machine)"
    )
    ap.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    from threadpoolctl import threadpool_limits

    print(machine())
    with threadpool_limits(args.threads):
        _main(args)


def _main(args: argparse.Namespace) -> None:
    peak = gemm_peak()
    print(f"float32 GEMM peak measured now ({args.threads} BLAS thread(s)): {peak:.0f} GFLOP/s")
    for name in args.shapes:
        r = run(name, args.minutes, args.ridge_minutes)
        gf = r["lag_gflop"] / r["t_ours"]
        print(
            f"neuroalign: the direct lagged products are {r['lag_gflop']:.0f} GFLOP; fit in "
            f"{r['t_ours']:.2f} s end to end = {gf:.0f} effective GFLOP/s = "
            f"{gf / peak * 100:.0f}% of the GEMM peak (with 24+ lags the Fourier-domain products "
            "do fewer flops, so this can exceed 100%)"
        )
    print(f"peak RSS {peak_rss_gb():.1f} GB")


if __name__ == "__main__":
    main()

"""Explain benchmarks: in-silico screening (top-k stimuli per target through a fitted encoder).

Screening ``n`` candidate feature vectors (``p`` features) through an encoder of ``t`` targets,
top-k and bottom-k per target: ``2·n·p·t`` FLOPs. Each neuroalign run is a fresh subprocess so its
peak RSS (VmHWM) is its own; the script reports the fraction of this machine's float32 GEMM peak
(measured here), and ``peak RSS − inputs`` against ``memory_budget``. Peers (small shape only, as
they hold the whole candidates × targets matrix): NumPy brute force (one GEMM + argpartition) and
torch (one GEMM + ``torch.topk``).

    python benchmarks/bench_explain.py                  # small shape + peers, then the issue's shape
    python benchmarks/bench_explain.py --skip-full      # small shape only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import gemm_peak, machine

SRC = str(Path(__file__).resolve().parents[1] / "src")

CHILD = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from neuroalign.explain import LinearReadout, top_stimuli
n, p, t, k, budget, device = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key))
rng = np.random.default_rng(0)
X = np.empty((n, p), np.float32)
for s in range(0, n, 10000):
    X[s:s + 10000] = rng.standard_normal((min(10000, n - s), p), dtype=np.float32)
W = rng.standard_normal((p, t), dtype=np.float32) / p**0.5
r = LinearReadout(W, np.zeros(t, np.float32), np.arange(t).astype(str))
def peak():
    a = rng.standard_normal((2048, 2048), dtype=np.float32); b = a.T.copy(); a @ b
    best = min((lambda t0: (a @ b, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(3))
    return 2 * 2048**3 / best / 1e9
base = status("VmRSS:")
top_stimuli(r, X[:2000], k=k, memory_budget=budget, table=False, device=None if device == "numpy" else device)  # warm-up
peak0 = peak()
t0 = time.perf_counter()
res = top_stimuli(r, X, k=k, memory_budget=budget, table=False, device=None if device == "numpy" else device)
sec = time.perf_counter() - t0
m = min(n, 20000)  # the same GEMMs without the selection, on the first m rows, scaled to n
t0 = time.perf_counter()
for s in range(0, m, 4096):
    W.T @ X[s:s + 4096].T
gemm_only = (time.perf_counter() - t0) * n / m
print(json.dumps({"seconds": sec, "gemm_only_seconds": gemm_only, "peak_gflops": (peak0 + peak()) / 2, "inputs_gb": (X.nbytes + W.nbytes) / 1e9, "base_rss_gb": base / 1e9,
                  "peak_rss_gb": status("VmHWM:") / 1e9}))
"""


def run_child(n: int, p: int, t: int, k: int, budget: str, device: str = "numpy") -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, SRC, str(n), str(p), str(t), str(k), budget, device],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def peers(n: int, p: int, t: int, k: int) -> dict:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, p), dtype=np.float32)
    W = rng.standard_normal((p, t), dtype=np.float32) / p**0.5
    sys.path.insert(0, SRC)
    from neuroalign.explain import LinearReadout, top_stimuli

    r = LinearReadout(W, np.zeros(t, np.float32), np.arange(t).astype(str))
    t0 = time.perf_counter()
    res = top_stimuli(r, X, k=k, table=False)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    S = X @ W
    top = np.argpartition(-S, k - 1, axis=0)[:k]
    low = np.argpartition(S, k - 1, axis=0)[:k]
    brute = time.perf_counter() - t0
    same = all(
        np.array_equal(np.sort(res.arrays[f"{d}_index"], 1), np.sort(i.T, 1))
        for d, i in (("top", top), ("bottom", low))
    )
    del S
    out = {"neuroalign_s": ours, "numpy_brute_s": brute, "equal": same}
    try:
        import torch

        Xt, Wt = torch.from_numpy(X), torch.from_numpy(W)
        t0 = time.perf_counter()
        St = Xt @ Wt
        torch.topk(St, k, dim=0)
        torch.topk(-St, k, dim=0)
        out["torch_brute_s"] = time.perf_counter() - t0
    except ImportError:
        pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--budget", default="1GB")
    args = ap.parse_args()
    print(f"machine: {machine()} (timings on a shared, loaded machine)")
    peak = gemm_peak()
    print(f"float32 GEMM peak (2048³): {peak:.1f} GFLOP/s")
    k = 10
    shapes = [(20_000, 2048, 2_000)] + ([] if args.skip_full else [(100_000, 2048, 10_000)])
    n, p, t = shapes[0]
    pr = peers(n, p, t, k)
    print(
        f"peers at n={n}, p={p}, t={t}, top/bottom-{k}: neuroalign {pr['neuroalign_s']:.2f} s, "
        f"NumPy brute force {pr['numpy_brute_s']:.2f} s (x{pr['numpy_brute_s'] / pr['neuroalign_s']:.2f}), "
        + (
            f"torch brute force {pr['torch_brute_s']:.2f} s (x{pr['torch_brute_s'] / pr['neuroalign_s']:.2f}); "
            if "torch_brute_s" in pr
            else ""
        )
        + f"same top/bottom sets: {pr['equal']}"
    )
    for n, p, t in shapes:
        r = run_child(n, p, t, k, args.budget)
        gflops = 2 * n * p * t / r["seconds"] / 1e9
        peak = r["peak_gflops"]  # measured just before and after the run (the load varies)
        extra = r["peak_rss_gb"] - r["base_rss_gb"]
        print(
            f"screen n={n:,} × p={p} × t={t:,}, top+bottom-{k}: {r['seconds']:.1f} s, "
            f"{gflops:.1f} GFLOP/s = {gflops / peak:.0%} of GEMM peak ({peak:.1f} GFLOP/s), {r['gemm_only_seconds'] / r['seconds']:.0%} of the same GEMMs without selection; inputs {r['inputs_gb']:.2f} GB, "
            f"peak RSS {r['peak_rss_gb']:.2f} GB (+{extra:.2f} GB over the inputs; "
            f"memory_budget {args.budget})"
        )


if __name__ == "__main__":
    main()

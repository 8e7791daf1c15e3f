"""Ridge on a memory-mapped Y with many targets: peak RSS and time versus the number of targets.

Each configuration runs in a fresh subprocess so that its peak RSS is its own. Y is written to a
temporary file once (n × 200 000 float32 = 2.4 GB for n = 3000) and opened read-only with
``numpy.memmap``; the solver reads it chunk by chunk under ``memory_budget``.

    python benchmarks/bench_ridge_memory.py               # 50k, 100k, 200k targets (GCV) + 200k k-fold
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import child_env, machine

CHILD = r"""
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
from _common import peak_rss_gb  # the benchmarks folder is on PYTHONPATH (see run below)
from neuroalign.encode import RidgeEncoder
path, n, p, t, cv = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
X = np.load(path + ".X.npy")
Y = np.memmap(path, dtype=np.float32, mode="r", shape=(n, 200_000))[:, :t]
t0 = time.perf_counter()
enc = RidgeEncoder(alphas=np.logspace(-1, 6, 10), cv=int(cv) if cv.isdigit() else cv).fit(X, Y)
sec = time.perf_counter() - t0
print(json.dumps({"t": t, "cv": cv, "seconds": sec, "peak_rss_gb": peak_rss_gb(),
                  "coef_gb": enc.coef_.nbytes / 1e9}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--p", type=int, default=1024)
    ap.add_argument("--targets", default="50000,100000,200000")
    ap.add_argument("--kfold-targets", type=int, default=200000, help="0 to skip the k-fold run")
    args = ap.parse_args()
    n, p = args.n, args.p
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "Y.f32")
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, p), dtype=np.float32)
        np.save(path + ".X.npy", X)
        Y = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, 200_000))
        W = rng.standard_normal((p, 16), dtype=np.float32)
        for start in range(0, 200_000, 20_000):  # signal in 16 latent directions + noise
            block = (X @ W) @ rng.standard_normal((16, 20_000), dtype=np.float32) / 16
            Y[:, start : start + 20_000] = block + rng.standard_normal(
                (n, 20_000), dtype=np.float32
            )
        Y.flush()
        del Y
        print(
            f"problem: n={n} p={p}, Y memory-mapped float32 ({n * 200_000 * 4 / 1e9:.1f} GB on disk), 10 alphas"
        )
        runs = [(int(t), "gcv") for t in args.targets.split(",")]
        if args.kfold_targets:
            runs.append((args.kfold_targets, "5"))
        print(
            f"{'targets':>8s} {'cv':>4s} {'seconds':>8s} {'s per 10k targets':>18s} {'peak RSS GB':>12s} {'coef GB':>8s}"
        )
        for t, cv in runs:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, path, str(n), str(p), str(t), cv],
                env=child_env(),
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{t:8d} {cv:>4s} {r['seconds']:8.1f} {r['seconds'] / t * 1e4:18.2f} {r['peak_rss_gb']:12.2f} {r['coef_gb']:8.2f}"
            )


if __name__ == "__main__":
    main()

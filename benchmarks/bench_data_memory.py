"""Peak memory of the lazy NSD reader versus loading every session at once, and of ``Responses``
over memory-mapped repetitions versus NumPy's whole-array ``nanmean``/``isnan``.

Builds an NSD-style layout on disk (design file, brain mask, ``betas_sessionKK.nii`` int16 sessions
of 750 trials) and reads it in fresh subprocesses, each reporting its own peak RSS and its peak of
traced heap allocations (tracemalloc: what a memory-mapped output does not count, unlike RSS,
which includes the file pages the process touched):

- ``lazy``: :func:`neuroalign.data.load_nsd` (one session in memory at a time + the output);
- ``lazy-out``: the same with ``out=``: repetitions and averages written to ``.npy`` memory maps;
- ``eager``: every session loaded with nibabel, stacked, masked, then averaged (what a quick script
  does);
- ``responses`` / ``numpy``: the averages and missing-trial checks of a memory-mapped
  ``(3, n_images, n_voxels)`` float32 repetitions file: ``Responses(repetitions=...)`` (a block of
  voxels at a time) versus ``np.nanmean(reps, 0)`` + ``np.isnan(reps)`` (the code before).

    python benchmarks/bench_data_memory.py                          # 40k voxels x 1500 images (< 2 min)
    python benchmarks/bench_data_memory.py --voxels 200000 --images 10000 --out-dir /big/disk
        # the full-scale case: 40 sessions, 30000 trials; needs ~12 GB disk for the betas and
        # ~32 GB for the memory-mapped outputs under --out-dir (--average-only for 24 GB less)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import child_env, machine

CHILD = r"""
import json, sys, time, tracemalloc, warnings
import numpy as np
from _common import peak_rss_gb  # the benchmarks folder is on PYTHONPATH (child_env)
warnings.simplefilter("ignore")
mode, root, out, keep = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
tracemalloc.start()
t0 = time.perf_counter()
if mode in ("responses", "numpy"):
    reps = np.load(root, mmap_mode="r")
    if mode == "responses":
        from neuroalign import Responses
        r = Responses([f"s{i}" for i in range(reps.shape[1])], repetitions=reps)
        shape = r.data.shape
    else:
        data = np.nanmean(reps, axis=0)
        missing = np.isnan(reps).reshape(reps.shape[0], reps.shape[1], -1).all(axis=2)
        shape = data.shape
elif mode in ("lazy", "lazy-out"):
    from neuroalign.data import load_nsd
    stim, resp = load_nsd(root, 1, atlas=None, keep_repetitions=keep, out=None if out == "-" else out)
    shape = resp.repetitions.shape if keep else resp.data.shape
else:
    import glob, nibabel as nib
    mask = np.asanyarray(nib.load(root + "/nsddata/ppdata/subj01/func1pt8mm/brainmask.nii.gz").dataobj) > 0
    files = sorted(glob.glob(root + "/nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_session*.nii"))
    allb = np.concatenate([np.asarray(nib.load(f).get_fdata(dtype=np.float32)) for f in files], axis=3)
    trials = allb[mask].T / 300.0
    shape = trials.shape
sec = time.perf_counter() - t0
print(json.dumps({"mode": mode, "seconds": sec, "shape": list(shape),
                  "peak_heap_gb": tracemalloc.get_traced_memory()[1] / 1e9,
                  "peak_rss_gb": peak_rss_gb()}))
"""


def make_layout(root: Path, n_voxels: int, n_images: int, seed: int = 0) -> dict:
    """NSD layout with ``n_images`` images x 3 repetitions over 750-trial sessions."""
    import nibabel as nib
    import scipy.io as sio

    rng = np.random.default_rng(seed)
    side = int(np.ceil(n_voxels ** (1 / 3)))
    shape = (side, side, int(np.ceil(n_voxels / side**2)))
    mask = np.zeros(int(np.prod(shape)), np.int16)
    mask[:n_voxels] = 1
    n_trials = 3 * n_images
    n_sess = int(np.ceil(n_trials / 750))
    order = np.ones(30000 if n_sess <= 40 else n_sess * 750, dtype=np.int64)
    order[:n_trials] = np.tile(np.arange(1, n_images + 1), 3)[rng.permutation(n_trials)]
    subjectim = np.tile(np.arange(1, max(10000, n_images) + 1), (8, 1))
    exp = root / "nsddata/experiments/nsd"
    exp.mkdir(parents=True)
    sio.savemat(exp / "nsd_expdesign.mat", {"masterordering": order, "subjectim": subjectim})
    func = root / "nsddata/ppdata/subj01/func1pt8mm"
    func.mkdir(parents=True)
    aff = np.diag([1.8, 1.8, 1.8, 1.0])
    nib.save(nib.Nifti1Image(mask.reshape(shape), aff), func / "brainmask.nii.gz")
    betas = root / "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR"
    betas.mkdir(parents=True)
    for s in range(n_sess):
        data = rng.integers(-3000, 3000, size=(*shape, 750), dtype=np.int16)
        nib.save(nib.Nifti1Image(data, aff), betas / f"betas_session{s + 1:02d}.nii")
        del data
    return {"shape": shape, "sessions": n_sess, "session_gb": np.prod(shape) * 750 * 2 / 1e9}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voxels", type=int, default=40_000)
    ap.add_argument("--images", type=int, default=1500)
    ap.add_argument(
        "--out-dir", default=None, help="where to build the layout (default: a temp dir)"
    )
    ap.add_argument("--average-only", action="store_true", help="lazy reader keeps averages only")
    ap.add_argument("--skip-eager", action="store_true")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(dir=args.out_dir) as tmp:
        root = Path(tmp) / "nsd"
        t0 = time.perf_counter()
        info = make_layout(root, args.voxels, args.images)
        print(
            f"layout: {args.voxels} voxels (volume {info['shape']}), {args.images} images x 3 reps, "
            f"{info['sessions']} sessions of 750 trials, {info['session_gb']:.3f} GB int16 per session "
            f"(built in {time.perf_counter() - t0:.0f} s)"
        )
        keep = not args.average_only
        out_gb = (3 if keep else 1) * args.images * args.voxels * 4 / 1e9
        print(f"output: {'repetitions' if keep else 'averages'} float32 = {out_gb:.3f} GB")
        modes = ["lazy", "lazy-out"] + ([] if args.skip_eager else ["eager"])
        for mode in modes:
            out = str(Path(tmp) / "out.npy") if mode == "lazy-out" else "-"
            r = _run([mode, str(root), out, "1" if keep else "0"])
            if r is None:
                continue
            _report(r)
        _bench_responses(Path(tmp), args.images, args.voxels)


def _run(args: list[str]) -> dict | None:
    res = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, env=child_env()
    )
    if res.returncode != 0:
        print(args[0], "failed:", res.stderr[-2000:])
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


def _report(r: dict) -> None:
    print(
        f"{r['mode']:>9}: peak RSS {r['peak_rss_gb']:.2f} GB, peak heap (tracemalloc) "
        f"{r['peak_heap_gb']:.3f} GB, {r['seconds']:.1f} s, output shape {r['shape']}"
    )


def _bench_responses(tmp: Path, n_images: int, n_voxels: int) -> None:
    """Responses over a memory-mapped repetitions file versus NumPy's whole-array reductions."""
    path = tmp / "reps.npy"
    reps = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(3, n_images, n_voxels)
    )
    rng = np.random.default_rng(0)
    for r in range(3):
        for a in range(0, n_images, 256):
            reps[r, a : a + 256] = rng.standard_normal((min(256, n_images - a), n_voxels))
    reps[2, : n_images // 10] = np.nan  # a tenth of the images seen twice only
    reps.flush()
    del reps
    gb = 3 * n_images * n_voxels * 4 / 1e9
    print(f"memory-mapped repetitions: (3, {n_images}, {n_voxels}) float32 = {gb:.3f} GB")
    results = {m: _run([m, str(path), "-", "1"]) for m in ("responses", "numpy")}
    for r in results.values():
        if r:
            _report(r)
    if all(results.values()):
        ratio = results["numpy"]["peak_heap_gb"] / results["responses"]["peak_heap_gb"]
        print(f"heap peak: NumPy whole-array / Responses blockwise = {ratio:.1f}x")


if __name__ == "__main__":
    main()

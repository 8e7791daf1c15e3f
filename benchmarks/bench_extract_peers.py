"""Extraction side by side with THINGSvision and a bare forward loop (issue 21, point 0).

Same seeded random-weight torchvision ResNet-50 (``weights=None`` after ``torch.manual_seed(0)``),
same JPEG files (generated here, 224 px), same preprocessing (torchvision's
``ResNet50_Weights.DEFAULT.transforms()`` on PIL images: neuroalign's default ``official``
pipeline, and the transform THINGSvision is given), batch 32, the same number of torch threads.
Each measurement runs in its own subprocess, the tools interleaved and the round repeated:

- ``bare``: ``model(x)`` under ``torch.inference_mode()`` over batches decoded and preprocessed
  before the clock starts (the floor; the decode time is printed separately);
- ``na_mem5`` / ``tv_mem5``: five layers (``layer1``..``layer4``, ``avgpool``) flattened, kept in
  memory (neuroalign ``extract(reduce="flatten")``; THINGSvision ``extract_features(...,
  flatten_acts=True)``);
- ``na_disk16`` / ``tv_disk16``: the 16 bottleneck blocks flattened, to disk (neuroalign's
  feature store, ``cache=``; THINGSvision ``output_dir=`` with ``step_size`` batches per file,
  ``--tv-one-file`` to let it join them into one file per layer as neuroalign's store does);
- ``na_mem5_cl`` / ``na_disk16_cl``: the same with ``channels_last=True`` (the convolutions in
  NHWC: oneDNN's faster kernels on this CPU). Not bit-identical to the NCHW runs (another
  summation order): compared with them to a relative tolerance of 1e-4 of each layer's largest
  value instead.

Every task builds the model through neuroalign's ``load_model``, so importing neuroalign sets
PyTorch's ``THP_MEM_ALLOC_ENABLE=1`` (huge pages for large CPU tensors) in every subprocess, the
bare loop's and THINGSvision's included: the tools are compared on equal terms. Run with
``THP_MEM_ALLOC_ENABLE=0`` in the environment to compare them without it.

Times are the extraction call alone (model built and imports done before the clock; image
decoding inside it for both tools), as wall time and as CPU seconds (user + system) of the
process and its DataLoader workers: on a shared machine the CPU ratio moves less with the load. Peak RSS is each subprocess's own ``VmHWM``. The first
``--check`` rows of every layer are compared bit for bit between the tools (and, on disk, with
the in-memory run). Ratios are printed next to the goals of issue 21: neuroalign ≥ 0.9× the bare
forward pass, ≥ 1.3× THINGSvision, peak RSS ≤ THINGSvision's. ``--quick`` (6 images, no
THINGSvision) checks that the in-memory and on-disk runs of neuroalign agree (CI runs it).

THINGSvision is a peer, never a dependency: install it in its own folder without its pinned
torch/numpy (``pip install --no-deps --target DIR thingsvision torchtyping 'typeguard<3'``) and
pass ``--thingsvision DIR``. Its modules import TensorFlow at import time although the PyTorch
path never calls it (and TensorFlow < 2.16, which it pins, cannot load next to numpy 2); when
TensorFlow is missing, the THINGSvision subprocess gets an empty stand-in package on its path,
and ``np.AxisError`` (moved to ``np.exceptions`` in numpy 2) is aliased in that subprocess.

    python benchmarks/bench_extract_peers.py --thingsvision /work/peers/thingsvision
        [--n-images 500] [--batch 32] [--threads 2] [--repeats 2] [--tasks bare,na_mem5,...]
    python benchmarks/bench_extract_peers.py --quick     # a few images, no THINGSvision (CI)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FIVE = ["layer1", "layer2", "layer3", "layer4", "avgpool"]
BLOCKS = [f"layer{s}.{b}" for s, n in ((1, 3), (2, 4), (3, 6), (4, 3)) for b in range(n)]
TASKS = [
    "bare",
    "na_mem5",
    "tv_mem5",
    "na_disk16",
    "tv_disk16",
    "na_mem5_cl",
    "na_disk16_cl",
]
CL_RTOL = 1e-4  # channels-last vs NCHW: max |Δ| over each layer's max |value|

_TF_STUB = '''"""Stand-in for TensorFlow (bench_extract_peers): THINGSvision imports it at module level;
its PyTorch path never calls it."""


class _Nothing:
    def __init__(self, *a, **k):
        pass

    def __call__(self, *a, **k):
        return _Nothing()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Nothing()

    def __bool__(self):
        return False

    def __iter__(self):
        return iter(())


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _Nothing()
'''


def make_images(folder: Path, n: int, side: int, seed: int = 0) -> list[str]:
    """``n`` seeded JPEG files (smooth random colour fields plus noise, quality 90)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    yy, xx = np.mgrid[0:side, 0:side] / side
    for i in range(n):
        f = rng.uniform(1, 6, size=(3, 2))
        ph = rng.uniform(0, 2 * np.pi, size=3)
        base = np.stack(
            [np.sin(2 * np.pi * (f[c, 0] * yy + f[c, 1] * xx) + ph[c]) for c in range(3)], -1
        )
        img = (127.5 + 90 * base + rng.normal(0, 20, base.shape)).clip(0, 255).astype(np.uint8)
        p = folder / f"img{i:05d}.jpg"
        Image.fromarray(img).save(p, quality=90)
        paths.append(str(p))
    return paths


def tf_stub(root: Path) -> Path:
    pkg = root / "tensorflow"
    for sub in (pkg, pkg / "keras", pkg / "keras" / "applications", pkg / "keras" / "layers"):
        sub.mkdir(parents=True, exist_ok=True)
        (sub / "__init__.py").write_text(_TF_STUB)
    return root


# ----------------------------------------------------------------------------- child side
def _cpu_s() -> float:
    """CPU seconds of this process and its reaped children (DataLoader workers), user + sys."""
    import resource

    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _model(threads: int):  # type: ignore[no-untyped-def]
    import torch

    torch.set_num_threads(threads)
    from neuroalign.extract import load_model

    torch.manual_seed(0)
    return load_model("torchvision:resnet50", pretrained=False)  # weights=None, seeded


def child(task: str, cfg: dict) -> dict:
    """One measurement; returns seconds, VmHWM and the first ``check`` rows of each layer."""
    import torch

    label, task = task, task.removesuffix(":base")

    loaded = _model(cfg["threads"])
    paths, b, check, work = cfg["paths"], cfg["batch"], cfg["check"], Path(cfg["work"])
    layers = FIVE if "mem5" in task else BLOCKS
    with torch.inference_mode():  # one-time kernel set-up, outside every clock
        loaded.module.eval()(torch.zeros(b, 3, cfg["side"], cfg["side"]))
    rows: dict[str, np.ndarray] = {}
    extra: dict[str, float] = {}
    if task == "bare":
        from PIL import Image

        t0 = time.perf_counter()
        batches = []
        for s in range(0, len(paths), b):
            ims = []
            for p in paths[s : s + b]:
                with Image.open(p) as im:
                    ims.append(loaded.preprocess.transform(im.convert("RGB")))
            batches.append(torch.stack(ims))
        extra["decode_s"] = time.perf_counter() - t0
        module = loaded.module.eval()
        c0, t0 = _cpu_s(), time.perf_counter()
        with torch.inference_mode():
            for x in batches:
                module(x)
        sec, cpu = time.perf_counter() - t0, _cpu_s() - c0
    elif task.startswith("na_"):
        from neuroalign import StimulusSet
        from neuroalign.extract import extract

        stim = StimulusSet(ids=[Path(p).stem for p in paths], images=paths)
        kw = dict(
            layers=layers,
            reduce="flatten",
            batch_size=b,
            quiet=True,
            channels_last=task.endswith("_cl"),
        )
        if task.startswith("na_disk16"):
            kw.update(cache=str(work / "na_store"), memory_budget=cfg["budget"])
        c0, t0 = _cpu_s(), time.perf_counter()
        acts = extract(loaded, stim, **kw)
        sec, cpu = time.perf_counter() - t0, _cpu_s() - c0
        rows = {nm: np.array(acts[nm][:check]) for nm in layers}
    else:
        sys.path.insert(0, cfg["thingsvision"])
        if cfg.get("tf_stub"):
            sys.path.insert(0, cfg["tf_stub"])
        import warnings

        warnings.filterwarnings("ignore")
        if not hasattr(np, "AxisError"):  # numpy 2 moved it; THINGSvision pins numpy < 2
            setattr(np, "AxisError", np.exceptions.AxisError)  # noqa: B010
        from thingsvision import get_extractor_from_model
        from thingsvision.utils.data import DataLoader, ImageDataset

        ext = get_extractor_from_model(
            model=loaded.module, device="cpu", backend="pt", preprocess=loaded.preprocess.transform
        )
        ds = ImageDataset(
            root=str(Path(paths[0]).parent),
            out_path=str(work / "tv_order"),
            backend="pt",
            file_names=[Path(p).name for p in paths],
            transforms=loaded.preprocess.transform,
        )
        batches = DataLoader(dataset=ds, batch_size=b, backend="pt")
        c0, t0 = _cpu_s(), time.perf_counter()
        if task == "tv_mem5":
            feats = ext.extract_features(
                batches=batches, module_names=layers, flatten_acts=True, output_type="ndarray"
            )
            sec, cpu = time.perf_counter() - t0, _cpu_s() - c0
            rows = {nm: np.array(feats[nm][:check]) for nm in layers}
        else:
            out = work / "tv_disk"
            ext.extract_features(
                batches=batches,
                module_names=layers,
                flatten_acts=True,
                output_type="ndarray",
                output_dir=str(out),
                step_size=cfg["step_size"],
                save_in_one_file=cfg["tv_one_file"],
            )
            sec, cpu = time.perf_counter() - t0, _cpu_s() - c0
            for nm in layers:
                files = sorted((out / nm).glob("features*.npy"), key=lambda p: p.stat().st_mtime)
                rows[nm] = np.array(np.load(files[0], mmap_mode="r")[:check])
    np.savez(work / f"rows_{label}.npz", **rows)
    from _common import peak_rss_gb  # the child runs this file: its folder is on sys.path

    return {"sec": sec, "cpu_s": cpu, "peak_rss_gb": peak_rss_gb(), **extra}


# ----------------------------------------------------------------------------- driver side
def run_child(task: str, cfg: dict, env: dict) -> dict:
    work = Path(cfg["work"])
    for d in ("na_store", "tv_disk", "tv_order"):
        shutil.rmtree(work / d, ignore_errors=True)
    (work / "cfg.json").write_text(json.dumps(cfg))
    cmd = [sys.executable, __file__, "--child", task, "--cfg", str(work / "cfg.json")]
    if task.endswith(":base"):  # neuroalign from another source tree (e.g. before a change)
        env = {**env, "PYTHONPATH": os.pathsep.join([cfg["baseline_src"], env["PYTHONPATH"]])}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"{task} failed ({proc.returncode}):\n{err[-3000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    for d in ("na_store", "tv_disk", "tv_order"):
        shutil.rmtree(work / d, ignore_errors=True)
    return res


# a stage's output is its last block's: the 5-layer and 16-block runs share four layers
STAGE_END = {"layer1": "layer1.2", "layer2": "layer2.3", "layer3": "layer3.5", "layer4": "layer4.2"}


def compare_rows(work: Path, tasks: list[str]) -> list[str]:
    """Bit-for-bit comparison of the saved rows between the tools, and between the in-memory
    and on-disk runs (the four stage outputs both hold); channels-last runs against their NCHW
    twins within :data:`CL_RTOL`."""
    lines = []
    pairs = [
        ("na_mem5", "tv_mem5"),
        ("na_disk16", "tv_disk16"),
        ("na_mem5", "na_disk16"),
        ("tv_mem5", "tv_disk16"),
        ("na_mem5", "na_mem5:base"),
        ("na_disk16", "na_disk16:base"),
        ("na_mem5", "na_mem5_cl"),
        ("na_disk16", "na_disk16_cl"),
    ]
    for a, b in pairs:
        if a not in tasks or b not in tasks:
            continue
        ra, rb = np.load(work / f"rows_{a}.npz"), np.load(work / f"rows_{b}.npz")
        if "mem5" in a and "disk16" in b:
            common = [(k, STAGE_END[k]) for k in ra.files if k in STAGE_END]
        else:
            common = [(k, k) for k in ra.files]
        missing = [kb for _, kb in common if kb not in rb.files]
        if missing or not common:
            raise AssertionError(f"{b} saved no rows for {missing or ra.files}")
        same = all(np.array_equal(ra[ka], rb[kb]) for ka, kb in common)
        worst = max(float(np.max(np.abs(ra[ka] - rb[kb]))) for ka, kb in common)
        n_rows = ra[common[0][0]].shape[0]
        if b.endswith("_cl"):  # another summation order: close, not identical
            rel = max(
                float(np.max(np.abs(ra[ka] - rb[kb])) / max(float(np.max(np.abs(ra[ka]))), 1e-30))
                for ka, kb in common
            )
            same = rel <= CL_RTOL
            verdict = f"{'within' if same else 'DIFFER beyond'} {CL_RTOL:g} "
            verdict += f"(max |Δ| / max |value| {rel:.1e})"
        else:
            verdict = "identical" if same else f"DIFFER (max abs {worst:.3g})"
        lines.append(f"features {a} vs {b}: {len(common)} layers x {n_rows} rows {verdict}")
        if not same:
            raise AssertionError(lines[-1])
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-images", type=int, default=500)
    ap.add_argument("--side", type=int, default=224)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--check", type=int, default=8, help="rows per layer compared between tools")
    ap.add_argument("--budget", default="2GB", help="neuroalign memory_budget on disk")
    ap.add_argument("--step-size", type=int, default=0, help="THINGSvision batches per file")
    ap.add_argument("--tv-one-file", action="store_true", help="THINGSvision save_in_one_file")
    ap.add_argument("--thingsvision", default=os.environ.get("THINGSVISION_PATH", ""))
    ap.add_argument("--work", default=None, help="folder for images and outputs (default: tmp)")
    ap.add_argument(
        "--baseline-src",
        default="",
        help="another neuroalign src folder (e.g. main's): each na_ task also runs with it",
    )
    ap.add_argument("--quick", action="store_true", help="6 images, batch 4, no THINGSvision")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cfg", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        cfg = json.loads(Path(args.cfg).read_text())
        print(json.dumps(child(args.child, cfg)))
        return
    if args.quick:
        args.n_images, args.batch, args.repeats, args.check = 6, 4, 1, 3
    tasks = args.tasks.split(",")
    unknown = sorted(set(tasks) - set(TASKS))
    if args.baseline_src:
        tasks = [x for t in tasks for x in ([t, f"{t}:base"] if t.startswith("na_") else [t])]
    if unknown:
        raise SystemExit(f"--tasks: unknown {unknown}; choose from {TASKS}")
    has_tv = bool(args.thingsvision) and (Path(args.thingsvision) / "thingsvision").is_dir()
    if args.quick or not has_tv:
        if any(t.startswith("tv_") for t in tasks):
            print(
                "THINGSvision: not run ("
                + ("--quick" if args.quick else "no --thingsvision DIR holding thingsvision")
                + "); install it with pip install --no-deps --target DIR thingsvision "
                "torchtyping 'typeguard<3'"
            )
        tasks = [t for t in tasks if not t.startswith("tv_")]
    tmp = tempfile.TemporaryDirectory(dir=args.work)
    work = Path(tmp.name)
    try:
        t0 = time.perf_counter()
        paths = make_images(work / "images", args.n_images, args.side)
        print(f"{args.n_images} JPEG images {args.side}px in {time.perf_counter() - t0:.1f} s")
        cfg = dict(
            paths=paths,
            batch=args.batch,
            threads=args.threads,
            check=args.check,
            work=str(work),
            budget=args.budget,
            side=args.side,
            step_size=args.step_size or max(1, 64 // args.batch),
            tv_one_file=args.tv_one_file,
            thingsvision=str(Path(args.thingsvision).resolve()) if has_tv else "",
            baseline_src=str(Path(args.baseline_src).resolve()) if args.baseline_src else "",
            tf_stub="",
        )
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        env["PYTHONPATH"] = os.pathsep.join(
            [str(HERE.parent / "src"), *filter(None, [env.get("PYTHONPATH", "")])]
        )
        if has_tv and any(t.startswith("tv_") for t in tasks):
            probe = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True)
            if probe.returncode:
                cfg["tf_stub"] = str(tf_stub(work / "tf_stub"))
                print("THINGSvision: TensorFlow missing, an empty stand-in package is on its path")
        thp = os.environ.get("THP_MEM_ALLOC_ENABLE", "1 (set by neuroalign in each subprocess)")
        print(f"machine: {_machine()}; load average {os.getloadavg()}")
        print(f"THP_MEM_ALLOC_ENABLE={thp} (huge pages for large torch CPU tensors, every tool)")
        results: dict[str, list[dict]] = {t: [] for t in tasks}
        for r in range(args.repeats):
            # interleaved: every tool once per round, the order reversed every other round. On
            # a VM, memory the guest has not touched for a while (freed pages handed back to the
            # host) costs a fault on first touch: 2.1 GB written to a fresh file ran at
            # 330-480 MB/s, right after at 3.5 GB/s. The task that runs first pays for the
            # pages its output touches; alternating gives each tool that place once.
            for task in tasks if r % 2 == 0 else tasks[::-1]:
                res = run_child(task, cfg, env)
                results[task].append(res)
                print(
                    f"round {r + 1} {task:13s} {res['sec']:7.2f} s (CPU {res['cpu_s']:7.2f} s)  peak RSS "
                    f"{res['peak_rss_gb']:.2f} GB"
                    + (
                        f"  (decode+preprocess {res['decode_s']:.1f} s)"
                        if "decode_s" in res
                        else ""
                    )
                    + f"  load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
            for line in compare_rows(work, tasks) if r == 0 else []:
                print(line)
        summary(results, args)
    finally:
        tmp.cleanup()


def _machine() -> str:
    sys.path.insert(0, str(HERE))
    from _common import machine

    return machine()


def summary(results: dict[str, list[dict]], args: argparse.Namespace) -> None:
    """Ratios per round (same round = closest in time) and their range, next to the goals."""
    rounds = args.repeats

    def ratio(a: str, b: str, key: str = "sec") -> list[float]:
        if a not in results or b not in results:
            return []
        return [results[b][r][key] / results[a][r][key] for r in range(rounds)]

    def show(label: str, vals: list[float], goal: float) -> None:
        if vals:
            ok = "meets" if min(vals) >= goal else "MISSES"
            span = ", ".join(f"{v:.2f}" for v in vals)
            print(f"  {label:52s} {span:18s} goal >= {goal}  ({ok})")

    n = args.n_images
    print(f"summary: {n} images, batch {args.batch}, {args.threads} threads, {rounds} rounds")
    for task, res in results.items():
        secs = [x["sec"] for x in res]
        rss = [x["peak_rss_gb"] for x in res]
        print(
            f"  {task:13s} {min(secs):7.2f}-{max(secs):7.2f} s  {n / min(secs):6.1f} img/s  "
            f"peak RSS {min(rss):.2f}-{max(rss):.2f} GB"
        )
    print(
        "ratios per round (speed: other's wall time / neuroalign's, then the same for CPU "
        "seconds of the process and its workers, steadier on a shared machine; RSS: other's "
        "peak / ours)"
    )
    show("5 layers in memory: vs bare forward", ratio("na_mem5", "bare"), 0.9)
    show("  (CPU seconds)", ratio("na_mem5", "bare", "cpu_s"), 0.9)
    show("5 layers in memory: vs THINGSvision", ratio("na_mem5", "tv_mem5"), 1.3)
    show("  (CPU seconds)", ratio("na_mem5", "tv_mem5", "cpu_s"), 1.3)
    show(
        "5 layers in memory: peak RSS vs THINGSvision",
        ratio("na_mem5", "tv_mem5", "peak_rss_gb"),
        1.0,
    )
    show("16 blocks to disk: vs bare forward", ratio("na_disk16", "bare"), 0.9)
    show("  (CPU seconds)", ratio("na_disk16", "bare", "cpu_s"), 0.9)
    show("16 blocks to disk: vs THINGSvision", ratio("na_disk16", "tv_disk16"), 1.3)
    show("  (CPU seconds)", ratio("na_disk16", "tv_disk16", "cpu_s"), 1.3)
    show("5 layers in memory, channels_last: vs bare forward", ratio("na_mem5_cl", "bare"), 0.9)
    show("5 layers in memory, channels_last: vs THINGSvision", ratio("na_mem5_cl", "tv_mem5"), 1.3)
    show("  (CPU seconds)", ratio("na_mem5_cl", "tv_mem5", "cpu_s"), 1.3)
    show("16 blocks to disk, channels_last: vs bare forward", ratio("na_disk16_cl", "bare"), 0.9)
    show(
        "16 blocks to disk, channels_last: vs THINGSvision", ratio("na_disk16_cl", "tv_disk16"), 1.3
    )
    show("  (CPU seconds)", ratio("na_disk16_cl", "tv_disk16", "cpu_s"), 1.3)
    show("5 layers in memory: vs the baseline source", ratio("na_mem5", "na_mem5:base"), 1.0)
    show("16 blocks to disk: vs the baseline source", ratio("na_disk16", "na_disk16:base"), 1.0)
    show(
        "16 blocks to disk: peak RSS vs THINGSvision",
        ratio("na_disk16", "tv_disk16", "peak_rss_gb"),
        1.0,
    )


if __name__ == "__main__":
    main()

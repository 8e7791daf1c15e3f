"""Extraction throughput and memory: neuroalign's ``extract`` vs a bare ``model(x)`` loop.

1. Throughput, torchvision ResNet-50 and ViT-B/16 (random weights), batch 32, N images at 224 px:
   a bare loop ``model(x)`` under ``torch.inference_mode()`` over the same preprocessed tensors,
   then ``extract`` for 1 layer and for ~10 layers (avgpool / cls reductions) on in-memory
   uint8 images of the model's input size (so preprocessing is only the normalisation).
2. THINGSvision: side by side in ``bench_extract_peers.py``.
3. The feature store: a cache hit on a large entry (size + mtime trusted, the default) vs the same
   hit with ``verify_cache=True`` (full SHA-256) vs ``np.load(mmap_mode="r")`` of the same file
   (the floor); and the store's cost while writing (per-chunk lock, manifest, fsync) vs the
   same extraction kept in memory.
4. Peak RSS of an all-layer ResNet-50 sweep with flatten + sparse random projection to 4096
   features into the feature store, for two memory budgets and two stimulus counts, each in a
   fresh process: the peak follows the budget, not the number of stimuli.

    python benchmarks/bench_extract.py [--n-images 512] [--device cpu] [--skip-memory]
        [--skip-throughput] [--skip-store] [--store-mb 400] [--memory-sizes 256,1024]
        [--budgets 512MB,2GB]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

import numpy as np
from _common import child_env, machine, peak_rss_gb


def bare_loop(module, batches, device) -> float:
    import torch

    module.eval().to(device)
    with torch.inference_mode():
        module(batches[0].to(device))  # warm-up
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for x in batches:
            module(x.to(device))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return time.perf_counter() - t0


def bench_throughput(n: int, device: str) -> None:
    import torch

    from neuroalign import StimulusSet
    from neuroalign.extract import ImagePreprocess, extract, load_model

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (n, 224, 224, 3), dtype=np.uint8)
    stim = StimulusSet(ids=[f"i{k}" for k in range(n)], images=images)
    for model_id, reduce in (
        ("torchvision:resnet50", "avgpool"),
        ("torchvision:vit_b_16", "cls_token"),
    ):
        loaded = load_model(model_id, pretrained=False)
        pre = ImagePreprocess(
            resize=(224, 224), crop=None, mean=loaded.preprocess.mean, std=loaded.preprocess.std
        )
        batches = [pre.batch(images[s : s + 32]) for s in range(0, n, 32)]
        blocks = list(loaded.default_layers) or None
        if model_id.endswith("vit_b_16"):
            blocks = [f"encoder.layers.encoder_layer_{i}" for i in range(0, 12, 1)][:10]
            one = ["encoder.layers.encoder_layer_11"]
        else:
            blocks = [
                "layer1.0",
                "layer1.2",
                "layer2.0",
                "layer2.3",
                "layer3.0",
                "layer3.2",
                "layer3.5",
                "layer4.0",
                "layer4.2",
                "avgpool",
            ]
            one = ["layer4"]
        t_bare = bare_loop(loaded.module, batches, device)
        extract(
            loaded,
            stim.take(range(32)),
            layers=one,
            reduce=reduce,
            preprocess=pre,
            device=device,
            quiet=True,
        )
        t0 = time.perf_counter()
        extract(loaded, stim, layers=one, reduce=reduce, preprocess=pre, device=device, quiet=True)
        t_one = time.perf_counter() - t0
        t0 = time.perf_counter()
        extract(
            loaded, stim, layers=blocks, reduce=reduce, preprocess=pre, device=device, quiet=True
        )
        t_ten = time.perf_counter() - t0
        print(
            f"{model_id:22s} {n} images, batch 32, {device}: bare loop {n / t_bare:6.1f} img/s | "
            f"extract 1 layer {n / t_one:6.1f} img/s (ratio {t_bare / t_one:.2f}) | "
            f"{len(blocks)} layers {n / t_ten:6.1f} img/s (ratio {t_bare / t_ten:.2f})"
        )


def bench_thingsvision() -> None:
    print(
        "THINGSvision: see benchmarks/bench_extract_peers.py (same ResNet-50, JPEG files and "
        "transform, each tool in its own process; THINGSvision installed with --no-deps in its "
        "own folder, so its numpy<2 / torchvision==0.15.2 pins never touch this environment)."
    )


def bench_store(megabytes: int) -> None:
    """Cache-hit latency and the writing overhead of the store (see module doc, part 3)."""
    import torch

    from neuroalign.extract import extract

    n, p = 1000, max(1, megabytes * 10**6 // (1000 * 4))
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(n, p)).astype(np.float32))
    ids = [f"x{k}" for k in range(n)]
    model = torch.nn.Sequential(torch.nn.Identity())
    kw = dict(ids=ids, layers=["0"], batch_size=100, quiet=True)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        extract(model, x, **kw)
        t_mem = time.perf_counter() - t0
        t0 = time.perf_counter()
        first = extract(model, x, cache=d, memory_budget="64MB", **kw)
        t_write = time.perf_counter() - t0
        path = first.meta["cache"]["0"] + "/features.npy"
        t0 = time.perf_counter()
        np.load(path, mmap_mode="r")
        t_floor = time.perf_counter() - t0
        t0 = time.perf_counter()
        extract(model, x, cache=d, **kw)
        t_hit = time.perf_counter() - t0
        t0 = time.perf_counter()
        extract(model, x, cache=d, verify_cache=True, **kw)
        t_verify = time.perf_counter() - t0
    size = n * p * 4 / 1e6
    print(
        f"store, {n} x {p} float32 ({size:.0f} MB), chunks of 64 MB: write {t_write:.2f} s vs "
        f"in memory {t_mem:.2f} s (store overhead x{t_write / t_mem:.1f}, includes hashing the "
        f"input tensor for the key); hit {t_hit * 1e3:.0f} ms (input hash + size/mtime check) "
        f"vs verify_cache=True {t_verify * 1e3:.0f} ms (x{t_verify / t_hit:.1f}); np.load mmap "
        f"floor {t_floor * 1e3:.1f} ms"
    )


MEMORY_RUN = """
import json, sys, tempfile, time
import numpy as np
from neuroalign import StimulusSet
from neuroalign.extract import extract, load_model
n, budget, side = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(0)
stim = StimulusSet(ids=[f"i{k}" for k in range(n)],
                   images=rng.integers(0, 255, (n, side, side, 3), dtype=np.uint8))
m = load_model("torchvision:resnet50", pretrained=False)
with tempfile.TemporaryDirectory() as d:
    t0 = time.perf_counter()
    acts = extract(m, stim, layers="all", reduce="srp", reduce_options={"n_components": 4096},
                   cache=d, memory_budget=budget, batch_size=32, quiet=True)
    sec = time.perf_counter() - t0
    total = sum(acts[k].nbytes for k in acts.layer_names)
from _common import peak_rss_gb  # this process's own peak (see its docstring)
peak = peak_rss_gb()
print(json.dumps({"layers": len(acts), "features_gb": total / 1e9, "sec": sec, "peak_rss_gb": peak}))
"""


def bench_memory(sizes: list[int], budgets: list[str], side: int) -> None:
    for budget in budgets:
        for n in sizes:
            with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
                f.write(MEMORY_RUN)
            res = subprocess.run(
                [sys.executable, f.name, str(n), budget, str(side)],
                capture_output=True,
                text=True,
                env=child_env(),
            )
            if res.returncode:
                print(res.stderr[-2000:])
                continue
            r = json.loads(res.stdout.strip().splitlines()[-1])
            print(
                f"all-layer ResNet-50 ({r['layers']} layers) + srp 4096, {n} images {side}px, "
                f"budget {budget}: features {r['features_gb']:.2f} GB on disk, peak RSS "
                f"{r['peak_rss_gb']:.2f} GB, {r['sec']:.0f} s"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-images", type=int, default=512)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--memory-sizes", default="256,1024")
    ap.add_argument("--memory-side", type=int, default=224)
    ap.add_argument("--budgets", default="512MB,2GB")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-store", action="store_true")
    ap.add_argument("--store-mb", type=int, default=400)
    args = ap.parse_args()
    import torch

    print(f"machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    if not args.skip_throughput:
        bench_throughput(args.n_images, args.device)
        bench_thingsvision()
    if not args.skip_store:
        bench_store(args.store_mb)
    if not args.skip_memory:
        sizes = [int(s) for s in args.memory_sizes.split(",")]
        bench_memory(sizes, args.budgets.split(","), args.memory_side)
    print(f"this process peak RSS {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()

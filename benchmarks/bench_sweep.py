"""Sweep orchestration: overhead over the kernels, cached re-runs, Dask speed-up, memory of a
20-model × all-layer sweep.

    PYTHONPATH=src python benchmarks/bench_sweep.py            # every case
    PYTHONPATH=src python benchmarks/bench_sweep.py overhead   # one case (overhead | cost | dask | memory)

Models are seeded random ``tiny_cnn`` networks (built from picklable factories); the benchmarks
are the built-in simulated and Kriegeskorte 2008 ones. Goals (issue 12): orchestration ≤ 5 % of
the kernels' time on ≥ 4 models × ≥ 3 benchmarks; a fully cached re-run ≤ 2 s; Dask LocalCluster
with 2 workers ≥ 1.6× serial on a compute-bound sweep with an identical table; peak RSS of a
20-model × all-layer sweep within the memory budget. ``cost`` (issue 21): a cost model of
``bench.run`` per cell — extraction forward, reduction, the rest of extraction (preprocessing,
feature-store writes), scoring, result-store I/O, assembly — from the Result's
``params["timing"]`` (an unprofiled run) split further by cProfile (a second run), with the
orchestration share next to its goal (≤ 3 %).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
import sys
import tempfile
import time

import pandas as pd
from _common import machine, peak_rss_gb

import neuroalign.compare
import neuroalign.data
import neuroalign.encode  # noqa: F401  (imported before timing: imports are not kernel time)
from neuroalign.bench import load_benchmark, run, tiny_cnn


def _models(n: int, width: int = 8) -> dict:
    return {f"tiny{s}": functools.partial(tiny_cnn, seed=s, width=width) for s in range(n)}


def _hit(n_boot: int):
    b = load_benchmark("Kriegeskorte2008.hIT-rsa")
    return dataclasses.replace(b, metric_params={**b.metric_params, "n_boot": n_boot})


def overhead() -> None:
    benches = [
        "Simulated.early-encoding",
        "Simulated.mid-encoding",
        "Simulated.late-encoding",
        _hit(100),
    ]
    models = _models(4)
    for b in benches:  # load (and memoise) the data first: loading is not orchestration
        (load_benchmark(b) if isinstance(b, str) else b).load()
    with tempfile.TemporaryDirectory() as store:
        res = run(models, benches, store=store, quiet=True)
        t = res.params["timing"]
        kernels = t["extract_s"] + t["cells_s"]
        over = t["wall_s"] - t["load_s"] - kernels
        print(
            f"sweep: {len(models)} models × {len(benches)} benchmarks × 4 layers = "
            f"{t['n_cells_computed']} cells"
        )
        print(
            f"  wall {t['wall_s']:.2f} s = data {t['load_s']:.2f} s + extraction {t['extract_s']:.2f} s"
            f" + metrics {t['cells_s']:.2f} s + orchestration {over:.2f} s"
        )
        print(
            f"  orchestration overhead: {100 * over / kernels:.1f} % of the kernels' time (goal ≤ 5 %)"
        )
        t0 = time.perf_counter()
        again = run(models, benches, store=store, quiet=True)
        cached = time.perf_counter() - t0
        assert again.params["timing"]["n_cells_computed"] == 0
        pd.testing.assert_frame_equal(again.table, res.table, check_exact=True)
        print(
            f"  fully cached re-run: {cached:.2f} s, 0 cells computed, identical table (goal ≤ 2 s)"
        )


def _cumulative(stats, where: str, names: tuple[str, ...]) -> float:
    """Summed cumulative seconds of the functions ``names`` defined in files ending ``where``."""
    return sum(
        v[3] for (file, _, func), v in stats.stats.items() if file.endswith(where) and func in names
    )


def cost_model() -> None:
    import cProfile
    import pstats

    benches = ["Simulated.early-encoding", "Simulated.late-encoding", _hit(100)]
    models = _models(4)
    for b in benches:
        (load_benchmark(b) if isinstance(b, str) else b).load()
    with tempfile.TemporaryDirectory() as store:
        res = run(models, benches, store=store, quiet=True)
    t = res.params["timing"]
    n = t["n_cells_computed"]
    kernels = t["extract_s"] + t["cells_s"]
    over = t["wall_s"] - t["load_s"] - kernels
    prof = cProfile.Profile()
    with tempfile.TemporaryDirectory() as store:
        prof.enable()
        t0 = time.perf_counter()
        run(models, benches, store=store, quiet=True)
        wall_p = time.perf_counter() - t0
        prof.disable()
    st = pstats.Stats(prof)
    extract_ct = _cumulative(st, "extract/_extract.py", ("extract",))
    forward = _cumulative(st, "torch/nn/modules/module.py", ("_wrapped_call_impl",))
    reduce_ct = _cumulative(st, "extract/_reducers.py", ("run",))
    writes = _cumulative(st, "extract/_store.py", ("write_chunk", "finalize", "claim"))
    inputs = _cumulative(st, "extract/_inputs.py", ("batches", "fingerprint"))
    score = _cumulative(st, "bench/_metrics.py", ("score_cell",))
    store_io = _cumulative(st, "bench/_store.py", ("put", "has", "get", "put_layers", "get_layers"))
    assemble = _cumulative(st, "bench/_assemble.py", ("assemble",))
    load = _cumulative(st, "bench/_store.py", ("prepare",))
    print(
        f"cost model of bench.run: {len(models)} models × {len(benches)} benchmarks = {n} cells "
        f"(tiny_cnn, RSA n_boot=100)"
    )
    print(
        f"  unprofiled run: wall {t['wall_s']:.2f} s = data {t['load_s']:.2f} s + extraction "
        f"{t['extract_s']:.2f} s + scoring {t['cells_s']:.2f} s + the rest {over:.2f} s "
        f"(result-store I/O, assembly, orchestration)"
    )
    rest_p = wall_p - load - extract_ct - score - store_io - assemble
    rows = [
        ("data load", load),
        ("extraction: forward (incl. hooks)", forward),
        ("  of which reduction", reduce_ct),
        ("extraction: outside the forward", extract_ct - forward),
        ("  of which feature-store writes", writes),
        ("  of which inputs (preprocess, hash)", inputs),
        ("scoring (metric kernels)", score),
        ("result-store I/O (has/get/put)", store_io),
        ("assembly of the table", assemble),
        ("orchestration (everything else)", rest_p),
    ]
    print(f"  profiled run ({wall_p:.2f} s wall under cProfile), per cell:")
    for label, sec in rows:
        print(f"    {label:36s} {sec / n * 1e3:8.1f} ms  {sec / wall_p * 100:5.1f} %")
    share = over / t["wall_s"] * 100
    print(
        f"  orchestration share (unprofiled; the rest over wall, result-store I/O and assembly "
        f"included): {share:.1f} % (goal ≤ 3 %); without them (profiled split): "
        f"{rest_p / wall_p * 100:.1f} %"
    )


def _warm_imports() -> None:
    import sklearn.linear_model  # noqa: F401
    import torch  # noqa: F401

    import neuroalign.bench
    import neuroalign.compare
    import neuroalign.data
    import neuroalign.encode  # noqa: F401


def dask_speedup() -> None:
    from distributed import Client

    from neuroalign.bench import local_cluster

    benches = [_hit(300), "Simulated.late-encoding"]
    models = _models(6, width=16)
    for b in benches:
        (load_benchmark(b) if isinstance(b, str) else b).load()
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        t0 = time.perf_counter()
        serial = run(models, benches, store=a, quiet=True)
        t_serial = time.perf_counter() - t0
        t0 = time.perf_counter()
        with local_cluster(2) as cluster:
            start = time.perf_counter() - t0
            with Client(cluster) as client:
                client.run(_warm_imports)  # the serial process has these imported too
                warm = time.perf_counter() - t0
                t1 = time.perf_counter()
                dask = run(models, benches, store=b, executor="dask", scheduler=client, quiet=True)
                t_dask = time.perf_counter() - t1
        pd.testing.assert_frame_equal(dask.table, serial.table, check_exact=True)
        n = serial.params["timing"]["n_cells_computed"]
        print(f"dask: {len(models)} models × {len(benches)} benchmarks ({n} cells; RSA n_boot=300)")
        print(
            f"  serial {t_serial:.1f} s; LocalCluster(2 workers) {t_dask:.1f} s → "
            f"{t_serial / t_dask:.2f}× (goal ≥ 1.6×); tables bit-identical"
        )
        print(
            f"  cluster start {start:.1f} s, + worker imports {warm - start:.1f} s (not in the ratio)"
        )
        ks, kd = serial.params["timing"]["cells_s"], dask.params["timing"]["cells_s"]
        print(
            f"  metric time summed over cells: serial {ks:.1f} s, the 2 workers {kd:.1f} s "
            f"({kd / ks:.2f}×: how much slower each worker ran its cells than the serial process)"
        )


def memory(n_models: int = 20, budget: str = "256MB") -> None:
    """Run in a fresh process so that its peak RSS is the sweep's."""
    code = (
        "import functools, json, tempfile, sys; sys.path.insert(0, 'benchmarks')\n"
        "from _common import peak_rss_gb\n"
        "from neuroalign.bench import run, tiny_cnn\n"
        f"models = {{f'tiny{{s}}': functools.partial(tiny_cnn, seed=s, width=16) for s in range({n_models})}}\n"
        "import torch, sklearn.linear_model, neuroalign.encode, neuroalign.compare\n"
        "from neuroalign.bench import load_benchmark\n"
        "load_benchmark('Simulated.late-encoding').load(); before = peak_rss_gb()\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        f"    r = run(models, 'Simulated.late-encoding', layers='all', store=d, quiet=True, memory_budget={budget!r})\n"
        "n = int((r.table['statistic'] == 'layer_score').sum() // 2)\n"
        "print(json.dumps({'peak_gb': peak_rss_gb(), 'import_gb': before, 'cells': n}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    info = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"memory: {n_models} models × all layers on Simulated.late-encoding ({info['cells']} cells), "
        f"memory_budget={budget}"
    )
    print(
        f"  peak RSS {info['peak_gb']:.2f} GB (after imports and loading the benchmark: {info['import_gb']:.2f} GB): "
        f"the sweep adds {info['peak_gb'] - info['import_gb']:.2f} GB"
    )


if __name__ == "__main__":
    print(machine())
    print("shared, loaded machine (other agents running): timings are indicative")
    cases = {"overhead": overhead, "cost": cost_model, "dask": dask_speedup, "memory": memory}
    for name in sys.argv[1:] or list(cases):
        cases[name]()
    print(f"peak RSS of this process: {peak_rss_gb():.2f} GB")

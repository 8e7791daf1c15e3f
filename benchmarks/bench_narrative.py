"""The fMRI narrative pipeline versus its ridge solver alone, on one simulated story set.

``narrative_encoding`` (Lanczos of every layer's word features to the TRs, z-scoring per run, FIR
delays, one ``solve_ridge_cv`` per layer with runs as CV groups, best layer and best delay per
voxel, the Result table) against the same ``solve_ridge_cv`` calls on the same delayed designs,
built beforehand. The target: pipeline ≤ ridge × 1.10. Both are timed in this process, alternating,
best of ``--repeats`` (ratios survive a loaded, shared machine better than absolute times).

    python benchmarks/bench_narrative.py                       # 10 runs × 300 TRs, 10 000 voxels,
                                                               # 4 spaces × 64 features, 4 delays
    python benchmarks/bench_narrative.py --voxels 2000 --repeats 1   # a quick look
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _common import machine

from neuroalign.data import make_story_experiment
from neuroalign.encode import (
    make_delays,
    narrative_encoding,
    resample_series,
    solve_ridge_cv,
    zscore_runs,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--trs", type=int, default=300)
    ap.add_argument("--voxels", type=int, default=10_000)
    ap.add_argument("--spaces", type=int, default=4)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--delays", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    exp = make_story_experiment(
        n_runs=args.runs,
        n_trs=args.trs,
        n_targets=args.voxels,
        n_layers=args.spaces,
        n_features=args.features,
        delays=(2, 3, 4),
        seed=0,
    )
    delays = tuple(range(1, args.delays + 1))
    y = exp.responses
    designs = [
        make_delays(
            np.asarray(zscore_runs(resample_series(exp.features[n], y)).data), delays, y.groups
        )
        for n in exp.layer_names
    ]
    Y = np.asarray(y.data)

    def pipeline() -> object:
        return narrative_encoding(exp.features, y, delays=delays)

    def ridge_only() -> object:  # the pipeline's solver settings (memory_budget included)
        return [solve_ridge_cv(X, Y, cv=5, groups=y.groups, memory_budget="2GB") for X in designs]

    few = y.replace(np.asarray(y.data)[:, :200])  # warm-up on 200 voxels (imports, first calls)
    narrative_encoding(exp.features, few, delays=delays)
    solve_ridge_cv(designs[0], np.asarray(few.data), cv=5, groups=y.groups)
    t_pipe, t_ridge = [], []
    res = None
    for rep in range(args.repeats):  # alternate which goes first (load drifts over minutes)
        for which in ("pipeline", "ridge")[:: 1 if rep % 2 == 0 else -1]:
            t0 = time.perf_counter()
            if which == "pipeline":
                res = pipeline()
                t_pipe.append(time.perf_counter() - t0)
            else:
                ridge_only()
                t_ridge.append(time.perf_counter() - t0)
    best_p, best_r = min(t_pipe), min(t_ridge)
    acc_layer = float((res.arrays["best_layer"] == exp.layer).mean())  # type: ignore[attr-defined]
    acc_delay = float((res.arrays["best_delay"] == exp.delay).mean())  # type: ignore[attr-defined]
    print(f"machine: {machine()} (shared with other jobs: compare the ratio, not the times)")
    print(
        f"problem: {args.runs} runs × {args.trs} TRs, {args.voxels} voxels, {args.spaces} spaces × "
        f"{args.features} features, {args.delays} delays ({len(exp.events)} words)"
    )
    print(f"pipeline (narrative_encoding): {best_p:.3f} s  (all: {[round(t, 3) for t in t_pipe]})")
    print(
        f"ridge only (solve_ridge_cv × {args.spaces}): {best_r:.3f} s  (all: {[round(t, 3) for t in t_ridge]})"
    )
    print(f"ratio pipeline / ridge: {best_p / best_r:.3f}  (target ≤ 1.10)")
    sec = res.params["seconds"]  # type: ignore[attr-defined]
    rest = sec["total"] - sec["fit"]
    print(
        f"inside the pipeline: design (resample, z-score, delays) {sec['design']:.3f} s, ridge "
        f"{sec['fit']:.3f} s, everything but the ridge {rest:.3f} s = {rest / sec['fit']:.2%} of "
        "the ridge (measured in one call: robust to the machine's load)"
    )
    print(f"recovered: best layer {acc_layer:.3f}, best delay {acc_delay:.3f} of the voxels")


if __name__ == "__main__":
    main()

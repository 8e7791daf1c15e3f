"""Where the GPU ridge's time goes: phases, host profile, CUDA kernels, himalaya beside.

    python benchmarks/gpu_profile_ridge.py            # on the GPU: the issue's two shapes
    python benchmarks/gpu_profile_ridge.py torch      # torch on the CPU, small shapes

Prints, per shape, the wall time of ``solve_ridge_cv`` (k-fold and GCV, two memory budgets) with
the time of each phase (fold factorisation, the k-fold pass over the targets, the final fit), the
host-side profile (cProfile, by own time: host copies and conversions show up here), the CUDA
kernels by device time (torch.profiler), and himalaya's ``RidgeCV`` on ``torch_cuda``.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from gpu_check import ridge_problem

DEV = sys.argv[1] if len(sys.argv) > 1 else "cuda"
PHASES: dict[str, float] = {}


def sync() -> None:
    if DEV == "cuda":
        import torch

        torch.cuda.synchronize()


def timed(fn: Any) -> tuple[float, Any]:
    sync()
    t0 = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - t0, out


def time_phases() -> None:
    """Wrap the solver's phases (module globals, looked up at call time) with synced timers."""
    from neuroalign.encode import _ridge, _ridge_folds

    for module, name in [
        (_ridge_folds, "_all_fold_factors"),  # called inside _ridge_folds
        (_ridge, "_kfold_scores"),  # called by _ridge._solve_checked
        (_ridge, "_fit_with"),
        (_ridge, "_solve_gcv"),
    ]:
        inner = getattr(module, name)

        def wrapper(*a: Any, _inner: Any = inner, _name: str = name, **k: Any) -> Any:
            sec, out = timed(lambda: _inner(*a, **k))
            PHASES[_name] = PHASES.get(_name, 0.0) + sec
            return out

        setattr(module, name, wrapper)


def main() -> None:
    import torch

    from neuroalign.encode import solve_ridge_cv

    warnings.simplefilter("ignore")
    time_phases()
    small = DEV != "cuda"
    shapes = (
        [(300, 64, 500), (150, 400, 500)] if small else [(3000, 1024, 20000), (1500, 4096, 20000)]
    )
    alphas = np.logspace(-1, 5, 8)
    for shape in shapes:
        X, Y = ridge_problem(*shape)
        solve_ridge_cv(X[:200], Y[:200, :100], alphas=alphas, cv=5, device=DEV)  # warm-up
        for cv in (5, "gcv"):
            for budget in ["256MB", "4GB"]:
                PHASES.clear()
                sec, _ = timed(
                    lambda X=X, Y=Y, cv=cv, budget=budget: solve_ridge_cv(
                        X, Y, alphas=alphas, cv=cv, device=DEV, memory_budget=budget
                    )
                )
                phases = " ".join(f"{k}={v:.3f}" for k, v in PHASES.items())
                print(f"{shape} cv={cv} budget={budget}: {sec:.3f} s  phases {phases}", flush=True)
        prof = cProfile.Profile()
        prof.enable()
        solve_ridge_cv(X, Y, alphas=alphas, cv=5, device=DEV, memory_budget="4GB")
        sync()
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(14)
        print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))
        if DEV == "cuda":
            acts = [torch.profiler.ProfilerActivity.CUDA]
            with torch.profiler.profile(activities=acts) as kprof:
                solve_ridge_cv(X, Y, alphas=alphas, cv=5, device=DEV, memory_budget="4GB")
                sync()
            print(kprof.key_averages().table(sort_by="cuda_time_total", row_limit=12))
        try:
            from himalaya.backend import set_backend
            from himalaya.ridge import RidgeCV
            from sklearn.model_selection import KFold
        except ImportError as err:
            print(f"himalaya not installed ({err})")
            continue
        set_backend("torch_cuda" if DEV == "cuda" else "torch")
        for rep in range(2):  # the first call includes himalaya's own warm-up
            cv5 = KFold(5, shuffle=True, random_state=0)
            sec, _ = timed(lambda X=X, Y=Y, cv5=cv5: RidgeCV(alphas=alphas, cv=cv5).fit(X, Y))
            print(f"{shape} himalaya RidgeCV (call {rep + 1}): {sec:.3f} s", flush=True)
        set_backend("numpy")


if __name__ == "__main__":
    main()

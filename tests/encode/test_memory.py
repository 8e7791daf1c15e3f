"""Memory bounds of the ridge solvers and the layer sweep, measured with tracemalloc on targets
that are much larger than the memory budget (NumPy reports its buffers to tracemalloc)."""

import tracemalloc

import numpy as np
import pytest

from neuroalign import Activations, Responses
from neuroalign.encode import solve_ridge_cv, sweep_layers

pytestmark = pytest.mark.filterwarnings("ignore:the chosen alpha is at the edge")

BUDGET = 2**20  # 1 MiB of target chunks; Y below is 30-60× larger


@pytest.fixture(autouse=True, scope="module")
def _warm_up():
    """Import what the solvers import lazily, so that import-time objects are not counted."""
    X, Y = _data(60, 10, 3)
    solve_ridge_cv(X, Y, [1.0, 10.0], cv=3)
    solve_ridge_cv(X, Y, [1.0, 10.0], cv="gcv")


def _peak(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = fn()
        return tracemalloc.get_traced_memory()[1] - base, out
    finally:
        tracemalloc.stop()


def _data(n, p, t, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p), dtype=np.float32) * 3 + 1
    Y = X[:, :8] @ rng.standard_normal((8, t), dtype=np.float32)
    Y += rng.standard_normal((n, t), dtype=np.float32)
    return X, Y


@pytest.mark.parametrize("cv,bound", [(5, 2.5), ("gcv", 3.5)])  # GCV also keeps U (n × p)
def test_ridge_peak_is_below_2_5x_x_in_float32(cv, bound):
    X, Y = _data(4000, 100, 2000)  # X 1.6 MB, Y 32 MB
    alphas = np.logspace(-1, 4, 6)
    peak, res = _peak(
        lambda: solve_ridge_cv(
            X, Y, alphas, cv=cv, standardize=True, memory_budget=BUDGET, keep_coef=False
        )
    )
    outputs = 2 * res.cv_scores.nbytes + 4 * res.best_alphas.nbytes  # cv_scores and cv_r2
    assert peak <= bound * X.nbytes + BUDGET + outputs, peak / X.nbytes


def test_one_constant_target_does_not_copy_y():
    X, Y = _data(2000, 20, 4000)  # Y 32 MB
    Y[:, 7] = 2.0
    with pytest.warns(UserWarning, match="constant target"):
        peak, res = _peak(lambda: solve_ridge_cv(X, Y, np.logspace(-1, 4, 6), memory_budget=BUDGET))
    assert np.isnan(res.best_alphas[7])
    assert peak < 0.25 * Y.nbytes, peak / Y.nbytes  # outputs (coef, scores) included


def test_sweep_never_copies_y_per_layer():
    n, t = 2000, 4000
    X, Y = _data(n, 30, t)  # Y 32 MB
    ids = [f"s{i}" for i in range(n)]
    acts = Activations("toy", ids, {f"l{k}": X[:, k * 10 : k * 10 + 10] for k in range(3)})
    resp = Responses(ids, data=Y)
    peak, res = _peak(
        lambda: sweep_layers(
            acts, resp, quiet=True, alphas=np.logspace(-1, 4, 6), memory_budget=BUDGET
        )
    )
    assert peak < 0.25 * Y.nbytes, peak / Y.nbytes  # per-target arrays of 3 layers included
    assert res.arrays["alpha"].shape == (3, t)


def test_folds_factorised_at_once_fit_the_memory_budget(monkeypatch):
    """Folds factorised in parallel each hold their own temporaries: a second fold in flight
    only when the budget holds its bytes (two at once put the peak 0.6-0.9 × X over the bound of
    the test above, depending on how the threads interleave)."""
    import os

    from neuroalign.core import get_backend
    from neuroalign.encode import _ridge_folds as _ridge

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    bk = get_backend(None, "float32")
    X, _ = _data(4000, 100, 10)
    folds = [(np.arange(800, 4000), np.arange(800))] * 5
    per_fold = _ridge._fold_bytes(bk, X, folds)
    assert per_fold >= X.nbytes  # Z_tr and Z_va alone are X's size
    assert _ridge._fold_workers(bk, 5, per_fold, BUDGET) == 1
    assert _ridge._fold_workers(bk, 5, per_fold, 2 * per_fold) == 3
    assert _ridge._fold_workers(bk, 5, per_fold, 100 * per_fold) == 5
    assert _ridge._fold_workers(get_backend("torch", "float32"), 5, per_fold, 2**40) == 1


@pytest.mark.parametrize("p", [40, 500, 800])  # primal; primal fit with dual folds; dual
def test_refit_decomposed_beside_the_folds_gives_the_same_fit(monkeypatch, p):
    """With folds in parallel the final fit's decomposition is one more job of the fold pool
    (filling the idle worker of the last round) and the fit is made inside the k-fold pass, each
    chunk of targets once its CV scores are complete (Y read once); the fit equals the one
    decomposed and computed afterwards."""
    import os

    from neuroalign.encode import _ridge_folds as _ridge
    from neuroalign.encode._ridge_inputs import TargetReader

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    X, Y = _data(600, p, 50)
    read = {"columns": 0}
    real_read = TargetReader.read

    def counting_read(self, sl, dtype=np.float32):
        out = real_read(self, sl, dtype)
        read["columns"] += out.shape[1]
        return out

    monkeypatch.setattr(TargetReader, "read", counting_read)
    alphas = np.logspace(-1, 4, 6)
    seen = []
    real = _ridge._all_fold_factors

    def spy(*a, **k):
        parts, full = real(*a, **k)
        seen.append(full)
        return parts, full

    monkeypatch.setattr(_ridge, "_all_fold_factors", spy)
    big = solve_ridge_cv(X, Y, alphas, cv=5, memory_budget="1GB")  # two folds at once
    assert read["columns"] == 2 * 50  # the constant-target check, the k-fold pass
    small = solve_ridge_cv(X, Y, alphas, cv=5, memory_budget=50_000)  # one at a time
    assert read["columns"] == 2 * 50 + 3 * 50  # ... and the final fit's own pass
    assert seen[0] is not None and seen[1] is None
    np.testing.assert_array_equal(big.best_alphas, small.best_alphas)
    # float32 rounding, amplified at p = 500 of 600 rows (other chunk sizes, other GEMM blocking)
    np.testing.assert_allclose(big.coef, small.coef, rtol=0, atol=2e-3 * np.abs(small.coef).max())
    np.testing.assert_allclose(big.intercept, small.intercept, rtol=0, atol=1e-3)

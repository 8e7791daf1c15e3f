"""Issue 17's stale-score repros and the benchmark join: each failed on the code before it.

- a new ``forward`` (new ``cache_key``, same weights), a changed ``default_layers`` with
  ``layers=None``, ``ipca`` with another batch size, and a metric re-registered with new code
  under the same name each recompute, and the re-run equals a fresh store;
- a loader whose brain ids are not the stimuli's raises ``StimulusMismatchError`` naming them;
  brain data in another order are put in the stimuli's order by id (same scores).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from neuroalign import RDMs, Responses, StimulusSet  # noqa: E402
from neuroalign.bench import METRICS, Benchmark, BenchmarkData, run, tiny_cnn  # noqa: E402
from neuroalign.core.exceptions import StimulusMismatchError  # noqa: E402


def _images(n: int = 12, seed: int = 7) -> StimulusSet:
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, size=(n, 20, 20, 3), dtype=np.uint8)
    return StimulusSet(ids=[f"Annie_{i}" for i in range(n)], images=list(imgs))


def _rdm_data(ids=None, order=None) -> BenchmarkData:
    stim = _images()
    rng = np.random.default_rng(0)
    n = len(stim)
    square = rng.random((3, n, n))
    square = (square + square.transpose(0, 2, 1)) / 2
    for s in square:
        np.fill_diagonal(s, 0)
    brain_ids = np.asarray(stim.ids if ids is None else ids)
    if order is not None:
        square = square[:, order][:, :, order]
        brain_ids = brain_ids[order]
    return BenchmarkData(stim, RDMs(square, brain_ids))


def _bench(metric: str = "rsa", loader=None, **params) -> Benchmark:
    return Benchmark(
        f"Trust2026.tiny-{metric}",
        loader=loader or functools.partial(_rdm_data),
        metric=metric,
        metric_params={"n_boot": 0, **params} if metric == "rsa" else params,
    )


def _curve(res) -> pd.DataFrame:
    t = res.table
    t = t[t["statistic"] == "layer_score"]
    return t[["layer", "split", "value"]].reset_index(drop=True)


def _same_as_fresh(again, fresh):
    assert again.params["timing"]["n_cells_computed"] > 0
    pd.testing.assert_frame_equal(_curve(again), _curve(fresh), check_exact=True)


def _scaled_forward(scale: float, key: str):
    def fwd(module, x):
        return module(x * scale)

    fwd.cache_key = key  # type: ignore[attr-defined]
    return fwd


@pytest.mark.slow
def test_a_new_forward_with_a_new_cache_key_recomputes(tmp_path):
    base = tiny_cnn(seed=0)
    m1 = dataclasses.replace(base, forward={"image": _scaled_forward(1.0, "fwd-v1")})
    m2 = dataclasses.replace(base, forward={"image": _scaled_forward(0.5, "fwd-v2")})
    b = [_bench()]
    run({"m": m1}, b, layers=["conv1", "fc"], store=tmp_path / "s", quiet=True)
    again = run({"m": m2}, b, layers=["conv1", "fc"], store=tmp_path / "s", quiet=True)
    fresh = run({"m": m2}, b, layers=["conv1", "fc"], store=tmp_path / "f", quiet=True)
    _same_as_fresh(again, fresh)


@pytest.mark.slow
def test_changed_default_layers_with_layers_none_recomputes_the_layer_list(tmp_path):
    base = tiny_cnn(seed=0)
    one = dataclasses.replace(base, default_layers=("conv1",))
    two = dataclasses.replace(base, default_layers=("conv1", "conv3"))
    b = [_bench()]
    first = run({"m": one}, b, store=tmp_path / "s", quiet=True)
    assert first.params["layers"]["m"] == ["conv1"]
    again = run({"m": two}, b, store=tmp_path / "s", quiet=True)
    fresh = run({"m": two}, b, store=tmp_path / "f", quiet=True)
    assert again.params["layers"]["m"] == fresh.params["layers"]["m"] == ["conv1", "conv3"]
    pd.testing.assert_frame_equal(_curve(again), _curve(fresh), check_exact=True)
    committed = again.table[again.table["statistic"] == "score"]["layer"].item()
    assert committed == fresh.table[fresh.table["statistic"] == "score"]["layer"].item()


@pytest.mark.slow
def test_ipca_with_another_batch_size_recomputes(tmp_path):
    b = [_bench()]
    kw = dict(layers=["conv2"], reduce="ipca", reduce_options={"n_components": 4}, quiet=True)
    m = {"m": functools.partial(tiny_cnn, seed=0)}
    run(m, b, store=tmp_path / "s", batch_size=8, **kw)
    again = run(m, b, store=tmp_path / "s", batch_size=3, **kw)
    fresh = run(m, b, store=tmp_path / "f", batch_size=3, **kw)
    _same_as_fresh(again, fresh)


def _metric_v1(X, data, split, **params):
    return [{"split": s, "value": float(np.mean(X)), "n": 1} for s in ("commit", "test")]


def _metric_v2(X, data, split, **params):
    return [{"split": s, "value": float(np.std(X)), "n": 1} for s in ("commit", "test")]


@pytest.mark.slow
def test_a_metric_re_registered_with_new_code_recomputes(tmp_path):
    m = {"m": functools.partial(tiny_cnn, seed=0)}
    b = [_bench("auditmetric")]
    try:
        METRICS["auditmetric"] = _metric_v1
        run(m, b, layers=["conv1"], store=tmp_path / "s", quiet=True)
        METRICS["auditmetric"] = _metric_v2  # same name, same benchmark version, new code
        again = run(m, b, layers=["conv1"], store=tmp_path / "s", quiet=True)
        fresh = run(m, b, layers=["conv1"], store=tmp_path / "f", quiet=True)
    finally:
        METRICS.pop("auditmetric", None)
    _same_as_fresh(again, fresh)


def test_an_edit_to_a_scoring_kernel_changes_every_cell_key(monkeypatch):
    """The ridge solver (or any module a score passes through) edited: new cell keys, so no
    cell computed by the old code is served (the metric function itself is unchanged)."""
    from pathlib import Path

    from neuroalign.bench import _store
    from neuroalign.bench._metrics import commitment_split

    bench = _bench()
    data = bench.load()
    prep = _store.Prepared(bench, data, commitment_split(bench, data), data.fingerprint)
    _store.scoring_code_hash.cache_clear()
    before = _store.cell_key("f" * 64, "conv1", prep)
    ridge = (Path(_store.__file__).parents[1] / "encode" / "_ridge.py").resolve()
    real = Path.read_bytes

    def edited(self):
        data = real(self)
        return data + b"\n# edited\n" if self.resolve() == ridge else data

    monkeypatch.setattr(Path, "read_bytes", edited)
    _store.scoring_code_hash.cache_clear()
    try:
        after = _store.cell_key("f" * 64, "conv1", prep)
    finally:
        _store.scoring_code_hash.cache_clear()
    assert after != before


# ------------------------------------------------------------------------------------ join
def test_brain_ids_that_are_not_the_stimuli_raise_naming_them():
    n = 12
    with pytest.raises(StimulusMismatchError, match="other0"):
        _rdm_data(ids=[f"other{i}" for i in range(n)])
    stim = _images()
    resp = Responses([f"other{i}" for i in range(n)], data=np.zeros((n, 4)))
    with pytest.raises(StimulusMismatchError, match="Annie_0"):
        BenchmarkData(stim, resp)


@pytest.mark.slow
def test_brain_data_in_another_order_are_joined_by_id(tmp_path):
    m = {"m": functools.partial(tiny_cnn, seed=0)}
    perm = np.random.default_rng(3).permutation(12)
    straight = run(m, [_bench()], layers=["conv2"], store=tmp_path / "a", quiet=True)
    shuffled = run(
        m,
        [_bench(loader=functools.partial(_rdm_data, order=perm))],
        layers=["conv2"],
        store=tmp_path / "b",
        quiet=True,
    )
    np.testing.assert_allclose(
        _curve(shuffled)["value"].to_numpy(), _curve(straight)["value"].to_numpy(), rtol=1e-12
    )


def test_labels_of_the_wrong_length_are_an_error():
    from neuroalign.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="labels has 3 entries for 12"):
        BenchmarkData(_images(), labels=np.array(["a", "b", "c"]))

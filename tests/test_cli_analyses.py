"""The commands of cli/_analyses.py on generated data (each writes --out and --report), and the
coverage check: every public analysis is reached by a command or allow-listed with a reason."""

from __future__ import annotations

import ast
import inspect
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("typer")
pytest.importorskip("matplotlib")

from typer.testing import CliRunner

from neuroalign.cli import app
from neuroalign.core import Activations, load_result, save_activations, save_responses

#: Public analyses with no command yet, and why (each is a follow-up, not an oversight).
ALLOWED = {
    "InContextEncoder": "meta-training needs a corpus of subjects; Python API (docs/readouts.md)",
    "BandedRidgeEncoder": "feature spaces are composed in Python; encode --readout covers ridge",
    "RidgeEncoder": "reached through `neuroalign encode`",
    "RidgeDecoder": "reached through `neuroalign decode --features`",
    "fit_srm": "reached through `neuroalign decode-shared` (SharedDecoder.fit runs it)",
    "retrieve": "a building block of identification (`neuroalign identify`)",
    "permutation_test": "an option of encoding analyses in Python; no command yet",
    "variance_partitioning": "feature spaces are composed in Python",
    "select_layer": "reached through `neuroalign rsa --select`",
    "compare_models": "pairwise model tests over saved results; no command yet",
    "rsa_permutation_test": "no command yet",
    "rsa_over_time": "M/EEG RDMs over time; no command yet",
    "temporal_generalization": "decode's: `neuroalign generalize`; compare's: no command yet",
    "shape_table": "no command yet (cka covers the table layout)",
    "most_discriminative_stimuli": "no command yet",
    "concept_prediction": "no command yet; `explain concepts` ranks concepts",
    "top_stimuli_measured": "no command yet; `explain top` ranks predicted responses",
    "activation_sparsity": "model-side Lazy Neuron measure; `units sparsity` covers sparseness",
    "measure_activation_sparsity": "needs a model forward pass; no command yet",
    "bootstrap_rsa": "reached through `neuroalign rsa`",
    "run": "bench.run: reached through `neuroalign bench run`",
    "ReceptiveField": "reached through `neuroalign trf` (cross_validate_trf fits it per fold)",
    "decode_segments": "segment identification of naturalistic stimuli; no command yet",
}


#: Analyses that return something other than a Result (arrays, a model, top-k lists).
NOT_RESULTS = {"fit_srm", "retrieve", "variance_partitioning"}


def _public_analyses() -> set[str]:
    import neuroalign.bench as bench
    import neuroalign.compare as compare
    import neuroalign.decode as decode
    import neuroalign.encode as encode
    import neuroalign.explain as explain

    names = set(NOT_RESULTS)
    for mod in (encode, compare, decode, explain, bench):
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj):
                if hasattr(obj, "fit"):
                    names.add(name)
            elif callable(obj) and str(inspect.signature(obj).return_annotation) == "Result":
                names.add(name)
    return names | _through_registries(names)


def _reached_by_cli() -> set[str]:
    """Every name the CLI modules import from or look up on the library."""
    names = set()
    for path in (Path(__file__).resolve().parents[1] / "src/neuroalign/cli").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
    return names | _through_registries(names)


def _through_registries(names: set[str]) -> set[str]:
    """The classes that a registry the CLI reaches builds (``READOUTS["factorized"]`` →
    ``FactorizedReadout``), read from each entry's return annotation."""
    import typing

    import neuroalign.encode as encode

    built = set()
    for registry in ("READOUTS",):
        if registry in names:
            for factory in getattr(encode, registry).values():
                ret = typing.get_type_hints(factory).get("return")
                built.add(getattr(ret, "__name__", ""))
    return built


def test_every_public_analysis_has_a_command_or_a_reason():
    public = _public_analyses()
    missing = sorted(public - _reached_by_cli() - set(ALLOWED))
    assert missing == [], f"no command reaches {missing}; add one or an ALLOWED reason"
    stale = sorted(set(ALLOWED) - public)
    assert stale == [], f"ALLOWED names that are not public analyses: {stale}"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from neuroalign.data import make_epochs, make_responses

    d = tmp_path_factory.mktemp("analyses")
    rng = np.random.default_rng(0)
    ids = np.array([f"s{i:03d}" for i in range(48)])
    acts = Activations(
        "toy", ids, {f"l{i}": rng.normal(size=(48, 12)).astype(np.float32) for i in range(3)}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resp, _ = make_responses(acts, {"A": "l0", "B": "l2"}, n_targets_per_roi=6)
    save_activations(acts, d / "acts.npz")
    save_responses(resp, d / "resp.npz")
    pd.DataFrame({"stimulus_id": ids[::-1], "label": (["face", "house"] * 24)[::-1]}).to_csv(
        d / "labels.csv", index=False
    )
    ep = make_epochs(n_epochs=40, n_channels=6, n_times=12)
    np.savez(d / "epochs.npz", data=ep.epochs, labels=ep.labels, times=ep.times)
    return d


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (["readouts", "--activations", "{d}/acts.npz", "--responses", "{d}/resp.npz",
          "--readouts", "ridge", "--cv", "3"], "encoding.readouts"),
        (["units", "selectivity", "--activations", "{d}/acts.npz", "--labels",
          "{d}/labels.csv", "--category", "face"], "explain.selectivity"),
        (["units", "sparsity", "--responses", "{d}/resp.npz", "--rectify"], "explain"),
        (["units", "match", "--activations", "{d}/acts.npz", "--responses", "{d}/resp.npz"],
         "explain"),
        (["generalize", "--responses", "{d}/epochs.npz", "--labels", "labels"],
         "decoding.generalization"),
        (["identify", "--predicted", "{d}/acts.npz", "--candidates", "{d}/acts.npz"],
         "retrieval"),
    ],
)  # fmt: skip
def test_command_writes_result_table_and_report(files, tmp_path, args, kind):
    args = [a.format(d=files) for a in args]
    out, rep = tmp_path / "r.npz", tmp_path / "r.html"
    res = CliRunner().invoke(app, [*args, "--out", str(out), "--report", str(rep), "--quiet"])
    assert res.exit_code == 0, res.output
    result = load_result(out)
    assert result.kind.startswith(kind)
    assert len(pd.read_csv(out.with_suffix(".csv"))) == len(result.table)
    assert "<img" in rep.read_text()


def test_selectivity_labels_are_matched_by_id_and_errors_are_one_line(files, tmp_path):
    pd.DataFrame({"stimulus_id": ["s000"], "label": ["face"]}).to_csv(tmp_path / "few.csv")
    res = CliRunner().invoke(
        app,
        ["units", "selectivity", "--activations", str(files / "acts.npz"),
         "--labels", str(tmp_path / "few.csv"), "--category", "face"],
    )  # fmt: skip
    assert res.exit_code == 1 and "lacks 47 stimulus id" in res.output


@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    """Flattened 4 × 6 × 6 feature maps and targets with known receptive fields, the responses
    stored in reverse stimulus order (the command must join them by id)."""
    from neuroalign.core import Responses
    from neuroalign.data import make_spatial_rf_targets

    d = tmp_path_factory.mktemp("maps")
    sim = make_spatial_rf_targets(n_stimuli=100, n_channels=4, size=6, n_targets=6, noise=0.3)
    ids = np.array([f"s{i:03d}" for i in range(100)])
    save_activations(Activations("sim", ids, {"maps": sim.features}), d / "acts.npz")
    targets = pd.DataFrame({"target_id": [f"t{i}" for i in range(6)], "roi": list("AAABBB")})
    y = np.asarray(sim.responses, np.float32)
    save_responses(Responses(ids[::-1], y[::-1], targets=targets), d / "resp.npz")
    return d


@pytest.mark.slow
@pytest.mark.parametrize("readout", ["factorized", "attention"])
def test_encode_readout_writes_result_and_report(maps, tmp_path, readout):
    out, rep = tmp_path / "enc.npz", tmp_path / "enc.html"
    res = CliRunner().invoke(
        app,
        ["encode", "--features", str(maps / "acts.npz"), "--responses", str(maps / "resp.npz"),
         "--readout", readout, "--feature-shape", "4,6,6", "--epochs", "5", "--out", str(out),
         "--report", str(rep), "--quiet"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    result = load_result(out)
    assert result.params["readout"] == {"factorized": "FactorizedReadout"}.get(
        readout, "AttentionReadout"
    )
    t = result.table
    r = t[(t["statistic"] == "score") & (t["scoring"] == "pearson") & (t["aggregate"] == "mean")]
    assert (r["value"] > 0.3).all(), r  # joined by id: reversed rows would give r ≈ 0
    html = rep.read_text()
    assert "<table" in html and "<img" in html


def test_encode_readout_errors_before_work(maps, tmp_path):
    base = ["encode", "--features", str(maps / "acts.npz"), "--responses", str(maps / "resp.npz")]
    res = CliRunner().invoke(app, [*base, "--readout", "lasso", "--out", str(tmp_path / "a.npz")])
    assert res.exit_code == 1 and "--readout 'lasso'" in res.output and "factorized" in res.output
    res = CliRunner().invoke(
        app, [*base, "--out", str(tmp_path / "a.npz"), "--report", str(tmp_path / "no/r.html")]
    )
    assert res.exit_code == 1 and "--report" in res.output and not (tmp_path / "a.npz").exists()


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    """A ridge encoder of tiny_cnn's conv2 (avgpool) saved by ``explain fit``: targets are
    linear in those features, so synthesis through the model can raise them."""
    pytest.importorskip("torch")
    from PIL import Image

    from neuroalign.core import Responses, load_activations

    d = tmp_path_factory.mktemp("synth")
    rng = np.random.default_rng(0)
    (d / "img").mkdir()
    for i in range(30):
        img = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(img).save(d / "img" / f"im{i:02d}.png")
    run = CliRunner().invoke(
        app,
        ["extract", "--model", "tiny_cnn:seed=0", "--stimuli", str(d / "img"), "--layers",
         "conv2", "--reduce", "avgpool", "--out", str(d / "f.npz"), "--quiet"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    acts = load_activations(d / "f.npz")
    y = acts["conv2"] @ rng.normal(size=(acts["conv2"].shape[1], 4))
    targets = pd.DataFrame({"roi": ["A", "A", "B", "B"]})
    save_responses(Responses(acts.stimulus_ids, y.astype(np.float32), targets=targets), d / "r.npz")
    run = CliRunner().invoke(
        app,
        ["explain", "fit", "--features", str(d / "f.npz"), "--responses", str(d / "r.npz"),
         "--out", str(d / "enc.npz"), "--cv", "3"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    return d / "enc.npz"


@pytest.mark.slow
def test_synthesize_writes_images_result_and_report(encoder, tmp_path):
    out, rep = tmp_path / "s.npz", tmp_path / "s.html"
    res = CliRunner().invoke(
        app,
        ["synthesize", "--encoder", str(encoder), "--model", "tiny_cnn:seed=0", "--targets",
         "roi:A,roi:B", "--size", "32", "--steps", "12", "--lr", "0.1", "--out", str(out),
         "--report", str(rep), "--quiet"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    result = load_result(out)
    assert result.kind == "explain.synthesis"
    assert result.arrays["images"].shape == (2, 1, 32, 32, 3)
    final = result.table["value"].to_numpy()
    assert (final > result.arrays["initial_response"].ravel()).all()  # the optimisation ran
    html = rep.read_text()
    assert "<table" in html and html.count("<img") >= 1
    assert len(pd.read_csv(out.with_suffix(".csv"))) == 2


def test_synthesize_errors_are_one_line_and_before_work(encoder, tmp_path):
    base = ["synthesize", "--encoder", str(encoder), "--model", "tiny_cnn:seed=0"]
    res = CliRunner().invoke(app, [*base, "--targets", "nope", "--steps", "1"])
    assert res.exit_code == 1 and "nope" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(
        app, [*base, "--targets", "roi:A", "--out", str(tmp_path / "missing/s.npz")]
    )
    assert res.exit_code == 1 and "--out" in res.output
    res = CliRunner().invoke(app, [*base, "--targets", "roi:A", "--layer", "conv9"])
    assert res.exit_code == 1 and "conv9" in res.output


@pytest.fixture(scope="module")
def subjects(tmp_path_factory):
    """Embeddings and three subjects' responses to the same 120 stimuli, each subject's rows in
    its own shuffled order (the commands must join by stimulus id)."""
    from neuroalign.core import Responses
    from neuroalign.data import make_decoding_problem

    d = tmp_path_factory.mktemp("decoders")
    p = make_decoding_problem(120, 8, [30, 40, 35], noise=0.5, seed=0)
    ids = np.array([f"s{i:03d}" for i in range(120)])
    save_activations(Activations("emb", ids, {"latent": p.latents}), d / "emb.npz")
    for j, X in enumerate(p.responses):
        order = np.random.default_rng(j).permutation(120)
        save_responses(Responses(ids[order], np.asarray(X)[order]), d / f"sub-{j}.npz")
    return d


def _top1(result):
    t = result.table
    return t[t["scoring"] == "top1"]


@pytest.mark.slow
def test_decode_shared_identifies_each_new_subject(subjects, tmp_path):
    d, out, rep = subjects, tmp_path / "s.npz", tmp_path / "s.html"
    res = CliRunner().invoke(
        app,
        ["decode-shared", "--features", str(d / "emb.npz"), "--responses", str(d / "sub-0.npz"),
         "--responses", str(d / "sub-1.npz"), "--responses", str(d / "sub-2.npz"),
         "--components", "8", "--out", str(out), "--report", str(rep), "--quiet"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    result = load_result(out)
    assert result.kind == "retrieval.identification"
    top1 = _top1(result)
    assert sorted(top1["subject"]) == ["sub-0", "sub-1", "sub-2"]
    assert (top1["value"] > 10 * top1["chance"]).all(), top1  # rows joined by id, not position
    assert len(pd.read_csv(out.with_suffix(".csv"))) == len(result.table)
    html = rep.read_text()
    assert "<table" in html and "sub-2" in html


def test_decode_shared_needs_two_subjects_and_checks_paths_first(subjects, tmp_path):
    d = subjects
    base = ["decode-shared", "--features", str(d / "emb.npz"), "--responses", str(d / "sub-0.npz")]
    res = CliRunner().invoke(app, base)
    assert res.exit_code == 1 and "at least 2" in res.output
    res = CliRunner().invoke(
        app, [*base, "--responses", str(d / "sub-1.npz"), "--report", str(tmp_path / "x/r.html")]
    )
    assert res.exit_code == 1 and "--report" in res.output


@pytest.mark.slow
def test_decode_contrastive_identifies_held_out_stimuli(subjects, tmp_path):
    pytest.importorskip("torch")
    d, out, rep = subjects, tmp_path / "c.npz", tmp_path / "c.html"
    res = CliRunner().invoke(
        app,
        ["decode-contrastive", "--features", str(d / "emb.npz"), "--responses",
         str(d / "sub-1.npz"), "--epochs", "30", "--batch-size", "32", "--out", str(out),
         "--report", str(rep), "--quiet"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    result = load_result(out)
    assert result.params["decoder"] == "ContrastiveDecoder"
    top1 = _top1(result)
    assert (top1["value"] > 4 * top1["chance"]).all(), top1
    assert "<table" in rep.read_text()

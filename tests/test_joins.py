"""One join: every entry point that pairs model rows with brain rows matches them by stimulus id.

For each one, responses in another order give the same numbers as aligned ones, and responses
of other stimuli raise :class:`StimulusMismatchError` naming the ids.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neuroalign.core import Activations, Responses, save_activations, save_responses
from neuroalign.core.exceptions import StimulusMismatchError

N = 80


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    ids = np.array([f"s{i:03d}" for i in range(N)])
    X = rng.normal(size=(N, 6)).astype(np.float32)
    W = rng.normal(size=(6, 5))
    Y = (X @ W + 0.5 * rng.normal(size=(N, 5))).astype(np.float32)
    acts = Activations("toy:net", ids, {"a": X})
    targets = pd.DataFrame({"target": [f"v{j}" for j in range(5)], "roi": ["A"] * 3 + ["B"] * 2})
    resp = Responses(ids, data=Y, targets=targets)
    perm = rng.permutation(N)
    shuffled = resp.take(perm)
    other = Responses(
        np.array([f"zz{i}" for i in range(N)]), data=Y, targets=targets
    )  # same data, other stimuli
    return acts, resp, shuffled, other


def _names_ids(err: pytest.ExceptionInfo) -> None:
    msg = str(err.value)
    assert "zz0" in msg or "s000" in msg, msg


def test_fit_readout(pair):
    from neuroalign.explain import fit_readout

    acts, resp, shuffled, other = pair
    a = fit_readout(acts, resp, cv="gcv")
    b = fit_readout(acts, shuffled, cv="gcv")
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-5, atol=1e-6)
    with pytest.raises(StimulusMismatchError) as err:
        fit_readout(acts, other, cv="gcv")
    _names_ids(err)


def test_concept_prediction(pair):
    from neuroalign.explain import ConceptSpace, concept_prediction

    acts, resp, shuffled, other = pair
    rng = np.random.default_rng(1)
    space = ConceptSpace([f"c{i}" for i in range(7)], rng.normal(size=(7, 6)))
    ref = concept_prediction(acts, resp, space, k=3).arrays["r"]
    for emb, kw in ((acts, {}), (acts["a"], {"stimulus_ids": acts.stimulus_ids})):
        got = concept_prediction(emb, shuffled, space, k=3, **kw).arrays["r"]
        np.testing.assert_allclose(got, ref, atol=1e-6)
        with pytest.raises(StimulusMismatchError) as err:
            concept_prediction(emb, other, space, k=3, **kw)
        _names_ids(err)
    # an array without ids cannot be matched with Responses: told what to pass
    with pytest.raises(ValueError, match="stimulus_ids"):
        concept_prediction(acts["a"], shuffled, space, k=3)


def test_concept_prediction_unnamed_array_with_a_ranking(pair):
    from neuroalign.explain import ConceptSpace, concept_prediction, fit_readout, rank_concepts

    acts, resp, _, _ = pair
    rng = np.random.default_rng(1)
    space = ConceptSpace([f"c{i}" for i in range(7)], rng.normal(size=(7, 6)))
    ranking = rank_concepts(fit_readout(acts, resp, cv="gcv"), space, method="weight", k=2)
    with pytest.raises(ValueError, match="unnamed array") as err:
        concept_prediction(acts["a"], np.asarray(resp.data), space, ranking=ranking)
    assert "targets=" in str(err.value) and "Responses" in str(err.value)
    named = concept_prediction(
        acts["a"],
        np.asarray(resp.data),
        space,
        ranking=ranking,
        targets=[f"v{j}" for j in range(5)],
    )
    assert len(named.table) == len(ranking.table)


def test_decode_embeddings(pair):
    from neuroalign.decode import decode_embeddings

    acts, resp, shuffled, other = pair
    emb = Activations("toy:net", acts.stimulus_ids, {"a": acts["a"]})
    ref = decode_embeddings(resp.data, acts["a"], resp.stimulus_ids, cv=4).table["value"]
    got = decode_embeddings(shuffled, emb, cv=4).table["value"]
    np.testing.assert_allclose(got, ref, atol=1e-9)
    got = decode_embeddings(
        shuffled.data, acts["a"], shuffled.stimulus_ids, embedding_ids=acts.stimulus_ids, cv=4
    ).table["value"]
    np.testing.assert_allclose(got, ref, atol=1e-9)
    with pytest.raises(StimulusMismatchError) as err:
        decode_embeddings(other, emb, cv=4)
    _names_ids(err)


# ------------------------------------------------------------------------------ the CLI
typer = pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

from neuroalign.cli import app  # noqa: E402

runner = CliRunner()


def _files(tmp_path, pair):
    acts, resp, shuffled, other = pair
    return (
        save_activations(acts, tmp_path / "feats.npz"),
        save_responses(resp, tmp_path / "resp.npz"),
        save_responses(shuffled, tmp_path / "shuffled.npz"),
        save_responses(other, tmp_path / "other.npz"),
    )


def _mismatch(res) -> None:
    assert res.exit_code == 1, res.output
    assert "do not hold the same stimuli" in res.output and "zz0" in res.output, res.output
    assert "Traceback" not in res.output


@pytest.mark.filterwarnings("ignore")
def test_cli_encode(tmp_path, pair):
    f, r, s, o = _files(tmp_path, pair)
    outs = []
    for resp, name in ((r, "a.csv"), (s, "b.csv")):
        res = runner.invoke(
            app,
            [
                "encode",
                "--features",
                str(f),
                "--responses",
                str(resp),
                "--out",
                str(tmp_path / name),
                "--cv",
                "gcv",
                "-q",
            ],
        )
        assert res.exit_code == 0, res.output
        outs.append(pd.read_csv(tmp_path / name))
    np.testing.assert_allclose(outs[0]["value"], outs[1]["value"], atol=1e-6)
    res = runner.invoke(
        app,
        ["encode", "--features", str(f), "--responses", str(o), "--out", str(tmp_path / "c.csv")],
    )
    _mismatch(res)


def test_cli_decode_features(tmp_path, pair):
    f, r, s, o = _files(tmp_path, pair)
    outs = []
    for resp, name in ((r, "a"), (s, "b")):
        res = runner.invoke(
            app,
            [
                "decode",
                "--responses",
                str(resp),
                "--features",
                str(f),
                "--cv",
                "4",
                "--out",
                str(tmp_path / name),
            ],
        )
        assert res.exit_code == 0, res.output
        outs.append(pd.read_csv(tmp_path / name / "decoding.csv"))
    np.testing.assert_allclose(outs[0]["value"], outs[1]["value"], atol=1e-9)
    res = runner.invoke(
        app, ["decode", "--responses", str(o), "--features", str(f), "--out", str(tmp_path / "c")]
    )
    _mismatch(res)


def test_cli_explain_fit(tmp_path, pair):
    from neuroalign.explain import load_readout

    f, r, s, o = _files(tmp_path, pair)
    coefs = []
    for resp, name in ((r, "a.npz"), (s, "b.npz")):
        res = runner.invoke(
            app,
            [
                "explain",
                "fit",
                "--features",
                str(f),
                "--responses",
                str(resp),
                "--out",
                str(tmp_path / name),
            ],
        )
        assert res.exit_code == 0, res.output
        coefs.append(load_readout(tmp_path / name).coef)
    np.testing.assert_allclose(coefs[0], coefs[1], rtol=1e-5, atol=1e-6)
    res = runner.invoke(
        app,
        [
            "explain",
            "fit",
            "--features",
            str(f),
            "--responses",
            str(o),
            "--out",
            str(tmp_path / "c.npz"),
        ],
    )
    _mismatch(res)

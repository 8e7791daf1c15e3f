"""``neuroalign explain fit | top | concepts`` end to end on small saved files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("typer")
from typer.testing import CliRunner

from neuroalign.cli import app
from neuroalign.core import Activations, save_activations, save_responses
from neuroalign.data import make_concept_voxels


def test_fit_top_concepts(tmp_path):
    sim = make_concept_voxels(n_images=600, n_voxels=6)
    ids = sim.responses.stimulus_ids
    save_activations(
        Activations("sim:clip", ids, {"image_embeds": sim.image_embeddings}), tmp_path / "acts.npz"
    )
    save_responses(sim.responses, tmp_path / "resp.npz")
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "explain",
            "fit",
            "--features",
            str(tmp_path / "acts.npz"),
            "--responses",
            str(tmp_path / "resp.npz"),
            "--out",
            str(tmp_path / "enc.npz"),
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        [
            "explain",
            "top",
            "--encoder",
            str(tmp_path / "enc.npz"),
            "--candidates",
            str(tmp_path / "acts.npz"),
            "--k",
            "3",
            "--out",
            str(tmp_path / "top.csv"),
        ],
    )
    assert r.exit_code == 0, r.output
    top = pd.read_csv(tmp_path / "top.csv")
    assert len(top) == 6 * 2 * 3 and set(top["direction"]) == {"top", "bottom"}
    # the most-driving stimulus of v000 is the one its true weights predict best, or close to it
    best = top[(top.target == "v000") & (top.direction == "top")]["stimulus"].tolist()
    true_rank = np.argsort(-(sim.image_embeddings @ sim.weights[:, 0]))[:20]
    assert best[0] in set(ids[true_rank])
    # concepts need a concept space: a classifier or a vocabulary with a text tower
    r = runner.invoke(app, ["explain", "concepts", "--encoder", str(tmp_path / "enc.npz")])
    assert r.exit_code == 1 and "--vocabulary" in r.output
    (tmp_path / "words.txt").write_text("face\nhouse\n")
    r = runner.invoke(
        app,
        [
            "explain",
            "concepts",
            "--encoder",
            str(tmp_path / "enc.npz"),
            "--vocabulary",
            str(tmp_path / "words.txt"),
        ],
    )
    assert r.exit_code == 1 and "--model" in r.output
    r = runner.invoke(
        app,
        [
            "explain",
            "top",
            "--encoder",
            str(tmp_path / "acts.npz"),
            "--candidates",
            str(tmp_path / "acts.npz"),
        ],
    )
    assert r.exit_code == 1 and "not a saved encoder" in r.output

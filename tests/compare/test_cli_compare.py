"""The rsa and cka commands: precomputed RDM files, cross-validated selection, one-line errors."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("typer")
from typer.testing import CliRunner

from neuroalign import Activations, RDMs, save_activations
from neuroalign.cli import app
from neuroalign.compare import compute_rdm, save_rdms

runner = CliRunner()


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(3)
    ids = [f"s{i}" for i in range(24)]
    latent = rng.normal(size=(24, 5))
    acts = Activations(
        "toy:net",
        ids,
        {"good": latent @ rng.normal(size=(5, 12)), "bad": rng.normal(size=(24, 12))},
    )
    subjects = np.stack([compute_rdm(latent + rng.normal(size=latent.shape)) for _ in range(4)])
    rdms = RDMs(subjects, ids, pd.DataFrame({"subject": list("abcd")}), metric="correlation")
    np.save(tmp_path / "no_ids.npy", subjects)  # behavioural-style: no stimulus ids
    return {
        "features": save_activations(acts, tmp_path / "a.npz"),
        "rdms": save_rdms(rdms, tmp_path / "brain.npz"),
        "npy": tmp_path / "no_ids.npy",
        "tmp": tmp_path,
    }


def _one_line_error(res, *needles):
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_rsa_from_an_rdm_file_with_cross_validated_selection(files):
    out = files["tmp"] / "rsa.csv"
    res = runner.invoke(
        app,
        [
            "rsa",
            "--features",
            str(files["features"]),
            "--rdms",
            str(files["rdms"]),
            "--n-boot",
            "50",
            "--select",
            "subjects",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out, keep_default_na=False)
    per_layer = t[t["statistic"] == "similarity"].set_index("layer")
    assert per_layer.loc["good", "value"] > per_layer.loc["bad", "value"]
    assert (per_layer["resampled"] == "subjects").all() and (per_layer["n"] == 4).all()
    cv = t[t["statistic"] == "cv_selected"]
    assert cv["layer"].tolist() == ["good"] and "cross-validated choice good" in res.stdout


def test_rsa_from_an_npy_without_ids_uses_the_feature_order(files):
    res = runner.invoke(
        app,
        [
            "rsa",
            "--features",
            str(files["features"]),
            "--rdms",
            str(files["npy"]),
            "--n-boot",
            "20",
            "--out",
            str(files["tmp"] / "r.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "names no stimuli; assuming the order of --features" in res.stdout
    assert "best layer good" in res.stdout


@pytest.mark.parametrize("n_boot", ["0", "-5", "1"])
def test_rsa_bad_n_boot_is_one_line(files, n_boot):
    res = runner.invoke(
        app,
        [
            "rsa",
            "--features",
            str(files["features"]),
            "--rdms",
            str(files["rdms"]),
            "--n-boot",
            n_boot,
        ],
    )
    _one_line_error(res, "--n-boot must be an integer >= 2", f"got {n_boot}")


def test_rsa_needs_exactly_one_brain_input(files):
    res = runner.invoke(app, ["rsa", "--features", str(files["features"])])
    _one_line_error(res, "exactly one of --responses FILE or --rdms FILE")


def test_cka_with_a_text_file_is_one_line(files):
    text = files["tmp"] / "notes.txt"
    text.write_text("not an archive\n")
    res = runner.invoke(app, ["cka", "--features", str(files["features"]), "--other", str(text)])
    _one_line_error(res, "--other", "is not an .npz archive")
    assert "pickled" not in res.output

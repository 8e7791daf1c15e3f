"""``neuroalign encode``: bad inputs end in one line, before any fitting."""

import numpy as np
import pytest

pytest.importorskip("typer")

from typer.testing import CliRunner

from neuroalign import Activations, save_activations, save_responses
from neuroalign.cli import app
from neuroalign.data import make_responses

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("enc")
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(60)]
    acts = Activations("toy:net", ids, {"a": rng.normal(size=(60, 8))})
    resp, _ = make_responses(acts, {"V1": "a"}, n_targets_per_roi=4, noise_sd=0.7)
    return save_activations(acts, tmp / "f.npz"), save_responses(resp, tmp / "r.npz"), tmp


def _run(*args):
    res = runner.invoke(app, ["encode", *map(str, args), "-q"])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    return res, lines


@pytest.mark.parametrize("cv", ["-3", "1", "abc"])
def test_bad_cv_is_one_line(files, cv):
    f, r, tmp = files
    res, lines = _run("--features", f, "--responses", r, "--out", tmp / "x.csv", f"--cv={cv}")
    assert res.exit_code == 1 and len(lines) == 1
    assert "use an integer >= 2" in lines[0] and not (tmp / "x.csv").exists()


def test_swapped_files_are_named(files):
    f, r, tmp = files
    res, lines = _run("--features", r, "--responses", f, "--out", tmp / "x.csv")
    assert res.exit_code == 1 and len(lines) == 1
    assert "did you swap --features and --responses" in lines[0]


def test_missing_output_directory_is_caught_before_the_fit(files, monkeypatch):
    import neuroalign.encode as encode

    f, r, tmp = files
    called = []
    monkeypatch.setattr(encode, "sweep_layers", lambda *a, **k: called.append(1))
    res, lines = _run("--features", f, "--responses", r, "--out", tmp / "missing" / "x.csv")
    assert res.exit_code == 1 and len(lines) == 1
    assert "does not exist; create it first" in lines[0] and not called


def test_out_npz_writes_the_result_with_its_table_and_csv_out_the_targets(files):
    """The one output rule of the analysis commands: ``--out R.npz`` is the Result and its table
    ``R.csv``; a table ``--out`` also gets the per-target scores (``<stem>_targets.csv``)."""
    import pandas as pd

    from neuroalign.core import load_result

    f, r, tmp = files
    res, _ = _run("--features", f, "--responses", r, "--out", tmp / "e.npz", "--cv", "3")
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp / "e.csv")
    assert len(table) == len(load_result(tmp / "e.npz").table)
    res, _ = _run("--features", f, "--responses", r, "--out", tmp / "t.csv", "--cv", "3")
    assert res.exit_code == 0, res.output
    assert (tmp / "t_targets.csv").is_file() and not (tmp / "t.npz").exists()

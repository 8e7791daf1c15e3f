"""``neuroalign data list | fetch | info``."""

import numpy as np
import pytest

pytest.importorskip("typer")
from typer.testing import CliRunner

from neuroalign.cli import app

runner = CliRunner()


def test_data_list_shows_registry():
    res = runner.invoke(app, ["data", "list"])
    assert res.exit_code == 0
    assert "nsd" in res.stdout and "things-eeg2" in res.stdout and "--accept-terms" in res.stdout
    assert "Allen EJ" in res.stdout


def test_data_fetch_unknown_and_terms(tmp_path):
    res = runner.invoke(app, ["data", "fetch", "nds", "--data-dir", str(tmp_path)])
    assert res.exit_code == 1 and "Did you mean 'nsd'" in res.output
    res = runner.invoke(
        app, ["data", "fetch", "nsd", "--subject", "subj01", "--data-dir", str(tmp_path)]
    )
    assert (
        res.exit_code == 1 and "accept_terms=True" in res.output and "Traceback" not in res.output
    )


def test_data_info_on_files(tmp_path):
    from neuroalign import Responses, save_responses

    reps = np.random.default_rng(0).normal(size=(2, 4, 3))
    r = Responses(stimulus_ids=list("abcd"), repetitions=reps)
    path = save_responses(r, tmp_path / "r.npz")
    res = runner.invoke(app, ["data", "info", str(path)])
    assert res.exit_code == 0
    assert "n_stimuli: 4" in res.stdout and "n_reps: 2" in res.stdout
    nib = pytest.importorskip("nibabel")
    nib.save(nib.Nifti1Image(np.zeros((3, 4, 5, 6), np.float32), np.eye(4)), tmp_path / "b.nii.gz")
    res = runner.invoke(app, ["data", "info", str(tmp_path / "b.nii.gz"), "--json"])
    assert res.exit_code == 0 and '"n_volumes": 6' in res.stdout
    res = runner.invoke(app, ["data", "info", str(tmp_path / "missing.nii")])
    assert res.exit_code == 1 and "does not exist" in res.output

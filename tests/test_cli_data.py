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


def _one_line_error(res):
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    return lines[0]


def test_data_info_errors_are_one_escaped_line(tmp_path):
    nib = pytest.importorskip("nibabel")
    odd = tmp_path / "run[1] [red]x"
    odd.mkdir()
    nib.save(nib.Nifti1Image(np.zeros((3, 4, 5, 6), np.float32), np.eye(4)), odd / "b.nii")
    raw = (odd / "b.nii").read_bytes()
    (odd / "cut[2].nii").write_bytes(raw[: len(raw) // 2])
    line = _one_line_error(runner.invoke(app, ["data", "info", str(odd / "cut[2].nii")]))
    assert "truncated" in line and str(odd / "cut[2].nii") in line  # was: "n_volumes: 6"
    line = _one_line_error(runner.invoke(app, ["data", "info", str(odd / "missing[3].npz")]))
    assert str(odd / "missing[3].npz") in line and "does not exist" in line
    (odd / "junk.gii").write_text("<not gifti")  # nibabel's own parser error: still one line
    line = _one_line_error(runner.invoke(app, ["data", "info", str(odd / "junk.gii")]))
    assert "junk.gii" in line
    res = runner.invoke(app, ["data", "info", str(odd / "b.nii")])
    assert res.exit_code == 0 and f"path: {odd / 'b.nii'}" in res.stdout  # [red] printed as is


def test_data_fetch_into_a_file_is_one_line_before_downloading(tmp_path):
    (tmp_path / "afile").write_text("x")
    res = runner.invoke(
        app, ["data", "fetch", "things-eeg2", "--data-dir", str(tmp_path / "afile" / "sub")]
    )
    line = _one_line_error(res)  # was: a NotADirectoryError traceback
    assert "cannot be created" in line and "afile" in line and "--data-dir" in line
    assert not (tmp_path / "afile").is_dir()

"""Bad inputs to the data readers end in one clear error (or a listed exclusion), never a traceback
from a library or a silently wrong result: files of the wrong kind, truncated files, id files in
other layouts, old keyword names, paths with ``[`` and files that cannot be read."""

from __future__ import annotations

import builtins
import gzip
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuroalign import Activations, Responses
from neuroalign.core import load_activations, load_responses, save_activations, save_responses
from neuroalign.core.exceptions import ConfigurationError, ShapeError, ValidationError
from neuroalign.data import ArraySchema, describe_data, load_array_file, load_fmri

nib = pytest.importorskip("nibabel")

TRIALS = ["a", "b", "c", "a", "b", "c", "a", "b"]


def _bold(tmp_path: Path, name: str = "b.nii.gz", n: int = len(TRIALS)) -> tuple[Path, np.ndarray]:
    data = np.random.default_rng(0).normal(size=(4, 5, 3, n)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.5, 1.0])), tmp_path / name)
    return tmp_path / name, data


def _files(tmp_path: Path) -> tuple[Path, Path]:
    resp = Responses(list("abc"), repetitions=np.random.default_rng(1).normal(size=(2, 3, 4)))
    acts = Activations("toy:net", list("abc"), {"l1": np.ones((3, 5))})
    return save_responses(resp, tmp_path / "resp.npz"), save_activations(acts, tmp_path / "a.npz")


# --------------------------------------------------------------------------- wrong kind of file
def test_activations_and_responses_files_are_not_mixed_up(tmp_path):
    resp_file, acts_file = _files(tmp_path)
    with pytest.raises(ValidationError, match=r"holds brain Responses.*load_responses"):
        load_activations(resp_file)  # was: IndexError (the 0-d 'name' array taken for a layer)
    with pytest.raises(ValidationError, match=r"holds model Activations.*load_activations"):
        load_responses(acts_file)
    # files written by other tools carry no marker: recognised by unambiguous arrays
    ids = np.array(list("abc"))
    np.savez(tmp_path / "plain.npz", stimulus_ids=ids, repetitions=np.ones((2, 3, 2)))
    with pytest.raises(ValidationError, match="holds brain Responses"):
        load_activations(tmp_path / "plain.npz")
    np.savez(tmp_path / "one.npz", stimulus_ids=ids, data=np.ones((3, 2)))  # either kind
    assert load_activations(tmp_path / "one.npz").layer_names == ("data",)
    assert load_responses(tmp_path / "one.npz").n_targets == 2
    np.savez(tmp_path / "scalar.npz", stimulus_ids=np.array(list("abc")), fc=np.array(3.0))
    with pytest.raises(ShapeError, match=r"layers\['fc'\] must be 2-D.*shape \(\)"):
        load_activations(tmp_path / "scalar.npz")
    np.savez(tmp_path / "text.npz", stimulus_ids=np.array(list("abc")), fc=np.array(list("xyz")))
    with pytest.raises(ValidationError, match=r"layers\['fc'\] must hold numbers"):
        load_activations(tmp_path / "text.npz")


@pytest.mark.parametrize("reader", [load_responses, load_activations, describe_data])
def test_truncated_or_foreign_npz_is_a_clear_error(tmp_path, reader):
    resp_file, _ = _files(tmp_path)
    raw = resp_file.read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])  # was: BadZipFile traceback
    with pytest.raises(ValidationError, match=r"cut\.npz.*truncated, corrupt"):
        reader(tmp_path / "cut.npz")
    (tmp_path / "notes.npz").write_text("stimulus,value\na,1\n")
    with pytest.raises(ValidationError, match=r"notes\.npz.*not a readable \.npz"):
        reader(tmp_path / "notes.npz")


def test_corrupt_member_found_while_reading_is_a_clear_error(tmp_path):
    big = Responses([f"s{i}" for i in range(50)], data=np.arange(50 * 200.0).reshape(50, 200))
    path = save_responses(big, tmp_path / "r.npz")
    raw = bytearray(path.read_bytes())
    mid = len(raw) // 2  # inside the stored 'data' array: the zip index is intact, its CRC is not
    raw[mid : mid + 8] = b"\xff" * 8
    path.write_bytes(bytes(raw))
    with pytest.raises(ValidationError, match=r"r\.npz.*truncated or corrupt"):
        load_responses(path)
    with pytest.raises(ValidationError, match="single array"):
        np.save(tmp_path / "x.npy", np.ones(3))
        load_responses((tmp_path / "x.npy").rename(tmp_path / "x.npz"))


def test_save_into_a_missing_folder_names_it(tmp_path):
    resp = Responses(list("ab"), data=np.ones((2, 2)))
    with pytest.raises(ValidationError, match=r"folder .*nowhere.* does not exist"):
        save_responses(resp, tmp_path / "nowhere" / "r.npz")


# --------------------------------------------------------------------------- truncated volumes
@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_truncated_nifti_is_reported_not_described(tmp_path, suffix):
    path, _ = _bold(tmp_path, "b" + suffix)
    raw = path.read_bytes()
    cut = tmp_path / ("cut" + suffix)
    cut.write_bytes(raw[: len(raw) // 2])
    # was: "n_volumes: 8" for a file holding half of them
    with pytest.raises(ValidationError, match=r"cut\.nii.*truncated.*shape \(4, 5, 3, 8\)"):
        describe_data(cut)
    with pytest.raises(ValidationError, match=r"cut\.nii.*truncated"):
        load_fmri(cut, TRIALS)
    assert describe_data(path)["n_volumes"] == len(TRIALS)


def test_complete_gzip_with_several_members_is_not_called_truncated(tmp_path):
    """A gzip trailer only stores the last member's size: the check then decompresses to count."""
    path, data = _bold(tmp_path, "b.nii")
    raw = path.read_bytes()
    two = tmp_path / "two.nii.gz"
    two.write_bytes(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:]))
    assert describe_data(two)["n_volumes"] == len(TRIALS)
    _, resp = load_fmri(two, TRIALS)
    np.testing.assert_allclose(resp.repetitions[0, 0], data[..., 0].ravel(), rtol=1e-6)


# --------------------------------------------------------------------------- stimulus id files
def test_space_separated_headerless_id_file(tmp_path):
    """PyMVPA's attributes.txt layout: ``<label> <run>`` per volume, no header, spaces."""
    path, data = _bold(tmp_path)
    runs = [0, 0, 0, 1, 1, 1, 2, 2]
    (tmp_path / "attributes.txt").write_text(
        "".join(f"{t} {r}\n" for t, r in zip(TRIALS, runs, strict=True))
    )
    stim, resp = load_fmri(path, tmp_path / "attributes.txt")
    assert stim.ids.tolist() == ["a", "b", "c"] and resp.n_reps == 3
    np.testing.assert_allclose(resp.repetitions[2, 1], data[..., 7].ravel(), rtol=1e-6)
    _, by_run = load_fmri(path, tmp_path / "attributes.txt", stimulus_column=1)
    assert by_run.stimulus_ids.tolist() == ["0", "1", "2"]
    # tab-separated with a header naming the column
    pd.DataFrame({"onset": np.arange(8) * 2.0, "trial_type": TRIALS}).to_csv(
        tmp_path / "events.txt", sep="\t", index=False
    )
    _, ev = load_fmri(path, tmp_path / "events.txt")
    np.testing.assert_array_equal(ev.data, resp.data)


def test_id_file_with_a_header_and_a_missing_row_is_not_read_as_ids(tmp_path):
    path, _ = _bold(tmp_path)
    (tmp_path / "ids.txt").write_text("stimulus_id\n" + "\n".join(TRIALS[:-1]) + "\n")
    with pytest.raises(ShapeError, match=r"7 rows but .* 8 trials"):
        load_fmri(path, tmp_path / "ids.txt")  # the header is not taken for a trial's id
    (tmp_path / "blank.csv").write_text("stimulus_id,run\n" + "".join(f"{t},1\n" for t in TRIALS))
    lines = (tmp_path / "blank.csv").read_text().splitlines()
    lines[3] = ",1"
    (tmp_path / "blank.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValidationError, match=r"1 trial\(s\) have an empty stimulus id.*\[2\]"):
        load_fmri(path, tmp_path / "blank.csv")


@pytest.mark.realdata
def test_haxby_attributes_file_reads_as_is(shared_data):
    src = shared_data / "haxby2001_slice"
    _, resp = load_fmri(src / "bold.nii.gz", src / "attributes.txt", mask=src / "mask.nii.gz")
    _, literal = load_fmri(
        src / "bold.nii.gz", src / "attributes_literal.txt", mask=src / "mask.nii.gz"
    )
    names = ["rest", "face", "house", "shoe", "cat", "scissors", "scrambledpix", "bottle", "chair"]
    assert [names[int(i)] for i in resp.stimulus_ids] == literal.stimulus_ids.tolist()
    np.testing.assert_array_equal(resp.data, literal.data)
    assert resp.n_stimuli == 9 and resp.n_reps == 588  # rest: 588 volumes


def test_old_labels_keyword_warns_and_still_works(tmp_path):
    path, _ = _bold(tmp_path)
    _, new = load_fmri(path, TRIALS)
    with pytest.warns(
        FutureWarning, match=r"load_fmri\(labels=\.\.\.\) is deprecated.*stimulus_ids="
    ):
        _, old = load_fmri(path, labels=TRIALS)
    np.testing.assert_array_equal(old.data, new.data)
    with pytest.raises(ConfigurationError, match="both stimulus_ids= and its old name labels="):
        load_fmri(path, TRIALS, labels=TRIALS)
    with pytest.raises(ValidationError, match="load_fmri needs stimulus_ids"):
        load_fmri(path)


# --------------------------------------------------------------------------- M/EEG channels
@pytest.mark.realdata
def test_eeglab_sample_lists_every_channel_left_out(shared_data):
    pytest.importorskip("mne")
    from neuroalign.core.exceptions import NeuroalignWarning
    from neuroalign.data import load_meeg

    path = shared_data / "eeglab_sample" / "eeglab_data_epochs_ica.set"
    with pytest.warns(NeuroalignWarning, match=r"excluded 2 channels \(eog"):
        _, resp = load_meeg(path)
    records = [r for r in resp.meta["exclusions"] if r["what"] == "channels"]
    assert [r["items"] for r in records] == [["EOG1", "EOG2"]]
    assert resp.n_targets + 2 == 32 and "EOG1" not in set(resp.targets["channel"])


# --------------------------------------------------------------------------- odd paths
def _odd_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run[1] [red]x"
    d.mkdir()
    return d


def test_paths_with_brackets(tmp_path):
    d = _odd_dir(tmp_path)
    path, _ = _bold(d)
    (d / "ids[1].tsv").write_text("stimulus_id\n" + "\n".join(TRIALS) + "\n")
    with pytest.raises(ShapeError, match=r"mask .*b\.nii\.gz.* must be one 3-D volume"):
        load_fmri(path, d / "ids[1].tsv", mask=path)  # was: numpy's "cannot reshape"
    nib.save(
        nib.Nifti1Image(np.ones((4, 5, 3), np.uint8), np.diag([2.0, 2.0, 2.5, 1.0])), d / "m[0].nii"
    )
    _, resp = load_fmri(path, d / "ids[1].tsv", mask=d / "m[0].nii")
    assert resp.meta["source"] == str(path)
    saved = save_responses(resp, d / "r[2].npz")
    assert load_responses(saved).n_stimuli == 3
    assert describe_data(saved)["n_stimuli"] == 3
    np.savez(d / "x[3].npz", data=np.ones((3, 2)), stimulus_ids=np.array(list("abc")))
    assert load_array_file(d / "x[3].npz", ArraySchema()) is not None
    with pytest.raises(ValidationError, match=r"run\[1\] \[red\]x/missing\[1\]\.nii"):
        load_fmri(d / "missing[1].nii", TRIALS)


def test_nsd_layout_under_a_bracketed_folder(tmp_path, rng):
    pytest.importorskip("scipy")
    from neuroalign.data import load_nsd

    from .test_nsd import _layout

    root = _odd_dir(tmp_path)
    _layout(root, rng)
    _, resp = load_nsd(root, 1, rois=["V1d"], sessions=[1], keep_repetitions=False)
    assert resp.rois == ["V1d"] and resp.n_stimuli > 0
    assert describe_data(root)["sessions_per_subject"] == {"subj01": 3}


def _deny(monkeypatch, path: Path) -> None:
    """Make ``path`` unreadable: chmod 000, and (root ignores permissions) refuse Python-level
    opens of it with the EACCES error the OS would give."""
    os.chmod(path, 0)
    real_open = builtins.open

    def guarded(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file).resolve() == path.resolve():
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)


@pytest.mark.parametrize("what", ["responses", "activations", "describe", "bold", "ids", "array"])
def test_unreadable_files_are_clear_errors(tmp_path, monkeypatch, what):
    resp_file, acts_file = _files(tmp_path)
    bold, _ = _bold(tmp_path)
    ids = tmp_path / "ids.tsv"
    ids.write_text("stimulus_id\n" + "\n".join(TRIALS) + "\n")
    target, call = {
        "responses": (resp_file, lambda: load_responses(resp_file)),
        "activations": (acts_file, lambda: load_activations(acts_file)),
        "describe": (bold, lambda: describe_data(bold)),
        "bold": (bold, lambda: load_fmri(bold, TRIALS)),
        "ids": (ids, lambda: load_fmri(bold, ids)),
        "array": (resp_file, lambda: load_array_file(resp_file, ArraySchema())),
    }[what]
    _deny(monkeypatch, target)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(ValidationError, match=r"cannot be read \(Permission denied\)"):
                call()
    finally:
        os.chmod(target, 0o644)


def test_truncated_mgh_surface_and_junk_gifti(tmp_path):
    from neuroalign.data import load_surface

    vals = np.random.default_rng(2).normal(size=(12, 1, 1, len(TRIALS))).astype(np.float32)
    nib.save(nib.MGHImage(vals, np.eye(4)), tmp_path / "lh.mgz")
    raw = (tmp_path / "lh.mgz").read_bytes()
    (tmp_path / "cut.mgz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValidationError, match=r"cut\.mgz.*(truncated|corrupt)"):
        load_surface({"lh": tmp_path / "cut.mgz"}, TRIALS)
    _, resp = load_surface({"lh": tmp_path / "lh.mgz"}, TRIALS)
    np.testing.assert_allclose(resp.repetitions[0, 0], vals[:, 0, 0, 0], rtol=1e-6)
    (tmp_path / "junk.gii").write_text("<not gifti")
    with pytest.raises(ValidationError, match=r"junk\.gii.*not a readable GIFTI"):
        describe_data(tmp_path / "junk.gii")


def test_meeg_and_array_files_under_a_bracketed_folder(tmp_path):
    mne = pytest.importorskip("mne")
    from neuroalign.data import load_meeg

    d = _odd_dir(tmp_path)
    info = mne.create_info(["Fz", "Cz"], 100.0, "eeg")
    events = np.c_[np.arange(4) * 30, np.zeros(4, int), [1, 2, 1, 2]]
    data = np.random.default_rng(3).normal(size=(4, 2, 20)) * 1e-6
    ep = mne.EpochsArray(data, info, events, event_id={"a": 1, "b": 2}, verbose="error")
    ep.save(d / "x[0]-epo.fif", verbose="error")
    _, resp = load_meeg(d / "x[0]-epo.fif")
    np.testing.assert_allclose(resp.data[0], data[[0, 2]].mean(axis=0), rtol=1e-5)
    pd.DataFrame({"stimulus_ids": list("abc"), "v1": [1.0, 2.0, 3.0]}).to_csv(
        d / "c[1].csv", index=False
    )
    _, arr = load_array_file(d / "c[1].csv", ArraySchema())
    assert arr.data[:, 0].tolist() == [1.0, 2.0, 3.0]

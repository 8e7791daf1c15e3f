"""Writes name the user's path (never the temporary file); one check of output paths; files that
are not ``.npz`` archives are named for what they are, without advice to load pickles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neuroalign.core import Activations, Result, load_result, make_table, save_activations
from neuroalign.core._io import atomic_write, atomic_write_text, check_output, check_output_dir
from neuroalign.core._validation import check_array
from neuroalign.core.exceptions import OutputError, ValidationError


def test_atomic_write_into_a_missing_folder_names_the_users_path(tmp_path):
    target = tmp_path / "nope" / "lb.csv"
    with pytest.raises(OutputError) as err:
        atomic_write_text(target, "x")
    msg = str(err.value)
    assert str(target) in msg and ".tmp" not in msg and "does not exist" in msg
    assert isinstance(err.value, OSError) and err.value.errno is not None
    # an error inside ``write`` about another file keeps its own message
    with pytest.raises(FileNotFoundError, match="elsewhere"):
        atomic_write(tmp_path / "ok.txt", lambda tmp: open(tmp_path / "elsewhere" / "f"))
    assert not list(tmp_path.glob(".*.tmp"))


def test_save_into_a_missing_folder(tmp_path):
    acts = Activations("m", ["a", "b"], {"l": np.eye(2)})
    with pytest.raises(ValidationError, match="does not exist"):
        save_activations(acts, tmp_path / "nope" / "f.npz")
    res = Result(make_table([{"value": 1.0}]), "x")
    with pytest.raises(OSError) as err:
        res.save(tmp_path / "nope" / "r.npz")
    assert str(tmp_path / "nope" / "r.npz") in str(err.value) and ".tmp" not in str(err.value)


def test_check_output(tmp_path):
    assert check_output(tmp_path / "a.csv", "--out") == tmp_path / "a.csv"
    with pytest.raises(ValidationError, match=r"--out .*nope.*does not exist; create it"):
        check_output(tmp_path / "nope" / "a.csv", "--out")
    with pytest.raises(ValidationError, match="is a folder"):
        check_output(tmp_path, "--out")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValidationError, match="is a file, not a folder"):
        check_output(tmp_path / "f" / "a.csv", "--out")
    with pytest.raises(ValidationError, match=r"must end with '\.csv' or '\.npz'"):
        check_output(tmp_path / "a.txt", "--out", suffix=(".csv", ".npz"))
    assert check_output_dir(tmp_path / "new", "--out") == tmp_path / "new"  # can be created
    with pytest.raises(ValidationError, match="does not exist"):
        check_output_dir(tmp_path / "nope" / "new", "--out")
    with pytest.raises(ValidationError, match="is a file"):
        check_output_dir(tmp_path / "f", "--out")


def test_data_check_output_is_the_core_one():
    from neuroalign.data._assemble import check_output as data_check

    assert data_check is check_output


@pytest.mark.parametrize("kind", ["csv", "parquet", "empty"])
def test_load_result_of_a_table(tmp_path, kind):
    path = tmp_path / f"t.{kind}"
    table = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
    if kind == "csv":
        table.to_csv(path, index=False)
    elif kind == "parquet":
        pytest.importorskip("pyarrow")
        table.to_parquet(path)
    else:
        path.write_bytes(b"")
    with pytest.raises(ValidationError) as err:
        load_result(path)
    msg = str(err.value)
    assert str(path) in msg and "not a readable .npz" in msg
    what = {"csv": "is a CSV text table", "parquet": "is a parquet table", "empty": "empty file"}
    assert what[kind] in msg, msg  # what the file is (its name alone says nothing)
    assert "pickle" not in msg.lower() and "unsafe" not in msg.lower()
    assert "Result.save" in msg


def test_check_array_names_strings():
    with pytest.raises(ValidationError, match="X must hold numbers but holds strings"):
        check_array(np.array([["a", "b"]]), "X")
    with pytest.raises(ValidationError, match="y must hold numbers but holds strings"):
        check_array([["a", "b"]], "y", dtype=np.float64)
    assert check_array(np.array(["1.5"]).astype(float), "x").dtype == np.float64

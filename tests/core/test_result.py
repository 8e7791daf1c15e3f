"""The one result object and schema shared by every analysis."""

import numpy as np
import pandas as pd
import pytest

from neuroalign import Result, concat_results, load_result, make_table
from neuroalign.core import COLUMNS
from neuroalign.core.exceptions import ValidationError


def _result() -> Result:
    t = make_table(
        [
            {"layer": "conv1", "roi": "V1", "value": 0.2, "ci_low": 0.1, "ci_high": 0.3, "n": 5},
            {
                "layer": "fc",
                "roi": "V1",
                "value": 0.4,
                "ci_low": 0.3,
                "ci_high": 0.5,
                "n": 5,
                "alpha": 10.0,
            },
        ],
        analysis="encoding",
        model="m:x",
        scoring="pearson",
    )
    return Result(t, "encoding.sweep", {"samples": np.arange(6.0).reshape(2, 3)}, {"seed": 0})


def test_make_table_fixed_columns_fill_and_extras():
    t = _result().table
    assert list(t.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert t.columns[-1] == "alpha"  # extras after the schema
    assert t["subject"].tolist() == ["", ""]  # str columns: "" not NaN
    assert np.isnan(t["time"]).all() and (t["chance"].isna()).all()
    assert t["n"].dtype == np.int64 and t["n"].tolist() == [5, 5]
    assert t["model"].tolist() == ["m:x", "m:x"]
    with pytest.raises(ValidationError, match="'value' must be float"):
        make_table([{"value": "high"}])


def test_result_requires_schema_and_freezes_arrays():
    with pytest.raises(ValidationError, match="lacks the schema column"):
        Result(pd.DataFrame({"value": [1.0]}), "x")
    with pytest.raises(ValidationError, match="kind"):
        Result(make_table([{"value": 1.0}]), "")
    r = _result()
    with pytest.raises(ValueError, match="read-only"):
        r.arrays["samples"][0, 0] = 5


def test_save_load_roundtrip_without_pickle(tmp_path):
    r = _result()
    path = r.save(tmp_path / "res")
    assert path.suffix == ".npz"
    with np.load(path, allow_pickle=False) as z:  # no object arrays inside
        assert all(z[k].dtype != object for k in z.files)
    back = load_result(path)
    assert back.kind == r.kind and dict(back.params) == {"seed": 0}
    pd.testing.assert_frame_equal(back.table, r.table, check_dtype=False)
    np.testing.assert_array_equal(back.arrays["samples"], r.arrays["samples"])
    assert back.table["n"].dtype.kind == "i"


def test_load_rejects_foreign_and_truncated_files(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.ones(3))
    with pytest.raises(ValidationError, match="not a neuroalign result"):
        load_result(tmp_path / "other.npz")
    good = _result().save(tmp_path / "good.npz")
    (tmp_path / "trunc.npz").write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValidationError, match="cannot read result file"):
        load_result(tmp_path / "trunc.npz")


def test_concat_different_analyses_without_renaming():
    a = _result()
    b = Result(
        make_table([{"layer": "fc", "value": 0.7, "method": "spearman"}], analysis="rsa"), "rsa"
    )
    t = concat_results([a, b]).table
    assert t["analysis"].tolist() == ["encoding", "encoding", "rsa"]
    assert t["method"].tolist() == ["", "", "spearman"]
    assert list(t.columns[: len(COLUMNS)]) == list(COLUMNS)


def test_to_xarray_indexes_varying_labels():
    pytest.importorskip("xarray")
    ds = _result().to_xarray()
    assert list(ds["value"].dims) == ["layer"]
    np.testing.assert_allclose(ds["value"].sel(layer="fc"), 0.4)


def test_plot_dispatches_to_report():
    pytest.importorskip("matplotlib")
    fig = _result().plot()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "fc"]

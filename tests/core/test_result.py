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


def _same_cells(a: pd.Series, b: pd.Series) -> bool:
    """Cell by cell: equal values, or the same kind of missing (NaN ↔ NaN, None ↔ None)."""
    for x, y in zip(a, b, strict=True):
        if x is None or y is None:
            if not (x is None and y is None):
                return False
        elif isinstance(x, float) and np.isnan(x):
            if not (isinstance(y, float) and np.isnan(y)):
                return False
        elif type(x) is not type(y) or x != y:
            return False
    return True


def test_concat_of_decode_and_explain_round_trips_missing_cells(tmp_path):
    """Extra columns that only some analyses have are NaN elsewhere: save/load keeps them NaN
    (not the string "nan"), and mixed object columns keep each cell's type."""
    from neuroalign.data import make_epochs
    from neuroalign.decode import decode_over_time
    from neuroalign.explain import category_selectivity, sparseness

    sim = make_epochs(40, 4, 8, seed=0)
    dec = decode_over_time(sim.epochs, sim.labels)
    Y = np.abs(np.random.default_rng(0).normal(size=(20, 5)))
    sel = category_selectivity(Y, ["a", "b"] * 10, "a")
    spa = sparseness(Y)
    both = concat_results([dec, sel, spa])
    extra = [c for c in both.table.columns if c not in COLUMNS]
    assert both.table[extra].isna().to_numpy().sum() > 20  # the cells this test is about
    back = load_result(both.save(tmp_path / "both.npz"))
    for c in both.table.columns:
        assert _same_cells(both.table[c], back.table[c]), c
        assert not (back.table[c].astype(str) == "nan").any() or both.table[c].dtype.kind == "f"
    # an object column mixing numbers, text, None and NaN keeps every cell as it was
    t = make_table([{"value": 1.0}] * 5)
    t["note"] = pd.Series([1.5, "x", None, np.nan, 3], dtype=object)
    t["label"] = pd.Series(["a", None, np.nan, "b", ""], dtype=object)
    back = load_result(Result(t, "k").save(tmp_path / "mixed.npz"))
    assert _same_cells(t["note"], back.table["note"])
    assert _same_cells(t["label"], back.table["label"])


def test_concat_validates_tables_like_result():
    partial = pd.DataFrame({"layer": ["fc"], "value": [0.3]})
    with pytest.raises(ValidationError, match="lacks the schema column") as from_result:
        Result(partial, "k")
    with pytest.raises(ValidationError, match="lacks the schema column") as from_concat:
        concat_results([_result(), partial])
    assert str(from_concat.value) == str(from_result.value)  # one check, one message
    ok = concat_results([_result(), make_table(partial)])
    assert len(ok.table) == len(_result().table) + 1


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


def _table_column_by_column(rows, **constants):
    """The schema table built as make_table did before it gathered columns first: one column
    assigned at a time (the reference the one-pass build must equal, dtypes included)."""
    df = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    df = df.reset_index(drop=True)
    for k, v in constants.items():
        df[k] = v
    for name, (kind, _) in COLUMNS.items():
        if name not in df:
            df[name] = {"str": "", "float": np.nan, "int": -1}[kind]
        elif kind == "str":
            df[name] = df[name].astype(object).where(df[name].notna(), "").map(str)
        elif kind == "float":
            df[name] = pd.to_numeric(df[name]).astype(np.float64)
        else:
            df[name] = pd.to_numeric(df[name]).fillna(-1).astype(np.int64)
    return df[[*COLUMNS, *(c for c in df.columns if c not in COLUMNS)]]


@pytest.mark.parametrize(
    ("rows", "constants"),
    [
        ([{"layer": "a", "value": 1.0}], {}),
        (
            [{"layer": "a", "value": 1.0, "n": 3.0, "alpha": 2}],
            dict(analysis="rsa", n=4, note="", flag=True, z=None, f32=np.float32(1.5), nan=np.nan),
        ),
        (
            pd.DataFrame({"layer": ["a", "b"], "x": [1, 2]}, index=[5, 7]),
            dict(value=np.array([3.0, 4.0]), roi=None, n_boot=5, resampling_note=""),
        ),
        (
            pd.DataFrame({"layer": ["a", None], "subject": [1, 2], "time": [0.1, None]}),
            dict(extra=pd.Series([9, 8], index=[1, 0])),
        ),
        (pd.DataFrame({"layer": pd.Series([], dtype=object)}), dict(analysis="rsa", n=3)),
        ([], dict(analysis="x")),
        (
            [{"value": 1, "model": np.nan, "layer": pd.NA}],
            dict(statistic="s", ci_low=np.int64(2), n=np.int64(3), roi=np.str_("V1")),
        ),
        (
            pd.DataFrame({"value": [1.0, 2.0], "n": [1, None]}),
            dict(chance=[0.5, 0.25], split=["a", "b"]),
        ),
    ],
)
def test_make_table_equals_the_column_by_column_build(rows, constants):
    pd.testing.assert_frame_equal(
        make_table(rows, **constants), _table_column_by_column(rows, **constants)
    )

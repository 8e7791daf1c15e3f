"""One result object and one tidy schema for every analysis (encode, compare, decode, explain, bench).

Every analysis returns a :class:`Result`: a tidy long table with the fixed columns of
:data:`COLUMNS` (one row per model × layer × roi/target × subject × time × quantity), plus named
arrays that do not fit a table (bootstrap samples, per-target maps, confusion matrices) and the
parameters that produced it. Tables of different analyses concatenate without renaming
(:func:`concat_results`); a leaderboard is a pivot of them.

Vocabulary (one word, one meaning, everywhere):

- *target*: one voxel / vertex / channel / unit / neuron; *roi*: a named group of targets;
- *metric*: an RDM distance (``correlation``, ``euclidean`` ...);
- *method*: how two things are compared or estimated (``spearman`` RSA, ``cka``, ``ridge``, ``lda`` ...);
- *scoring*: a prediction score (``pearson``, ``r2``, ``accuracy``, ``roc_auc``, ``top5`` ...);
- *statistic*: what ``value`` is within its analysis (``score``, ``ceiling_normalized``, ``cv_score``,
  ``similarity``, ``selectivity`` ...), so that one table holds several quantities in long form.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ._io import atomic_write
from .exceptions import ValidationError

__all__ = ["COLUMNS", "Result", "concat_results", "load_result", "make_table"]

#: The fixed columns of every result table, in order, with their dtype kind and meaning.
#: ``str`` columns hold ``""`` when they do not apply (never NaN, so groupby keeps the rows);
#: ``float`` columns hold NaN when they do not apply; ``int`` columns hold -1.
COLUMNS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "analysis": (
            "str",
            "encoding | rsa | cka | shape | decoding | retrieval | explain | bench ...",
        ),
        "model": ("str", "model id (``<source>:<name>``) or a user label"),
        "layer": ("str", "layer (native module name) or model RDM name"),
        "benchmark": ("str", "benchmark id ``<Dataset><Year>.<roi>-<metric>`` when run by bench"),
        "roi": ("str", "a named group of targets (``all`` when there is one group)"),
        "target": ("str", "one voxel/channel/unit/neuron id; empty for ROI-level rows"),
        "subject": ("str", "subject id; empty when pooled over subjects"),
        "time": ("float", "time (s) of a time-resolved value; NaN otherwise"),
        "train_time": ("float", "training time (s) in temporal generalisation; NaN otherwise"),
        "statistic": (
            "str",
            "what ``value`` is within the analysis (score, ceiling_normalized, ...)",
        ),
        "scoring": (
            "str",
            "prediction score: pearson, r2, accuracy, balanced_accuracy, roc_auc, topk ...",
        ),
        "method": ("str", "comparison/estimator: spearman, kendall_tau_a, cka, ridge, lda, ..."),
        "metric": ("str", "RDM distance: correlation, euclidean, ..."),
        "aggregate": ("str", "how targets were summarised: mean | median | none (one target)"),
        "split": ("str", "where the value was measured: test | cv | train | all"),
        "value": ("float", "the number"),
        "ci_low": ("float", "lower end of the confidence interval (NaN when none)"),
        "ci_high": ("float", "upper end of the confidence interval (NaN when none)"),
        "se": ("float", "standard error: the SD of the bootstrap distribution of ``value``"),
        "p_value": ("float", "p-value of the test named in ``params`` (NaN when none)"),
        "ceiling_low": ("float", "lower noise ceiling (NaN when none)"),
        "ceiling_high": ("float", "upper noise ceiling; the ceiling when there is one estimate"),
        "chance": ("float", "chance level of ``value`` (decoding, retrieval); NaN when none"),
        "n": (
            "int",
            "how many items ``value`` summarises (targets, subjects, test trials); -1 unknown",
        ),
        "resampled": ("str", "what the interval resampled: stimuli | subjects | both | none"),
    }
)

_FILL = {"str": "", "float": np.nan, "int": -1}
#: label columns (the dims ``to_xarray`` may index by) and the numbers it carries
_LABELS = (
    "model",
    "layer",
    "benchmark",
    "roi",
    "target",
    "subject",
    "time",
    "train_time",
    "statistic",
    "scoring",
    "method",
    "metric",
    "aggregate",
    "split",
    "analysis",
)
_NUMBERS = ("value", "ci_low", "ci_high", "se", "ceiling_low", "ceiling_high", "p_value", "chance")
_NPZ_VERSION = 1
#: dtypes a column of each kind already has after :func:`_coerce`
_DONE = {
    "str": pd.Series(["a"]).astype(object).map(str).dtype,
    "float": np.dtype(np.float64),
    "int": np.dtype(np.int64),
}


def _coerce(col: pd.Series, kind: str, name: str) -> pd.Series:
    if len(col) and col.dtype == _DONE[kind] and not (kind == "str" and col.hasnans):
        return col  # already what the conversion below gives
    if kind == "str":
        return col.astype(object).where(col.notna(), "").map(str)
    try:
        if kind == "float":
            return pd.to_numeric(col, errors="raise").astype(np.float64)
        return pd.to_numeric(col, errors="raise").fillna(-1).astype(np.int64)
    except (TypeError, ValueError) as err:
        raise ValidationError(
            f"result column {name!r} must be {kind}; got values like {col.iloc[:3].tolist()}."
        ) from err


def _coerce_scalar(v: Any, kind: str, name: str) -> Any:
    """:func:`_coerce` of one value (a constant column) without building a Series."""
    missing = v is None or (pd.api.types.is_scalar(v) and bool(pd.isna(v)))
    if kind == "str":
        return "" if missing else str(v)
    if missing:
        return np.float64(np.nan) if kind == "float" else np.int64(-1)
    try:
        number = pd.to_numeric(v, errors="raise")
        return np.float64(number) if kind == "float" else np.int64(number)
    except (TypeError, ValueError) as err:
        raise ValidationError(
            f"result column {name!r} must be {kind}; got values like [{v!r}]."
        ) from err


def make_table(rows: pd.DataFrame | Iterable[Mapping[str, Any]], **constants: Any) -> pd.DataFrame:
    """Build a schema table: fixed columns first (filled when absent), extra columns kept after.

    Parameters
    ----------
    rows : DataFrame or iterable of dicts
        Any subset of :data:`COLUMNS` plus analysis-specific extra columns (e.g. ``alpha``).
    **constants
        Columns set to one value on every row (e.g. ``analysis="rsa"``, ``model="m"``).

    Examples
    --------
    >>> t = make_table([{"layer": "fc", "value": 0.3}], analysis="rsa", method="spearman")
    >>> list(t.columns[:4]), t.loc[0, "roi"], t.loc[0, "n"]
    (['analysis', 'model', 'layer', 'benchmark'], '', np.int64(-1))
    """
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if not len(df) or not df.columns.is_unique:  # column by column: empty columns keep their
        return _table_by_columns(df, constants)  # dtypes, repeated names pandas' handling
    index = pd.RangeIndex(len(df))
    # every column is gathered first and the frame built once: inserting ~30 columns one by one
    # (and coercing scalars as whole columns) cost ~0.1 s per table
    cols: dict[Any, Any] = {c: _reindexed(df[c], index) for c in df.columns}
    scalars: dict[Any, Any] = {}
    for k, v in constants.items():
        if pd.api.types.is_scalar(v) or v is None:
            cols.pop(k, None)
            scalars[k] = v
        else:
            # a Series aligns on the (reset) row labels, as assigning it to the frame would
            cols[k] = v.reindex(index) if isinstance(v, pd.Series) else pd.Series(v, index=index)
            scalars.pop(k, None)
    out: dict[Any, Any] = {}
    n = len(index)
    for name, (kind, _) in COLUMNS.items():
        if name in cols:
            out[name] = _coerce(cols[name], kind, name)
        else:  # one value on every row, as an array: pandas broadcasting a scalar costs ~2x
            v = _coerce_scalar(scalars[name], kind, name) if name in scalars else _FILL[kind]
            out[name] = np.full(n, v, dtype=object if kind == "str" else None)
    order = [*df.columns, *constants]
    for c in dict.fromkeys(order):
        if c not in COLUMNS:
            v = scalars[c] if c in scalars else cols[c]
            out[c] = np.full(n, v, dtype=object) if isinstance(v, str) else v
    return pd.DataFrame(out, index=index)


def _table_by_columns(df: pd.DataFrame, constants: Mapping[str, Any]) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    for k, v in constants.items():
        df[k] = v
    for name, (kind, _) in COLUMNS.items():
        df[name] = _FILL[kind] if name not in df else _coerce(df[name], kind, name)
    return df[[*COLUMNS, *(c for c in df.columns if c not in COLUMNS)]]


def _reindexed(col: pd.Series, index: pd.RangeIndex) -> pd.Series:
    """``col`` on ``index`` by position (make_table resets the row index)."""
    if col.index.equals(index):
        return col
    return pd.Series(col.to_numpy(copy=False), index=index, name=col.name, dtype=col.dtype)


def _check_table(table: pd.DataFrame) -> pd.DataFrame:
    """The check ``Result`` and :func:`concat_results` share: a DataFrame with every column of
    :data:`COLUMNS`."""
    if not isinstance(table, pd.DataFrame):
        raise ValidationError(
            f"Result.table must be a pandas DataFrame; got {type(table).__name__}."
        )
    missing = [c for c in COLUMNS if c not in table]
    if missing:
        raise ValidationError(
            f"Result.table lacks the schema column(s) {missing}; build it with make_table(...)."
        )
    return table


@dataclass(frozen=True, eq=False)
class Result:
    """The result of any analysis: a tidy table, named arrays and the parameters that made them.

    Parameters
    ----------
    table : DataFrame
        Columns :data:`COLUMNS` (in that order) then analysis-specific extras. Build with
        :func:`make_table`.
    kind : str
        The producing analysis (``"encoding.sweep"``, ``"rsa.bootstrap"``, ``"decoding.over_time"``,
        ...); :meth:`plot` dispatches on it.
    arrays : mapping of str to array
        Named arrays that do not fit a table (bootstrap samples, confusion matrices, per-target
        maps); read-only.
    params : mapping
        JSON-serialisable parameters (for reports, caching and :meth:`save`).

    Examples
    --------
    >>> r = Result(make_table([{"layer": "a", "value": 1.0}], analysis="rsa"), kind="rsa.bootstrap")
    >>> r.table["value"].tolist(), r.to_pandas().shape[0]
    ([1.0], 1)
    """

    table: pd.DataFrame
    kind: str
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_table(self.table)
        if not isinstance(self.kind, str) or not self.kind:
            raise ValidationError(f"Result.kind must be a non-empty string; got {self.kind!r}.")
        arrays = {}
        for k, v in dict(self.arrays).items():
            a = np.asarray(v)
            if a.dtype == object:
                raise ValidationError(
                    f"Result array {k!r} has dtype object; give a numeric or str array."
                )
            a = a.view()
            a.setflags(write=False)
            arrays[str(k)] = a
        object.__setattr__(self, "arrays", MappingProxyType(arrays))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    # ------------------------------------------------------------------ views
    def to_pandas(self) -> pd.DataFrame:
        """A copy of the table."""
        return self.table.copy()

    def to_xarray(self, dims: Iterable[str] | None = None) -> Any:
        """The ``value`` column (and intervals) as an ``xarray.Dataset`` indexed by ``dims``.

        ``dims`` defaults to the schema's label columns that vary in this table.
        """
        xr = importlib.import_module("xarray")
        if dims is None:
            dims = [c for c in _LABELS if self.table[c].nunique(dropna=False) > 1] or ["layer"]
        dims = list(dims)
        t = self.table.set_index(dims)
        if not t.index.is_unique:
            raise ValidationError(
                f"to_xarray: rows are not unique over dims {dims}; add the columns that vary."
            )
        return xr.Dataset.from_dataframe(t[[c for c in _NUMBERS if c in t]])

    def plot(self, path: str | Path | None = None, ax: Any = None, **kwargs: Any) -> Any:
        """The figure for this kind of result (see ``neuroalign.report.plot_result``): a
        matplotlib ``Figure``, also written to ``path`` when given (format from its suffix:
        ``.png``, ``.svg``, ``.pdf``, ...).

        In a script, ``result.plot("figure.png")`` or ``result.plot().savefig("figure.png")``
        (the figure is not attached to pyplot, so nothing pops up); in a notebook the returned
        figure shows itself. ``ax`` draws into an existing matplotlib Axes.
        """
        if path is not None and not isinstance(path, (str, os.PathLike)):
            ax, path = path, None  # an Axes given positionally (the former first argument)
        # report sits above core; it is reached by name so that core never imports it.
        report = importlib.import_module("neuroalign.report")
        fig = report.plot_result(self, ax=ax, **kwargs)
        if path is not None:
            report.save_figure(fig, path)
        return fig

    def __repr__(self) -> str:
        return f"Result(kind={self.kind!r}, rows={len(self.table)}, arrays={list(self.arrays)})"

    # ------------------------------------------------------------------ io
    def save(self, path: str | Path) -> Path:
        """Write to one ``.npz`` (no pickle; atomic): table columns, arrays, kind and params.

        Every cell comes back from :func:`load_result` as it was: numbers with their dtype, text
        columns with their missing cells (None / NaN / pd.NA, not the string ``"nan"``), and
        columns that mix types (numbers and text) cell by cell.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = (
                path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
            )
        payload: dict[str, Any] = {}
        dtypes = {}
        for c in self.table.columns:
            col = self.table[c]
            if col.dtype.kind in "biuf":
                payload[f"table/{c}"] = col.to_numpy()
                dtypes[c] = str(col.dtype)
            elif col.dtype.kind == "M":
                payload[f"table/{c}"] = col.astype("datetime64[ns]").to_numpy()
                dtypes[c] = "datetime64[ns]"
            else:
                dtypes[c] = _save_text_column(payload, c, col)
        for k, v in self.arrays.items():
            payload[f"arrays/{k}"] = np.asarray(v)
        try:
            params = json.dumps(dict(self.params), default=_jsonable, allow_nan=True)
        except (TypeError, ValueError) as err:
            raise ValidationError(f"Result.params must be JSON-serialisable: {err}") from err
        meta = {
            "version": _NPZ_VERSION,
            "kind": self.kind,
            "columns": list(self.table.columns),
            "dtypes": dtypes,
            "params": json.loads(params),
        }
        payload["__meta__"] = np.array(json.dumps(meta))

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **payload)

        return atomic_write(path, write)

    @classmethod
    def load(cls, path: str | Path) -> Result:
        """Read a file written by :meth:`save`."""
        return load_result(path)


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, (set, frozenset, tuple)):
        return list(v)
    return repr(v)


def load_result(path: str | Path) -> Result:
    """Read a :class:`Result` saved with :meth:`Result.save`.

    Raises
    ------
    ValidationError
        When the file is not a neuroalign result (names what it holds instead).
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"result file {str(path)!r} does not exist.")
    from ._io import not_npz_message, sniff_file

    what = sniff_file(path)
    if what is not None:
        raise ValidationError(
            not_npz_message(
                f"result file {str(path)!r}",
                what,
                "give the .npz a command wrote with --out X.npz (Result.save); a .csv table "
                "is read with pandas.read_csv.",
            )
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            files = list(z.files)
            if "__meta__" not in files:
                raise ValidationError(
                    f"{str(path)!r} is not a neuroalign result file (it holds {files[:6]}); "
                    "results are written by Result.save()."
                )
            meta = json.loads(str(z["__meta__"]))
            table = {c: _load_column(z, c, meta["dtypes"][c]) for c in meta["columns"]}
            arrays = {k[len("arrays/") :]: z[k] for k in files if k.startswith("arrays/")}
    except ValidationError:
        raise
    except Exception as err:  # zipfile.BadZipFile, EOFError, KeyError, ValueError ...
        raise ValidationError(
            f"cannot read result file {str(path)!r}: {type(err).__name__}: {err or 'truncated or corrupt'}."
        ) from err
    df = pd.DataFrame(table, columns=meta["columns"])
    for c, d in meta["dtypes"].items():
        if d == "str":  # files written before missing cells were kept: text only
            df[c] = df[c].astype(object).map(str)
    return Result(df, meta["kind"], arrays, meta.get("params", {}))


#: how a missing cell of a text column was spelled (kept so that load gives back the same object)
_MISSING = {1: None, 2: np.nan, 3: pd.NA}


def _missing_code(v: Any) -> int:
    if v is None:
        return 1
    if v is pd.NA:
        return 3
    return 2


def _save_text_column(payload: dict[str, Any], c: str, col: pd.Series) -> str:
    """Store a non-numeric column; returns its ``dtypes`` tag.

    ``"text"``: strings, with the missing cells (None / NaN / pd.NA) marked in
    ``table_missing/<c>`` so they come back as they were (not as the string ``"nan"``);
    ``"json"``: any other mix (numbers, booleans, strings, missing) as one JSON list, so every
    cell keeps its type."""
    missing = col.isna().to_numpy()
    present = col[~missing]
    if all(isinstance(v, str) for v in present):
        payload[f"table/{c}"] = np.array(
            ["" if m else str(v) for v, m in zip(col, missing, strict=True)], dtype=str
        )
        if missing.any():
            payload[f"table_missing/{c}"] = np.array(
                [_missing_code(v) if m else 0 for v, m in zip(col, missing, strict=True)], np.int8
            )
        return "text" if col.dtype == object else f"text:{col.dtype}"
    try:
        text = json.dumps(
            [float("nan") if v is pd.NA else v for v in col], default=_jsonable, allow_nan=True
        )
    except (TypeError, ValueError) as err:
        raise ValidationError(f"result column {c!r} cannot be saved: {err}") from err
    payload[f"table/{c}"] = np.array(text)
    return "json"


def _load_column(z: Any, c: str, tag: str) -> Any:
    a = z[f"table/{c}"]
    if tag == "json":
        return pd.Series(json.loads(str(a)), dtype=object)
    if tag == "str":
        return a.astype(object)
    if tag.startswith("text"):
        values = a.astype(object)
        if f"table_missing/{c}" in z.files:
            codes = z[f"table_missing/{c}"]
            for i in np.flatnonzero(codes):
                values[i] = _MISSING[int(codes[i])]
        col = pd.Series(values, dtype=object)
        return col.astype(tag[5:]) if tag.startswith("text:") else col
    return a


def concat_results(results: Iterable[Result | pd.DataFrame], kind: str = "combined") -> Result:
    """Stack the tables of several results (any analyses) into one result; arrays are dropped.

    A DataFrame given instead of a Result must hold every column of :data:`COLUMNS`, as
    ``Result(table)`` requires (one check for both; build partial tables with :func:`make_table`).
    Extra columns that only some analyses have are missing (NaN) on the other rows, and stay
    missing through :meth:`Result.save` / :func:`load_result`.

    Examples
    --------
    >>> a = Result(make_table([{"value": 1.0}], analysis="rsa"), "rsa.bootstrap")
    >>> b = Result(make_table([{"value": 2.0, "alpha": 10.0}], analysis="encoding"), "encoding.sweep")
    >>> t = concat_results([a, b]).table
    >>> t["analysis"].tolist(), bool(np.isnan(t.loc[0, "alpha"]))
    (['rsa', 'encoding'], True)
    """
    tables = [r.table if isinstance(r, Result) else _check_table(r) for r in results]
    if not tables:
        raise ValidationError("concat_results needs at least one result.")
    return Result(make_table(pd.concat(tables, ignore_index=True)), kind)

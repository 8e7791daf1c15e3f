"""The stimulus id of each trial, from a list, a table or a file: TSV/CSV events tables with a
header, or headerless text files with one line per trial (e.g. PyMVPA's ``<label> <run>``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.exceptions import ShapeError, ValidationError
from ._assemble import check_file

__all__ = ["read_stimulus_ids"]

_ID_COLUMNS = ("stimulus_id", "trial_type", "condition", "label")
_HEADER_WORDS = (*_ID_COLUMNS, "onset", "duration", "stimulus", "run")


def _read_id_file(path: Path, n_trials: int, column: str | int | None) -> pd.DataFrame:
    """A trial table from a text file: TSV/CSV with a header, or a headerless file with one line
    per trial (whitespace-, tab- or comma-separated columns, e.g. PyMVPA's ``<label> <run>``).

    A header line is recognised by its words (``stimulus_id``, ``trial_type``, ``onset``, ... or
    ``column``), or by the file having exactly one line more than there are trials.
    """
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise ValidationError(
            f"stimulus_ids file {str(path)!r} is not readable text ({err}); give a TSV/CSV "
            "events table or a text file with one stimulus id per line."
        ) from err
    if not lines:
        raise ValidationError(f"stimulus_ids file {str(path)!r} is empty.")
    suffix = path.suffix.lower()
    first = lines[0]
    sep = {".csv": ",", ".tsv": "\t"}.get(suffix) or (
        "\t" if "\t" in first else "," if "," in first else r"\s+"
    )
    words = [w.strip().strip('"') for w in (first.split() if sep == r"\s+" else first.split(sep))]
    names = set(_HEADER_WORDS) | ({column} if isinstance(column, str) else set())
    header = bool(names & set(words)) or len(lines) == n_trials + 1
    try:
        table = pd.read_csv(
            path,
            sep=sep,
            header=0 if header else None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            engine="python" if sep == r"\s+" else "c",
        )
    except (ValueError, pd.errors.ParserError) as err:
        raise ValidationError(
            f"stimulus_ids file {str(path)!r} could not be parsed as a table ({err}); every line "
            "needs the same number of columns."
        ) from err
    if not header:
        table.columns = [str(i) for i in range(table.shape[1])]
    return table


def read_stimulus_ids(
    stimulus_ids: Sequence[Any] | str | Path | pd.DataFrame,
    n_trials: int,
    source: str,
    column: str | int | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Trial stimulus ids from a sequence, a DataFrame or a file (TSV/CSV/text).

    A table's ids come from ``column`` (default: the first of ``stimulus_id``, ``trial_type``,
    ``condition``, ``label`` present); other columns are kept as trial metadata. A headerless text
    file (one line per trial, e.g. ``<label> <run>``) has numbered columns ``0, 1, ...``; the ids
    are in column ``column`` (default 0). The number of rows must equal ``n_trials`` (one per
    volume / trial).
    """
    if isinstance(stimulus_ids, (str, Path)):
        path = check_file(stimulus_ids, "stimulus_ids file", (".tsv", ".csv", ".txt"))
        table, name = _read_id_file(path, n_trials, column), str(path)
    elif isinstance(stimulus_ids, pd.DataFrame):
        table, name = stimulus_ids.reset_index(drop=True), "stimulus_ids table"
    else:
        table, name = pd.DataFrame({"stimulus_id": [str(v) for v in stimulus_ids]}), "stimulus_ids"
    headerless = list(table.columns) == [str(i) for i in range(table.shape[1])]
    if column is None:
        column = "0" if headerless else next((c for c in _ID_COLUMNS if c in table), None)
    column = str(column) if isinstance(column, int) else column
    if column is None or column not in table:
        raise ValidationError(
            f"{name} has no stimulus id column {column!r}; columns are {list(table.columns)}. "
            "Pass stimulus_column= naming the column that holds each trial's stimulus id."
        )
    if len(table) != n_trials:
        raise ShapeError(
            f"{name} has {len(table)} rows but {source} has {n_trials} trials (volumes); there must "
            "be one stimulus id per volume (plus an optional header line). For time series use "
            "estimate_single_trial_betas first."
        )
    ids = table[column].astype(str).to_numpy()
    blank = np.flatnonzero(np.char.str_len(ids.astype(str)) == 0)
    if blank.size:
        raise ValidationError(
            f"{name}: {blank.size} trial(s) have an empty stimulus id in column {column!r}, first "
            f"at rows {blank[:5].tolist()}; give every trial an id (or drop those volumes)."
        )
    return ids, table

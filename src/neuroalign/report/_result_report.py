"""``write_result_report``: an HTML report of any saved :class:`~neuroalign.core.Result`.

A benchmark sweep becomes a leaderboard; any other result becomes a report with its figure
(``Result.plot()``), its table and its parameters.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..core import Result, load_result, system_info
from ._html import ReportSection, write_report
from ._leaderboard import write_leaderboard
from ._plots import save_figure

__all__ = ["write_result_report"]


def write_result_report(result: Result | str | Path, path: str | Path) -> Path:
    """Write the HTML report of ``result`` (a Result or a file saved by ``Result.save``)."""
    if not isinstance(result, Result):
        result = load_result(result)
    if result.kind.startswith("bench"):
        return write_leaderboard(result, path)
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "figure.png"
        save_figure(result.plot(), png)
        table = result.table.loc[:, lambda t: [c for c in t if t[c].astype(str).ne("").any()]]
        section = ReportSection(
            f"{result.kind}",
            [
                f"{len(result.table)} rows; analysis {', '.join(sorted(set(result.table['analysis'])))}."
            ],
            figures=[(png, result.kind)],
            tables=[(table.head(500), "the result table (first 500 rows)")],
        )
        return write_report(
            path, f"neuroalign: {result.kind}", [section], dict(result.params), system_info()
        )

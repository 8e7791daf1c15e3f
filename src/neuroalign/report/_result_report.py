"""``write_result_report``: an HTML report of any :class:`~neuroalign.core.Result`, of a results
folder, or of several results at once.

One benchmark sweep becomes a leaderboard; anything else becomes one report with a section per
result: its figure (``Result.plot()``), its table (scrolling sideways inside its own box when
wide) and its parameters.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..core import Result, load_result, system_info
from ..core.exceptions import ValidationError
from ._html import ReportSection, write_report
from ._leaderboard import leaderboard_table, write_leaderboard
from ._plots import save_figure

__all__ = ["collect_results", "write_result_report"]

#: Rows of a result's table shown in its report (all rows stay in the Result / its CSV).
MAX_ROWS = 500


def collect_results(
    results: Result | str | Path | Sequence[Result | str | Path],
) -> tuple[list[tuple[str, Result]], list[str]]:
    """(name, Result) pairs from Results, saved ``.npz`` files and folders (every ``.npz`` in a
    folder, recursively, that is a Result; other ``.npz`` files are listed as skipped), and the
    skipped files' notes. Raises ``ValidationError`` when no result is found or a named file is
    not a result."""
    items = [results] if isinstance(results, (Result, str, Path)) else list(results)
    if not items:
        raise ValidationError("results is empty; give Result objects, .npz files or folders.")
    out: list[tuple[str, Result]] = []
    skipped: list[str] = []
    for k, item in enumerate(items):
        if isinstance(item, Result):
            out.append((f"{item.kind} #{k + 1}", item))
            continue
        path = Path(item)
        if path.is_dir():
            files = sorted(path.rglob("*.npz"))
            for f in files:
                try:
                    out.append((str(f.relative_to(path)), load_result(f)))
                except ValidationError as err:
                    skipped.append(f"{f.name}: {err}")
            if not files:
                skipped.append(f"{path}: no .npz file in this folder")
        elif path.exists():
            out.append((path.name, load_result(path)))
        else:
            raise ValidationError(
                f"results: {str(path)!r} does not exist; give a Result .npz (Result.save) or a "
                "folder of them."
            )
    if not out:
        raise ValidationError(
            "no neuroalign Result found in "
            + ", ".join(repr(str(i)) for i in items if not isinstance(i, Result))
            + (f" ({'; '.join(skipped[:3])})" if skipped else "")
            + "; results are the .npz files written by Result.save / --out."
        )
    return out, skipped


def _section(name: str, result: Result, tmp: Path, k: int) -> ReportSection:
    png = tmp / f"figure-{k}.png"
    save_figure(result.plot(), png)
    if result.kind.startswith("bench"):
        table = leaderboard_table(result)
        caption = "leaderboard table (write it alone for the full leaderboard page)"
    else:
        table = result.table.loc[:, lambda t: [c for c in t if t[c].astype(str).ne("").any()]]
        caption = "the result table"
    if len(table) > MAX_ROWS:
        caption += f" (first {MAX_ROWS} of {len(table)} rows)"
    analyses = ", ".join(sorted({str(a) for a in result.table["analysis"]} - {""})) or "–"
    params = json.dumps(dict(result.params), indent=1, default=str)
    return ReportSection(
        name if name.startswith(result.kind) else f"{name}: {result.kind}",
        [f"{len(result.table)} rows; analysis {analyses}.", f"Parameters: {params[:2000]}"],
        figures=[(png, result.kind)],
        tables=[(table.head(MAX_ROWS), caption)],
    )


def write_result_report(
    result: Result | str | Path | Sequence[Result | str | Path],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Write the HTML report of ``result`` to ``path`` and return ``path``.

    ``result`` is a Result, a file saved by ``Result.save`` (``.npz``), a folder of them, or a
    list of any of these (one report, a section per result). A single benchmark sweep becomes
    its leaderboard (``write_leaderboard``).
    """
    found, skipped = collect_results(result)
    if len(found) == 1 and found[0][1].kind.startswith("bench"):
        return write_leaderboard(found[0][1], path, **({"title": title} if title else {}))
    if len(found) == 1:
        res = found[0][1]
        with tempfile.TemporaryDirectory() as tmp:
            sec = _section(res.kind, res, Path(tmp), 0)
            sec.paragraphs = list(sec.paragraphs[:1])  # the parameters get their own section
            return write_report(
                path,
                title or f"neuroalign: {res.kind}",
                [sec],
                dict(res.params),
                system_info(),
            )
    with tempfile.TemporaryDirectory() as tmp:
        sections = [_section(name, res, Path(tmp), k) for k, (name, res) in enumerate(found)]
        intro = f"{len(found)} results: " + ", ".join(f"{n} ({r.kind})" for n, r in found) + "."
        if skipped:
            intro += " Skipped (not results): " + "; ".join(skipped) + "."
        return write_report(
            path, title or "neuroalign: results", sections, None, system_info(), intro=intro
        )

"""``write_report``: a self-contained static HTML report (figures embedded, no scripts, no server)."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..core._io import atomic_write_text

__all__ = ["ReportSection", "write_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.9em;color:#555}
table{border-collapse:collapse;font-size:.85em;margin:.8em 0}th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}.meta{font-size:.85em;color:#444}
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}pre{background:#f6f8fa;padding:.6em;overflow:auto}
"""


@dataclass
class ReportSection:
    """A section of the report: a heading, paragraphs (HTML allowed), figures and tables."""

    title: str
    paragraphs: Sequence[str] = ()
    figures: Sequence[tuple[Path, str]] = ()  # (png path, caption)
    tables: Sequence[tuple[pd.DataFrame, str]] = ()  # (table, caption)
    extra: dict[str, Any] = field(default_factory=dict)


def _img(path: Path, caption: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    alt = html.escape(caption or Path(path).stem)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{alt}" data-file="{html.escape(Path(path).name)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _table(df: pd.DataFrame, caption: str) -> str:
    body = df.to_html(
        index=False, float_format=lambda v: f"{v:.3f}", border=0, na_rep="–", escape=True
    )
    return f"<p class='meta'>{html.escape(caption)}</p>{body}" if caption else body


def write_report(
    path: str | Path,
    title: str,
    sections: Sequence[ReportSection],
    parameters: Mapping[str, Any] | None = None,
    versions: Mapping[str, Any] | None = None,
    intro: str = "",
) -> Path:
    """Write a self-contained HTML report (atomically) and return its path.

    Figures are embedded as PNG data URIs so the single file can be mailed or archived; the
    report records the date, the parameters and the software versions that produced it.
    """
    path = Path(path)
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class='meta'>Generated {now}</p>",
    ]
    if intro:
        parts.append(f"<p>{intro}</p>")
    for sec in sections:
        parts.append(f"<h2>{html.escape(sec.title)}</h2>")
        parts.extend(f"<p>{p}</p>" for p in sec.paragraphs)
        parts.extend(_img(p, c) for p, c in sec.figures)
        parts.extend(_table(df, c) for df, c in sec.tables)
    if parameters:
        parts.append(
            "<h2>Parameters</h2><pre>"
            + html.escape(json.dumps(dict(parameters), indent=2, default=str))
            + "</pre>"
        )
    if versions:
        parts.append(
            "<h2>Software and machine</h2><pre>"
            + html.escape(json.dumps(dict(versions), indent=2, default=str))
            + "</pre>"
        )
    parts.append("</body></html>")
    return atomic_write_text(path, "\n".join(parts))

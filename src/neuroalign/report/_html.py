"""``write_report``: a self-contained static HTML report (figures embedded, no scripts, no server).

Every piece of text given to the report (title, intro, paragraphs, captions, table cells,
parameters) is HTML-escaped: a model id, a layer name or a stimulus id that contains ``<script>``
is shown, never run. Markup is an explicit opt-in: a :class:`RawHTML` string (build it with
:func:`html_format`, which escapes the values it inserts into a trusted template) is inserted as is.
"""

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

__all__ = ["RawHTML", "ReportSection", "html_format", "write_report"]


class RawHTML(str):
    """A string of *trusted* HTML that :func:`write_report` inserts without escaping.

    Wrap only markup you wrote yourself; put user-provided values in with :func:`html_format`.
    """

    __slots__ = ()


def html_format(template: str, /, *args: Any, **values: Any) -> RawHTML:
    """``template.format(...)`` with every argument HTML-escaped, as :class:`RawHTML`.

    Examples
    --------
    >>> html_format("Best layer: <b>{}</b>", "<img src=x onerror=alert(1)>")
    'Best layer: <b>&lt;img src=x onerror=alert(1)&gt;</b>'
    """

    def esc(v: Any) -> Any:
        if isinstance(v, RawHTML):
            return v
        if isinstance(v, (int, float)):
            return v  # keeps format specs such as {:.3f}
        return html.escape(str(v))

    return RawHTML(template.format(*map(esc, args), **{k: esc(v) for k, v in values.items()}))


def _text(value: str) -> str:
    """Escaped text, or the markup of a :class:`RawHTML` (the opt-in)."""
    return str(value) if isinstance(value, RawHTML) else html.escape(str(value))


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.9em;color:#555}
table{border-collapse:collapse;font-size:.85em;margin:.8em 0}th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}.meta{font-size:.85em;color:#444}
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}pre{background:#f6f8fa;padding:.6em;overflow:auto}
.scroll{overflow-x:auto;max-width:100%}.scroll td{white-space:nowrap}p{overflow-wrap:anywhere}
"""


@dataclass
class ReportSection:
    """A section of the report: a heading, paragraphs, figures and tables.

    Paragraphs are plain text (escaped); give :class:`RawHTML` (e.g. from :func:`html_format`)
    for markup.
    """

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
    body = f'<div class="scroll">{body}</div>'  # a wide table scrolls, the page does not
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
    report records the date, the parameters and the software versions that produced it. All text
    is escaped; ``intro`` and paragraphs may be :class:`RawHTML` to opt in to markup.
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
        parts.append(f"<p>{_text(intro)}</p>")
    for sec in sections:
        parts.append(f"<h2>{html.escape(sec.title)}</h2>")
        parts.extend(f"<p>{_text(p)}</p>" for p in sec.paragraphs)
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

"""``write_leaderboard``: a benchmark sweep as one static HTML page (no server, no external files).

Rows are models, columns benchmarks (the ceiled score; raw score, ceiling, interval, committed
layer, cell and environment hash in the cell's tooltip), sortable by clicking a header and
filterable by model name with a small script written here (no vendored library). Below the table:
the layer each model commits per region, per-layer curves, scatter plots of benchmark pairs,
benchmark cards, the aggregation rule, the environments and CSV / JSON downloads (also written next
to the page). Every text is HTML-escaped.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result, load_result
from ..core._io import atomic_write_text
from ..core.exceptions import ValidationError
from ._bench_plots import plot_bench_layers, plot_benchmark_scatter, plot_model_scores

__all__ = ["leaderboard_table", "write_leaderboard"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}th.sortable{cursor:pointer;user-select:none}
th.sortable:after{content:" \\2195";color:#aaa}th[aria-sort=ascending]:after{content:" \\2191";color:#222}
th[aria-sort=descending]:after{content:" \\2193";color:#222}td.na{color:#999}.meta{font-size:.85em;color:#444}
figure{display:inline-block;margin:.5em;vertical-align:top}figure.half{max-width:47%}figure img{max-width:100%;border:1px solid #eee}
.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:.8em 0}.card dt{font-weight:600}
.card dd{margin:0 0 .4em 1em}input#filter{padding:3px 6px;width:18em}
"""

# Sorting and filtering, written for this page: numbers sort numerically (cells carry data-sort),
# empty cells last whatever the direction; the filter hides rows whose model name lacks the text.
_SCRIPT = """
(function(){
  var table=document.getElementById('leaderboard');
  var body=table.tBodies[0];
  function key(row,i){var c=row.cells[i];var v=c.getAttribute('data-sort');
    if(v===null){return c.textContent.trim().toLowerCase();}
    var x=parseFloat(v);return isNaN(x)?null:x;}
  function sortBy(i,th){
    var dir=th.getAttribute('aria-sort')==='descending'?'ascending':'descending';
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute('aria-sort');});
    th.setAttribute('aria-sort',dir);
    var rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){var x=key(a,i),y=key(b,i);
      if(x===null&&y===null){return 0;}if(x===null){return 1;}if(y===null){return -1;}
      var s=x<y?-1:(x>y?1:0);return dir==='ascending'?s:-s;});
    rows.forEach(function(r){body.appendChild(r);});
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
    th.classList.add('sortable');th.addEventListener('click',function(){sortBy(i,th);});});
  var box=document.getElementById('filter');
  box.addEventListener('input',function(){var q=box.value.toLowerCase();
    Array.prototype.forEach.call(body.rows,function(r){
      r.style.display=r.cells[0].textContent.toLowerCase().indexOf(q)>=0?'':'none';});});
})();
"""


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _fmt(v: float) -> str:
    return "–" if not np.isfinite(v) else f"{v:.3f}"


def _png(fig: Any, alt: str, cls: str = "") -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    klass = f' class="{cls}"' if cls else ""
    return f'<figure{klass}><img src="data:image/png;base64,{data}" alt="{_esc(alt)}"></figure>'


def leaderboard_table(result: Result | pd.DataFrame) -> pd.DataFrame:
    """One row per model × benchmark: committed layer, raw score, ceilings, ceiled score,
    interval, cell and environment hashes (what the page shows and exports)."""
    t = result.table if isinstance(result, Result) else result
    score = t[t["statistic"] == "score"].set_index(["model", "benchmark"])
    ceiled = t[t["statistic"] == "ceiled"].set_index(["model", "benchmark"])["value"]
    out = score[["layer", "value", "ceiling_low", "ceiling_high", "chance", "n"]].rename(
        columns={"value": "raw", "layer": "committed_layer"}
    )
    curve = t[
        (t["statistic"] == "layer_score") & (t["split"] == "all") & t["committed"].astype(bool)
    ]
    ci = curve.set_index(["model", "benchmark"])[["ci_low", "ci_high"]]
    out = out.join(ci, how="left")
    out.insert(2, "ceiled", ceiled.reindex(out.index))
    for col in ("benchmark_version", "cell", "env"):
        if col in score:
            out[col] = score[col]
    return out.reset_index()


def _average(board: pd.DataFrame) -> pd.Series:
    with_ceiling = board[np.isfinite(board["ceiled"].to_numpy(float))]
    return with_ceiling.groupby("model", sort=False)["ceiled"].mean()


def _main_table(board: pd.DataFrame, models: list[str], benches: list[str]) -> str:
    avg = _average(board)
    cells = board.set_index(["model", "benchmark"])
    head = "".join(f"<th>{_esc(b)}</th>" for b in benches)
    rows = []
    for m in models:
        a = float(avg.get(m, np.nan))
        tds = [f"<td>{_esc(m)}</td>", f'<td data-sort="{a!r}">{_fmt(a)}</td>']
        for b in benches:
            if (m, b) not in cells.index:
                tds.append('<td class="na" data-sort="nan">–</td>')
                continue
            r = cells.loc[(m, b)]
            shown = r["ceiled"] if np.isfinite(r["ceiled"]) else r["raw"]
            tip = (
                f"raw {_fmt(r['raw'])}; ceiling {_fmt(r['ceiling_high'])}"
                f" (lower {_fmt(r['ceiling_low'])}); 95% CI [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
                f"; layer {r['committed_layer']}; cell {r.get('cell', '')}; env {r.get('env', '')}"
            )
            mark = "" if np.isfinite(r["ceiled"]) else " (raw)"
            tds.append(
                f'<td data-sort="{float(shown)!r}" title="{_esc(tip)}">{_fmt(shown)}{mark}</td>'
            )
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return (
        '<p><label>Filter models: <input id="filter" type="search" placeholder="name contains…">'
        "</label></p>"
        '<table id="leaderboard"><thead><tr><th>model</th><th>average</th>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _commit_table(board: pd.DataFrame, models: list[str], benches: list[str]) -> str:
    cells = board.set_index(["model", "benchmark"])["committed_layer"]
    head = "".join(f"<th>{_esc(b)}</th>" for b in benches)
    body = "".join(
        "<tr><td>"
        + _esc(m)
        + "</td>"
        + "".join(f"<td>{_esc(cells.get((m, b), '–'))}</td>" for b in benches)
        + "</tr>"
        for m in models
    )
    return f"<table><thead><tr><th>model</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cards(cards: Mapping[str, Any], info: Mapping[str, Any]) -> str:
    out = []
    for bid, c in cards.items():
        fields = [
            ("version", c.get("version")),
            ("data", c.get("description")),
            ("metric", f"{c.get('metric')} {json.dumps(c.get('metric_params', {}), default=str)}"),
            ("ceiling", c.get("ceiling") or "none"),
            (
                "layer commitment",
                f"{c.get('commit_split')} split, {c.get('commit_fraction')} commit",
            ),
            ("data details", json.dumps(dict(info.get(bid, {})), default=str)),
            ("citation", c.get("citation")),
            ("licence", c.get("licence")),
        ]
        dl = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in fields if v)
        out.append(f'<div class="card"><h3>{_esc(bid)}</h3><dl>{dl}</dl></div>')
    return "".join(out)


def _brain_maps(result: Result, benches: list[str]) -> list[str]:
    """Glass brains of the best model's per-voxel test scores, for benchmarks from a volume."""
    from ._brainmap import plot_brain_map

    out = []
    board = leaderboard_table(result)
    for b in benches:
        if f"mask/{b}" not in result.arrays:
            continue
        rows = board[board["benchmark"] == b].sort_values("raw", ascending=False)
        for m in rows["model"]:
            key = f"targets/{m}/{b}"
            if key in result.arrays:
                fig = plot_brain_map(
                    result.arrays[key],
                    result.arrays[f"mask/{b}"],
                    result.arrays[f"affine/{b}"],
                    title=f"{b}: {m}",
                )
                out.append(_png(fig, f"brain map, {b}, {m}", "half"))
                break
    return out


def _download(name: str, text: str, mime: str) -> str:
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f'<a download="{_esc(name)}" href="data:{mime};base64,{data}">{_esc(name)}</a>'


def write_leaderboard(
    result: Result | str | Path,
    path: str | Path,
    title: str = "neuroalign leaderboard",
    max_pairs: int = 6,
) -> Path:
    """Write the leaderboard of a ``bench.sweep`` result (or a saved one) to ``path``.

    Also writes ``<path>.csv`` and ``<path>.json`` (the leaderboard table) next to the page; both
    are embedded as downloads too, so the single HTML file is enough. Returns ``path``.
    """
    if not isinstance(result, Result):
        result = load_result(result)
    if not result.kind.startswith("bench"):
        raise ValidationError(
            f"a leaderboard needs a bench result (neuroalign.bench.run); got kind {result.kind!r}."
        )
    path = Path(path)
    board = leaderboard_table(result)
    models = list(pd.unique(result.table["model"]))
    benches = list(pd.unique(result.table["benchmark"]))
    params = dict(result.params)
    figures = [_png(plot_model_scores(result), "scores per model and benchmark")]
    figures += [
        _png(plot_bench_layers(result, b), f"per-layer curves, {b}", "half") for b in benches
    ]
    figures += _brain_maps(result, benches)
    pairs = list(itertools.combinations(benches, 2))[:max_pairs]
    scatters = [_png(plot_benchmark_scatter(result, a, b), f"{a} vs {b}", "half") for a, b in pairs]
    csv_text = board.to_csv(index=False)
    json_text = board.to_json(orient="records", indent=1)
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    env = params.get("environment", {})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(title)}</h1><p class='meta'>Generated {now}; {len(models)} models × "
        f"{len(benches)} benchmarks. Click a column header to sort; hover a score for details.</p>",
        "<h2>Scores</h2>",
        _main_table(board, models, benches),
        f"<p class='meta'><b>Aggregation.</b> {_esc(params.get('aggregation', ''))}</p>",
        "<p>Download: "
        + _download(path.stem + ".csv", csv_text, "text/csv")
        + " · "
        + _download(path.stem + ".json", json_text, "application/json")
        + "</p>",
        "<h2>Layer commitment per region</h2>",
        "<p class='meta'>The layer each model commits per benchmark (chosen on the commitment split).</p>",
        _commit_table(board, models, benches),
        "<h2>Figures</h2>",
        *figures,
        *(["<h2>Benchmark pairs</h2>", *scatters] if scatters else []),
        "<h2>Benchmarks</h2>",
        _cards(params.get("benchmarks", {}), params.get("data_info", {})),
        "<h2>Environment</h2><pre>" + _esc(json.dumps(env, indent=1, default=str)) + "</pre>",
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    atomic_write_text(path.with_suffix(".csv"), csv_text)
    atomic_write_text(path.with_suffix(".json"), json_text)
    return atomic_write_text(path, "\n".join(parts))

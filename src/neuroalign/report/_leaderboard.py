"""``write_leaderboard``: a benchmark sweep as one static HTML page (no server, no external files).

Rows are models ranked by the average (a rank column), columns benchmarks grouped by dataset (the
ceiled score, shaded by a colour scale per column; raw test score, ceiling, the test split's
interval, committed layer, cell and environment hash in the cell's tooltip), sortable by clicking
a header (numbers numerically, names in natural order) and filterable by model name with a small
script written here (no vendored library); wide tables scroll inside their own box. Below the table:
the layer each model commits per region, per-layer curves, scatter plots of benchmark pairs,
a data card per benchmark (``bench.benchmark_card``, linked from its column header), the
aggregation rule, the environments and CSV / JSON downloads (also written next
to the page). Every text is HTML-escaped.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import itertools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result, load_result
from ..core._io import atomic_write_text
from ..core.exceptions import ValidationError
from ._bench_plots import (
    FEW,
    bench_model_order,
    plot_bench_layers,
    plot_benchmark_scatter,
    plot_model_key,
    plot_model_scores,
)

__all__ = ["leaderboard_table", "write_leaderboard"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}th.sortable{cursor:pointer;user-select:none}
th.sortable:after{content:" \\2195";color:#aaa}th[aria-sort=ascending]:after{content:" \\2191";color:#222}
th[aria-sort=descending]:after{content:" \\2193";color:#222}td.na{color:#999}.meta{font-size:.85em;color:#444}
figure{display:inline-block;margin:.5em;vertical-align:top}figure.half{max-width:47%}figure img{max-width:100%;border:1px solid #eee}
.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:.8em 0;overflow-wrap:anywhere}
.card dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.25em 1em;margin:.4em 0}
.card dt{font-weight:600}.card dd{margin:0;min-width:0}.card:target{border-color:#4a7bd0;box-shadow:0 0 0 2px #c9dbf7}
.card .status-missing,.card .status-partial{color:#a33}input#filter{padding:3px 6px;width:18em}
th a.card-link{color:inherit}
.scroll{overflow-x:auto;max-width:100%}th.group{text-align:center}td.rank{color:#555}
#leaderboard td{white-space:nowrap}#leaderboard td:nth-child(2),#leaderboard th[data-col="1"]{text-align:left}
th .sub{display:block;font-weight:400;font-size:.85em;color:#666}
figure.full{display:block;margin:.5em 0}
"""

# Sorting and filtering, written for this page: numbers sort numerically (cells carry data-sort),
# text in natural order (``seed=2`` before ``seed=10``), empty cells last whatever the direction;
# the first click sorts text A→Z and scores high→low; the filter hides rows whose model name lacks
# the text. A click on a header's link to its benchmark card follows the link without sorting. Sortable headers carry the column they sort (``data-col``; the header has two rows).
_SCRIPT = """
(function(){
  var table=document.getElementById('leaderboard');
  var body=table.tBodies[0];
  var natural=new Intl.Collator(undefined,{numeric:true,sensitivity:'base'});
  function key(row,i){var c=row.cells[i];var v=c.getAttribute('data-sort');
    if(v===null){return c.textContent.trim();}
    var x=parseFloat(v);return isNaN(x)?null:x;}
  function sortBy(i,th){
    var text=th.getAttribute('data-type')==='text';
    var cur=th.getAttribute('aria-sort');
    var dir=cur?(cur==='descending'?'ascending':'descending'):(text?'ascending':'descending');
    if(th.getAttribute('data-type')==='rank'&&!cur){dir='ascending';}
    Array.prototype.forEach.call(table.querySelectorAll('th[data-col]'),function(h){h.removeAttribute('aria-sort');});
    th.setAttribute('aria-sort',dir);
    var rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){var x=key(a,i),y=key(b,i);
      if(x===null&&y===null){return 0;}if(x===null){return 1;}if(y===null){return -1;}
      var s=(typeof x==='string')?natural.compare(x,y):(x<y?-1:(x>y?1:0));
      return dir==='ascending'?s:-s;});
    rows.forEach(function(r){body.appendChild(r);});
  }
  Array.prototype.forEach.call(table.querySelectorAll('th[data-col]'),function(th){
    var i=parseInt(th.getAttribute('data-col'),10);
    th.classList.add('sortable');th.addEventListener('click',function(e){
      if(e.target.closest&&e.target.closest('a')){return;}sortBy(i,th);});});
  var box=document.getElementById('filter');
  box.addEventListener('input',function(){var q=box.value.toLowerCase();
    Array.prototype.forEach.call(body.rows,function(r){
      r.style.display=r.cells[1].textContent.toLowerCase().indexOf(q)>=0?'':'none';});});
})();
"""


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _fmt(v: float) -> str:
    return "–" if not np.isfinite(v) else f"{v:.3f}"


#: Resolution of the embedded figures; figures are at most 10 in wide, so they are shown at
#: (close to) their natural size on the page and 9 pt text stays ≥ 13 px.
DPI = 110


def _png(fig: Any, alt: str, cls: str = "") -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    klass = f' class="{cls}"' if cls else ""
    return f'<figure{klass}><img src="data:image/png;base64,{data}" alt="{_esc(alt)}"></figure>'


def leaderboard_table(result: Result | pd.DataFrame) -> pd.DataFrame:
    """One row per model × benchmark: committed layer, raw score, ceilings, ceiled score,
    interval, cell and environment hashes (what the page shows and exports).

    The score is the committed layer's ``test``-split score and ``ci_low`` / ``ci_high`` (and
    ``split``) come from that same row: the interval of the test split, NaN where the metric
    gives none there (never the all-data interval of another number).
    """
    t = result.table if isinstance(result, Result) else result
    score = t[t["statistic"] == "score"].set_index(["model", "benchmark"])
    ceiled = t[t["statistic"] == "ceiled"].set_index(["model", "benchmark"])["value"]
    out = score[
        [
            "layer",
            "split",
            "value",
            "ci_low",
            "ci_high",
            "ceiling_low",
            "ceiling_high",
            "chance",
            "n",
        ]
    ].rename(columns={"value": "raw", "layer": "committed_layer"})
    out.insert(3, "ceiled", ceiled.reindex(out.index))
    for col in ("benchmark_version", "cell", "env"):
        if col in score:
            out[col] = score[col]
    return out.reset_index()


def _average(board: pd.DataFrame) -> pd.Series:
    with_ceiling = board[np.isfinite(board["ceiled"].to_numpy(float))]
    return with_ceiling.groupby("model", sort=False)["ceiled"].mean()


def _groups(benches: list[str]) -> list[tuple[str, list[str]]]:
    """Benchmarks grouped by dataset (the id before the first ``.``), in order of appearance."""
    out: dict[str, list[str]] = {}
    for b in benches:
        out.setdefault(b.split(".", 1)[0], []).append(b)
    return list(out.items())


def _shade(frac: float) -> str:
    """Background of a score cell: light (worst in its column) to blue (best)."""
    if not np.isfinite(frac):
        return ""
    return f' style="background:hsl(210,70%,{96 - 34 * frac:.0f}%)"'


def _main_table(board: pd.DataFrame, models: list[str], benches: list[str]) -> str:
    avg = _average(board)
    cells = board.set_index(["model", "benchmark"])
    groups = _groups(benches)
    benches = [b for _, bs in groups for b in bs]
    shown = {
        b: cells.xs(b, level="benchmark")["ceiled"].where(
            np.isfinite(cells.xs(b, level="benchmark")["ceiled"].to_numpy(float)),
            cells.xs(b, level="benchmark")["raw"],
        )
        for b in benches
        if b in set(board["benchmark"])
    }
    spans = {b: (np.nanmin(v), np.nanmax(v)) for b, v in shown.items() if np.isfinite(v).any()}
    top = (
        '<th rowspan="2" data-col="0" data-type="rank">rank</th>'
        '<th rowspan="2" data-col="1" data-type="text">model</th>'
        '<th rowspan="2" data-col="2">average</th>'
        + "".join(f'<th class="group" colspan="{len(bs)}">{_esc(d)}</th>' for d, bs in groups)
    )
    ceiled = {b for b in benches if np.isfinite(board.loc[board["benchmark"] == b, "ceiled"]).any()}
    sub = "".join(
        f'<th data-col="{3 + i}" title="{_esc(b)}: click to sort; the name opens its card">'
        f'<a class="card-link" href="#{card_anchor(b, benches)}">{_esc(b.split(".", 1)[-1])}</a>'
        f'<span class="sub">{"ceiled" if b in ceiled else "raw (no ceiling)"}</span></th>'
        for i, b in enumerate(benches)
    )
    ranked = sorted(avg.index, key=lambda m: (-avg[m], models.index(m)))
    order = ranked + [m for m in models if m not in avg.index]
    rank = {m: i + 1 for i, m in enumerate(ranked)}
    rows = []
    for m in order:
        a = float(avg.get(m, np.nan))
        r_ = rank.get(m)
        tds = [
            f'<td class="rank" data-sort="{r_ if r_ else "nan"}">{r_ if r_ else "–"}</td>',
            f"<td>{_esc(m)}</td>",
            f'<td data-sort="{a!r}">{_fmt(a)}</td>',
        ]
        for b in benches:
            if (m, b) not in cells.index:
                tds.append('<td class="na" data-sort="nan">–</td>')
                continue
            r = cells.loc[(m, b)]
            value = shown[b].get(m, np.nan)
            lo, hi = spans.get(b, (np.nan, np.nan))
            frac = (value - lo) / (hi - lo) if hi > lo else (1.0 if np.isfinite(value) else np.nan)
            interval = (
                f"95% CI of the {r['split'] or 'test'} split [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
                if np.isfinite(r["ci_low"])
                else f"no interval on the {r['split'] or 'test'} split"
            )
            tip = (
                f"raw {_fmt(r['raw'])} ({r['split'] or 'test'} split); ceiling {_fmt(r['ceiling_high'])}"
                f" (lower {_fmt(r['ceiling_low'])}); {interval}"
                f"; layer {r['committed_layer']}; cell {r.get('cell', '')}; env {r.get('env', '')}"
            )
            tds.append(
                f'<td data-sort="{float(value)!r}" title="{_esc(tip)}"{_shade(frac)}>'
                f"{_fmt(value)}</td>"
            )
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return (
        '<p><label>Filter models: <input id="filter" type="search" placeholder="name contains…">'
        "</label></p>"
        '<div class="scroll"><table id="leaderboard"><thead><tr>'
        + top
        + "</tr><tr>"
        + sub
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
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
    return (
        f'<div class="scroll"><table><thead><tr><th>model</th>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def card_anchor(bench: str, benches: list[str]) -> str:
    """The HTML id of a benchmark's card (letters, digits, ``._-`` only; numbered: unique)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", str(bench))
    return f"card-{benches.index(bench)}-{safe}"


def _link(url: Any) -> str:
    """An http(s) URL as a link, anything else (a DOI string, another scheme) as text."""
    text = str(url)
    if re.match(r"^https?://[^\s\"'<>]+$", text):
        return f'<a href="{_esc(text)}" rel="noopener">{_esc(text)}</a>'
    return _esc(text)


def _cards(cards: Mapping[str, Any], info: Mapping[str, Any], benches: list[str]) -> str:
    """One card per benchmark (``bench.benchmark_card`` as recorded when the sweep ran):
    dataset, stimuli, subjects, whether its data were fetched, metric and parameters, ceiling
    method, commitment, citation, licence and URL. Fields a card does not have (results written
    before data cards) say so."""
    from ..bench._cards import DATA_STATUSES, format_count, format_metric

    out = []
    for bid in benches:
        c = dict(cards.get(bid) or {})
        anchor = card_anchor(bid, benches)
        if not c:
            out.append(
                f'<section class="card" id="{anchor}"><h3>{_esc(bid)}</h3>'
                "<p class='meta'>No card was recorded with this result.</p></section>"
            )
            continue
        unknown = "not recorded"
        status = c.get("data_status")
        fields: list[tuple[str, str]] = [
            ("dataset", _esc(c.get("data_source") or unknown)),
            (
                "data",
                f'<span class="status-{_esc(status)}">{_esc(status)}</span>: '
                + _esc(DATA_STATUSES.get(str(status), ""))
                + ("" if status in ("bundled", "simulated") else " (when the sweep ran)")
                if status
                else unknown,
            ),
            ("stimuli", _esc(format_count(c, "n_stimuli"))),
            ("subjects", _esc(format_count(c, "n_subjects"))),
            ("metric", _esc(format_metric(c))),
            ("ceiling method", _esc(c.get("ceiling") or "none")),
            (
                "layer commitment",
                _esc(f"{c.get('commit_split')} split, {c.get('commit_fraction')} commit")
                if c.get("commit_split")
                else "",
            ),
            ("version", _esc(c.get("version") or "")),
            ("description", _esc(c.get("description") or "")),
            ("data details", _esc(json.dumps(dict(info.get(bid, {})), default=str))),
            ("citation", _esc(c.get("citation") or unknown)),
            ("licence", _esc(c.get("licence") or unknown)),
            ("URL / DOI", _link(c["url"]) if c.get("url") else ""),
        ]
        dl = "".join(f"<dt>{_esc(k)}</dt><dd>{v}</dd>" for k, v in fields if v and v != "{}")
        out.append(
            f'<section class="card" id="{anchor}"><h3>{_esc(bid)}</h3><dl>{dl}</dl></section>'
        )
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


def _environments(board: pd.DataFrame, params: Mapping[str, Any]) -> str:
    """Each environment hash the cells were computed in, with its package versions (recorded in
    ``params["environments"]`` by ``bench.assemble``) and how many cells it computed."""
    known = dict(params.get("environments", {}))
    if not known and params.get("environment"):  # results written before per-hash environments
        known = {"": dict(params["environment"])}
    hashes = board["env"] if "env" in board else pd.Series([], dtype=str)
    counts = hashes.fillna("").astype(str).value_counts(sort=False)
    if counts.empty and known:
        counts = pd.Series({h: 0 for h in known})
    if counts.empty:
        return "<p class='meta'>No environment was recorded with this result.</p>"
    packages = sorted({k for v in known.values() if v for k in v})
    head = "".join(f"<th>{_esc(k)}</th>" for k in packages)
    rows = []
    for h, n in counts.items():
        env = known.get(h) or (known.get("") if set(known) == {""} else None)
        if env:
            tds = "".join(f"<td>{_esc(env.get(k, ''))}</td>" for k in packages)
        else:
            tds = (
                f'<td colspan="{max(1, len(packages))}" class="na">not recorded (cells computed '
                "in another environment before this run)</td>"
            )
        rows.append(f"<tr><td>{_esc(h or '–')}</td><td>{int(n)}</td>{tds}</tr>")
    return (
        "<p class='meta'>Package versions of the environments the cells were computed in "
        "(each cell's hash is in its tooltip and in the CSV / JSON).</p>"
        f'<div class="scroll"><table><thead><tr><th>environment</th><th>cells</th>{head}'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


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
    are embedded as downloads too, so the single HTML file is enough. Returns ``path``. Above
    ten models the curves and scatters share one key of the models' styles (``plot_model_key``).
    """
    if not isinstance(result, Result):
        result = load_result(result)
    if not result.kind.startswith("bench"):
        raise ValidationError(
            f"a leaderboard needs a bench result (neuroalign.bench.run); got kind {result.kind!r}."
        )
    path = Path(path)
    board = leaderboard_table(result)
    models = bench_model_order(result)
    benches = [b for _, bs in _groups(list(pd.unique(result.table["benchmark"]))) for b in bs]
    params = dict(result.params)
    few = len(models) <= FEW
    # many models: one key of their styles instead of the same long legend in every figure
    figures = [_png(plot_model_scores(result), "scores per model and benchmark", "full")]
    if not few:
        figures.append(_png(plot_model_key(result), "model key", "full"))
    figures += [
        _png(plot_bench_layers(result, b, legend=few), f"per-layer curves, {b}", "half")
        for b in benches
    ]
    figures += _brain_maps(result, benches)
    pairs = list(itertools.combinations(benches, 2))[:max_pairs]
    scatters = [
        _png(plot_benchmark_scatter(result, a, b, legend=few), f"{a} vs {b}", "half")
        for a, b in pairs
    ]
    csv_text = board.to_csv(index=False)
    json_text = board.to_json(orient="records", indent=1)
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(title)}</h1><p class='meta'>Generated {now}; {len(models)} models × "
        f"{len(benches)} benchmarks. Click a column header to sort (a benchmark's name opens its "
        "data card); hover a score for details.</p>",
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
        "<p class='meta'>Each benchmark's data card (a column header's name links to it).</p>",
        _cards(params.get("benchmarks", {}), params.get("data_info", {}), benches),
        "<h2>Environment</h2>",
        _environments(board, params),
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    atomic_write_text(path.with_suffix(".csv"), csv_text)
    atomic_write_text(path.with_suffix(".json"), json_text)
    return atomic_write_text(path, "\n".join(parts))

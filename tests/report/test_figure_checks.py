"""Figure checks that can fail: leaderboards and reports for 4, 20 and 100 models.

With matplotlib's renderer: no two drawn texts overlap, the smallest text is large enough, every
model has its own style. In headless Chromium: no horizontal overflow of the page (tables scroll
in their own box), every figure's smallest text ≥ 8 px at the size it is displayed, no console
error. Screenshots are kept as test artifacts (their paths are printed); set
``NEUROALIGN_SCREENS=<folder>`` to also copy them there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.backends.backend_agg import FigureCanvasAgg

from neuroalign.report import (
    leaderboard_table,
    plot_bench_layers,
    plot_benchmark_scatter,
    plot_model_key,
    plot_model_scores,
    unique_labels,
    write_leaderboard,
)
from neuroalign.report._bench_plots import FEW, bench_model_order
from neuroalign.report._leaderboard import DPI
from tests.browser import console_errors, run_in_page, screenshot
from tests.report._boards import BENCHMARKS, make_board

SIZES = (4, 20, 100)
MIN_PX = 8.0


# ----------------------------------------------------------------------------- helpers
def drawn_texts(fig, dpi: float = DPI) -> list[tuple[str, np.ndarray, float]]:
    """(text, [x0, y0, x1, y1] in pixels, font size in pixels) of every text the figure draws
    at ``dpi``: titles, axis labels, tick labels inside the view, legend entries, annotations."""
    fig.set_dpi(dpi)
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            eps = 1e-9 * max(1.0, abs(hi - lo))
            for tick in axis.get_major_ticks():
                if lo - eps <= tick.get_loc() <= hi + eps:
                    texts += [lab for lab in (tick.label1, tick.label2) if lab.get_visible()]
            texts.append(axis.label)
        texts += [ax.title, ax._left_title, ax._right_title, *ax.texts]
        if ax.get_legend() is not None:
            texts += [*ax.get_legend().get_texts(), ax.get_legend().get_title()]
    for legend in fig.legends:
        texts += [*legend.get_texts(), legend.get_title()]
    texts += fig.texts
    out = []
    for t in texts:
        if not (t.get_visible() and t.get_text().strip()):
            continue
        bb = t.get_window_extent(renderer)
        out.append(
            (t.get_text(), np.array([bb.x0, bb.y0, bb.x1, bb.y1]), t.get_fontsize() * dpi / 72)
        )
    return out


def overlaps(texts, tol: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of texts whose boxes overlap by more than ``tol`` pixels in both directions."""
    if len(texts) < 2:
        return []
    b = np.stack([t[1] for t in texts])
    w = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
    h = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    hit = (w > tol) & (h > tol)
    i, j = np.nonzero(np.triu(hit, 1))
    return [(texts[a][0], texts[c][0]) for a, c in zip(i, j, strict=True)]


def model_styles(fig, labels) -> list[tuple]:
    """(label, colour, marker, line style) of each line drawn for one of the models' ``labels``."""
    out = []
    for ax in fig.axes:
        for ln in ax.get_lines():
            if ln.get_label() in labels and len(ln.get_xdata()):
                out.append((ln.get_label(), ln.get_color(), ln.get_marker(), ln.get_linestyle()))
    # the committed-layer marks repeat a model's colour and marker: keep one line per label
    return list({s[0]: s for s in out[::-1]}.values())


def board_figures(res):
    """The leaderboard's figures as the page draws them, keyed by the alt text it gives them."""
    benches = [b for b, *_ in BENCHMARKS]
    few = res.table["model"].nunique() <= FEW
    figs = {"scores per model and benchmark": plot_model_scores(res)}
    if not few:
        figs["model key"] = plot_model_key(res)
    for b in benches:
        figs[f"per-layer curves, {b}"] = plot_bench_layers(res, b, legend=few)
    figs[f"{benches[0]} vs {benches[1]}"] = plot_benchmark_scatter(
        res, benches[0], benches[1], legend=few
    )
    return figs


@pytest.fixture(scope="module")
def boards():
    return {n: make_board(n) for n in SIZES}


@pytest.fixture(scope="module")
def drawn(boards):
    """n → (figures, {alt: drawn texts}) of each leaderboard size, drawn once for all tests."""
    out = {}
    for n, res in boards.items():
        figs = board_figures(res)
        out[n] = (figs, {alt: drawn_texts(fig) for alt, fig in figs.items()})
    return out


@pytest.fixture(scope="module")
def min_text_px(drawn):
    """Smallest text (pixels at the figure's natural size) of each leaderboard figure."""
    return {
        n: {alt: min(px for _, _, px in t) for alt, t in d[1].items()} for n, d in drawn.items()
    }


def _artifacts(tmp_path_factory) -> Path:
    out = tmp_path_factory.getbasetemp() / "figure-check-screens"
    out.mkdir(exist_ok=True)
    return out


# ----------------------------------------------------------------------------- matplotlib
@pytest.mark.slow
@pytest.mark.parametrize("n", SIZES)
def test_bench_figures_have_no_overlapping_text_and_distinct_styles(boards, drawn, n):
    res = boards[n]
    labels = unique_labels(bench_model_order(res), 24)
    assert len(set(labels)) == n
    figs, all_texts = drawn[n]
    key = all_texts.get("model key")
    for alt, fig in figs.items():
        texts = all_texts[alt]
        assert overlaps(texts) == [], f"{n} models, {alt}: overlapping texts"
        assert min(px for _, _, px in texts) >= 12.0, f"{n} models, {alt}: text under 9 pt"
        assert fig.get_figwidth() <= 10.0, f"{alt}: wider than the page"
        if alt.startswith("scores"):
            ticks = [t for t, _, _ in texts if t.startswith(("tiny_cnn", "hf:"))]
            assert len(set(ticks)) == n  # every model named, no two labels alike
            # height follows the number of models: rows never closer than the text is tall
            assert fig.get_figheight() * DPI / n >= 1.5 * 9 * DPI / 72
        elif alt == "model key":
            assert len({t for t, _, _ in texts}) == n + 1  # every model + the title, all distinct
        else:
            styles = model_styles(fig, labels)
            assert len(styles) == n, f"{alt}: {len(styles)} model lines for {n} models"
            assert len({s[1:] for s in styles}) == n, f"{alt}: two models share a style"
            # the key (or the legend) names each model once, never two alike
            shown = {t for t, _, _ in (key if key is not None else texts)}
            assert set(labels) <= shown


@pytest.mark.parametrize("n", (4, 20))
def test_overlap_check_can_fail(boards, n):
    """The checks above see a deliberate overlap and a too-small text."""
    fig = plot_bench_layers(boards[n], BENCHMARKS[0][0])
    ax = fig.axes[0]
    ax.text(0.5, 0.5, "covering text", transform=ax.transAxes, fontsize=5)
    ax.text(0.5, 0.5, "covering text 2", transform=ax.transAxes, fontsize=5)
    texts = drawn_texts(fig)
    assert ("covering text", "covering text 2") in overlaps(texts)
    assert min(px for _, _, px in texts) < MIN_PX


def test_shown_interval_is_the_test_splits(boards):
    """Every leaderboard row pairs the test score with the test split's own interval: the
    score lies inside it wherever there is one, and the rows say which split they come from."""
    res = boards[20]
    board = leaderboard_table(res)
    assert set(board["split"]) == {"test"}
    t = res.table
    test = t[(t["statistic"] == "layer_score") & (t["split"] == "test") & t["committed"]]
    test = test.set_index(["model", "benchmark"])
    b = board.set_index(["model", "benchmark"])
    np.testing.assert_array_equal(b["ci_low"], test.loc[b.index, "ci_low"])
    ok = np.isfinite(b["ci_low"].to_numpy(float))
    assert ok.any() and (~ok).any()  # encoding benchmarks have one, RSA's test split none
    assert ((b["ci_low"] <= b["raw"]) & (b["raw"] <= b["ci_high"]))[ok].all()


# ----------------------------------------------------------------------------- Chromium
MEASURE = """
var de=document.documentElement;
var imgs=Array.prototype.map.call(document.images,function(i){
  return {alt:i.alt,natural:i.naturalWidth,shown:i.getBoundingClientRect().width};});
var tables=Array.prototype.map.call(document.querySelectorAll('table'),function(t){
  var box=t.parentElement;return {scrolls:getComputedStyle(box).overflowX==='auto',
  right:t.getBoundingClientRect().right,box:box.getBoundingClientRect().right};});
var body=document.body;
var order=Array.prototype.map.call(document.querySelectorAll('#leaderboard tbody tr'),
  function(r){return r.cells[1].textContent;});
function box(e){var b=e.getBoundingClientRect();
  return {text:e.textContent.slice(0,60),l:b.left,r:b.right,t:b.top,b:b.bottom,
  sw:e.scrollWidth,cw:e.clientWidth};}
var heads=Array.prototype.map.call(
  document.querySelectorAll('#leaderboard thead tr:nth-child(2) th'),function(h){
  var a=h.querySelector('a.card-link');var id=a?a.getAttribute('href').slice(1):null;
  var el=id?document.getElementById(id):null;
  return {title:h.title,link:id,card:el&&el.classList.contains('card')?
    el.querySelector('h3').textContent:null};});
var cards=Array.prototype.map.call(document.querySelectorAll('section.card'),function(c){
  var o=box(c);o.id=c.id;o.labels=Array.prototype.map.call(c.querySelectorAll('dt'),
    function(d){return d.textContent;});
  o.kids=Array.prototype.map.call(c.querySelectorAll('h3,dt,dd'),box);return o;});
var link=document.querySelector('#leaderboard a.card-link');var unsorted=null;
if(link){link.click();unsorted=Array.prototype.map.call(
  document.querySelectorAll('#leaderboard tbody tr'),function(r){return r.cells[1].textContent;});}
var th=document.querySelector('#leaderboard th[data-col="1"]');
var sorted=null;if(th){th.click();sorted=Array.prototype.map.call(
  document.querySelectorAll('#leaderboard tbody tr'),function(r){return r.cells[1].textContent;});}
window.__out={scrollWidth:de.scrollWidth,clientWidth:de.clientWidth,bodyScroll:body.scrollWidth,
  bodyClient:body.clientWidth,height:de.scrollHeight,imgs:imgs,tables:tables,order:order,
  sorted:sorted,heads:heads,cards:cards,unsorted:unsorted,hash:location.hash};
"""


#: What every benchmark card shows (issue 18, point 8).
CARD_LABELS = {"dataset", "data", "stimuli", "subjects", "metric", "ceiling method"}
CARD_LABELS |= {"citation", "licence"}


def check_cards(m: dict, benches: list[str]) -> None:
    """Each benchmark's column header links to its card; every card shows the data-card fields;
    no card's text overflows its box or overlaps another text of the card."""
    assert [h["card"] for h in m["heads"]] == benches
    assert [c["id"] for c in m["cards"]] == [h["link"] for h in m["heads"]]
    for c in m["cards"]:
        assert CARD_LABELS <= set(c["labels"]), (c["id"], CARD_LABELS - set(c["labels"]))
        assert c["sw"] <= c["cw"], f"{c['id']}: text overflows the card"
        for k in c["kids"]:
            assert k["sw"] <= k["cw"] + 1, f"{c['id']}: {k['text']!r} overflows"
            assert c["l"] - 0.5 <= k["l"] and k["r"] <= c["r"] + 0.5, (c["id"], k["text"])
        texts = [(k["text"], np.array([k["l"], k["t"], k["r"], k["b"]])) for k in c["kids"]]
        assert overlaps([(t, b, 0.0) for t, b in texts]) == [], c["id"]
    # a click on a header's card link opens the card and does not sort the table
    assert m["hash"] == "#" + m["heads"][0]["link"]
    assert m["unsorted"] == m["order"]


def _keep(png: Path, name: str) -> None:
    print(f"screenshot: {png}")
    dest = os.environ.get("NEUROALIGN_SCREENS")
    if dest:
        Path(dest).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(dest) / name)


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("n", SIZES)
def test_leaderboard_in_chromium(boards, min_text_px, chromium, tmp_path_factory, n):
    out_dir = _artifacts(tmp_path_factory)
    page = write_leaderboard(boards[n], out_dir / f"leaderboard-{n}.html")
    m, log = run_in_page(chromium, page, MEASURE)
    assert console_errors(log) == []
    # no horizontal overflow: the page never scrolls sideways; tables scroll in their own box
    assert m["scrollWidth"] <= m["clientWidth"] and m["bodyScroll"] <= m["bodyClient"]
    assert m["tables"] and all(t["scrolls"] for t in m["tables"])
    # every figure's smallest text at the size the page shows it
    for img in m["imgs"]:
        assert img["natural"] > 0, img["alt"]
        if img["alt"] in min_text_px[n]:
            shown = min_text_px[n][img["alt"]] * img["shown"] / img["natural"]
            assert shown >= MIN_PX, f"{img['alt']}: smallest text {shown:.1f} px on the page"
    # ranked rows; a click on "model" sorts names in natural order (seed=2 before seed=10)
    avg = leaderboard_table(boards[n]).groupby("model")["ceiled"].mean()
    assert m["order"] == sorted(avg.index, key=lambda k: -avg[k])
    tiny = [s for s in m["sorted"] if s.startswith("tiny_cnn")]
    assert tiny == sorted(tiny, key=lambda s: int(s.split("=")[1]))
    check_cards(m, [b for b, *_ in BENCHMARKS])
    if n == SIZES[0]:  # a phone-width window: the page still never scrolls sideways
        narrow, _ = run_in_page(chromium, page, MEASURE, width=480)
        assert narrow["scrollWidth"] <= narrow["clientWidth"]
        check_cards(narrow, [b for b, *_ in BENCHMARKS])
    png = screenshot(chromium, page, out_dir / f"leaderboard-{n}.png", 1280, min(m["height"], 6000))
    _keep(png, f"leaderboard-{n}.png")

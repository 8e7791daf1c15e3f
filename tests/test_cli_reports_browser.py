"""Every command's ``--report`` opens in Chromium with no console error.

Each command that takes ``--report`` runs on small generated inputs (the fixtures of
``tests/test_cli_analyses.py`` and a few time series built here); each HTML report is then opened
in headless Chromium, which must log no console error or uncaught exception, show every image
(``naturalWidth > 0``), never scroll the page sideways, and show the report's title and the
user's text escaped (a target named ``ch<i>0</i>`` is shown as those characters, not as markup).
Screenshots are kept under pytest's tmp folder (their paths are printed; also copied to
``$NEUROALIGN_SCREENS`` when set). ``test_every_report_command_has_a_case`` walks the app: a new
command with ``--report`` and no case here fails, browser or not.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("typer")
pytest.importorskip("matplotlib")

import typer
from typer.testing import CliRunner

from neuroalign.cli import app
from neuroalign.core import TimeSeries, load_result, save_timeseries
from tests.browser import console_errors, run_in_page
from tests.report.test_figure_checks import _keep
from tests.test_cli_analyses import encoder, files, subjects  # noqa: F401 (fixtures)

#: A target name that is markup if the report does not escape it.
MARKUP = "ch<i>0</i>"

#: command path → (arguments, a user text the page must show). ``{a}``: the fixtures of
#: tests/test_cli_analyses.py (``files``); ``{s}``: its ``subjects``; ``{e}``: its ``encoder``;
#: ``{t}``: the time series built here; ``{c}``: the EfficientNet-Lite0 encoder built here. ``--out``, ``--report`` and ``--quiet`` are added.
CASES: dict[str, tuple[list[str], str]] = {
    "encode": (["--features", "{a}/acts.npz", "--responses", "{a}/resp.npz", "--cv", "3"], "l2"),
    "readouts": (
        ["--activations", "{a}/acts.npz", "--responses", "{a}/resp.npz", "--readouts", "ridge",
         "--cv", "3"],
        "l2",
    ),
    "units selectivity": (
        ["--activations", "{a}/acts.npz", "--labels", "{a}/labels.csv", "--category", "face"],
        "face",
    ),
    "units sparsity": (["--responses", "{a}/resp.npz", "--rectify"], "sparseness"),
    "units match": (["--activations", "{a}/acts.npz", "--responses", "{a}/resp.npz"], "A_000"),
    "generalize": (["--responses", "{a}/epochs.npz", "--labels", "labels"], "generalization"),
    "identify": (["--predicted", "{a}/acts.npz", "--candidates", "{a}/acts.npz"], "top1"),
    "decode": (["--responses", "{t}/labels.npz", "--labels", "y", "--groups", "run"], "y"),
    "decode-shared": (
        ["--features", "{s}/emb.npz", "--responses", "{s}/sub-0.npz", "--responses",
         "{s}/sub-1.npz", "--components", "4"],
        "sub-1",
    ),
    "decode-contrastive": (
        ["--features", "{s}/emb.npz", "--responses", "{s}/sub-1.npz", "--epochs", "3",
         "--batch-size", "32"],
        "top1",
    ),
    "synthesize": (
        ["--encoder", "{e}", "--model", "tiny_cnn:seed=0", "--targets", "roi:A", "--size", "32",
         "--steps", "3"],
        "roi:A",
    ),
    "rsa": (["--features", "{a}/acts.npz", "--responses", "{a}/resp.npz", "--n-boot", "20"], "l1"),
    "cka": (["--features", "{a}/acts.npz", "--other", "{a}/resp.npz"], "l2"),
    "explain top": (
        ["--encoder", "{c}/enc.npz", "--candidates", "{c}/f.npz", "--k", "3"], MARKUP,
    ),
    "explain concepts": (
        ["--encoder", "{c}/enc.npz", "--classifier", "efficientnet_lite:lite0", "--method",
         "weight", "--k", "3"],
        MARKUP,
    ),
    "trf": (
        ["--tmin", "0", "--tmax", "0.03", "--stimulus", "{t}/stim.npz", "--responses",
         "{t}/resp.npz", "--alphas", "1,100"],
        MARKUP,
    ),
    "trf-over-time": (
        ["--stimulus", "{t}/env.npz", "--responses", "{t}/brain.npz", "--tmin", "-0.03",
         "--window", "1"],
        "env",
    ),
    "narrative": (
        ["--features", "{t}/feats.npz", "--responses", "{t}/bold.npz", "--delays", "1,2"],
        "layer0",
    ),
}  # fmt: skip


def _report_commands() -> set[str]:
    """Every command (path) of the app that takes ``--report``."""
    found: set[str] = set()

    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        elif any("--report" in getattr(p, "opts", []) for p in cmd.params):
            found.add(" ".join(path))

    walk(typer.main.get_command(app), [])
    return found


def test_every_report_command_has_a_case():
    commands = _report_commands()
    assert len(commands) >= 10
    assert sorted(commands - set(CASES)) == [], "add a case for each command with --report"
    assert sorted(set(CASES) - commands) == [], "cases for commands without --report"


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """Small time series: a 2-feature stimulus and 3 responses (the first named ``MARKUP``),
    an envelope and the brain that encodes it, a story experiment, and labelled trials."""
    from neuroalign.data import make_story_experiment

    d = tmp_path_factory.mktemp("series")
    rng = np.random.default_rng(0)
    runs = [f"run{i}" for i in range(4)]
    stim = {r: rng.standard_normal((300, 2)) for r in runs}
    resp = {r: np.roll(x, 2, 0) @ rng.standard_normal((2, 3)) for r, x in stim.items()}
    save_timeseries(TimeSeries.from_runs(stim, rate=100.0), d / "stim.npz")
    ts = TimeSeries.from_runs(resp, rate=100.0)
    names = pd.DataFrame({"target": [MARKUP, "ch1", "ch2"]})
    save_timeseries(TimeSeries(ts.data, ts.runs, ts.times, targets=names), d / "resp.npz")
    env = {r: rng.standard_normal((300, 1)) for r in runs}
    brain = {
        r: np.hstack([np.roll(e, 2, 0), rng.standard_normal((300, 2))]) for r, e in env.items()
    }
    save_timeseries(TimeSeries.from_runs(env, rate=100.0), d / "env.npz")
    save_timeseries(TimeSeries.from_runs(brain, rate=100.0), d / "brain.npz")
    exp = make_story_experiment(n_runs=3, n_trs=60, n_targets=10, n_features=4, seed=1)
    save_timeseries(dict(exp.features), d / "feats.npz")
    save_timeseries(exp.responses, d / "bold.npz")
    y = np.tile([0, 1], 30)
    data = rng.normal(size=(60, 6)) + y[:, None]
    np.savez(d / "labels.npz", data=data, y=y, run=np.repeat([0, 1, 2], 20))
    return d


@pytest.fixture(scope="module")
def concepts(tmp_path_factory):
    """A ridge encoder (``explain fit``) on features in EfficientNet-Lite0's ``_avg_pooling``
    space (the space of its ImageNet classifier, so ``explain concepts --classifier`` applies),
    with a target named ``MARKUP``; the features are the candidates of ``explain top``."""
    from neuroalign.core import Activations, Responses, save_activations, save_responses

    d = tmp_path_factory.mktemp("concepts")
    rng = np.random.default_rng(0)
    ids = np.array([f"s{i:03d}" for i in range(60)])
    x = rng.normal(size=(60, 1280)).astype(np.float32)
    save_activations(Activations("efficientnet_lite:lite0", ids, {"_avg_pooling": x}), d / "f.npz")
    y = (x @ rng.normal(size=(1280, 4))).astype(np.float32)
    names = pd.DataFrame({"target": [MARKUP, "v1", "v2", "v3"], "roi": ["A", "A", "B", "B"]})
    save_responses(Responses(ids, y, targets=names), d / "r.npz")
    run = CliRunner().invoke(
        app,
        ["explain", "fit", "--features", str(d / "f.npz"), "--responses", str(d / "r.npz"),
         "--out", str(d / "enc.npz"), "--cv", "3"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    return d


#: Measured after load: the page's title, heading and text, its images and its widths.
PROBE = """
var de=document.documentElement, body=document.body;
window.__out={title:document.title, h1:(document.querySelector('h1')||{}).textContent||'',
  text:body.innerText,
  imgs:Array.prototype.map.call(document.images,function(i){
    return {alt:i.alt, natural:i.naturalWidth, complete:i.complete};}),
  scrollWidth:de.scrollWidth, clientWidth:de.clientWidth,
  bodyScroll:body.scrollWidth, bodyClient:body.clientWidth};
"""


def open_page(chromium: str, page: Path, png: Path | None = None) -> tuple[dict, str]:
    """Load ``page`` with ``PROBE`` in a 1280-pixel-wide window (one Chromium run that also
    writes a 1280 × 2400 screenshot to ``png``); return (the measures, the log)."""
    try:
        measures, log = run_in_page(chromium, page, PROBE, height=2400, png=png)
    except AssertionError as err:
        raise AssertionError(f"{page.name} did not load: {err}") from None
    return measures, log  # type: ignore[return-value]


def page_problems(measures: dict, log: str, needle: str) -> list[str]:
    """What is wrong with a report as Chromium showed it (an empty list: nothing)."""
    m = measures
    problems = [f"console error: {ln}" for ln in console_errors(log)]
    if not m["imgs"]:
        problems.append("no figure")
    problems += [
        f"image did not load: {i['alt']!r}"
        for i in m["imgs"]
        if not (i["complete"] and i["natural"] > 0)
    ]
    if m["scrollWidth"] > m["clientWidth"] or m["bodyScroll"] > m["bodyClient"]:
        problems.append(f"the page scrolls sideways ({m['scrollWidth']} > {m['clientWidth']} px)")
    if not (m["title"].startswith("neuroalign") and m["h1"] == m["title"]):
        problems.append(f"title {m['title']!r} is not the heading {m['h1']!r}")
    if needle not in m["text"]:
        problems.append(f"{needle!r} is not shown as text")
    return problems


@pytest.mark.slow
@pytest.mark.browser
def test_every_command_report_opens_clean_in_chromium(
    files,  # noqa: F811 (the fixture imported above)
    subjects,  # noqa: F811
    encoder,  # noqa: F811
    series,
    concepts,
    chromium,
    tmp_path_factory,
):
    out_dir = tmp_path_factory.mktemp("command-reports")
    runner = CliRunner()
    pages = {}
    for command, (args, needle) in sorted(CASES.items()):
        name = command.replace(" ", "-")
        args = [a.format(a=files, s=subjects, e=encoder, t=series, c=concepts) for a in args]
        out = out_dir / (name if command == "decode" else f"{name}.npz")  # decode: a folder
        page = out_dir / f"{name}.html"
        res = runner.invoke(
            app, [*command.split(), *args, "--out", str(out), "--report", str(page), "--quiet"]
        )
        assert res.exit_code == 0, f"{command}: {res.output}"
        pages[name] = (page, needle)
    # Chromium mostly waits (start-up, IPC): a few at once
    with ThreadPoolExecutor(max_workers=4) as pool:
        shown = dict(
            zip(
                pages,
                pool.map(
                    lambda kv: open_page(chromium, kv[1][0], out_dir / f"{kv[0]}.png"),
                    pages.items(),
                ),
                strict=True,
            )
        )
    problems = {}
    for name, (page, needle) in pages.items():
        if needle == MARKUP and MARKUP in page.read_text(encoding="utf-8"):  # unescaped
            problems[name] = [f"{MARKUP!r} written as markup"]
    for name, (m, log) in shown.items():
        _keep(out_dir / f"{name}.png", f"command-report-{name}.png")
        found = page_problems(m, log, pages[name][1])
        if found:
            problems[name] = problems.get(name, []) + found
    assert problems == {}, problems


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_check_can_fail(series, chromium, tmp_path):
    """The checks above see a script error, a broken image, a wide block and unescaped text."""
    from neuroalign.report import write_result_report

    out = tmp_path / "trf.npz"
    args = ["trf", *[a.format(t=series) for a in CASES["trf"][0]], "--out", str(out), "-q"]
    assert CliRunner().invoke(app, args).exit_code == 0
    good = write_result_report(load_result(out), tmp_path / "good.html")
    assert page_problems(*open_page(chromium, good), MARKUP) == []
    text = good.read_text(encoding="utf-8")
    broken = {
        "console error": "<script>undefinedFunction();</script></body>",
        "did not load": '<img alt="gone" src="data:image/png;base64,AAAA"></body>',
        "sideways": '<div style="width:4000px">wide</div></body>',
    }
    for what, tail in broken.items():
        page = tmp_path / f"{what.split()[0]}.html"
        page.write_text(text.replace("</body>", tail), encoding="utf-8")
        found = page_problems(*open_page(chromium, page), MARKUP)
        assert any(what in p for p in found), (what, found)
    page = tmp_path / "markup.html"
    page.write_text(text.replace("ch&lt;i&gt;0&lt;/i&gt;", MARKUP), encoding="utf-8")
    found = page_problems(*open_page(chromium, page), MARKUP)
    assert any("not shown as text" in p for p in found), found

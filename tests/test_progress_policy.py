"""One progress policy: every public call that takes ``quiet`` shows progress by default (in a
terminal; rich disables the bar elsewhere) and is silent with ``quiet=True``."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = ("extract", "data", "encode", "compare", "decode", "explain", "bench")


def _quiet_defaults():
    for modname in MODULES:
        mod = importlib.import_module(f"neuroalign.{modname}")
        for name in mod.__all__:
            obj = getattr(mod, name)
            targets = [obj]
            if inspect.isclass(obj):
                targets = [obj.__init__, getattr(obj, "fit", None)]
            for fn in targets:
                if fn is None or not callable(fn):
                    continue
                try:
                    params = inspect.signature(fn).parameters
                except (TypeError, ValueError):
                    continue
                if "quiet" in params:
                    yield f"{modname}.{name}", params["quiet"].default


def test_every_quiet_defaults_to_showing_progress():
    found = dict(_quiet_defaults())
    assert len(found) > 20  # the check sees the library's long calls
    loud = {k: v for k, v in found.items() if v is not False}
    assert loud == {}, f"quiet must default to False (progress shown): {loud}"


def test_progress_is_silent_when_quiet(capsys):
    from neuroalign.core._progress import track

    assert list(track(range(3), 3, "x", quiet=True)) == [0, 1, 2]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bar_drawn_in_a_terminal_only_when_not_quiet(monkeypatch, quiet):
    import io

    from rich.console import Console

    from neuroalign.core import _progress

    buf = io.StringIO()
    monkeypatch.setattr(
        "rich.console.Console",
        lambda **kw: Console(file=buf, force_terminal=True, width=80),
    )
    list(_progress.track(range(5), 5, "working", quiet=quiet))
    assert ("working" in buf.getvalue()) is (not quiet)


# ------------------------------------------------------------------ the command line
#: Commands with no ``--quiet``, and why: none of them runs an analysis with progress to hide.
#: A new command is not here, so it must take ``--quiet`` (``test_every_command_has_quiet``).
NO_QUIET = {
    "info": "prints versions; instant",
    "layers": "lists a model's modules from one forward pass of one sample; no loop to show",
    "data list": "prints the dataset registry; instant",
    "data info": "describes a file on disk; instant",
    "data fetch": "a download: no progress display of its own yet (pooch's bar is off); "
    "prints one line when done",
    "bench list": "prints the benchmark registry; instant",
    "bench leaderboard": "renders a saved sweep as HTML; no analysis runs",
    "report": "renders saved Results as HTML; no analysis runs",
    "explain fit": "one ridge fit (GCV by default): fit_readout has no loop to show progress over",
}


def _commands():
    """(command path, option names) of every leaf command of the ``neuroalign`` app."""
    pytest.importorskip("typer")
    import typer

    from neuroalign.cli import app

    found = {}

    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
            return
        found[" ".join(path)] = {o for p in cmd.params for o in getattr(p, "opts", [])}

    walk(typer.main.get_command(app), [])
    return found


def test_every_command_has_quiet_or_a_reason():
    commands = _commands()
    assert {"trf", "trf-over-time", "narrative", "decode", "bench run"} <= set(commands)
    missing = sorted(
        c for c, opts in commands.items() if "--quiet" not in opts and c not in NO_QUIET
    )
    assert missing == [], f"commands without --quiet and no NO_QUIET reason: {missing}"
    stale = sorted(c for c in NO_QUIET if c not in commands or "--quiet" in commands[c])
    assert stale == [], f"NO_QUIET entries that are not commands or do take --quiet: {stale}"
    # every analysis (a command that writes a Result or a report) is in the policy's reach
    analyses = {c for c, opts in commands.items() if "--report" in opts}
    assert analyses and not analyses & set(NO_QUIET)
    # one spelling everywhere: every --quiet also answers to -q
    no_short = sorted(c for c, opts in commands.items() if "--quiet" in opts and "-q" not in opts)
    assert no_short == [], f"commands whose --quiet has no -q: {no_short}"


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """Small time-series files: 4 runs of a 2-feature stimulus and 3 responses to it."""
    import numpy as np

    from neuroalign.core import TimeSeries, save_timeseries

    d = tmp_path_factory.mktemp("series")
    rng = np.random.default_rng(0)
    stim = {f"run{i}": rng.standard_normal((300, 2)) for i in range(4)}
    resp = {r: np.roll(x, 2, 0) @ rng.standard_normal((2, 3)) for r, x in stim.items()}
    s = save_timeseries(TimeSeries.from_runs(stim, rate=100.0), d / "stim.npz")
    y = save_timeseries(TimeSeries.from_runs(resp, rate=100.0), d / "resp.npz")
    return s, y, d


def _story(d):
    from neuroalign.core import save_timeseries
    from neuroalign.data import make_story_experiment

    exp = make_story_experiment(n_runs=3, n_trs=60, n_targets=10, n_features=4, seed=1)
    save_timeseries(dict(exp.features), d / "feats.npz")
    save_timeseries(exp.responses, d / "bold.npz")
    return ["--features", str(d / "feats.npz"), "--responses", str(d / "bold.npz")]


@pytest.mark.parametrize(
    ("command", "bar"),
    [("trf", "TRF, leave one epoch out"), ("trf-over-time", "windows over time"),
     ("narrative", "ridge per layer")],
)  # fmt: skip
@pytest.mark.parametrize("quiet", [False, True])
def test_quiet_reaches_the_library(monkeypatch, series, command, bar, quiet):
    """In a terminal the command draws the library's progress bar; ``--quiet`` silences it."""
    import io

    from rich.console import Console
    from typer.testing import CliRunner

    from neuroalign.cli import app

    s, y, d = series
    buf = io.StringIO()
    monkeypatch.setattr(
        "rich.console.Console", lambda **kw: Console(file=buf, force_terminal=True, width=100)
    )
    args = {
        "trf": ["trf", "--tmin", "0", "--tmax", "0.03", "--stimulus", str(s), "--responses", str(y)],
        "trf-over-time": ["trf-over-time", "--stimulus", str(s), "--responses", str(y),
                          "--tmin", "-0.03", "--window", "1"],
        "narrative": ["narrative", *_story(d), "--delays", "1,2"],
    }[command]  # fmt: skip
    out = d / f"{command}-{quiet}.npz"
    res = CliRunner().invoke(app, [*args, "--out", str(out), *(["--quiet"] if quiet else [])])
    assert res.exit_code == 0, res.output
    assert (bar in buf.getvalue()) is (not quiet), buf.getvalue()[-500:]

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

"""The consoles, the one error exit and the one warning format shared by every command module."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["ChannelsLastOpt", "QuietOpt", "ReportOpt", "err", "fail", "out", "show_warnings"]

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

#: the ``--report`` and ``--quiet`` options, spelled once for every command
ReportOpt = Annotated[
    Path | None, typer.Option("--report", help="Write a self-contained HTML report.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]
#: ``--channels-last`` of every command that extracts (``extract``, ``bench run``)
ChannelsLastOpt = Annotated[
    bool,
    typer.Option(
        "--channels-last",
        help="Convolutions in channels-last memory format: faster on CPUs and GPUs (ResNet-50 "
        "1.4x on 2 CPU cores); features equal to float32 rounding, not bit for bit (other "
        "cache keys).",
    ),
]


def check_outputs(out: Any, report: Any) -> None:
    """``--out`` (a Result ``.npz``) and ``--report`` (HTML) can be written: checked before any
    work, with the user's path in the error (one rule for every analysis command)."""
    from ..core._io import check_output

    if out is not None:
        check_output(out, "--out", suffix=".npz")
    if report is not None:
        check_output(report, "--report", suffix=(".html", ".htm"))


def save_outputs(result: Any, out: Any, report: Any) -> tuple[Any, Any, Any]:
    """Write ``--out`` (the Result ``.npz`` and its table as ``.csv`` beside it) and ``--report``
    (HTML); returns ``(npz, csv, page)`` (None where not asked). One writer for every command."""
    from ..core._io import atomic_write

    npz = csv = page = None
    if out is not None:
        npz = result.save(out)
        csv = npz.with_suffix(".csv")
        atomic_write(csv, lambda tmp: result.table.to_csv(tmp, index=False))
    if report is not None:
        from ..report import write_result_report

        page = write_result_report(result, report)
    return npz, csv, page


def save_table_or_result(result: Any, out: Any, report: Any) -> list[Any]:
    """``--out`` as a table (``.csv``) or as the Result (``.npz``, with its ``.csv`` beside it),
    and ``--report`` (HTML); returns the paths written. For the commands whose ``--out`` has
    always accepted a CSV (``rsa``, ``cka``, ``explain top``, ``explain concepts``)."""
    from pathlib import Path

    from ..core._io import atomic_write

    if out is not None and Path(out).suffix.lower() != ".npz":
        atomic_write(out, lambda tmp: result.table.to_csv(tmp, index=False))
        written = [Path(out), *save_outputs(result, None, report)]
    else:
        written = list(save_outputs(result, out, report))
    return [p for p in written if p is not None]


def fail(exc: BaseException, prefix: str = "") -> NoReturn:
    """One line on stderr (user text escaped: a path with ``[`` is not rich markup), exit code 1."""
    msg = prefix + (" ".join(str(exc).split()) or type(exc).__name__)
    err.print(f"[bold red]error:[/] {escape(msg)}", highlight=False)
    raise typer.Exit(code=1)


def _one_line(message: Any, *_args: Any, **_kwargs: Any) -> None:
    """``warnings.showwarning`` for the CLI: ``warning: <message>``, one line, no file:line."""
    text = " ".join(str(message).split()) or type(message).__name__
    err.print(f"[yellow]warning:[/] {escape(text)}", highlight=False)


@contextlib.contextmanager
def show_warnings() -> Iterator[None]:
    """While a command runs, print each Python warning as one line ``warning: <message>`` on
    stderr (each distinct warning once per place, Python's default), never the file, line and
    source that Python prints. Entered once for every command by the app's callback."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _one_line
        yield

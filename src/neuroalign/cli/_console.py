"""The consoles and the one error exit shared by every command module of the CLI."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["err", "fail", "out"]

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def fail(exc: BaseException, prefix: str = "") -> NoReturn:
    """One line on stderr (user text escaped: a path with ``[`` is not rich markup), exit code 1."""
    msg = prefix + (" ".join(str(exc).split()) or type(exc).__name__)
    err.print(f"[bold red]error:[/] {escape(msg)}", highlight=False)
    raise typer.Exit(code=1)

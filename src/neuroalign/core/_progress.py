"""Progress display for long loops: a rich progress bar, or nothing when ``quiet``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

__all__ = ["track"]


def track(
    items: Iterable[T], total: int | None, description: str, quiet: bool = False
) -> Iterator[T]:
    """Iterate over ``items`` showing a rich progress bar on stderr (silent when ``quiet``)."""
    if quiet:
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=console, transient=False, disable=not console.is_terminal
    ) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)

"""``neuroalign data list | fetch | info``: the dataset registry, downloads and file summaries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..core.exceptions import NeuroalignError
from ._console import fail as _fail
from ._console import out as _out

data_app = typer.Typer(
    name="data",
    help="Brain datasets: list the registry, fetch one, summarise a file or folder.",
    no_args_is_help=True,
)


@data_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The public datasets neuroalign can fetch: size, licence, terms, citation."""
    from ..data import list_datasets

    table = list_datasets()
    if as_json:
        _out.print_json(table.to_json(orient="records"))
        return
    for row in table.itertuples():
        terms = "terms must be accepted (--accept-terms)" if row.needs_terms else "no terms"
        head = escape(f"{row.size}; {row.licence}; {terms}")
        _out.print(f"[bold]{escape(row.name)}[/]  {head}", highlight=False)
        _out.print(f"    {row.description}", highlight=False, markup=False)
        _out.print(f"    cite: {row.citation}", highlight=False, markup=False)


@data_app.command("fetch")
def fetch_command(
    name: Annotated[str, typer.Argument(help="Dataset name (see `neuroalign data list`).")],
    subject: Annotated[
        list[str] | None, typer.Option("--subject", help="Only this subject (repeatable).")
    ] = None,
    files: Annotated[
        list[str] | None, typer.Option("--files", help="Only paths containing this (repeatable).")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Default: $NEUROALIGN_DATA or ~/neuroalign_data."),
    ] = None,
    accept_terms: Annotated[
        bool, typer.Option("--accept-terms", help="Accept the dataset's terms (asked once).")
    ] = False,
    base_url: Annotated[str | None, typer.Option("--base-url", help="A mirror URL.")] = None,
) -> None:
    """Download a dataset (resumable, checksums verified) and print its folder."""
    from ..data import fetch_dataset

    try:
        folder = fetch_dataset(
            name,
            subject=subject or None,
            files=files or None,
            data_dir=data_dir,
            accept_terms=accept_terms,
            base_url=base_url,
        )
    except (NeuroalignError, OSError) as exc:  # OSError: disk full, permission denied, ...
        _fail(exc)
        return
    _out.print(str(folder), markup=False, highlight=False)


@data_app.command("info")
def info_command(
    path: Annotated[Path, typer.Argument(help="A data file or an NSD / BIDS folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Read a file or layout and summarise it: stimuli, targets, times, repetitions, ROIs."""
    from ..data import describe_data

    try:
        info = describe_data(path)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    except Exception as exc:  # a third-party reader failing on a file it cannot parse
        _fail(exc, f"{str(path)!r} could not be read ({type(exc).__name__}): ")
        return
    if as_json:
        _out.print_json(json.dumps(info, default=str))
        return
    for key, value in info.items():
        _out.print(f"{key:>16}: {value}", highlight=False, markup=False)

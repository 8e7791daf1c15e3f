"""``neuroalign bench list | run | leaderboard`` and ``neuroalign report RESULT``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ..core.exceptions import NeuroalignError
from ._console import ChannelsLastOpt
from ._console import fail as _fail
from ._console import out as _out

__all__ = ["bench_app", "register", "report_command"]

bench_app = typer.Typer(
    name="bench",
    help="Benchmarks: list them, score models on them (serially or on Dask), build leaderboards.",
    no_args_is_help=True,
)


#: Colour of each data status in ``bench list``.
_STATUS_STYLE = {
    "fetched": "green",
    "bundled": "green",
    "simulated": "green",
    "local": "green",
    "partial": "yellow",
    "missing": "red",
    "undeclared": "dim",
}


def _card_rows(cards: list[dict[str, Any]]) -> Any:
    """The data cards as one rich table that wraps (never cuts) in an 80-column terminal: four
    columns of stacked facts, the citation shortened to first author + year next to its DOI
    (the full text is in ``--json`` and on the leaderboard's cards)."""
    from rich import box
    from rich.table import Table

    from ..bench._cards import format_count, format_metric, short_citation

    table = Table(box=box.SQUARE, show_lines=True, expand=False, padding=(0, 1))
    # (a min_width would let rich draw the table wider than the terminal and crop its edge)
    table.add_column("benchmark · metric", overflow="fold", ratio=3)
    table.add_column("data", overflow="fold", width=13)
    table.add_column("ceiling", overflow="fold", ratio=3)
    table.add_column("source", overflow="fold", ratio=3)
    for c in cards:
        dataset, _, rest = str(c["id"]).partition(".")
        params = c.get("metric_params") or {}
        head = [
            f"[bold]{escape(dataset)}.[/]",
            f"[bold]{escape(rest)}[/] v{escape(str(c['version']))}",
            escape(str(c["metric"])),
            *(escape(format_metric({"metric_params": {k: v}})) for k, v in params.items()),
        ]
        status = str(c["data_status"])
        style = _STATUS_STYLE.get(status, "")
        shown = f"[{style}]{escape(status)}[/]" if style else escape(status)
        source_name = c["data_source"] or ""
        data = [shown] if source_name in ("", status) else [escape(source_name), shown]
        for key, unit in (("n_stimuli", "stimuli"), ("n_subjects", "subjects")):
            n = format_count(c, key)
            data.append(f"{escape(n)} {unit[:-1] if n == '1' else unit}")
        if status == "partial":
            data.append("missing: " + escape(", ".join(c.get("data_missing") or [])))
        source = [escape(short_citation(c["citation"]) or "no citation")]
        if c.get("url"):
            source.append(escape(c["url"]))
        source.append("licence: " + escape(c["licence"] or "not stated"))
        table.add_row(
            "\n".join(head), "\n".join(data), escape(c["ceiling"] or "none"), "\n".join(source)
        )
    return table


@bench_app.command("list")
def list_command(
    pattern: Annotated[str | None, typer.Argument(help="Only ids containing this.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the full data cards as JSON.")
    ] = False,
) -> None:
    """The registered benchmarks' data cards: dataset, stimuli, subjects, whether the data are
    here (fetched / bundled / missing), metric, ceiling method, citation, licence (loads no
    data)."""
    from ..bench import list_benchmarks

    table = list_benchmarks(pattern)
    if pattern and not len(table):
        _fail(
            NeuroalignError(f"no benchmark matches {pattern!r}; `neuroalign bench list` shows all.")
        )
    if as_json:
        _out.print_json(table.to_json(orient="records", default_handler=str))
        return
    cards = [
        {k: (None if v is None or (isinstance(v, float) and v != v) else v) for k, v in r.items()}
        for r in table.to_dict(orient="records")
    ]
    from ..data import get_data_dir

    table = _card_rows(cards)
    table.caption = escape(
        f"{len(cards)} benchmark{'' if len(cards) == 1 else 's'}; fetched data are looked for in "
        f"{get_data_dir()} "
        "($NEUROALIGN_DATA); --json prints every card in full."
    )
    _out.print(table, soft_wrap=False)


@bench_app.command("run")
def run_command(
    models: Annotated[list[str], typer.Argument(help="Model ids (e.g. efficientnet_lite:lite0).")],
    benchmark: Annotated[
        list[str],
        typer.Option(
            "--benchmark", "-b", help="Id, pattern ('Simulated.*') or .toml (repeatable)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to save the result (.npz).")] = Path(
        "bench.npz"
    ),
    leaderboard: Annotated[
        Path | None, typer.Option("--leaderboard", help="Also write this HTML leaderboard.")
    ] = None,
    layers: Annotated[
        list[str] | None, typer.Option("--layers", help="Layer names, or 'blocks' / 'all'.")
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option("--store", help="Results store (default $NEUROALIGN_BENCH_STORE)."),
    ] = None,
    executor: Annotated[str, typer.Option("--executor", help="serial or dask.")] = "serial",
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Dask scheduler address (implies --executor dask)."),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="LocalCluster workers (dask).")] = 2,
    reduce: Annotated[
        str | None, typer.Option("--reduce", help="Feature reducer (e.g. avgpool).")
    ] = None,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or cuda:N.")] = "cpu",
    batch_size: Annotated[int, typer.Option("--batch-size")] = 32,
    memory_budget: Annotated[str, typer.Option("--memory-budget")] = "2GB",
    channels_last: ChannelsLastOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Score models on benchmarks; cached cells are reused, an interrupted run resumes."""
    from ..bench import run
    from ..core._io import check_output
    from ..report import leaderboard_table, write_leaderboard

    try:
        check_output(out, "--out")
        if leaderboard is not None:
            check_output(leaderboard, "--leaderboard")
    except NeuroalignError as exc:
        _fail(exc)
    spec: Any = None
    if layers:
        spec = layers[0] if len(layers) == 1 and layers[0] in ("blocks", "all") else list(layers)
    try:
        result = run(
            models,
            benchmark,
            layers=spec,
            store=store,
            executor="dask" if scheduler else executor,
            scheduler=scheduler,
            n_workers=workers,
            reduce=reduce,
            device=device,
            batch_size=batch_size,
            memory_budget=memory_budget,
            channels_last=channels_last,
            quiet=quiet,
        )
        saved = result.save(out)
        page = write_leaderboard(result, leaderboard) if leaderboard else None
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    board = leaderboard_table(result)
    for row in board.itertuples():
        ceiled = "–" if row.ceiled != row.ceiled else f"{row.ceiled:.3f}"
        _out.print(
            f"{escape(row.model)}  {escape(row.benchmark)}  layer {escape(row.committed_layer)}  "
            f"raw {row.raw:.3f}  ceiled {ceiled}",
            highlight=False,
        )
    t = result.params["timing"]
    _out.print(
        f"{t['n_cells_computed']} cells computed in {t['wall_s']:.1f} s; saved {escape(str(saved))}"
        + (f"; leaderboard {escape(str(page))}" if page else ""),
        highlight=False,
    )


@bench_app.command("leaderboard")
def leaderboard_command(
    result: Annotated[Path, typer.Argument(help="A result saved by `neuroalign bench run`.")],
    out: Annotated[Path, typer.Option("--out", help="HTML file.")] = Path("leaderboard.html"),
) -> None:
    """Build the static HTML leaderboard (with .csv and .json next to it)."""
    from ..core._io import check_output
    from ..report import write_leaderboard

    try:
        check_output(out, "--out")
        page = write_leaderboard(result, out)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    _out.print(str(page), highlight=False)


def report_command(
    results: Annotated[
        list[Path],
        typer.Argument(
            help="Results saved with Result.save / --out (.npz), folders of them, or several "
            "(one report, a section each)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="HTML file.")] = Path("report.html"),
) -> None:
    """An HTML report of any saved results (a leaderboard for one benchmark sweep)."""
    from ..core._io import check_output
    from ..report import write_result_report

    try:
        check_output(out, "--out")
        page = write_result_report(results, out)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    _out.print(str(page), highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``bench`` and ``report`` to the main app."""
    app.add_typer(bench_app)
    app.command("report")(report_command)

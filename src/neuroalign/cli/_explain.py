"""``neuroalign explain fit | top | concepts``: fit and save an encoder, then ask what its targets
respond to (top stimuli among candidates, concepts of a vocabulary)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..core.exceptions import NeuroalignError
from ._console import QuietOpt, ReportOpt, check_outputs, save_table_or_result
from ._console import fail as _fail
from ._console import out as _out

explain_app = typer.Typer(
    name="explain",
    help="What a voxel, region or unit responds to: top stimuli and concepts of a saved encoder.",
    no_args_is_help=True,
)


def _images_layer(layer: str | None, have: list[str], images: Path) -> str:
    """The layer of ``--images`` that matches the encoder's; never silently another one."""
    if layer and layer in have:
        return layer
    if not layer and len(have) == 1:  # an encoder that does not name its layer: the only one
        return have[0]
    from ..core.exceptions import ValidationError

    wanted = f"layer {layer!r}" if layer else "a named layer (it names none)"
    raise ValidationError(
        f"--images {str(images)!r} has no features of the encoder's {wanted}; it has layers "
        f"{have}. Extract --images from the same model and layer as the encoder's features."
    )


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@explain_app.command("fit")
def fit_command(
    features: Annotated[
        Path, typer.Option("--features", help="Activations .npz (save_activations).")
    ],
    responses: Annotated[
        Path, typer.Option("--responses", help="Responses .npz (save_responses).")
    ],
    out_file: Annotated[Path, typer.Option("--out", help="Encoder .npz to write.")] = Path(
        "encoder.npz"
    ),
    layer: Annotated[str | None, typer.Option(help="Layer (default: the only one).")] = None,
    cv: Annotated[str, typer.Option(help="Folds for alpha: an integer, or 'gcv'.")] = "gcv",
) -> None:
    """Fit a ridge encoder from one layer to the responses and save it (no pickle)."""
    from ..core import load_activations, load_responses
    from ..core._io import check_output
    from ..explain import fit_readout, save_readout

    try:
        check_output(out_file, "--out", suffix=".npz")
        readout = fit_readout(
            load_activations(features),
            load_responses(responses),
            layer,
            cv=int(cv) if cv.isdigit() else cv,
        )
        path = save_readout(readout, out_file)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    _out.print(f"{readout!r} -> {escape(str(path))}", highlight=False)


@explain_app.command("top")
def top_command(
    encoder: Annotated[
        Path, typer.Option("--encoder", help="Encoder .npz (explain fit / save_readout).")
    ],
    candidates: Annotated[
        Path, typer.Option("--candidates", help="Candidate features .npz (save_activations).")
    ],
    out_file: Annotated[
        Path,
        typer.Option("--out", help="Table (.csv) or the Result (.npz, with its .csv beside it)."),
    ] = Path("top_stimuli.csv"),
    report: ReportOpt = None,
    k: Annotated[int, typer.Option("--k", help="Stimuli per target and direction.")] = 10,
    targets: Annotated[str | None, typer.Option(help="Comma-separated target ids.")] = None,
    rois: Annotated[str | None, typer.Option(help="Comma-separated rois.")] = None,
    roi_means: Annotated[bool, typer.Option(help="Also each roi's mean response.")] = False,
    memory_budget: Annotated[str, typer.Option(help="Score blocks held at once.")] = "1GB",
    device: Annotated[str, typer.Option(help="cpu, torch or cuda.")] = "cpu",
    quiet: QuietOpt = False,
) -> None:
    """Top and bottom stimuli of each target by predicted response (in-silico screening)."""
    from ..core import load_activations
    from ..core._io import check_output
    from ..explain import load_readout, top_stimuli

    try:
        check_output(out_file, "--out", suffix=(".csv", ".npz"))
        check_outputs(None, report)
        readout = load_readout(encoder)
        res = top_stimuli(
            readout,
            load_activations(candidates),
            k,
            targets=_split(targets),
            rois=_split(rois),
            roi_means=roi_means,
            memory_budget=memory_budget,
            device=device,
            quiet=quiet,
        )
        written = save_table_or_result(res, out_file, report)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    t = res.table
    for target, grp in list(t[t.direction == "top"].groupby("target", sort=False))[:5]:
        _out.print(
            f"{escape(str(target))}: {', '.join(escape(str(s)) for s in grp['stimulus'][:5])}",
            highlight=False,
        )
    shown = ", ".join(str(p) for p in written)
    _out.print(f"{t['target'].nunique()} targets -> {escape(shown)}", highlight=False)


@explain_app.command("concepts")
def concepts_command(
    encoder: Annotated[
        Path, typer.Option("--encoder", help="Encoder .npz fitted on the concept space's features.")
    ],
    images: Annotated[
        Path | None,
        typer.Option("--images", help="Natural-image features .npz (for softmax_projection)."),
    ] = None,
    vocabulary: Annotated[
        Path | None,
        typer.Option("--vocabulary", help="Text file, one concept per line (needs --model)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Joint model for --vocabulary (hf: CLIP, open_clip:)."),
    ] = None,
    classifier: Annotated[
        str | None,
        typer.Option(
            "--classifier",
            help="Use this classifier's labels instead (e.g. efficientnet_lite:lite0).",
        ),
    ] = None,
    method: Annotated[
        str, typer.Option(help="softmax_projection or weight.")
    ] = "softmax_projection",
    k: Annotated[int, typer.Option("--k", help="Concepts per target.")] = 5,
    out_file: Annotated[
        Path,
        typer.Option("--out", help="Table (.csv) or the Result (.npz, with its .csv beside it)."),
    ] = Path("concepts.csv"),
    report: ReportOpt = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress display (embedding --vocabulary).")
    ] = False,
) -> None:
    """Rank concepts for each target (BrainSCUBA projection or plain weights)."""
    from ..core import load_activations
    from ..core._io import check_output
    from ..core.exceptions import ConfigurationError
    from ..explain import classifier_concepts, embed_concepts, load_readout, rank_concepts

    try:
        check_output(out_file, "--out", suffix=(".csv", ".npz"))
        check_outputs(None, report)
        if (vocabulary is None) == (classifier is None):
            raise ConfigurationError("give either --vocabulary (with --model) or --classifier.")
        if vocabulary is not None:
            if model is None:
                raise ConfigurationError("--vocabulary needs --model (a model with a text tower).")
            words = [
                w.strip() for w in vocabulary.read_text(encoding="utf-8").splitlines() if w.strip()
            ]
            space = embed_concepts(model, words, quiet=quiet)
        else:
            space = classifier_concepts(classifier)  # type: ignore[arg-type]
        readout = load_readout(encoder)
        emb = None
        if images is not None:
            acts = load_activations(images)
            emb = acts[_images_layer(readout.layer, list(acts.layer_names), images)]
        res = rank_concepts(readout, space, emb, method=method, k=k)
        written = save_table_or_result(res, out_file, report)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    for target, grp in list(res.table.groupby("target", sort=False))[:5]:
        _out.print(
            f"{escape(str(target))}: {', '.join(escape(str(c)) for c in grp['concept'])}",
            highlight=False,
        )
    _out.print(
        f"{res.table['target'].nunique()} targets -> " + escape(", ".join(str(p) for p in written)),
        highlight=False,
    )

"""Commands for the analyses that had none: ``readouts``, ``units selectivity | sparsity | match``,
``generalize`` (temporal generalisation), ``identify`` (retrieval / identification) and
``synthesize`` (images that drive a saved encoder's targets).

Every command here is a thin shell: read the files, call ONE library function, then
:func:`finish`: ``--out R.npz`` writes the Result and its table (``R.csv``), ``--report R.html``
its self-contained report, and a short summary is printed. ``--quiet`` silences progress.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ..core.exceptions import NeuroalignError, ValidationError
from ._console import QuietOpt, ReportOpt, check_outputs, save_outputs
from ._console import fail as _fail
from ._console import out as _out

__all__ = ["finish", "register"]

OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Write the Result (.npz) and its table (.csv).")
]
ActsOpt = Annotated[Path, typer.Option("--activations", help="Activations file (.npz).")]
RespOpt = Annotated[Path, typer.Option("--responses", help="Responses file (.npz).")]
LayerOpt = Annotated[str | None, typer.Option(help="Layer (default: the last).")]


def finish(
    result: Any, out: Path | None, report: Path | None, show: list[str] | None = None
) -> None:
    """Write ``--out`` (Result ``.npz`` + ``.csv``) and ``--report`` (HTML); print a summary."""
    t = result.table
    cols = [c for c in (show or ["layer", "roi", "scoring", "statistic", "value"]) if c in t]
    cols = [c for c in cols if (t[c].astype(str) != "").any()]
    _out.print(escape(t[cols].head(20).to_string(index=False)))
    if len(t) > 20:
        _out.print(f"… {len(t)} rows in all")
    npz, csv, page = save_outputs(result, out, report)
    if npz is not None:
        _out.print(f"result → {escape(str(npz))}; table → {escape(str(csv))}")
    if page is not None:
        _out.print(f"report → {escape(str(page))}")


def _layer(acts: Any, layer: str | None) -> str:
    return layer or acts.layer_names[-1]


def _labels(path: Path, ids: Any, column: str) -> list[Any]:
    """One label per stimulus id, read from a CSV/TSV with a ``stimulus_id`` column (by id,
    never by position)."""
    import pandas as pd

    table = pd.read_csv(path, sep=None, engine="python", dtype=str)
    for col in ("stimulus_id", column):
        if col not in table:
            raise ValidationError(
                f"--labels {str(path)!r} has no column {col!r}; it has {list(table.columns)}."
            )
    lookup = dict(zip(table["stimulus_id"], table[column], strict=True))
    missing = [i for i in ids if i not in lookup]
    if missing:
        raise ValidationError(
            f"--labels {str(path)!r} lacks {len(missing)} stimulus id(s) of the data, e.g. "
            f"{missing[:3]}."
        )
    return [lookup[i] for i in ids]


def readouts_command(
    activations: ActsOpt,
    responses: RespOpt,
    layer: LayerOpt = None,
    readouts: Annotated[
        str, typer.Option(help="Comma-separated READOUTS: ridge, factorized, attention.")
    ] = "ridge,factorized,attention",
    cv: Annotated[int, typer.Option(help="Folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out: OutOpt = None,
    report: ReportOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Compare encoding readouts (ridge / factorized / attention) on the same folds
    (encode.compare_readouts)."""
    import numpy as np

    from ..core import align, load_activations, load_responses
    from ..encode import compare_readouts

    try:
        check_outputs(out, report)
        acts, resp = align(load_activations(activations), load_responses(responses))
        name = _layer(acts, layer)
        rois = resp.targets["roi"].to_numpy() if "roi" in resp.targets else None
        result = compare_readouts(
            acts[name],
            np.asarray(resp.data),
            rois=rois,
            readouts=[r.strip() for r in readouts.split(",") if r.strip()],
            cv=cv,
            seed=seed,
            model=acts.model,
            layer=name,
            quiet=quiet,
        )
        finish(result, out, report, ["method", "roi", "value", "se"])
    except (NeuroalignError, OSError) as exc:
        _fail(exc)


units_app = typer.Typer(
    name="units", help="Selectivity, sparseness and unit ↔ target matching.", no_args_is_help=True
)


@units_app.command("selectivity")
def selectivity_command(
    labels: Annotated[Path, typer.Option("--labels", help="CSV/TSV: stimulus_id + a column.")],
    category: Annotated[str, typer.Option(help="The category whose selectivity (d′) is measured.")],
    column: Annotated[str, typer.Option(help="Label column of --labels.")] = "label",
    activations: Annotated[Path | None, typer.Option("--activations")] = None,
    responses: Annotated[Path | None, typer.Option("--responses")] = None,
    layer: LayerOpt = None,
    out: OutOpt = None,
    report: ReportOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Category selectivity (d′) of model units (--activations) or brain targets (--responses)
    (explain.category_selectivity)."""
    from ..explain import category_selectivity

    try:
        check_outputs(out, report)
        data, name = _one_source(activations, responses, layer)
        y = _labels(labels, list(data.stimulus_ids), column)
        result = category_selectivity(data, y, category, layer=name)
        finish(result, out, report)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)


@units_app.command("sparsity")
def sparsity_command(
    activations: Annotated[Path | None, typer.Option("--activations")] = None,
    responses: Annotated[Path | None, typer.Option("--responses")] = None,
    layer: LayerOpt = None,
    rectify: Annotated[bool, typer.Option(help="Clip negative values to 0 first.")] = False,
    out: OutOpt = None,
    report: ReportOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Lifetime and population sparseness (explain.sparseness)."""
    from ..explain import sparseness

    try:
        check_outputs(out, report)
        data, name = _one_source(activations, responses, layer)
        finish(sparseness(data, layer=name, rectify=rectify), out, report)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)


@units_app.command("match")
def match_command(
    activations: ActsOpt,
    responses: RespOpt,
    layer: LayerOpt = None,
    k: Annotated[int, typer.Option(help="Best-matching units per target.")] = 5,
    out: OutOpt = None,
    report: ReportOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Best-matching model units for each brain target (explain.match_units)."""
    from ..core import align, load_activations, load_responses
    from ..explain import match_units

    try:
        check_outputs(out, report)
        acts, resp = align(load_activations(activations), load_responses(responses))
        finish(match_units(acts, resp, k=k, layer=_layer(acts, layer)), out, report)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)


def _one_source(activations: Path | None, responses: Path | None, layer: str | None) -> Any:
    from ..core import load_activations, load_responses

    if (activations is None) == (responses is None):
        raise ValidationError("give exactly one of --activations A.npz or --responses R.npz.")
    if activations is not None:
        acts = load_activations(activations)
        return acts, _layer(acts, layer)
    return load_responses(responses), None  # type: ignore[arg-type]


def generalize_command(
    responses: Annotated[
        Path, typer.Option("--responses", help="npz: data (n, n_channels, n_times), labels, times.")
    ],
    labels: Annotated[str, typer.Option("--labels", help="Name of the label array.")],
    groups: Annotated[
        str | None, typer.Option(help="Name of the run array (run-aware CV).")
    ] = None,
    estimator: Annotated[str, typer.Option(help="ridge | lda.")] = "ridge",
    n_permutations: Annotated[int, typer.Option(help="Permutations for cluster p-values.")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out: OutOpt = None,
    report: ReportOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Temporal generalisation: train at each time, test at every time
    (decode.temporal_generalization)."""
    import numpy as np

    from ..decode import temporal_generalization

    try:
        check_outputs(out, report)
        with np.load(responses, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        for key in ("data", labels, *([groups] if groups else [])):
            if key not in arrays:
                raise ValidationError(
                    f"--responses {str(responses)!r} has no array {key!r}; it holds {sorted(arrays)}."
                )
        result = temporal_generalization(
            arrays["data"],
            arrays[labels],
            times=arrays.get("times"),
            groups=arrays[groups] if groups else None,
            estimator=estimator,
            n_permutations=n_permutations,
            seed=seed,
            quiet=quiet,
        )
        finish(result, out, report, ["train_time", "time", "value"])
    except (NeuroalignError, OSError) as exc:
        _fail(exc)


def identify_command(
    predicted: Annotated[
        Path, typer.Option("--predicted", help="Activations-like .npz (queries).")
    ],
    candidates: Annotated[Path, typer.Option("--candidates", help="Activations-like .npz.")],
    layer: LayerOpt = None,
    k: Annotated[str, typer.Option(help="Comma-separated top-k.")] = "1,5",
    similarity: Annotated[str, typer.Option(help="cosine | pearson | euclidean.")] = "cosine",
    out: OutOpt = None,
    report: ReportOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Identification: is each query's own stimulus among its top-k candidates
    (decode.identification; ids match queries to candidates)."""
    from ..core import load_activations
    from ..decode import identification

    try:
        check_outputs(out, report)
        p, c = load_activations(predicted), load_activations(candidates)
        name = _layer(p, layer)
        result = identification(
            p[name],
            c[name if name in c.layer_names else c.layer_names[-1]],
            query_ids=list(p.stimulus_ids),
            candidate_ids=list(c.stimulus_ids),
            k=[int(v) for v in k.split(",") if v.strip()],
            similarity=similarity,
            model=p.model,
            layer=name,
            quiet=quiet,
        )
        finish(result, out, report, ["scoring", "value", "chance"])
    except (NeuroalignError, OSError, ValueError) as exc:
        _fail(exc)


def synthesize_command(
    encoder: Annotated[
        Path, typer.Option("--encoder", help="Saved encoder .npz (explain fit --out).")
    ],
    model: Annotated[
        str, typer.Option("--model", help="Model id of the encoder's features (tiny_cnn:seed=0).")
    ],
    targets: Annotated[
        str, typer.Option(help="Comma-separated target ids of the encoder, or roi:<name>.")
    ],
    layer: Annotated[
        str | None, typer.Option(help="Module of --model (default: the encoder's layer).")
    ] = None,
    reduce: Annotated[
        str, typer.Option(help="avgpool | flatten: as the encoder's features were reduced.")
    ] = "avgpool",
    n_images: Annotated[int, typer.Option(help="Images per target.")] = 1,
    size: Annotated[int, typer.Option(help="Image side (pixels).")] = 64,
    steps: Annotated[int, typer.Option(help="Optimisation steps.")] = 128,
    lr: Annotated[float, typer.Option(help="Learning rate (Adam).")] = 0.05,
    parameterization: Annotated[str, typer.Option(help="fourier | pixel.")] = "fourier",
    diversity: Annotated[
        float, typer.Option(help="Push a target's images apart (10–100: visibly different).")
    ] = 0.0,
    random_weights: Annotated[
        bool, typer.Option("--random-weights", help="Build --model with random weights.")
    ] = False,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out: OutOpt = None,
    report: ReportOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Images that maximise a saved encoder's predicted response of each target, through the
    model's layer the encoder was fitted on (explain.synthesize); the report shows them."""
    from ..explain import FeatureModel, load_readout, synthesize
    from ..extract import load_model

    try:
        check_outputs(out, report)
        readout = load_readout(encoder)
        name = layer or readout.layer or None
        loaded = load_model(model, pretrained=not random_weights)
        pre = loaded.preprocess
        crop = getattr(pre, "crop", None) or getattr(pre, "resize", None)
        features = FeatureModel(
            loaded,
            layer=name,
            reduce=reduce,
            mean=getattr(pre, "mean", (0.485, 0.456, 0.406)),
            std=getattr(pre, "std", (0.229, 0.224, 0.225)),
            size=crop if isinstance(crop, int) else None,
        )
        result = synthesize(
            features,
            readout,
            [t.strip() for t in targets.split(",") if t.strip()],
            n_images=n_images,
            size=size,
            steps=steps,
            lr=lr,
            parameterization=parameterization,
            diversity=diversity,
            seed=seed,
            device=device,
            quiet=quiet,
        )
        finish(result, out, report, ["target", "roi", "image", "statistic", "value"])
    except (NeuroalignError, OSError) as exc:
        _fail(exc)


def register(app: typer.Typer) -> None:
    """Add ``readouts``, ``units``, ``generalize``, ``identify`` and ``synthesize`` to the main
    app."""
    app.command("readouts")(readouts_command)
    app.add_typer(units_app)
    app.command("generalize")(generalize_command)
    app.command("identify")(identify_command)
    app.command("synthesize")(synthesize_command)

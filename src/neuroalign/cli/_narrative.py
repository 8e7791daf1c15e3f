"""``neuroalign narrative``: voxel-wise encoding of a story / movie experiment, end to end.

Features come from ``--features F.npz`` (a time-series file: ``runs``, ``times`` and one
``layer:<name>`` array per layer, as ``neuroalign.core.save_timeseries`` writes them), or are
computed from ``--words W.tsv`` (columns run, onset, offset or duration, text/word) with
``--model`` (a text model id) through :func:`neuroalign.extract.word_features`. The responses
``--responses R.npz`` are a time-series file with ``data`` (n_TRs, n_voxels). Then
:func:`neuroalign.encode.narrative_encoding`: Lanczos to the TRs, FIR delays, ridge per layer
(or banded) with runs as CV groups, per-voxel scores, best layer and best delay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..core.exceptions import NeuroalignError, ValidationError
from ._console import QuietOpt, check_outputs, save_outputs
from ._console import fail as _fail
from ._console import out as _out


def _ints(text: str, option: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValidationError(f"{option} {text!r}: give integers separated by commas.") from None


def _features(
    features: Path | None,
    words: Path | None,
    model: str | None,
    layers: str | None,
    context: int,
    cache: Path | None,
    quiet: bool = False,
) -> Any:
    from ..core import TimedEvents, load_timeseries

    if (features is None) == (words is None):
        raise ValidationError(
            "give exactly one of --features F.npz or --words W.tsv (with --model)."
        )
    if features is not None:
        loaded = load_timeseries(features)
        if not isinstance(loaded, dict):
            loaded = {loaded.name: loaded}
        if layers:
            wanted = [s.strip() for s in layers.split(",") if s.strip()]
            missing = [w for w in wanted if w not in loaded]
            if missing:
                raise ValidationError(
                    f"--layers {missing} are not in {str(features)!r}; it holds {list(loaded)}."
                )
            loaded = {w: loaded[w] for w in wanted}
        return loaded
    if model is None:
        raise ValidationError("--words needs --model (a text model id, e.g. hf:gpt2).")
    from ..extract import word_features

    events = TimedEvents.read_tsv(words)  # type: ignore[arg-type]
    spec: Any = [s.strip() for s in layers.split(",")] if layers else None
    return word_features(model, events, spec, context=context, cache=cache, quiet=quiet)


def narrative_command(
    responses: Annotated[
        Path, typer.Option("--responses", help="Responses time series (.npz: runs, times, data).")
    ],
    features: Annotated[
        Path | None,
        typer.Option("--features", help="Features time series (.npz: runs, times, layer:<name>)."),
    ] = None,
    words: Annotated[
        Path | None, typer.Option("--words", help="Word timings (.tsv: run, onset, offset, text).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Text model id for --words (hf:...).")
    ] = None,
    layers: Annotated[
        str | None, typer.Option(help="Comma-separated layers (default: all).")
    ] = None,
    context: Annotated[int, typer.Option(help="Previous words given with each word.")] = 20,
    delays: Annotated[str, typer.Option(help="FIR delays in TRs, e.g. '1,2,3,4'.")] = "1,2,3,4",
    method: Annotated[str, typer.Option(help="Resampling: lanczos | box | linear.")] = "lanczos",
    solver: Annotated[str, typer.Option(help="ridge (per layer) | banded (all layers).")] = "ridge",
    test_runs: Annotated[
        str | None, typer.Option("--test-runs", help="Comma-separated runs held out for testing.")
    ] = None,
    n_folds: Annotated[int, typer.Option(help="Group k-fold over runs for alpha.")] = 5,
    cache: Annotated[Path | None, typer.Option(help="Feature store folder (with --words).")] = None,
    mask: Annotated[
        Path | None,
        typer.Option(help="Brain mask NIfTI (its True voxels are the targets, C order): maps."),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Result file (.npz); the table goes next to it (.csv).")
    ] = Path("narrative.npz"),
    report: Annotated[
        Path | None, typer.Option("--report", help="Self-contained HTML report.")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Story / movie encoding: features with their timing → TRs → delays → ridge per voxel."""
    from ..core import load_timeseries
    from ..encode import narrative_encoding

    try:
        check_outputs(out, report)
        delay_list = _ints(delays, "--delays")
        resp = load_timeseries(responses)
        if isinstance(resp, dict):
            raise ValidationError(f"{str(responses)!r} holds layers of features, not responses.")
        feats = _features(features, words, model, layers, context, cache, quiet)
        tests = [s.strip() for s in test_runs.split(",") if s.strip()] if test_runs else None
        result = narrative_encoding(
            feats,
            resp,
            delays=delay_list,
            method=method,
            solver=solver,
            test_runs=tests,
            n_folds=n_folds,
            model=model or (features.stem if features else ""),
            quiet=quiet,
        )
        saved, csv, page = save_outputs(result, out, report)
        maps = []
        if mask is not None:
            import numpy as np

            from ..core._validation import require

            nib = require("nibabel", "neuro", "writing brain maps")
            from ..report import scores_to_nifti

            img = nib.load(str(mask))
            m = np.asarray(img.dataobj).astype(bool)
            best = result.arrays["best_layer"]
            score = result.arrays["scores"][best, np.arange(len(best))]
            for name, values in (
                ("score", score),
                ("best_layer", best),
                ("best_delay", result.arrays["best_delay"]),
            ):
                p = saved.with_name(f"{saved.stem}_{name}.nii.gz")
                scores_to_nifti(np.asarray(values, dtype=np.float32), m, img.affine, p)
                maps.append(p)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    t = result.table
    summary = t[t["aggregate"] == "mean"]
    for row in summary.itertuples():
        _out.print(
            f"{row.layer:24s} {row.split} {row.scoring} {row.value:8.4f}   best for "
            f"{int(row.n_best)} targets"
        )
    _out.print(f"result → {saved}; table → {csv}" + (f"; report → {page}" if page else ""))
    for p in maps:
        _out.print(f"map → {p}")

"""``neuroalign decode``: labels (or model embeddings) from brain responses; a table and a figure.

- ``--labels COL``: ``R.npz`` holds ``data`` (n_samples, n_targets[, n_times]) and an array ``COL``
  with one label per sample (optionally ``--groups RUNS``, an array of runs, and ``times``); 2-D
  data are decoded with :func:`neuroalign.decode.decode`, 3-D data over time with
  :func:`~neuroalign.decode.decode_over_time` (``--over-time``) or time-averaged otherwise.
- ``--features F.npz``: ``R.npz`` is a responses file (``stimulus_ids``, ``data``) and ``F.npz``
  an activations file; one layer's embeddings are decoded with
  :func:`~neuroalign.decode.decode_embeddings` and scored by identification.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..core.exceptions import NeuroalignError, ValidationError
from ._console import QuietOpt, ReportOpt
from ._console import fail as _fail
from ._console import out as _out


def _cv(text: str | None) -> Any:
    if text is None or text == "loro":
        return text
    try:
        return int(text)
    except ValueError:
        raise ValidationError(f"--cv {text!r}: give a number of folds or 'loro'.") from None


def _run(
    responses: Path,
    labels: str | None,
    features: Path | None,
    layer: str | None,
    groups: str | None,
    over_time: bool,
    cv: str | None,
    estimator: str | None,
    n_permutations: int,
    seed: int,
    quiet: bool = False,
) -> Any:

    from .. import decode as dec

    if (labels is None) == (features is None):
        raise ValidationError("give exactly one of --labels COL or --features F.npz.")
    if features is not None:
        from ..core import load_activations, load_responses

        acts = load_activations(features)
        name = layer or acts.layer_names[-1]
        return dec.decode_embeddings(  # rows joined by stimulus id (core.align)
            load_responses(responses),
            acts,
            cv=int(cv or 5),
            seed=seed,
            layer=name,
        )
    from ..core._io import open_npz

    with open_npz(responses, "--responses") as z:
        arrays = {k: z[k] for k in z.files}
    for key in ("data", labels, *([groups] if groups else [])):
        if key not in arrays:
            raise ValidationError(
                f"{str(responses)!r} has no array {key!r}; it holds {sorted(arrays)}."
            )
    X, y = arrays["data"], arrays[labels]  # type: ignore[index]
    g = arrays[groups] if groups else None
    if over_time:
        if X.ndim != 3:
            raise ValidationError(
                f"--over-time needs data (n, n_channels, n_times); got {X.shape}."
            )
        return dec.decode_over_time(
            X,
            y,
            times=arrays.get("times"),
            groups=g,
            cv=_cv(cv),
            estimator=estimator or "ridge",
            n_permutations=n_permutations,
            seed=seed,
            quiet=quiet,
        )
    if X.ndim == 3:
        X = X.mean(-1)
    return dec.decode(
        X,
        y,
        groups=g,
        cv=_cv(cv),
        estimator=estimator or "svc",
        n_permutations=n_permutations,
        seed=seed,
        quiet=quiet,
    )


def decode_command(
    responses: Annotated[Path, typer.Option("--responses", help="Brain data (.npz).")],
    labels: Annotated[
        str | None, typer.Option("--labels", help="Name of the label array in --responses.")
    ] = None,
    features: Annotated[
        Path | None, typer.Option("--features", help="Activations file (.npz) to decode.")
    ] = None,
    layer: Annotated[str | None, typer.Option(help="Layer of --features (default: last).")] = None,
    groups: Annotated[
        str | None, typer.Option("--groups", help="Name of the run/group array (run-aware CV).")
    ] = None,
    over_time: Annotated[
        bool, typer.Option("--over-time", help="Decode at every time sample (3-D data).")
    ] = False,
    cv: Annotated[
        str | None, typer.Option("--cv", help="Folds (int) or 'loro' (leave one group out).")
    ] = None,
    estimator: Annotated[
        str | None,
        typer.Option(
            help="svc (default) | logistic | ridge | lda; over time: ridge (default) | lda."
        ),
    ] = None,
    n_permutations: Annotated[int, typer.Option(help="Label permutations for p-values.")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path(
        "neuroalign-decode"
    ),
    report: ReportOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Decode labels or model embeddings from brain responses; writes decoding.npz (the
    Result: ``neuroalign report`` reads it), decoding.csv and decoding.png."""
    from ..core._io import atomic_write, check_output, check_output_dir

    try:
        check_output_dir(out_dir, "--out")
        if report is not None:
            check_output(report, "--report")
        if n_permutations < 0:
            raise ValidationError(
                f"--n-permutations {n_permutations}: give 0 (no p-values) or a count such as 1000."
            )
        result = _run(
            responses,
            labels,
            features,
            layer,
            groups,
            over_time,
            cv,
            estimator,
            n_permutations,
            seed,
            quiet,
        )
        out_dir.mkdir(exist_ok=True)
        result.save(out_dir / "decoding.npz")
        atomic_write(out_dir / "decoding.csv", lambda tmp: result.table.to_csv(tmp, index=False))
        if report is not None:
            from ..report import write_result_report

            write_result_report(result, report)
        figure = None
        try:
            from ..report import save_figure

            save_figure(result.plot(), out_dir / "decoding.png")
            figure = out_dir / "decoding.png"
        except ImportError:  # matplotlib not installed: the table is still written
            pass
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    t = result.table
    if result.kind == "decoding.over_time":
        first = t[t["scoring"] == t["scoring"].iloc[0]]
        best = first.loc[first["value"].idxmax()]
        _out.print(
            f"peak {best['scoring']} {best['value']:.3f} at t = {best['time']:.3f} "
            f"(chance {best['chance']:.3f})"
        )
    else:
        for row in t.itertuples():
            _out.print(f"{row.scoring:18s} {row.value:8.3f}   chance {row.chance:.3f}")
    _out.print(
        f"result → {out_dir / 'decoding.npz'}; table → {out_dir / 'decoding.csv'}"
        + (f"; figure → {figure}" if figure else "")
        + (f"; report → {report}" if report else "")
    )

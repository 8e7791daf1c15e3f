"""``neuroalign rsa`` and ``neuroalign cka``: compare a model's layers with brain data (or another
model's layers) by representational similarity or CKA."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ..core._io import check_output
from ..core.exceptions import NeuroalignError
from ._console import QuietOpt, ReportOpt, check_outputs, out, save_table_or_result
from ._console import fail as _fail


def _npz_or_fail(path: Path, option: str) -> None:
    """A one-line error unless ``path`` is an existing .npz archive (checked before any work)."""
    import zipfile

    if not path.is_file():
        _fail(NeuroalignError(f"{option} {path}: no such file."))
    if not zipfile.is_zipfile(path):
        _fail(
            NeuroalignError(
                f"{option} {path} is not an .npz archive; give a file written by neuroalign "
                "(extract --out, save_activations or save_responses)."
            )
        )


def rsa_command(
    features: Annotated[
        Path, typer.Option("--features", help="Activations .npz (one RDM per layer).")
    ],
    responses: Annotated[
        Path | None,
        typer.Option("--responses", help="Responses .npz (an RDM per ROI and subject)."),
    ] = None,
    rdms_file: Annotated[
        Path | None,
        typer.Option(
            "--rdms",
            help="Precomputed brain/behavioural RDMs instead of --responses: .mat (rsatoolbox "
            "structs or arrays), .npy/.npz (square or condensed), .h5 (rsatoolbox).",
        ),
    ] = None,
    stimulus_ids: Annotated[
        Path | None,
        typer.Option(
            "--stimulus-ids",
            help="Text file, one id per line: the stimuli of the --rdms rows (else the file's "
            "ids, else the order of --features).",
        ),
    ] = None,
    out_file: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Results table (.csv: one row per layer × ROI) or the Result (.npz, with its "
            ".csv beside it).",
        ),
    ] = Path("rsa.csv"),
    report: ReportOpt = None,
    method: Annotated[
        str,
        typer.Option(help="spearman, pearson, kendall_tau_a, rho_a, cosine, corr_cov, cosine_cov."),
    ] = "spearman",
    metric: Annotated[
        str, typer.Option(help="RDM metric: correlation, cosine, euclidean, sqeuclidean.")
    ] = "correlation",
    n_boot: Annotated[int, typer.Option(help="Bootstrap samples (>= 2).")] = 1000,
    over: Annotated[
        str,
        typer.Option(
            help="Resample auto (subjects when >= 3, else stimuli), stimuli, subjects or both."
        ),
    ] = "auto",
    select: Annotated[
        str | None,
        typer.Option(help="Cross-validated best layer: 'subjects' (leave one out) or 'stimuli'."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    quiet: QuietOpt = False,
) -> None:
    """RSA of every layer with every ROI: value, bootstrap CI and noise ceiling (subjects as the
    unit: sessions of a subject are averaged)."""
    from ..compare import brain_rdms, load_rdms, rsa_table
    from ..compare._inference import check_n_boot
    from ..core import load_activations, load_responses

    try:
        check_output(out_file, "--out", suffix=(".csv", ".npz"))
        check_outputs(None, report)
        check_n_boot(n_boot, "--n-boot")
        if (responses is None) == (rdms_file is None):
            raise NeuroalignError("give exactly one of --responses FILE or --rdms FILE.")
        _npz_or_fail(features, "--features")
        acts = load_activations(features)
        if responses is not None:
            _npz_or_fail(responses, "--responses")
            data: Any = brain_rdms(load_responses(responses), metric=metric)
        else:
            assert rdms_file is not None
            ids = None
            if stimulus_ids is not None:
                ids = [
                    line.strip() for line in stimulus_ids.read_text().splitlines() if line.strip()
                ]
            data = load_rdms(rdms_file, stimulus_ids=ids)
            if ids is None and not data.meta.get("ids_in_file"):
                if data.n_stimuli != acts.n_stimuli:
                    raise NeuroalignError(
                        f"{rdms_file} names no stimuli and has {data.n_stimuli} of them, but "
                        f"--features has {acts.n_stimuli}; give --stimulus-ids."
                    )
                out.print(
                    f"note: {escape(str(rdms_file))} names no stimuli; assuming the order of "
                    "--features (give --stimulus-ids to say otherwise)."
                )
                data = load_rdms(rdms_file, stimulus_ids=list(acts.stimulus_ids))
        result = rsa_table(  # warnings: one line each (cli._console.show_warnings)
            acts,
            data,
            method=method,
            metric=metric,
            n_boot=n_boot,
            over=over,
            seed=seed,
            select=select,
            quiet=quiet,
        )
        table = result.table
        written = save_table_or_result(result, out_file, report)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    for roi, sub in table.groupby("roi", sort=False):
        per_layer = sub[sub["statistic"] == "similarity"]
        top = per_layer.loc[per_layer["value"].idxmax()]
        line = (
            f"{roi}: best layer {top['layer']} ({method} {top['value']:.3f}, "
            f"95% CI [{top['ci_low']:.3f}, {top['ci_high']:.3f}], resampled {top['resampled']}, "
            f"{top['n']} subject(s))"
        )
        cv = sub[sub["statistic"] == "cv_selected"]
        if len(cv):
            row = cv.iloc[0]
            line += f"; cross-validated choice {row['layer']}: held-out {row['value']:.3f}"
        out.print(escape(line))
    out.print("wrote " + escape(", ".join(str(p) for p in written)))


def cka_command(
    features: Annotated[Path, typer.Option("--features", help="Activations .npz.")],
    other: Annotated[
        Path, typer.Option("--other", help="A second Activations .npz, or a Responses .npz.")
    ],
    out_file: Annotated[
        Path,
        typer.Option(
            "--out", help="Results table (.csv) or the Result (.npz, with its .csv beside it)."
        ),
    ] = Path("cka.csv"),
    report: ReportOpt = None,
    kernel: Annotated[str, typer.Option(help="linear or rbf.")] = "linear",
    biased: Annotated[
        bool, typer.Option("--biased", help="Use the biased HSIC estimator.")
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """CKA between every layer and every layer of another model (or every ROI of responses)."""
    import numpy as np

    from ..compare import cka_table
    from ..core import load_activations, load_responses

    try:
        check_output(out_file, "--out", suffix=(".csv", ".npz"))
        check_outputs(None, report)
    except NeuroalignError as exc:
        _fail(exc)
    _npz_or_fail(features, "--features")
    _npz_or_fail(other, "--other")
    try:
        with np.load(other, allow_pickle=False) as z:
            is_responses = "data" in z or "repetitions" in z
        b = load_responses(other) if is_responses else load_activations(other)
        result = cka_table(
            load_activations(features), b, kernel=kernel, debiased=not biased, quiet=quiet
        )
        table = result.table
        written = save_table_or_result(result, out_file, report)
    except (NeuroalignError, OSError, ValueError) as exc:
        _fail(exc)
        return
    shown = [
        c for c in ("layer", "layer_other", "roi", "value") if c in table and (table[c] != "").any()
    ]
    out.print(escape(table[shown].to_string(index=False)))
    out.print("wrote " + escape(", ".join(str(p) for p in written)))

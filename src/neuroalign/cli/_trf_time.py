"""``neuroalign trf-over-time``: time-resolved stimulus reconstruction (a backward TRF per window
of the recording or of lags; :func:`neuroalign.encode.reconstruct_over_time`).

The responses (``--responses R.npz``, the brain) and the stimulus (``--stimulus S.npz``, e.g. an
envelope) are time-series files on one clock, one run per epoch; or ``--speech-sample FOLDER``
reconstructs the envelope of naplib's speech sample from its 10 channels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..core.exceptions import NeuroalignError, ValidationError
from ._console import QuietOpt, check_outputs, save_outputs
from ._console import fail as _fail
from ._console import out as _out
from ._trf import _epochs_from_files


def trf_over_time_command(
    stimulus: Annotated[
        Path | None, typer.Option("--stimulus", help="Stimulus to reconstruct (.npz time series).")
    ] = None,
    responses: Annotated[
        Path | None, typer.Option("--responses", help="Brain responses (.npz time series).")
    ] = None,
    speech_sample: Annotated[
        Path | None,
        typer.Option("--speech-sample", help="Folder of naplib's demo_data.mat instead of files."),
    ] = None,
    tmin: Annotated[float, typer.Option(help="First lag (s); negative: brain after stimulus.")] = (
        -0.25
    ),
    tmax: Annotated[float, typer.Option(help="Last lag (s).")] = 0.0,
    over: Annotated[str, typer.Option(help="time (windows of the recording) | lag.")] = "time",
    window: Annotated[float, typer.Option(help="Window width (s).")] = 10.0,
    step: Annotated[float | None, typer.Option(help="Window step (s); default the width.")] = None,
    alpha: Annotated[float, typer.Option(help="Ridge α.")] = 1000.0,
    sfreq: Annotated[
        float | None, typer.Option(help="Sampling rate (Hz); default from the files' times.")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Result file (.npz); the table goes next to it (.csv).")
    ] = Path("trf_over_time.npz"),
    report: Annotated[
        Path | None, typer.Option("--report", help="Self-contained HTML report.")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Stimulus reconstruction r per window of the recording (or of lags), leave-one-run-out."""
    import numpy as np

    from ..encode import reconstruct_over_time

    try:
        check_outputs(out, report)
        if (speech_sample is None) == (stimulus is None or responses is None):
            raise ValidationError(
                "give either --stimulus S.npz and --responses R.npz, or --speech-sample FOLDER."
            )
        if speech_sample is not None:
            from ..data import load_speech_sample

            sample = load_speech_sample(speech_sample)
            stim, brain, rate, label = (
                sample.envelope(),
                sample.epochs("responses"),
                100.0,
                "envelope",
            )
        else:
            stim, brain, _ = _epochs_from_files(stimulus, responses)  # type: ignore[arg-type]
            from ..core import load_timeseries

            ts = load_timeseries(stimulus)
            rate = 1.0 / float(np.median(np.diff(ts.run_times(ts.run_ids[0]))))
            label = stimulus.stem  # type: ignore[union-attr]
        result = reconstruct_over_time(
            brain,
            stim,
            float(sfreq) if sfreq is not None else rate,
            tmin=tmin,
            tmax=tmax,
            alpha=alpha,
            over=over,
            window=window,
            step=step,
            layer=label,
            quiet=quiet,
        )
        saved, csv, page = save_outputs(result, out, report)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    what = "lag" if over == "lag" else "time"
    for row in result.table.itertuples():
        _out.print(f"{what} {row.time:8.3f} s  {row.target:8s} r = {row.value:7.4f} ± {row.se:.4f}")
    _out.print(f"result → {saved}; table → {csv}" + (f"; report → {page}" if page else ""))

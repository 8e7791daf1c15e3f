"""``neuroalign trf``: temporal response functions with leave-one-run-out scores per target.

The stimulus features (``--stimulus S.npz``) and the responses (``--responses R.npz``) are
time-series files (``runs``, ``times``, ``data``; :func:`neuroalign.core.save_timeseries`) on the
same clock; each run is an epoch (trial). Or ``--speech-sample FOLDER`` uses naplib's speech
sample (:func:`neuroalign.data.load_speech_sample`) with ``--features spectrogram | envelope``.
``--direction backward`` reconstructs the stimulus from the responses (use negative lags).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..core.exceptions import NeuroalignError, StimulusMismatchError, ValidationError
from ._console import QuietOpt, check_outputs, save_outputs
from ._console import fail as _fail
from ._console import out as _out


def _epochs_from_files(stimulus: Path, responses: Path) -> tuple[list[Any], list[Any], list[str]]:
    import numpy as np

    from ..core import load_timeseries

    stim, resp = load_timeseries(stimulus), load_timeseries(responses)
    for name, ts in (("--stimulus", stim), ("--responses", resp)):
        if isinstance(ts, dict):
            raise ValidationError(f"{name} holds several layers; give one time series ('data').")
    if stim.run_ids != resp.run_ids:
        raise StimulusMismatchError(
            f"--stimulus runs {list(stim.run_ids)} differ from --responses runs "
            f"{list(resp.run_ids)}; both files need the same runs in the same order."
        )
    for r in stim.run_ids:
        if not np.allclose(stim.run_times(r), resp.run_times(r)):
            raise StimulusMismatchError(
                f"run {r!r}: the stimulus and responses are on different clocks; resample the "
                "stimulus features to the response times first (neuroalign.encode.resample)."
            )
    X = [np.asarray(stim.run_data(r)) for r in stim.run_ids]
    y = [np.asarray(resp.run_data(r)) for r in resp.run_ids]
    names = (
        resp.targets.iloc[:, 0].astype(str).tolist()
        if resp.targets is not None and resp.targets.shape[1]
        else [f"ch{i}" for i in range(y[0].shape[1])]
    )
    return X, y, names


def trf_command(
    tmin: Annotated[float, typer.Option(help="First lag (s); negative for backward models.")],
    tmax: Annotated[float, typer.Option(help="Last lag (s).")],
    stimulus: Annotated[
        Path | None, typer.Option("--stimulus", help="Stimulus features (.npz time series).")
    ] = None,
    responses: Annotated[
        Path | None, typer.Option("--responses", help="Responses (.npz time series).")
    ] = None,
    speech_sample: Annotated[
        Path | None,
        typer.Option("--speech-sample", help="Folder of naplib's demo_data.mat instead of files."),
    ] = None,
    features: Annotated[
        str, typer.Option(help="With --speech-sample: spectrogram | spectrogram32 | envelope.")
    ] = "spectrogram32",
    direction: Annotated[
        str, typer.Option(help="forward (stimulus → brain) | backward (brain → stimulus).")
    ] = "forward",
    sfreq: Annotated[
        float | None, typer.Option(help="Sampling rate (Hz); default from the files' times.")
    ] = None,
    alphas: Annotated[
        str, typer.Option(help="Comma-separated ridge α grid (chosen per target by CV).")
    ] = "0.1,10,1000,100000,10000000",
    out: Annotated[
        Path, typer.Option("--out", help="Result file (.npz); the table goes next to it (.csv).")
    ] = Path("trf.npz"),
    report: Annotated[
        Path | None, typer.Option("--report", help="Self-contained HTML report.")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Temporal response function (forward or backward) with leave-one-run-out r per target."""
    import numpy as np

    from ..encode import cross_validate_trf

    try:
        check_outputs(out, report)
        try:
            grid = [float(a) for a in alphas.split(",") if a.strip()]
        except ValueError:
            raise ValidationError(
                f"--alphas {alphas!r}: give numbers separated by commas."
            ) from None
        if direction not in ("forward", "backward"):
            raise ValidationError(f"--direction {direction!r}: choose forward or backward.")
        if (speech_sample is None) == (stimulus is None or responses is None):
            raise ValidationError(
                "give either --stimulus S.npz and --responses R.npz, or --speech-sample FOLDER."
            )
        if speech_sample is not None:
            from ..data import load_speech_sample

            sample = load_speech_sample(speech_sample)
            choices = ("spectrogram", "spectrogram32", "envelope")
            if features not in choices:
                raise ValidationError(f"--features {features!r}: choose one of {list(choices)}.")
            if features == "envelope":
                X = sample.envelope()
            else:
                X = sample.epochs("spectrogram")
                if features == "spectrogram32":
                    X = [e.reshape(len(e), 32, -1).mean(-1) for e in X]
            y = sample.epochs("responses")
            names = [f"ch{i}" for i in range(y[0].shape[1])]
            rate, label = sample.rate, features
        else:
            X, y, names = _epochs_from_files(stimulus, responses)  # type: ignore[arg-type]
            from ..core import load_timeseries

            t = load_timeseries(stimulus).run_times(load_timeseries(stimulus).run_ids[0])
            rate = 1.0 / float(np.median(np.diff(t)))
            label = stimulus.stem  # type: ignore[union-attr]
        rate = float(sfreq) if sfreq is not None else rate
        if direction == "backward":
            X, y = y, X
            names = [f"{label}[{i}]" for i in range(np.shape(y[0])[1])]
        result = cross_validate_trf(
            X,
            y,
            tmin,
            tmax,
            rate,
            grid,
            layer=label,
            target_names=names,
            direction=direction,
            quiet=quiet,
        )
        saved, csv, page = save_outputs(result, out, report)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    t = result.table
    for row in t[t["aggregate"] == "none"].itertuples():
        _out.print(f"{row.target:16s} r = {row.value:7.4f} ± {row.se:.4f}")
    mean = t[t["aggregate"] == "mean"]["value"].iloc[0]
    _out.print(f"mean held-out r over {len(names)} targets: {mean:.4f}")
    _out.print(f"result → {saved}; table → {csv}" + (f"; report → {page}" if page else ""))

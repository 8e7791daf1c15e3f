"""The ``neuroalign`` command line: each command parses, calls one library function, prints.

Library code raises; only this module turns a :class:`NeuroalignError` into a one-line message and
exit code 1 (2 for usage errors, which typer handles).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ..core._io import check_output, check_output_dir
from ..core.exceptions import NeuroalignError, ValidationError
from ._analyses import register as register_analyses
from ._bench import register as register_bench
from ._compare import cka_command, rsa_command
from ._console import (
    ChannelsLastOpt,
    QuietOpt,
    ReportOpt,
    check_outputs,
    err,
    out,
    save_table_or_result,
    show_warnings,
)
from ._console import fail as _fail
from ._data import data_app
from ._decode import decode_command
from ._decoders import register as register_decoders
from ._explain import explain_app
from ._narrative import narrative_command
from ._trf import trf_command
from ._trf_time import trf_over_time_command

app = typer.Typer(
    name="neuroalign",
    help="Put artificial neural networks and brains side by side.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _every_command(ctx: typer.Context) -> None:
    """Put artificial neural networks and brains side by side."""
    ctx.with_resource(show_warnings())  # each warning one line, the same for every command


app.add_typer(data_app)  # neuroalign data list | fetch | info
app.add_typer(explain_app)  # neuroalign explain fit | top | concepts
register_bench(app)  # neuroalign bench list | run | leaderboard; neuroalign report
app.command(name="decode")(decode_command)  # neuroalign decode (cli/_decode.py)
app.command(name="narrative")(narrative_command)  # neuroalign narrative (cli/_narrative.py)
app.command(name="trf")(trf_command)  # neuroalign trf (cli/_trf.py)
app.command(name="trf-over-time")(trf_over_time_command)  # cli/_trf_time.py
register_analyses(app)  # neuroalign readouts | units … | generalize | identify (cli/_analyses.py)
register_decoders(app)  # neuroalign decode-contrastive | decode-shared (cli/_decoders.py)
app.command(name="rsa")(rsa_command)  # neuroalign rsa (cli/_compare.py)
app.command(name="cka")(cka_command)  # neuroalign cka (cli/_compare.py)


def _write_table(table: Any, path: Path) -> None:
    """Write a DataFrame as CSV atomically (temporary file, then rename)."""
    from ..core._io import atomic_write

    atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))


@app.command()
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Output folder for the report, figures and table.")
    ] = Path("neuroalign-demo"),
    model: Annotated[
        str, typer.Option("--model", help="Model id '<source>:<name>', e.g. torchvision:resnet50.")
    ] = ("efficientnet_lite:lite0"),
    n_synthetic: Annotated[int, typer.Option(help="Synthetic images for the encoding part.")] = 600,
    n_boot: Annotated[int, typer.Option(help="Bootstrap samples for RSA intervals.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    quiet: QuietOpt = False,
) -> None:
    """Run the built-in demo: RSA of a pretrained model with human/monkey IT (92 images), and
    voxelwise encoding of simulated ROIs with known true layers. Writes report.html."""
    from ..demo import run_demo

    try:
        check_output_dir(out_dir, "--out")
        if not quiet:
            err.print(f"neuroalign demo: model {model}, output {out_dir}/")
        res = run_demo(
            out_dir, model=model, n_synthetic=n_synthetic, n_boot=n_boot, seed=seed, quiet=quiet
        )
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    t = res.table
    sel = t[(t["roi"] == "human IT") & (t["statistic"] == "cv_selected")].iloc[0]
    out.print(
        f"human IT: best layer {sel['layer']} chosen on held-out subjects (held-out Spearman "
        f"{sel['value']:.3f}, 95% CI [{sel['ci_low']:.3f}, {sel['ci_high']:.3f}], ceiling "
        f"[{sel['ceiling_low']:.3f}, {sel['ceiling_high']:.3f}])"
    )
    for roi, true in res.true_layers.items():
        mark = "ok" if res.best_layers[roi] == true else "MISMATCH"
        out.print(
            f"synthetic ROI {roi}: recovered {res.best_layers[roi]} (true {true}) {mark}; ceiling "
            f"estimated {res.ceiling_estimated[roi]:.3f} vs true {res.ceiling_true[roi]:.3f}"
        )
    out.print(f"report: {res.files['report']}")


@app.command()
def info(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Versions of neuroalign and its dependencies, and the compute devices."""
    from ..core import system_info

    data = system_info()
    if as_json:
        out.print_json(json.dumps(data))
        return
    out.print(
        f"neuroalign {data['packages']['neuroalign']}  (Python {data['python']}, {data['platform']})"
    )
    out.print(f"CPU: {data['cpu_count']} logical cores; devices: {data['devices']}")
    for name, ver in data["packages"].items():
        if name != "neuroalign":
            out.print(f"  {name:28s} {ver}")


def _model_options(arch: str | None, trust_pickle: bool) -> dict[str, Any]:
    """``file:`` options from the command line (other sources reject them by name)."""
    return {
        **({"arch": arch} if arch else {}),
        **({"trust_pickle": True} if trust_pickle else {}),
    }


_ARCH = Annotated[
    str | None,
    typer.Option(
        "--arch",
        help="Architecture of a file:<checkpoint> state dict: a name in ARCHITECTURES "
        "(cifar_resnet20, cifar_resnet56) or a model id such as torchvision:resnet18.",
    ),
]
_TRUST = Annotated[
    bool,
    typer.Option(
        "--trust-pickle",
        help="Allow a file:<checkpoint> that holds a whole pickled module (runs code from it).",
    ),
]


@app.command(name="extract")
def extract_command(
    model: Annotated[str, typer.Option("--model", help="Model id '<source>:<name>'.")],
    stimuli: Annotated[
        Path,
        typer.Option(
            "--stimuli", help="A directory of images, a .txt (one text per line) or a .csv."
        ),
    ],
    out_file: Annotated[
        Path,
        typer.Option(
            "--out", help="Activations .npz, compressed (the input of rsa / encode / cka)."
        ),
    ] = Path("features.npz"),
    layers: Annotated[
        str,
        typer.Option(help="'blocks', 'all', or comma-separated module names (see `layers`)."),
    ] = "blocks",
    reduce: Annotated[
        str | None,
        typer.Option(
            help="flatten, avgpool, cls_token, last_token, srp, ipca (default: flatten / "
            "avgpool for text)."
        ),
    ] = None,
    n_components: Annotated[
        int | None, typer.Option(help="Output size of --reduce srp / ipca.")
    ] = None,
    activation: Annotated[
        str | None,
        typer.Option(help="Apply relu, relu6, gelu, silu … to each layer's output first."),
    ] = None,
    layout: Annotated[
        str | None,
        typer.Option(
            help="Axes of the layers' outputs for --reduce avgpool / cls_token / last_token "
            "(NCHW, NHWC, NCT, NTC, NLD, NCTHW, NTHWC; default: read from each module)."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Stimuli per forward pass.")] = 32,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
    cache: Annotated[
        Path | None, typer.Option(help="Feature store directory (resumable, content-addressed).")
    ] = None,
    memory_budget: Annotated[str, typer.Option(help="Features held in memory at once.")] = "2GB",
    verify_cache: Annotated[
        bool,
        typer.Option(
            "--verify-cache", help="Re-hash cached files (default: trust size and mtime)."
        ),
    ] = False,
    amp: Annotated[str | None, typer.Option(help="bf16 or fp16 autocast.")] = None,
    channels_last: ChannelsLastOpt = False,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Leave out unreadable images (reported).")
    ] = False,
    random_weights: Annotated[
        bool, typer.Option("--random-weights", help="Build with random weights (offline).")
    ] = False,
    arch: _ARCH = None,
    trust_pickle: _TRUST = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Activations of a model's layers for a set of stimuli, every layer from one pass."""
    from ..core import StimulusSet, save_activations
    from ..extract import extract, load_model

    options = {
        **({"n_components": n_components} if n_components else {}),
        **({"activation": activation} if activation else {}),
        **({"layout": layout} if layout else {}),
    }
    try:
        check_output(out_file, "--out")
        acts = extract(
            load_model(model, pretrained=not random_weights, **_model_options(arch, trust_pickle)),
            StimulusSet.from_path(stimuli),
            layers=layers
            if layers in ("blocks", "all", "modules")
            else [s.strip() for s in layers.split(",")],
            reduce=reduce,
            reduce_options=options or None,
            batch_size=batch_size,
            device=device,
            cache=cache,
            memory_budget=memory_budget,
            amp=amp,
            channels_last=channels_last,
            on_error="skip" if skip_bad else "raise",
            verify_cache=verify_cache,
            quiet=quiet,
        )
        save_activations(acts, out_file, compress=True)
    except (NeuroalignError, OSError) as exc:  # disk full, permissions: one line too
        _fail(exc)
        return
    for layer in acts.layer_names:
        out.print(f"{layer:40s} {acts[layer].shape[1]:>9d} features", highlight=False)
    out.print(f"{acts.n_stimuli} stimuli × {len(acts)} layers → {out_file}", highlight=False)


@app.command()
def layers(
    model: Annotated[str, typer.Option("--model", help="Model id '<source>:<name>'.")],
    preset: Annotated[
        str,
        typer.Option(
            help="'modules' (every name extract accepts), 'all' (modules that compute "
            "something themselves) or 'blocks'."
        ),
    ] = "modules",
    random_weights: Annotated[
        bool, typer.Option("--random-weights", help="Build with random weights (offline).")
    ] = False,
    arch: _ARCH = None,
    trust_pickle: _TRUST = False,
) -> None:
    """List a model's modules (native names) with their output shapes and how often each runs
    per pass; a module shared by several places, or never run, says how to reach it."""
    from ..extract import list_layers, load_model

    try:
        if preset not in ("modules", "all", "blocks"):
            raise ValidationError(f"--preset must be modules, all or blocks; got {preset!r}.")
        loaded = load_model(
            model, pretrained=not random_weights, **_model_options(arch, trust_pickle)
        )
        import numpy as np

        if loaded.preprocess is not None:
            sample: Any = loaded.preprocess(np.zeros((224, 224, 3), np.uint8))[None]
        else:
            sample = dict(loaded.tokenizer(["a sample sentence"], return_tensors="pt"))
        table = list_layers(loaded, sample=sample, layers=preset)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    import pandas as pd

    with pd.option_context("display.max_colwidth", None, "display.width", 10_000):
        out.print(escape(table.to_string(index=False)), highlight=False)
    odd = table[table["runs"] != 1] if "runs" in table else table.iloc[:0]
    if len(odd):
        out.print(
            f"{len(odd)} module(s) cannot be captured by name (shared or never run): see 'note'.",
            highlight=False,
        )


def _parse_alphas(text: str) -> list[float]:
    """``"1e-1:1e7:17"`` (log-spaced start:stop:count) or ``"0.1,1,10"``."""
    import numpy as np

    try:
        if ":" in text:
            start, stop, num = text.split(":")
            return list(np.geomspace(float(start), float(stop), int(num)))
        return [float(a) for a in text.split(",")]
    except ValueError as exc:
        from ..core.exceptions import ValidationError

        raise ValidationError(
            f"--alphas {text!r}: use 'start:stop:count' or 'a,b,c' ({exc})"
        ) from exc


def _parse_cv(text: str) -> int | str:
    """``--cv``: an integer >= 2 (folds) or ``gcv``."""
    from ..core.exceptions import ValidationError

    value = text.strip().lower()
    if value == "gcv":
        return "gcv"
    try:
        folds = int(value)
    except ValueError:
        folds = None
    if folds is None or folds < 2:
        raise ValidationError(
            f"--cv {text!r}: use an integer >= 2 (number of folds, e.g. 5) or 'gcv'."
        )
    return folds


def _parse_shape(text: str) -> tuple[int, ...]:
    """``--feature-shape "16,7,7"`` → ``(16, 7, 7)``."""
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise ValidationError(
            f"--feature-shape {text!r}: use positive integers separated by commas, e.g. 16,7,7."
        )
    return shape


def _check_npz_kind(path: Path, option: str, kind: str) -> None:
    """Fail before any work when ``path`` is missing or holds the other kind of file."""
    import numpy as np

    from ..core.exceptions import ValidationError

    if not path.is_file():
        raise ValidationError(f"{option} {str(path)!r} does not exist.")
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.files)
    except Exception as exc:  # not an npz, truncated ...
        raise ValidationError(
            f"{option} {str(path)!r} is not a readable .npz file ({type(exc).__name__})."
        ) from None
    responses_like = "data" in keys or "repetitions" in keys
    other = "--responses" if option == "--features" else "--features"
    if (kind == "activations") == responses_like:
        what = "responses (data/repetitions)" if responses_like else "activations (layers)"
        raise ValidationError(
            f"{option} {str(path)!r} holds {what}, not {kind}; did you swap {option} and {other}?"
        )


@app.command()
def encode(
    features: Annotated[
        Path,
        typer.Option(
            "--features",
            help="Activations .npz (save_activations, or stimulus_ids + one array per layer).",
        ),
    ],
    responses: Annotated[
        Path,
        typer.Option(
            "--responses",
            help="Responses .npz (save_responses, or stimulus_ids + data/repetitions [+ roi]).",
        ),
    ],
    out_file: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Results: .csv (tidy table, one row per layer × ROI × quantity × mean/median, "
            "plus <name>_targets.csv) or .npz (the whole Result, Result.save).",
        ),
    ] = Path("encoding.csv"),
    cv: Annotated[str, typer.Option(help="Folds for alpha: an integer >= 2, or 'gcv'.")] = "5",
    alphas: Annotated[
        str, typer.Option(help="'start:stop:count' (log-spaced) or 'a,b,c'.")
    ] = "1e-1:1e7:17",
    test_size: Annotated[
        float, typer.Option(help="Fraction of stimuli held out for the test score.")
    ] = 0.2,
    standardize: Annotated[
        bool, typer.Option(help="z-score features with training statistics.")
    ] = True,
    device: Annotated[str, typer.Option(help="cpu, torch or cuda.")] = "cpu",
    seed: Annotated[int, typer.Option(help="Seed of the train/test split and the folds.")] = 0,
    readout: Annotated[
        str,
        typer.Option(
            help="Readout per layer (encode.READOUTS): ridge (--cv/--alphas/--standardize apply), "
            "factorized (spatial mask × feature weights) or attention (learned queries over tokens)."
        ),
    ] = "ridge",
    feature_shape: Annotated[
        str | None,
        typer.Option(
            help="C,H,W of the flattened feature maps (factorized: channels × height × width; "
            "attention: tokens as C,H,W maps or T,D)."
        ),
    ] = None,
    epochs: Annotated[
        int, typer.Option(help="Most training epochs of a factorized / attention readout.")
    ] = 50,
    report: ReportOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Encoding from every layer of saved features to saved responses (ridge by default, or a
    factorized / attention readout); best layer per ROI chosen on training data; test-set Pearson
    r (and ceiling-normalised r when repetitions exist)."""
    from ..core import load_activations, load_responses
    from ..data import compute_noise_ceiling
    from ..encode import READOUTS, sweep_layers, sweep_targets

    try:
        if readout not in READOUTS:
            raise ValidationError(
                f"--readout {readout!r} is not a readout; use one of {sorted(READOUTS)}."
            )
        cv_value = _parse_cv(cv)
        alpha_grid = _parse_alphas(alphas)
        check_output(out_file, "--out", suffix=(".csv", ".npz"))
        check_outputs(None, report)
        if readout == "ridge":
            encoder_params: dict[str, Any] = {
                "alphas": alpha_grid,
                "cv": cv_value,
                "standardize": standardize,
                "device": device,
            }
        else:
            if epochs < 1:
                raise ValidationError(f"--epochs {epochs}: use an integer >= 1.")
            # the readout is built here (not by name) so that its seed and quiet follow ours
            built = READOUTS[readout](
                max_epochs=epochs,
                device={"cpu": "cpu", "cuda": "cuda"}.get(device),
                seed=seed,
                quiet=True,
                **({"feature_shape": _parse_shape(feature_shape)} if feature_shape else {}),
            )
            encoder_params = {}
        as_npz = out_file.suffix.lower() == ".npz"
        targets_file = None if as_npz else out_file.with_name(out_file.stem + "_targets.csv")
        _check_npz_kind(features, "--features", "activations")
        _check_npz_kind(responses, "--responses", "responses")
        acts = load_activations(features)
        resp = load_responses(responses)
        ceiling = compute_noise_ceiling(resp) if resp.n_reps >= 2 else None
        res = sweep_layers(
            acts,
            resp,
            test_size=test_size,
            seed=seed,
            ceiling=ceiling,
            quiet=quiet,
            readout=readout if readout == "ridge" else built,
            **encoder_params,
        )
        written = save_table_or_result(res, out_file, report)
        if targets_file is not None:  # a table --out: the per-target scores beside it
            _write_table(sweep_targets(res), targets_file)
            written.append(targets_file)
    except (NeuroalignError, OSError) as exc:
        _fail(exc)
        return
    t = res.table
    for roi, layer in res.params["best_layers"].items():
        row = t[(t["roi"] == roi) & (t["layer"] == layer)]

        def pick(statistic: str, scoring: str, aggregate: str, row: Any = row) -> float:
            sel = row[
                (row["statistic"] == statistic)
                & (row["scoring"] == scoring)
                & (row["aggregate"] == aggregate)
            ]
            return float(sel["value"].iloc[0])

        out.print(
            f"{roi}: best layer {layer} (training CV R² {pick('cv_score', 'r2', 'mean'):.3f}; "
            f"test r mean {pick('score', 'pearson', 'mean'):.3f}, "
            f"median {pick('score', 'pearson', 'median'):.3f})",
            highlight=False,
            markup=False,
        )
    out.print("wrote " + ", ".join(str(p) for p in written), highlight=False, markup=False)


#: Commands whose finished work survives an interruption (content-addressed stores).
_RESUMABLE = {"bench": "finished cells are kept", "extract": "finished layers are kept"}


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. Ctrl-C anywhere: one line on stderr and exit code 130 (no
    traceback), saying that a re-run resumes where the command keeps finished work."""
    args = sys.argv[1:] if argv is None else list(argv)
    command = typer.main.get_command(app)

    def interrupted() -> None:
        kept = _RESUMABLE.get(args[0] if args else "")
        err.print("interrupted" + (f"; {kept}, a re-run resumes" if kept else ""), highlight=False)
        sys.exit(130)

    try:
        code = command.main(args=args, prog_name="neuroalign", standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):
        interrupted()
    except typer.TyperException as exc:  # usage errors: typer's own message, exit code 2
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        sys.exit(getattr(exc, "exit_code", 1))
    if code == 130:  # typer turns Ctrl-C inside a command into a silent exit code 130
        interrupted()
    sys.exit(code if isinstance(code, int) else 0)

"""``decode-contrastive`` (a CLIP-loss decoder, scored by identification) and ``decode-shared``
(one decoder shared across subjects through a shared response model, each subject in turn the
new one).

Both follow cli/_analyses.py: read the files, join model features to brain responses by
stimulus id (:func:`neuroalign.core.align`), fit on a seeded split of the stimuli, score the held-out
stimuli with :func:`neuroalign.decode.identification` (top-k, rank, pairwise, with chance
levels) and :func:`~neuroalign.cli._analyses.finish`: ``--out`` R.npz (+ R.csv), ``--report``
R.html.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..core.exceptions import NeuroalignError, ValidationError
from ._analyses import LayerOpt, OutOpt, _layer, finish
from ._console import QuietOpt, ReportOpt, check_outputs
from ._console import fail as _fail

__all__ = ["register"]

FeatOpt = Annotated[
    Path, typer.Option("--features", help="Activations .npz: the embeddings to decode.")
]
TestOpt = Annotated[float, typer.Option(help="Fraction of stimuli held out for scoring.")]
KOpt = Annotated[str, typer.Option(help="Comma-separated top-k.")]
SimOpt = Annotated[str, typer.Option(help="cosine | pearson | euclidean.")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the split and the fit.")]


def _ks(text: str) -> list[int]:
    try:
        ks = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        ks = []
    if not ks or min(ks) < 1:
        raise ValidationError(f"--k {text!r}: use positive integers separated by commas, e.g. 1,5.")
    return ks


def _split(ids: Any, test_size: float, seed: int) -> tuple[Any, Any]:
    """Row indices of a seeded split of ``ids`` into training and held-out stimuli."""
    import numpy as np

    from ..encode import train_test_ids

    train, test = train_test_ids(np.asarray(ids), test_size, seed)
    pos = {s: i for i, s in enumerate(ids)}
    return np.array([pos[s] for s in train]), np.array([pos[s] for s in test])


def contrastive_command(
    responses: Annotated[Path, typer.Option("--responses", help="Responses .npz (2-D).")],
    features: FeatOpt,
    layer: LayerOpt = None,
    brain_module: Annotated[str, typer.Option(help="linear | mlp | conv.")] = "linear",
    hidden: Annotated[int, typer.Option(help="Hidden width (mlp / conv).")] = 256,
    mse_weight: Annotated[float, typer.Option(help="Loss = (1 − w)·CLIP + w·MSE.")] = 0.0,
    epochs: Annotated[int, typer.Option(help="Most training epochs.")] = 200,
    batch_size: Annotated[int, typer.Option(help="Samples per batch (>= 2).")] = 128,
    lr: Annotated[float, typer.Option(help="Learning rate (AdamW).")] = 1e-3,
    test_size: TestOpt = 0.2,
    k: KOpt = "1,5",
    similarity: SimOpt = "cosine",
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
    seed: SeedOpt = 0,
    out: OutOpt = None,
    report: ReportOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Decode embeddings from brain responses with a contrastive (CLIP-loss) decoder
    (decode.ContrastiveDecoder), then identify each held-out stimulus among the held-out
    candidates (decode.identification)."""
    import numpy as np

    from ..core import align, load_activations, load_responses
    from ..decode import ContrastiveDecoder, identification

    try:
        check_outputs(out, report)
        ks = _ks(k)
        acts, resp = align(load_activations(features), load_responses(responses))
        name = _layer(acts, layer)
        E = np.asarray(acts[name], dtype=np.float32)
        X = np.asarray(resp.data, dtype=np.float32)
        tr, te = _split(list(resp.stimulus_ids), test_size, seed)
        decoder = ContrastiveDecoder(
            brain_module=brain_module,
            hidden=hidden,
            mse_weight=mse_weight,
            lr=lr,
            batch_size=batch_size,
            max_epochs=epochs,
            seed=seed,
            device=device,
        ).fit(X[tr], E[tr])
        ids = np.asarray(resp.stimulus_ids)[te]
        result = identification(
            decoder.predict(X[te]),
            E[te],
            query_ids=list(ids),
            candidate_ids=list(ids),
            k=ks,
            similarity=similarity,
            model=acts.model,
            layer=name,
            quiet=quiet,
        )
        result = _with_params(
            result,
            decoder="ContrastiveDecoder",
            brain_module=brain_module,
            best_epoch=int(decoder.best_epoch_),
            n_train=len(tr),
            n_test=len(te),
            seed=seed,
        )
        finish(result, out, report, ["scoring", "value", "chance", "n"])
    except (NeuroalignError, OSError) as exc:
        _fail(exc)


def shared_command(
    responses: Annotated[
        list[Path],
        typer.Option(
            "--responses", help="Responses .npz of one subject; repeat for each (>= 2 subjects)."
        ),
    ],
    features: FeatOpt,
    layer: LayerOpt = None,
    components: Annotated[int, typer.Option(help="Dimension of the shared space (SRM).")] = 10,
    n_iter: Annotated[int, typer.Option(help="SRM iterations.")] = 20,
    test_size: TestOpt = 0.2,
    k: KOpt = "1,5",
    similarity: SimOpt = "cosine",
    seed: SeedOpt = 0,
    out: OutOpt = None,
    report: ReportOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Cross-subject decoding (decode.SharedDecoder, a shared response model): each subject in
    turn is the new one — the decoder is fitted on the other subjects' training stimuli, the new
    subject's adapter on its own training stimuli only — then its held-out stimuli are identified
    among the held-out candidates (decode.identification); one row set per subject."""
    import numpy as np

    from ..core import align, concat_results, load_activations, load_responses
    from ..decode import SharedDecoder, identification

    try:
        check_outputs(out, report)
        ks = _ks(k)
        if len(responses) < 2:
            raise ValidationError(
                f"--responses was given {len(responses)} time(s); give one file per subject, "
                "at least 2 (--responses s1.npz --responses s2.npz)."
            )
        acts = load_activations(features)
        subjects = [load_responses(p) for p in responses]
        for subj in subjects:  # the stimuli every subject saw, in the features' order
            acts, _ = align(acts, subj, how="inner")
        data = [np.asarray(align(acts, s)[1].data, dtype=np.float64) for s in subjects]
        names = _subject_names(responses)
        name = _layer(acts, layer)
        E = np.asarray(acts[name], dtype=np.float64)
        ids = np.asarray(acts.stimulus_ids)
        tr, te = _split(list(ids), test_size, seed)
        parts = []
        for i, new in enumerate(names):
            others = [j for j in range(len(data)) if j != i]
            decoder = SharedDecoder(components, n_iter=n_iter, seed=seed).fit(
                [data[j][tr] for j in others], E[tr], subjects=[names[j] for j in others]
            )
            decoder.add_subject(new, data[i][tr], np.arange(len(tr)))
            parts.append(
                identification(
                    decoder.predict(data[i][te], new),
                    E[te],
                    query_ids=list(ids[te]),
                    candidate_ids=list(ids[te]),
                    k=ks,
                    similarity=similarity,
                    model=acts.model,
                    layer=name,
                    subject=new,
                    quiet=True,
                )
            )
        result = concat_results(parts, kind="retrieval.identification")
        result = _with_params(
            result,
            decoder="SharedDecoder",
            n_components=components,
            subjects=names,
            n_train=len(tr),
            n_test=len(te),
            seed=seed,
        )
        finish(result, out, report, ["subject", "scoring", "value", "chance", "n"])
    except (NeuroalignError, OSError) as exc:
        _fail(exc)


def _with_params(result: Any, **params: Any) -> Any:
    """``result`` with the decoder's settings added to its params (a Result's are read-only)."""
    from ..core import Result

    return Result(result.table, result.kind, dict(result.arrays), {**result.params, **params})


def _subject_names(paths: list[Path]) -> list[str]:
    """Each file's stem (sub-01.npz → sub-01); the position added where stems repeat."""
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    return [f"{s}#{i + 1}" for i, s in enumerate(stems)]


def register(app: typer.Typer) -> None:
    """Add ``decode-contrastive`` and ``decode-shared`` to the main app."""
    app.command("decode-contrastive")(contrastive_command)
    app.command("decode-shared")(shared_command)

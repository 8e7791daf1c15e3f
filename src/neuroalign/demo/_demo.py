"""The built-in demo: a real RSA analysis and a synthetic encoding analysis with known answers.

Real part: a pretrained image model's activations for the 92-object images (Kriegeskorte et al.
2008), one RDM per layer, compared with 4 human-IT subjects' RDMs (Spearman ρ, bootstrap over
subjects, lower/upper noise ceiling, best layer chosen on held-out subjects) and with the monkey-IT
RDM (bootstrap over stimuli).

Synthetic part: images with known latent factors go through the same model; three simulated ROIs
are driven by three known layers plus noise with repetitions; voxelwise ridge from every layer
recovers each ROI's best layer on training data, which is compared with the truth, and the
split-half noise ceiling is compared with the true one.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..compare import bootstrap_rsa, compute_rdms, select_layer
from ..core import RDMs, Result, concat_results, system_info
from ..core._io import atomic_write
from ..core.exceptions import NeuroalignWarning
from ..data import compute_noise_ceiling, load_kriegeskorte92, make_responses, make_shape_images
from ..encode import sweep_layers, sweep_table
from ..extract import LoadedModel, extract, load_model
from ..report import (
    ReportSection,
    html_format,
    plot_encoding_profile,
    plot_layer_profile,
    plot_rdms,
    save_figure,
    write_report,
)

__all__ = ["DEFAULT_MODEL", "DemoResult", "pick_source_layers", "run_demo"]

DEFAULT_MODEL = "efficientnet_lite:lite0"


@dataclass(frozen=True, eq=False)
class DemoResult:
    """What :func:`run_demo` computed and wrote.

    Attributes
    ----------
    table : DataFrame
        The tidy results table (also ``results.csv``) in the one result schema
        (``neuroalign.core.COLUMNS``): RSA rows (``analysis="rsa"``, ``roi`` human IT / monkey IT,
        ``statistic`` similarity per layer and ``cv_selected`` for the layer chosen on held-out
        subjects) and encoding rows (``analysis="encoding"``, one per layer × roi × statistic ×
        scoring × aggregate), with the simulation's ``true_layer`` / ``ceiling_true`` as extras.
    best_layers, true_layers : dict
        ROI → layer recovered by the encoding sweep, and ROI → the layer that generated it.
    ceiling_estimated, ceiling_true : dict
        ROI → mean estimated (split-half) and true noise ceiling.
    files : dict
        Names → paths of the written report, figures and tables.
    """

    table: pd.DataFrame
    best_layers: dict[str, str]
    true_layers: dict[str, str]
    ceiling_estimated: dict[str, float]
    ceiling_true: dict[str, float]
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def all_layers_recovered(self) -> bool:
        return all(self.best_layers.get(r) == t for r, t in self.true_layers.items())


def pick_source_layers(layers: list[str]) -> dict[str, str]:
    """Three distinct source layers for the simulated ROIs: early, middle and late.

    The last two layers (usually pooling and the classifier) are never sources: the classifier is
    a linear map of the pooled features, so a signal generated from one is fitted almost as well
    by the other, and "the true layer" would not be identifiable.
    """
    if len(layers) < 5:
        raise ValueError(f"the demo needs a model with >= 5 layers; got {layers}.")
    early, late = layers[1], layers[-3]
    mid = layers[(1 + len(layers) - 3) // 2]
    return {"early": early, "mid": mid, "late": late}


def _subject_rdms(human_it: RDMs) -> RDMs:
    """Average each subject's sessions: one RDM per subject."""
    assert human_it.descriptors is not None
    subjects = list(pd.unique(human_it.descriptors["subject"]))
    vecs = np.stack(
        [
            human_it.dissimilarities[(human_it.descriptors["subject"] == s).to_numpy()].mean(0)
            for s in subjects
        ]
    )
    return RDMs(vecs, human_it.stimulus_ids, pd.DataFrame({"subject": subjects}), human_it.metric)


def _real_part(
    loaded: LoadedModel, n_boot: int, seed: int, quiet: bool
) -> tuple[Result, dict[str, Any]]:
    k92 = load_kriegeskorte92()
    with warnings.catch_warnings():
        # every unit enters the RDM on purpose (~140 MB for 92 images): not the size warning's case
        warnings.filterwarnings(
            "ignore", message="reduce='flatten' gives", category=NeuroalignWarning
        )
        acts = extract(
            loaded,
            k92.stimuli,
            layers="blocks",
            reduce="flatten",
            channels_last=True,  # NHWC convolutions: the demo runs 1.5x faster on a CPU
            quiet=quiet,
        )
    layer_rdms = compute_rdms(acts, metric="correlation")
    human = _subject_rdms(k92.human_it)
    # human IT: 4 subjects (sessions averaged by bootstrap_rsa) -> resampled over subjects;
    # monkey IT: one animal -> over stimuli (explicitly: intervals describe this animal only)
    rsa_h = bootstrap_rsa(
        layer_rdms, k92.human_it, method="spearman", n_boot=n_boot, seed=seed, quiet=quiet
    )
    rsa_m = bootstrap_rsa(
        layer_rdms,
        k92.monkey_it,
        method="spearman",
        n_boot=n_boot,
        seed=seed,
        over="stimuli",
        quiet=quiet,
    )
    # the best layer is chosen on held-out subjects, not as the argmax of the values shown
    selection = select_layer(layer_rdms, k92.human_it, by="subjects", seed=seed)
    selected = selection.table.iloc[0]
    # one schema: the two RSA results and the held-out selection stack without renaming
    real = concat_results(
        [
            Result(rsa_h.table.assign(roi="human IT"), rsa_h.kind),
            Result(rsa_m.table.assign(roi="monkey IT"), rsa_m.kind),
            Result(selection.table.assign(roi="human IT"), selection.kind),
        ],
        kind="demo.rsa",
    )
    sq = layer_rdms.square()
    names = list(acts.layer_names)
    picks = [0, len(names) // 2, len(names) - 2]
    panel = {
        "human IT (4 subjects)": human.mean().square()[0],
        "monkey IT": k92.monkey_it.square()[0],
    }
    panel.update({f"{loaded.model_id.split(':')[-1]} {names[i]}": sq[i] for i in picks})
    return real, {"rdm_panel": panel, "k92": k92, "selected": selected}


def _synthetic_part(
    loaded: LoadedModel, n_stimuli: int, seed: int, quiet: bool
) -> tuple[Result, dict[str, Any]]:
    shapes = make_shape_images(n_stimuli, image_size=96, seed=seed)
    acts = extract(
        loaded,
        shapes,
        layers="blocks",
        reduce="srp",
        reduce_options={"n_components": 1024, "seed": seed},
        channels_last=True,
        quiet=quiet,
    )
    sources = pick_source_layers(list(acts.layer_names))
    responses, truth = make_responses(
        acts,
        sources,
        n_targets_per_roi=40,
        n_reps=4,
        noise_sd=(1.0, 2.0),
        n_components=8,
        seed=seed,
    )
    ceiling = compute_noise_ceiling(responses, seed=seed)
    sweep = sweep_layers(
        acts,
        responses,
        test_size=0.2,
        seed=seed,
        ceiling=ceiling,
        quiet=quiet,
        alphas=np.logspace(-1, 7, 17),
        standardize=True,
    )
    assert responses.targets is not None
    rois = responses.targets["roi"].astype(str).to_numpy()
    est = {r: float(ceiling[rois == r].mean()) for r in sources}
    true = truth.ceiling_by_roi(responses.targets)
    # the known answers ride along as extra columns of the same schema
    table = sweep.table.assign(
        true_layer=sweep.table["roi"].map(sources).fillna(""),
        ceiling_true=sweep.table["roi"].map(true),
    )
    return Result(table, sweep.kind, params=sweep.params), {
        "sweep": sweep,
        "sources": sources,
        "ceiling_est": est,
        "ceiling_true": true,
        "n_train": len(sweep.arrays["train_ids"]),
        "n_test": len(sweep.arrays["test_ids"]),
    }


def run_demo(
    out: str | Path = "neuroalign-demo",
    model: str | LoadedModel = DEFAULT_MODEL,
    n_synthetic: int = 600,
    n_boot: int = 1000,
    seed: int = 0,
    quiet: bool = False,
) -> DemoResult:
    """Run the demo and write ``results.csv``, figures and ``report.html`` into ``out``.

    Parameters
    ----------
    out : path
        Output folder (created).
    model : str or LoadedModel
        Model id ``"<source>:<name>"``; the default ships its ImageNet weights offline.
    n_synthetic : int
        Number of synthetic images for the encoding part.
    n_boot : int
        Bootstrap samples for the RSA confidence intervals.
    seed : int
    quiet : bool
        No progress display.

    Returns
    -------
    DemoResult
    """
    started = _dt.datetime.now(_dt.UTC)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    real, real_extra = _real_part(loaded, n_boot, seed, quiet)
    synth, syn = _synthetic_part(loaded, n_synthetic, seed, quiet)
    combined = concat_results([real, synth], kind="demo")
    table = combined.table
    files: dict[str, Path] = {}
    files["table"] = out / "results.csv"
    _atomic_csv(table, files["table"])
    try:
        import pyarrow  # noqa: F401

        files["parquet"] = atomic_write(
            out / "results.parquet", lambda tmp: table.to_parquet(tmp, index=False)
        )
    except ImportError:
        pass
    sweep = syn["sweep"]
    per_layer = real.table[real.table["statistic"] == "similarity"]
    fig = plot_layer_profile(
        per_layer, group="roi", title=f"{loaded.model_id}: RSA with IT (92 images)"
    )
    save_figure(fig, files.setdefault("rsa_profile", out / "rsa_layer_profile.png"))
    fig = plot_rdms(
        real_extra["rdm_panel"],
        ncols=5,
        labels=real_extra["k92"].stimuli.metadata["category"].tolist(),  # boundaries + names
    )
    save_figure(fig, files.setdefault("rdm_panel", out / "rdm_panel.png"))
    fig = plot_encoding_profile(
        sweep_table(sweep), truth=syn["sources"], title="Synthetic ROIs: encoding score per layer"
    )
    save_figure(fig, files.setdefault("encoding_profile", out / "encoding_layer_profile.png"))

    best, truth_layers = sweep.params["best_layers"], syn["sources"]
    recovered = pd.DataFrame(
        {
            "roi": list(truth_layers),
            "true_layer": list(truth_layers.values()),
            "recovered_layer": [best[r] for r in truth_layers],
            "ceiling_true": [syn["ceiling_true"][r] for r in truth_layers],
            "ceiling_estimated": [syn["ceiling_est"][r] for r in truth_layers],
        }
    )
    recovered["match"] = recovered["true_layer"] == recovered["recovered_layer"]
    _atomic_csv(recovered, files.setdefault("recovery", out / "synthetic_recovery.csv"))
    n_ok = int(recovered["match"].sum())
    human_rows = per_layer[per_layer["roi"] == "human IT"]
    top = human_rows.loc[human_rows["value"].idxmax()]
    sel = real_extra["selected"]
    sections = [
        ReportSection(
            "Real data: RSA with human and monkey IT",
            [
                html_format(
                    "Activations of <b>{}</b> ({}) for the 92 object images of "
                    "Kriegeskorte et al. (2008); one RDM per layer (1 − Pearson r over all units); each "
                    "compared with the RDMs of 4 human subjects (sessions averaged) and the monkey-IT RDM "
                    "by Spearman ρ. Bars: 95% bootstrap intervals ({} resamples) over subjects for human "
                    "IT, over stimuli for the one monkey (self-pairs excluded). Band: the human-IT noise "
                    "ceiling (lower: leave-one-subject-out; upper: all subjects); monkey IT has one "
                    "animal and so no noise ceiling.",
                    loaded.model_id,
                    loaded.weights,
                    n_boot,
                ),
                html_format(
                    "Best layer for human IT, chosen on held-out subjects (leave one out): <b>{}</b>, "
                    "held-out ρ = {:.3f} [{:.3f}, {:.3f}] (choices per fold: {}); noise ceiling "
                    "[{:.3f}, {:.3f}]. The highest value in the table, {} (ρ = {:.3f}), is chosen and "
                    "shown on the same data and so is biased upwards.",
                    sel["layer"],
                    sel["value"],
                    sel["ci_low"],
                    sel["ci_high"],
                    sel["selected_layers"],
                    sel["ceiling_low"],
                    sel["ceiling_high"],
                    top["layer"],
                    top["value"],
                ),
            ],
            figures=[
                (files["rsa_profile"], "RSA with IT per layer"),
                (
                    files["rdm_panel"],
                    "RDMs (percentiles of dissimilarity); images ordered by category",
                ),
            ],
            tables=[
                (
                    per_layer[
                        [
                            "roi",
                            "layer",
                            "value",
                            "ci_low",
                            "ci_high",
                            "ceiling_low",
                            "ceiling_high",
                        ]
                    ],
                    "RSA per layer (Spearman ρ)",
                )
            ],
        ),
        ReportSection(
            "Synthetic data: does encoding recover the true layer?",
            [
                f"{n_synthetic} synthetic images (shapes on gratings, known latent factors) through the same model; "
                "features: sparse random projection of each layer to 1024 dimensions. Three ROIs × 40 voxels, each "
                "driven by one layer (8 principal components, random weights), 4 repetitions, noise sd 1–2 × "
                f"signal sd. Ridge per layer with α chosen per voxel by 5-fold CV on {syn['n_train']} training images; "
                f"the best layer per ROI is chosen by the training CV score; Pearson r on {syn['n_test']} test images.",
                html_format(
                    "<span class='{}'>Recovered the true layer for {} of {} ROIs.</span>",
                    "ok" if n_ok == len(recovered) else "bad",
                    n_ok,
                    len(recovered),
                ),
            ],
            figures=[
                (
                    files["encoding_profile"],
                    "Encoding score per layer; star: true layer; filled: chosen",
                )
            ],
            tables=[
                (
                    recovered,
                    "Recovered vs true layer and noise ceiling (split-half, Spearman–Brown)",
                ),
                (
                    sweep_table(sweep)[
                        ["roi", "layer", "cv_score", "test_r", "ceiling", "normalized", "is_best"]
                    ],
                    "Encoding per layer and ROI",
                ),
            ],
        ),
    ]
    params = {
        "model": loaded.model_id,
        "weights": loaded.weights,
        "n_synthetic": n_synthetic,
        "n_boot": n_boot,
        "seed": seed,
        "rsa_method": "spearman",
        "rdm_metric": "correlation",
        "synthetic_reduce": "srp(1024)",
        "started": started.isoformat(timespec="seconds"),
        "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    files["report"] = write_report(
        out / "report.html",
        "neuroalign demo",
        sections,
        parameters=params,
        versions=system_info(),
        intro=f"Data: {real_extra['k92'].citation}",
    )
    return DemoResult(
        table, dict(best), dict(truth_layers), syn["ceiling_est"], syn["ceiling_true"], files
    )


def _atomic_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))

"""Data cards: what a benchmark scores on, without loading it.

:func:`benchmark_card` is the one description of a benchmark that ``neuroalign bench list``,
:func:`~neuroalign.bench.list_benchmarks`, the leaderboard's benchmark cards and the stored
``Result.params["benchmarks"]`` all show: id, version, dataset, stimuli and subject counts,
metric and its parameters, ceiling method, citation, licence, URL / DOI, and whether the data
are here (``bundled`` / ``simulated`` / ``fetched`` / ``partial`` / ``missing``), computed from
the data folder (:func:`neuroalign.data.get_data_dir`) with a few ``stat`` calls: listing stays
instant and offline.

A benchmark declares its data on itself (``Benchmark(data_source=..., n_stimuli=...,
n_subjects=..., url=..., data_files=...)``, or the same keys in a TOML file); the built-in
benchmarks declare them here, in :data:`BUILTIN_DATA` (id patterns), so that the card facts of
every built-in live in one table. None of these fields changes a score: none enters a cell key.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._benchmark import Benchmark, BenchmarkData

__all__ = [
    "BUILTIN_DATA",
    "CARD_FIELDS",
    "DATA_FIELDS",
    "DATA_STATUSES",
    "benchmark_card",
    "data_counts",
    "data_status",
    "short_citation",
]

#: The card's data fields, declared on a ``Benchmark`` (or for built-ins in
#: :data:`BUILTIN_DATA`) and their empty values.
DATA_FIELDS: dict[str, Any] = {
    "data_source": "",
    "n_stimuli": None,
    "n_subjects": None,
    "url": "",
    "data_files": (),
}

#: ``data_source`` values that are not a dataset to fetch.
LOCAL_SOURCES = ("bundled", "simulated", "local")

#: What ``data_status`` can be, and what it means.
DATA_STATUSES = {
    "bundled": "ships with neuroalign",
    "simulated": "generated on the fly",
    "fetched": "every declared file is in the data folder",
    "partial": "the dataset folder exists but declared files are missing",
    "missing": "not in the data folder: fetch it with `neuroalign data fetch <dataset>`",
    "local": "read from the user's own files",
    "undeclared": "the benchmark does not declare its data",
}

_NSD_SUBJ01 = (
    "nsddata/experiments/nsd/nsd_expdesign.mat",
    "nsddata/experiments/nsd/nsd_stim_info_merged.csv",
    "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5",
    "nsddata/ppdata/subj01/func1pt8mm/brainmask.nii.gz",
    "nsddata/ppdata/subj01/func1pt8mm/roi/*.nii.gz",
    "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR/ncsnr.nii.gz",
    "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_session01.nii.gz",
)

#: Card facts of the built-in benchmarks: id pattern (``fnmatch``; an exact id wins over a
#: pattern, then the first matching pattern) → data fields (:data:`DATA_FIELDS`). Counts are
#: those of the data the loader returns (checked against the loaded data in
#: ``tests/bench/test_cards.py`` wherever the data can be loaded); ``data_files`` are paths
#: (globs allowed) under ``<data dir>/<data_source>/`` that the loader reads.
BUILTIN_DATA: dict[str, dict[str, Any]] = {
    "Kriegeskorte2008.hIT-rsa": dict(
        data_source="bundled",
        n_stimuli=92,
        n_subjects=4,
        url="https://doi.org/10.1016/j.neuron.2008.10.043",
    ),
    "Kriegeskorte2008.mIT-rsa": dict(
        data_source="bundled",
        n_stimuli=92,
        n_subjects=1,
        url="https://doi.org/10.1016/j.neuron.2008.10.043",
    ),
    "Simulated.*-encoding": dict(data_source="simulated", n_stimuli=120, n_subjects=1),
    **{
        f"Algonauts2019.*{n}-rsa": dict(
            data_source="algonauts2019",
            n_stimuli=n,
            n_subjects=15,
            url="https://doi.org/10.48550/arXiv.1905.05675",
            data_files=(
                f"Training_Data/{n}_Image_Set/target_fmri.mat",
                f"Training_Data/{n}_Image_Set/{n}images/*",
            ),
        )
        for n in (92, 118)
    },
    "Gifford2022.EEG-rsa": dict(
        data_source="things-eeg2",
        n_stimuli=200,
        n_subjects=10,
        url="https://doi.org/10.1016/j.neuroimage.2022.119754",
        data_files=(
            *(f"preprocessed_data/sub-{s:02d}/preprocessed_eeg_test.npy" for s in range(1, 11)),
            "test_images/*/*",
        ),
    ),
    "Allen2022.*-encoding": dict(
        data_source="nsd",
        # the 8 subjects' images: 9000 own images each + the shared 1000 (NSD's design; subjects
        # who did not finish 40 sessions saw fewer of them)
        n_stimuli=73000,
        n_subjects=8,
        url="https://doi.org/10.1038/s41593-021-00962-x",
        data_files=_NSD_SUBJ01,
    ),
    **{
        f"Algonauts2023.{h}-encoding": dict(
            data_source="algonauts2023",
            # subject 1's training images (subjects 1-8: 9841, 9841, 9082, 8779, 9841, 9082,
            # 9841, 8779; the distinct images over subjects are not known offline)
            n_stimuli=9841,
            n_subjects=8,
            url="https://doi.org/10.48550/arXiv.2301.03198",
            data_files=(
                f"subj01/training_split/training_fmri/{h}_training_fmri.npy",
                "subj01/training_split/training_images/*.png",
            ),
        )
        for h in ("lh", "rh")
    },
    "Hebart2023.*-encoding": dict(
        data_source="things-fmri",
        n_stimuli=8740,  # 8640 training images (one trial) + 100 test images (12), every subject
        n_subjects=3,
        url="https://doi.org/10.7554/eLife.82580",
        data_files=(
            "betas_csv/sub-01_ResponseData.h5",
            "betas_csv/sub-01_VoxelMetadata.csv",
            "betas_csv/sub-01_StimulusMetadata.csv",
            "images/*/*",
        ),
    ),
    "Gifford2022.EEG-encoding": dict(
        data_source="things-eeg2",
        n_stimuli=16740,  # 16 540 training + 200 test images, the same for every subject
        n_subjects=10,
        url="https://doi.org/10.1016/j.neuroimage.2022.119754",
        data_files=(
            "preprocessed_data/sub-01/preprocessed_eeg_training.npy",
            "preprocessed_data/sub-01/preprocessed_eeg_test.npy",
            "training_images/*/*",
            "test_images/*/*",
        ),
    ),
}

#: The card's keys in display order → their label (the CLI's JSON and table, the leaderboard).
CARD_FIELDS: dict[str, str] = {
    "id": "benchmark",
    "version": "version",
    "dataset": "dataset (id)",
    "roi": "region",
    "data_source": "dataset",
    "data_status": "data",
    "n_stimuli": "stimuli",
    "n_subjects": "subjects",
    "subjects": "subjects scored",
    "metric": "metric",
    "metric_params": "metric parameters",
    "ceiling": "ceiling method",
    "commit_split": "commitment split",
    "commit_fraction": "commitment fraction",
    "description": "description",
    "citation": "citation",
    "licence": "licence",
    "url": "URL / DOI",
    "data_dir": "data folder",
    "data_missing": "missing files",
}


def declared_data(bench: Benchmark) -> dict[str, Any]:
    """The data fields of ``bench``: its own where set, else the built-in declaration of its id
    (:data:`BUILTIN_DATA`: the exact id, else the first matching pattern), else empty."""
    entry: Mapping[str, Any] = BUILTIN_DATA.get(bench.id) or next(
        (v for k, v in BUILTIN_DATA.items() if fnmatch.fnmatchcase(bench.id, k)), {}
    )
    out = {}
    for key, empty in DATA_FIELDS.items():
        own = getattr(bench, key, empty)
        out[key] = own if own not in (empty, None, "", ()) else entry.get(key, empty)
    out["data_files"] = tuple(out["data_files"])
    return out


def _present(root: Path, pattern: str) -> bool:
    if any(ch in pattern for ch in "*?["):
        return next(iter(root.glob(pattern)), None) is not None
    return (root / pattern).exists()


def data_status(
    data_source: str, data_files: tuple[str, ...] = (), data_dir: str | Path | None = None
) -> tuple[str, list[str], str]:
    """Whether a benchmark's data are here: ``(status, missing files, folder checked)``.

    ``status`` is a key of :data:`DATA_STATUSES`. For a dataset of
    :data:`neuroalign.data.DATASETS` the folder is ``<data dir>/<data_source>``; it is
    ``fetched`` when each of ``data_files`` (paths or globs under it) is there (or, with none
    declared, when the folder exists), ``partial`` when the folder exists without all of them,
    ``missing`` otherwise. Looks at a few paths only (no data are read).
    """
    from ..data import get_data_dir

    if not data_source:
        return "undeclared", [], ""
    if data_source in ("bundled", "simulated"):
        return data_source, [], ""
    if data_source == "local":
        missing = [f for f in data_files if not _present(Path.cwd(), f)]
        return ("local" if not missing else "missing"), missing, ""
    root = get_data_dir(data_dir) / data_source
    if not root.is_dir():
        return "missing", list(data_files), str(root)
    missing = [f for f in data_files if not _present(root, f)]
    return ("partial" if missing else "fetched"), missing, str(root)


def data_counts(data: BenchmarkData) -> tuple[int, int]:
    """``(n_stimuli, n_subjects)`` of loaded benchmark data: the stimuli, and the subjects of the
    brain side (RDMs: their ``subject`` descriptor, else one per RDM; responses: the targets'
    ``subject`` column, else one; labels only: one)."""
    from ..core import RDMs, Responses

    n_subjects = 1
    brain = data.brain
    if isinstance(brain, RDMs):
        desc = brain.descriptors
        if desc is not None and "subject" in desc:
            n_subjects = int(desc["subject"].nunique())
        else:
            n_subjects = int(brain.n_rdms)
    elif isinstance(brain, Responses):
        if brain.targets is not None and "subject" in brain.targets:
            n_subjects = int(brain.targets["subject"].nunique())
    return len(data.stimuli), n_subjects


_YEAR = re.compile(r"\((\d{4})\)|\b(19\d\d|20\d\d)\b")


def short_citation(citation: str) -> str:
    """``"Allen et al. 2022"`` from ``"Allen EJ, St-Yves G, ... (2022). A massive ..."``: the
    first author's surname and the first year; the citation itself when it has no year."""
    text = " ".join(str(citation).split())
    year = _YEAR.search(text)
    first = re.match(r"([^\s,;.()]+)", text)
    if not year or not first:
        return text
    return f"{first[1]} et al. {year[1] or year[2]}"


def benchmark_card(
    bench: Benchmark,
    data: BenchmarkData | Sequence[BenchmarkData] | None = None,
    data_dir: str | Path | None = None,
) -> dict[str, Any]:
    """The data card of a benchmark, without loading its data.

    Parameters
    ----------
    bench : Benchmark
    data : BenchmarkData or sequence of them, optional
        The loaded data, when at hand (``bench.run``): adds ``n_stimuli_scored`` and
        ``n_subjects_scored``, the counts actually scored. Several (one per subject of a
        benchmark scored across subjects): the distinct stimuli over all of them and the sum of
        their subjects.
    data_dir : path, optional
        The data folder to look in (default :func:`neuroalign.data.get_data_dir`).

    Returns
    -------
    dict
        The keys of :data:`CARD_FIELDS` (JSON-serialisable values): ``data_source`` (a key of
        :data:`neuroalign.data.DATASETS`, ``"bundled"``, ``"simulated"``, ``"local"`` or ``""``),
        ``data_status`` (:data:`DATA_STATUSES`), ``data_missing`` (declared files not found),
        ``data_dir`` (the folder looked in), the declared ``n_stimuli`` / ``n_subjects`` (None
        when not declared), ``metric`` and ``metric_params``, ``ceiling`` (its method),
        ``citation``, ``licence``, ``url`` and the benchmark's other descriptors.
    """
    declared = declared_data(bench)
    from ._benchmark import subject_label

    status, missing, folder = data_status(declared["data_source"], declared["data_files"], data_dir)
    card: dict[str, Any] = {
        "id": bench.id,
        "version": bench.version,
        "dataset": bench.dataset,
        "roi": bench.roi,
        "data_source": declared["data_source"],
        "data_status": status,
        "n_stimuli": declared["n_stimuli"],
        "n_subjects": declared["n_subjects"],
        "subjects": [subject_label(s) for s in bench.subjects],  # scored one by one
        "metric": bench.metric,
        "metric_params": dict(bench.metric_params),
        "ceiling": bench.ceiling,
        "commit_split": bench.commit_split,
        "commit_fraction": bench.commit_fraction,
        "description": bench.description,
        "citation": bench.citation,
        "licence": bench.licence,
        "url": declared["url"],
        "data_dir": folder,
        "data_missing": missing,
    }
    if data is not None:
        parts = [data] if not isinstance(data, Sequence) else list(data)
        ids = {str(i) for d in parts for i in d.stimuli.ids}
        card["n_stimuli_scored"] = len(ids)
        card["n_subjects_scored"] = sum(data_counts(d)[1] for d in parts)
    return card


def format_metric(card: Mapping[str, Any]) -> str:
    """``"rsa (method=spearman, metric=correlation, n_boot=100)"``: the metric with its
    parameters, for display."""
    params = card.get("metric_params") or {}
    inner = ", ".join(f"{k}={_value(v)}" for k, v in params.items())
    metric = str(card.get("metric") or "")
    return f"{metric} ({inner})" if metric and inner else metric or inner


def _value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def format_count(card: Mapping[str, Any], key: str) -> str:
    """A card's stimuli / subjects count for display: the declared count, and the scored one
    when it differs (``"9841 scored (10000 declared)"``); ``"?"`` when undeclared."""
    declared = card.get(key)
    scored = card.get(f"{key}_scored")
    if scored is not None and declared is not None and int(scored) != int(declared):
        return f"{int(scored)} scored ({int(declared)} declared)"
    if scored is not None:
        return str(int(scored))
    return "?" if declared is None else str(int(declared))

"""``Benchmark``: an id, a version, a data loader, a metric, a ceiling, a commitment split.

A benchmark id reads ``<Dataset><Year>.<roi>-<metric>`` (``Kriegeskorte2008.hIT-rsa``); the part
after the last ``-`` names its metric (a key of :data:`~neuroalign.bench.METRICS`). The loader is a
picklable callable (a module-level function, or a ``functools.partial`` of one) returning a
:class:`BenchmarkData`, so that Dask workers can load the data themselves. The registry
:data:`BENCHMARKS` maps ids to zero-argument factories: nothing is loaded before it is asked for.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import RDMs, Responses, StimulusSet, align
from ..core._identity import Identity
from ..core.exceptions import ConfigurationError, ValidationError, close_matches

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "BenchmarkData",
    "benchmark_from_toml",
    "fetched_dataset",
    "list_benchmarks",
    "load_benchmark",
    "register_benchmark",
]

_ID = re.compile(
    r"^(?P<dataset>[A-Za-z][A-Za-z0-9_]*)\.(?P<roi>[^\s.]+)-(?P<metric>[a-z][a-z0-9_]*)$"
)


@dataclass(frozen=True, eq=False)
class BenchmarkData:
    """What a benchmark's loader returns.

    Attributes
    ----------
    stimuli : StimulusSet
        The stimuli shown to the models (their ids join with the brain data).
    brain : RDMs, Responses or None
        Brain RDMs (one per subject) for ``rsa``; responses (one ROI, with repetitions when a
        ceiling is computed from them) for ``encoding`` / ``cka``; None when the metric needs only
        labels (``decoding``).
    labels, groups : arrays (n_stimuli,), optional
        Class labels and CV groups of the stimuli (``decoding``).
    ceiling : float, optional
        A ceiling computed by the loader (e.g. the brain's own decoding accuracy).
    volume : (mask, affine), optional
        When the brain data came from a volume: the boolean mask whose ``True`` voxels are the
        targets (in C order) and its affine, for brain maps.
    info : mapping
        Free-form descriptors shown on the benchmark card.
    """

    stimuli: StimulusSet
    brain: RDMs | Responses | None = None
    labels: np.ndarray | None = None
    groups: np.ndarray | None = None
    ceiling: float | None = None
    volume: tuple[np.ndarray, np.ndarray] | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """The one join: the brain data are put in the stimuli's order by id (``align``); a
        brain side that does not hold exactly the benchmark's stimuli is a
        :class:`~neuroalign.core.exceptions.StimulusMismatchError` naming the ids, never a
        pairing by position. Per-stimulus labels / groups must have one entry per stimulus."""
        if not isinstance(self.stimuli, StimulusSet):
            raise ValidationError(
                f"BenchmarkData.stimuli must be a StimulusSet; got {type(self.stimuli).__name__}."
            )
        if isinstance(self.brain, (RDMs, Responses)):
            _, brain = align(self.stimuli, self.brain)
            object.__setattr__(self, "brain", brain)
        for name in ("labels", "groups"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.stimuli):
                raise ValidationError(
                    f"BenchmarkData.{name} has {len(values)} entries for {len(self.stimuli)} "
                    "stimuli; give one per stimulus, in the stimuli's order."
                )

    @functools.cached_property
    def fingerprint(self) -> str:
        """The identity of every number a metric reads: the stimuli's fingerprint, the brain
        data (RDMs, responses, repetitions, their stimulus ids and target table), labels, groups
        and the loader's ceiling (``core._identity``)."""
        ident = Identity("benchmark-data").add(self.stimuli.fingerprint)
        if isinstance(self.brain, RDMs):
            ident.add_field("rdms", np.asarray(self.brain.dissimilarities))
            ident.add_field("rdm_ids", self.brain.stimulus_ids.astype(str))
            # which RDM is whose: bootstrap_rsa pools sessions by the subject column
            desc = self.brain.descriptors
            if desc is not None:
                for col in desc.columns:
                    ident.add_field(f"rdm_desc:{col}", desc[col].astype(str).to_numpy())
        elif isinstance(self.brain, Responses):
            ident.add_field("data", np.asarray(self.brain.data))
            if self.brain.repetitions is not None:
                ident.add_field("reps", np.asarray(self.brain.repetitions))
            ident.add_field("resp_ids", self.brain.stimulus_ids.astype(str))
            if self.brain.targets is not None:
                for col in self.brain.targets.columns:
                    ident.add_field(f"target:{col}", self.brain.targets[col].astype(str).to_numpy())
        for tag, a in (("labels", self.labels), ("groups", self.groups)):
            if a is not None:
                ident.add_field(tag, np.asarray(a).astype(str))
        ident.add_field("ceiling", None if self.ceiling is None else float(self.ceiling))
        return ident.hexdigest()


@dataclass(frozen=True, eq=False)
class Benchmark:
    """A benchmark: which data, which metric, which ceiling, how a layer is committed.

    Parameters
    ----------
    id : str
        ``<Dataset><Year>.<roi>-<metric>``; the metric part must equal ``metric``.
    loader : callable
        ``() -> BenchmarkData``; picklable (module-level function or ``functools.partial``).
    version : str
        Bump it whenever the data or the scoring change; cached cells of another version are
        never served.
    metric_params : mapping
        Keyword arguments of the metric (see :data:`~neuroalign.bench.METRICS`).
    commit_split : {"stimuli", "subjects", "groups"}
        What the commitment split divides: stimuli (RSA, encoding), subjects (RSA with several
        subjects) or the stimuli's ``groups`` (decoding: whole identities held out).
    commit_fraction : float
        Share of the split used to commit a layer; the rest scores it.
    seed : int
        Seed of the commitment split.
    subjects : tuple of int or str
        Empty (default): the loader returns one subject's (or pooled) data. Otherwise the
        benchmark is scored across these subjects: the loader is called as
        ``loader(subject=s)`` for each, every subject is scored on its own data and split, and
        the benchmark's score is the mean over the subjects present (per-subject rows kept; a
        subject whose loader raises :class:`~neuroalign.core.exceptions.DataNotFoundError` is
        excluded and reported, never silently dropped). See :func:`~neuroalign.bench.run`.
    ceiling : str
        How the ceiling is estimated (shown on the card).
    citation, licence, description : str
    data_source : str
        Where the data come from (shown on the card): a key of
        :data:`neuroalign.data.DATASETS` (fetched into the data folder), ``"bundled"``,
        ``"simulated"`` or ``"local"`` (your own files); ``""``: not declared (built-ins declare it
        in ``bench._cards.BUILTIN_DATA``).
    n_stimuli, n_subjects : int, optional
        How many stimuli and subjects the loader returns (the card shows them without loading).
    url : str
        URL or DOI of the dataset.
    data_files : tuple of str
        Files the loader reads (globs allowed): under ``<data dir>/<data_source>/`` for a
        fetched dataset, else relative to the working directory; the card says whether they
        are there. None of the card fields enters a cell's key (they do not change a score).
    """

    id: str
    loader: Callable[[], BenchmarkData]
    metric: str
    version: str = "1"
    metric_params: Mapping[str, Any] = field(default_factory=dict)
    commit_split: str = "stimuli"
    commit_fraction: float = 0.5
    seed: int = 0
    subjects: tuple[Any, ...] = ()
    ceiling: str = ""
    citation: str = ""
    licence: str = ""
    description: str = ""
    data_source: str = ""
    n_stimuli: int | None = None
    n_subjects: int | None = None
    url: str = ""
    data_files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        m = _ID.match(self.id) if isinstance(self.id, str) else None
        if m is None:
            raise ValidationError(
                f"benchmark id {self.id!r} does not read '<Dataset><Year>.<roi>-<metric>' "
                "(e.g. 'Kriegeskorte2008.hIT-rsa')."
            )
        if m["metric"] != self.metric:
            raise ValidationError(
                f"benchmark id {self.id!r} ends in '-{m['metric']}' but its metric is "
                f"{self.metric!r}; the id names the metric."
            )
        if self.commit_split not in ("stimuli", "subjects", "groups"):
            raise ValidationError(
                f"commit_split must be 'stimuli', 'subjects' or 'groups'; got {self.commit_split!r}."
            )
        if not 0 < float(self.commit_fraction) < 1:
            raise ValidationError(
                f"commit_fraction must be in (0, 1); got {self.commit_fraction!r}."
            )
        if not callable(self.loader):
            raise ValidationError(f"loader must be callable; got {type(self.loader).__name__}.")
        object.__setattr__(self, "metric_params", dict(self.metric_params))
        if isinstance(self.subjects, (str, int)) or len(set(map(str, self.subjects))) != len(
            tuple(self.subjects)
        ):
            raise ValidationError(
                f"subjects must be a sequence of distinct subject ids; got {self.subjects!r}."
            )
        object.__setattr__(self, "subjects", tuple(self.subjects))
        self._check_card_fields()

    def _check_card_fields(self) -> None:
        from ..data import DATASETS
        from ._cards import LOCAL_SOURCES

        for name in ("n_stimuli", "n_subjects"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValidationError(
                    f"{self.id}: {name} must be a positive int or None; got {v!r}."
                )
        allowed = [*LOCAL_SOURCES, *DATASETS]
        if self.data_source and self.data_source not in allowed:
            raise ValidationError(
                f"{self.id}: data_source {self.data_source!r} is neither a dataset of "
                f"neuroalign.data.DATASETS nor one of {list(LOCAL_SOURCES)}; allowed: {allowed}."
                + close_matches(self.data_source, allowed)
            )
        files = self.data_files
        if isinstance(files, str) or not all(isinstance(f, str) for f in files):
            raise ValidationError(
                f"{self.id}: data_files must be a list of paths (str); got {files!r}."
            )
        object.__setattr__(self, "data_files", tuple(files))

    @property
    def dataset(self) -> str:
        return _ID.match(self.id)["dataset"]  # type: ignore[index]

    @property
    def roi(self) -> str:
        return _ID.match(self.id)["roi"]  # type: ignore[index]

    def load(self, subject: Any = None) -> BenchmarkData:
        """Run the loader (``loader(subject=subject)`` when a subject is given) and check what
        it returns. A benchmark across :attr:`subjects` loads its first subject when none is
        given (:meth:`load_subjects` loads them all)."""
        if subject is None and self.subjects:
            subject = self.subjects[0]
        data = self.loader() if subject is None else self.loader(subject=subject)
        if not isinstance(data, BenchmarkData):
            raise ValidationError(
                f"the loader of {self.id} returned {type(data).__name__}; it must return "
                "BenchmarkData."
            )
        return data

    def load_subjects(self) -> tuple[dict[str, BenchmarkData], dict[str, str]]:
        """Every subject's data (``{subject label: data}``, in :attr:`subjects` order) and the
        subjects excluded (``{label: reason}``: their loader raised
        :class:`~neuroalign.core.exceptions.DataNotFoundError`). Labels are ``subjNN`` for
        integer subjects, else the id as given. Any other error is raised; no subject present
        raises a :class:`~neuroalign.core.exceptions.ConfigurationError` naming every reason."""
        from ..core.exceptions import DataNotFoundError

        if not self.subjects:
            return {"": self.load()}, {}
        parts: dict[str, BenchmarkData] = {}
        excluded: dict[str, str] = {}
        for s in self.subjects:
            label = subject_label(s)
            try:
                parts[label] = self.load(s)
            except DataNotFoundError as err:
                excluded[label] = str(err)
        if not parts:
            raise ConfigurationError(
                f"{self.id}: none of the subjects {[subject_label(s) for s in self.subjects]} "
                "is in the data folder: " + "; ".join(f"{k}: {v}" for k, v in excluded.items())
            )
        return parts, excluded

    def card(self) -> dict[str, Any]:
        """The benchmark's data card (:func:`~neuroalign.bench.benchmark_card`; loads nothing)."""
        from ._cards import benchmark_card

        return benchmark_card(self)


def subject_label(subject: Any) -> str:
    """The table's label of a benchmark subject: ``subjNN`` for an integer, else ``str``."""
    if isinstance(subject, (int, np.integer)) and not isinstance(subject, bool):
        return f"subj{int(subject):02d}"
    return str(subject)


#: Benchmark id → zero-argument factory returning the :class:`Benchmark` (lazy: nothing loads).
BENCHMARKS: dict[str, Callable[[], Benchmark]] = {}


def _same(benchmark: Benchmark) -> Benchmark:
    return benchmark


def register_benchmark(
    benchmark: Benchmark | Callable[[], Benchmark], id: str | None = None, replace: bool = False
) -> Benchmark | Callable[[], Benchmark]:
    """Add a benchmark (or a factory of one, registered under ``id``) to :data:`BENCHMARKS`."""
    factory: Callable[[], Benchmark]
    if isinstance(benchmark, Benchmark):
        key, factory = benchmark.id, functools.partial(_same, benchmark)
    else:
        if id is None:
            raise ValidationError("register_benchmark(factory) needs id=...")
        key, factory = id, benchmark
    if key in BENCHMARKS and not replace:
        raise ConfigurationError(f"benchmark {key!r} is already registered; pass replace=True.")
    BENCHMARKS[key] = factory
    return benchmark


def load_benchmark(benchmark: str | Benchmark | Path) -> Benchmark:
    """A :class:`Benchmark` from its id, a TOML file, or itself."""
    if isinstance(benchmark, Benchmark):
        return benchmark
    if isinstance(benchmark, Path) or (isinstance(benchmark, str) and benchmark.endswith(".toml")):
        return benchmark_from_toml(benchmark)
    if not isinstance(benchmark, str):
        raise ValidationError(
            f"a benchmark is an id, a .toml file or a Benchmark; got {type(benchmark).__name__}."
        )
    if benchmark not in BENCHMARKS:
        raise ConfigurationError(
            f"unknown benchmark {benchmark!r}; list them with neuroalign.bench.list_benchmarks()."
            + close_matches(benchmark, BENCHMARKS)
        )
    return BENCHMARKS[benchmark]()


def list_benchmarks(pattern: str | None = None) -> pd.DataFrame:
    """The registered benchmarks (ids containing ``pattern``) with their data cards
    (:func:`~neuroalign.bench.benchmark_card`: dataset, counts, metric, ceiling method, citation,
    licence, whether the data are here); loads no data."""
    from ._cards import CARD_FIELDS

    rows = [load_benchmark(k).card() for k in BENCHMARKS if pattern is None or pattern in k]
    return pd.DataFrame(rows, columns=list(CARD_FIELDS))


def _resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    if not module or not name:
        raise ValidationError(f"loader {path!r} must read 'package.module:function'.")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ConfigurationError(f"cannot import loader {path!r}: {err}.") from err


def _check_metric_params(path: Path, metric: str, params: Any) -> None:
    """``[metric_params]`` of a TOML file against the metric's signature, before any work: an
    unknown key, or a value of the wrong kind, names the file and the key."""
    from ..encode._ridge_inputs import check_alphas
    from ._metrics import METRICS

    where = f"{str(path)!r}: [metric_params]"
    if not isinstance(params, Mapping):
        raise ValidationError(f"{where} must be a table of key = value; got {params!r}.")
    fn = METRICS.get(metric)
    if fn is None:
        return  # the metric name itself is checked where it is looked up
    sig = inspect.signature(fn)
    allowed = [n for n in list(sig.parameters)[3:]]  # after X, data, split
    for key, value in params.items():
        if key not in allowed:
            raise ValidationError(
                f"{where} {key} is not a parameter of the {metric!r} metric; it takes "
                f"{allowed}." + close_matches(key, allowed)
            )
        default = sig.parameters[key].default
        if key == "alphas":
            try:
                check_alphas(value)
            except ValidationError as err:
                raise ValidationError(f"{where} alphas = {value!r}: {err}") from None
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValidationError(
                    f"{where} {key} = {value!r} must be a number (like the default {default!r})."
                )
        elif isinstance(default, str) and not isinstance(value, str):
            raise ValidationError(
                f"{where} {key} = {value!r} must be a string (like the default {default!r})."
            )


def benchmark_from_toml(path: str | Path, register: bool = False) -> Benchmark:
    """A benchmark from a TOML file.

    The file holds the :class:`Benchmark` fields; ``loader`` is ``"package.module:function"``,
    its keyword arguments go in a ``[loader_args]`` table and the metric's in ``[metric_params]``::

        id = "Mine2024.V4-encoding"
        metric = "encoding"
        version = "1"
        loader = "mylab.data:load_v4"
        citation = "..."
        [loader_args]
        subject = 2
        [metric_params]
        alphas = [1.0, 10.0, 100.0]
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"benchmark file {str(path)!r} does not exist.")
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValidationError(f"{str(path)!r} is not valid TOML: {err}.") from err
    known = set(Benchmark.__dataclass_fields__) | {"loader_args"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValidationError(
            f"{str(path)!r}: unknown key(s) {unknown}; allowed: {sorted(known)}."
            + close_matches(unknown[0], known)
        )
    for key in ("id", "loader", "metric"):
        if key not in spec:
            raise ValidationError(f"{str(path)!r} lacks the key {key!r}.")
    loader = _resolve(spec.pop("loader"))
    args = spec.pop("loader_args", {})
    try:
        inspect.signature(loader).bind(**args)
    except TypeError as err:
        raise ValidationError(
            f"{str(path)!r}: [loader_args] {sorted(args)} do not fit {loader.__name__}"
            f"{inspect.signature(loader)}: {err}."
        ) from err
    _check_metric_params(path, str(spec["metric"]), spec.get("metric_params", {}))
    bench = Benchmark(loader=functools.partial(loader, **args) if args else loader, **spec)
    if register:
        register_benchmark(bench, replace=True)
    return bench


def resolve_benchmarks(
    benchmarks: Iterable[str | Benchmark | Path] | str | Benchmark,
) -> list[Benchmark]:
    """Benchmarks from ids (``fnmatch`` patterns allowed), files or objects, duplicates refused."""
    import fnmatch

    if isinstance(benchmarks, (str, Benchmark, Path)):
        benchmarks = [benchmarks]
    out: list[Benchmark] = []
    for b in benchmarks:
        if isinstance(b, str) and any(ch in b for ch in "*?[") and not b.endswith(".toml"):
            hits = [k for k in BENCHMARKS if fnmatch.fnmatchcase(k, b)]
            if not hits:
                raise ConfigurationError(f"no benchmark matches {b!r}; see list_benchmarks().")
            out.extend(load_benchmark(k) for k in hits)
        else:
            out.append(load_benchmark(b))
    ids = [b.id for b in out]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValidationError(f"benchmarks given twice: {dupes}.")
    if not out:
        raise ValidationError("no benchmarks given.")
    return out


def fetched_dataset(name: str) -> Path:
    """The folder of a fetched dataset (``neuroalign.data.get_data_dir() / name``); a clear error
    saying how to fetch it when it is absent."""
    from ..data import get_data_dir

    root = get_data_dir() / name
    if not root.is_dir():
        raise ConfigurationError(
            f"this benchmark needs the {name!r} dataset, not found at {str(root)!r}; fetch it with "
            f"`neuroalign data fetch {name}` (or set $NEUROALIGN_DATA)."
        )
    return root

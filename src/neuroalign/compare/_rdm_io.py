"""Reading and writing precomputed RDMs: rsatoolbox-style ``.mat`` structs, ``.npy``/``.npz``
square or condensed stacks, rsatoolbox HDF5 files, and our own ``.npz``.

Everything comes back as one :class:`~neuroalign.RDMs` whose descriptors say where each RDM came
from (``name``/``roi`` = the variable, ``subject``/``session`` when the file says so). Files that
carry no stimulus ids get ``"0"``, ``"1"``, ... and ``meta["ids_in_file"] = False``; pass
``stimulus_ids=`` (the order of the rows) to name them.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import RDMs
from ..core._io import atomic_write
from ..core._rdms import n_stimuli_from_pairs
from ..core._validation import require
from ..core.exceptions import ShapeError, ValidationError

__all__ = ["load_rdms", "save_rdms"]

_SESSION = re.compile(r"^session\W*(\d+)$", re.IGNORECASE)


def _is_square_stack(a: np.ndarray) -> bool:
    return a.ndim >= 2 and a.shape[-1] == a.shape[-2] and a.shape[-1] > 1


def _as_vectors(a: np.ndarray, what: str) -> tuple[np.ndarray, int, tuple[int, ...]]:
    """(condensed vectors (k, n_pairs), n_stimuli, leading shape) of a square or condensed stack."""
    a = np.asarray(a, dtype=np.float64)
    if _is_square_stack(a) and not (a.ndim == 2 and not _looks_square(a)):
        n = a.shape[-1]
        lead = a.shape[:-2]
        sq = a.reshape(-1, n, n)
        rows, cols = np.triu_indices(n, 1)
        if not np.allclose(
            sq, sq.transpose(0, 2, 1), equal_nan=True, atol=1e-6 * max(1.0, np.nanmax(np.abs(sq)))
        ):
            raise ValidationError(f"{what}: square RDMs must be symmetric; this array is not.")
        return sq[:, rows, cols], n, lead
    if a.ndim in (1, 2):
        vecs = a[None] if a.ndim == 1 else a
        try:
            n = n_stimuli_from_pairs(vecs.shape[1])
        except ShapeError as err:
            raise ShapeError(
                f"{what}: shape {a.shape} is neither square RDMs (..., n, n) nor condensed "
                f"vectors (k, n(n-1)/2)."
            ) from err
        return vecs, n, vecs.shape[:1] if a.ndim == 2 else ()
    raise ShapeError(f"{what}: shape {a.shape} is neither square RDMs (..., n, n) nor condensed.")


def _looks_square(a: np.ndarray) -> bool:
    """A 2-D n × n array is one square RDM when it is symmetric with a zero diagonal."""
    return bool(np.allclose(np.diag(a), 0) and np.allclose(a, a.T, equal_nan=True))


def _lead_descriptors(lead: tuple[int, ...]) -> pd.DataFrame:
    if not lead:
        return pd.DataFrame(index=range(1))
    names = ["subject"] + [f"index_{i}" for i in range(1, len(lead))]
    grids = np.meshgrid(*[np.arange(s) for s in lead], indexing="ij")
    return pd.DataFrame({k: g.ravel() for k, g in zip(names, grids, strict=True)})


_ROI_SUFFIX = re.compile(r"_?RDMs?$", re.IGNORECASE)


def _roi_of(variable: str) -> str:
    """The ROI a variable names: ``EVC_RDMs`` -> ``EVC`` (Algonauts 2019), else the name itself."""
    return _ROI_SUFFIX.sub("", variable) or variable


def _variable_rois(descs: list[pd.DataFrame]) -> None:
    """Give every RDM a ``roi``: its variable's (``EVC_RDMs`` -> ``EVC``) where the file did not
    name one, so that a file with several variables is never merged into one ROI (a file with
    one variable is left as it is)."""
    variables = {str(v) for d in descs if "variable" in d for v in d["variable"]}
    if len(variables) < 2:
        return
    for d in descs:
        if "variable" in d and "roi" not in d:
            d.insert(1, "roi", [_roi_of(str(v)) for v in d["variable"]])


# MATLAB classes h5py can read as plain numeric arrays (v7.3 files tag each dataset).
_MATLAB_NUMERIC = {
    "double",
    "single",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
}


def _is_matlab_v73(path: Path) -> bool:
    """MATLAB v7.3 files are HDF5 with a 512-byte text userblock ("MATLAB 7.3 MAT-file")."""
    with open(path, "rb") as fh:
        head = fh.read(128)
    if head.startswith(b"MATLAB 7.3"):
        return True
    try:
        import h5py
    except ImportError:
        return False
    return bool(h5py.is_hdf5(str(path)))


def _from_mat73(path: Path) -> tuple[list[np.ndarray], list[pd.DataFrame], int, dict[str, Any]]:
    """Numeric variables of a MATLAB v7.3 (HDF5) file, one ROI per variable.

    MATLAB stores arrays column-major, so HDF5 (row-major) holds them with the axes reversed: a
    MATLAB ``15 x 92 x 92`` ``EVC_RDMs`` is the dataset ``(92, 92, 15)``; the full transpose gives
    back MATLAB's axis order (as the Algonauts-2019 participants read it: ``np.transpose`` of each
    ``h5py`` dataset, dnn-hvs/Algonauts-Challange ``Testing/test.py``, l.11).
    """
    h5py = require("h5py", "io", "reading MATLAB v7.3 (HDF5) .mat files")
    vecs: list[np.ndarray] = []
    descs: list[pd.DataFrame] = []
    ns: list[int] = []
    found: list[str] = []
    with h5py.File(path, "r") as f:
        for key, obj in f.items():
            if key.startswith("#"):  # '#refs#', '#subsystem#': MATLAB's internal groups
                continue
            found.append(key)
            cls = obj.attrs.get("MATLAB_class", b"")
            cls = cls.decode() if isinstance(cls, bytes) else str(cls)
            if not isinstance(obj, h5py.Dataset) or (cls and cls not in _MATLAB_NUMERIC):
                continue
            value = np.asarray(obj[()])
            if value.dtype.kind not in "fiu" or value.size <= 1:
                continue
            try:
                v, n, lead = _as_vectors(value.T, key)
            except (ValidationError, ShapeError):
                continue
            vecs.append(v)
            ns.append(n)
            d = _lead_descriptors(lead)
            d.insert(0, "variable", key)
            descs.append(d)
    if not vecs:
        raise ValidationError(
            f"{str(path)!r} is a MATLAB v7.3 (HDF5) file without numeric RDM arrays (..., n, n); "
            f"found variables {found}. Struct arrays in v7.3 files are not read: save them with "
            "-v7 or export the RDMs to .npy."
        )
    return vecs, descs, _one_n(ns, path), {}


def _parse_names(names: list[str]) -> pd.DataFrame:
    """``name`` plus ``roi``/``subject``/``session`` when every name reads ``roi | subject |
    Session: k`` (rsatoolbox's MATLAB demos)."""
    out = pd.DataFrame({"name": names})
    parsed = []
    for name in names:
        parts = [p.strip() for p in name.split("|")]
        hits = [j for j, p in enumerate(parts) if _SESSION.match(p)]
        if len(parts) < 3 or len(hits) != 1 or hits[0] < 2:
            return out
        j = hits[0]
        parsed.append((parts[0], parts[j - 1], int(_SESSION.match(parts[j]).group(1))))  # type: ignore[union-attr]
    out["roi"], out["subject"], out["session"] = zip(*parsed, strict=True)
    return out


def _from_mat(path: Path) -> tuple[list[np.ndarray], list[pd.DataFrame], int, dict[str, Any]]:
    sio = require("scipy.io", "io", "reading .mat RDM files")
    if _is_matlab_v73(path):
        return _from_mat73(path)
    try:
        mat = sio.loadmat(str(path), squeeze_me=False)
    except NotImplementedError:  # MATLAB v7.3 without the usual header
        return _from_mat73(path)
    except Exception as err:
        raise ValidationError(f"cannot read {str(path)!r} as a .mat file: {err}.") from err
    variables = {k: v for k, v in mat.items() if not k.startswith("__")}
    vecs: list[np.ndarray] = []
    descs: list[pd.DataFrame] = []
    ns: list[int] = []
    for key, value in variables.items():
        if isinstance(value, np.ndarray) and value.dtype.names and "RDM" in value.dtype.names:
            elems = list(value.ravel(order="F"))
            stack = [
                _as_vectors(np.asarray(e["RDM"], dtype=np.float64), f"{key}.RDM") for e in elems
            ]
            names = [
                str(np.asarray(e["name"]).ravel()[0])
                if "name" in value.dtype.names and np.asarray(e["name"]).size
                else f"{key}{i}"
                for i, e in enumerate(elems)
            ]
            vecs.append(np.vstack([s[0] for s in stack]))
            ns.extend(s[1] for s in stack)
            d = _parse_names(names)
            d.insert(0, "variable", key)
            descs.append(d)
        elif isinstance(value, np.ndarray) and value.dtype.kind in "fiu" and value.size > 1:
            try:
                v, n, lead = _as_vectors(value, key)
            except ValidationError:
                continue
            vecs.append(v)
            ns.append(n)
            d = _lead_descriptors(lead)
            d.insert(0, "variable", key)
            descs.append(d)
    if not vecs:
        raise ValidationError(
            f"{str(path)!r} holds no RDMs: expected struct arrays with an 'RDM' field "
            f"(rsatoolbox MATLAB) or arrays (..., n, n); found variables {list(variables)}."
        )
    return vecs, descs, _one_n(ns, path), {}


def _one_n(ns: Sequence[int], path: Path) -> int:
    if len(set(ns)) != 1:
        raise ShapeError(
            f"{str(path)!r} holds RDMs over different numbers of stimuli {sorted(set(ns))}; "
            "split the file."
        )
    return int(ns[0])


def _from_npz(path: Path) -> tuple[list[np.ndarray], list[pd.DataFrame], int, dict[str, Any]]:
    with np.load(path, allow_pickle=False) as z:
        files = list(z.files)
        if "dissimilarities" in files:  # our format (save_rdms) or the same layout by hand
            v, n, lead = _as_vectors(z["dissimilarities"], "dissimilarities")
            desc = pd.DataFrame(
                {k.split("/", 1)[1]: z[k] for k in files if k.startswith("descriptors/")}
            )
            if desc.empty:
                desc = _lead_descriptors(lead) if lead else pd.DataFrame(index=range(len(v)))
            extra: dict[str, Any] = {}
            if "stimulus_ids" in files:
                extra["stimulus_ids"] = z["stimulus_ids"].astype(str)
            if "__meta__" in files:
                extra.update(json.loads(str(z["__meta__"])))
            return [v], [desc], n, extra
        vecs, descs, ns = [], [], []
        for key in files:
            if key == "stimulus_ids":
                continue
            v, n, lead = _as_vectors(z[key], key)
            d = _lead_descriptors(lead)
            d.insert(0, "variable", key)
            vecs.append(v)
            descs.append(d)
            ns.append(n)
        extra = {"stimulus_ids": z["stimulus_ids"].astype(str)} if "stimulus_ids" in files else {}
    if not vecs:
        raise ValidationError(f"{str(path)!r} holds no arrays.")
    return vecs, descs, _one_n(ns, path), extra


def _decode(a: np.ndarray) -> np.ndarray:
    return (
        np.array([x.decode() if isinstance(x, bytes) else x for x in a])
        if a.dtype.kind in "SO"
        else a
    )


def _from_hdf5(
    path: Path, pattern_descriptor: str | None
) -> tuple[list[np.ndarray], list[pd.DataFrame], int, dict[str, Any]]:
    h5py = require("h5py", "io", "reading rsatoolbox HDF5 RDM files")
    with h5py.File(path, "r") as f:
        if "dissimilarities" not in f:
            raise ValidationError(
                f"{str(path)!r} is HDF5 but not an rsatoolbox RDMs file (no 'dissimilarities'; "
                f"it holds {list(f)[:6]})."
            )
        v, n, _ = _as_vectors(f["dissimilarities"][()], "dissimilarities")
        rd = f.get("rdm_descriptors", {})
        desc = pd.DataFrame({k: _decode(rd[k][()]) for k in rd if k != "index"})
        if desc.empty:
            desc = pd.DataFrame(index=range(len(v)))
        pd_group = f.get("pattern_descriptors", {})
        pats = {k: _decode(pd_group[k][()]) for k in pd_group}
        metric = f.attrs.get("dissimilarity_measure", "unknown")
        metric = metric.decode() if isinstance(metric, bytes) else str(metric)
    extra: dict[str, Any] = {"metric": metric}
    names = (
        [pattern_descriptor]
        if pattern_descriptor
        else [k for k in pats if k != "index"] + ["index"]
    )
    for key in names:
        if key not in pats:
            raise ValidationError(
                f"pattern_descriptor={key!r} is not in the file; it has {sorted(pats)}."
            )
        ids = np.asarray(pats[key]).astype(str)
        if len(np.unique(ids)) == len(ids) == n:
            extra["stimulus_ids"] = ids
            break
    return [v], [desc], n, extra


def load_rdms(
    path: str | Path,
    stimulus_ids: Sequence[Any] | None = None,
    metric: str | None = None,
    pattern_descriptor: str | None = None,
) -> RDMs:
    """Read precomputed RDMs from a file.

    Parameters
    ----------
    path : path
        - ``.mat``: rsatoolbox-MATLAB struct arrays with fields ``RDM`` (square or condensed) and
          ``name`` (names like ``"hIT | BE | Session: 1"`` also fill ``roi``/``subject``/
          ``session``), or numeric arrays ``(..., n, n)`` such as Algonauts' ``EVC_RDMs``
          (leading axes become ``subject``, ``index_1``, ...); each variable is named in
          ``variable`` and, in files with several variables that name no ROIs, is its own ``roi`` (``EVC_RDMs`` ->
          ``EVC``), so one file never merges two ROIs. MATLAB v7.3 (HDF5) files are read with
          h5py (numeric variables; MATLAB's column-major axes restored).
        - ``.npy``: ``(n, n)``, ``(..., n, n)``, ``(n_pairs,)`` or ``(k, n_pairs)``.
        - ``.npz``: a ``dissimilarities`` array (+ ``stimulus_ids``, ``descriptors/<col>``, as
          written by :func:`save_rdms`), or one RDM array per key (``variable`` = the key).
        - ``.h5``/``.hdf5``: rsatoolbox ``RDMs.save(..., file_type="hdf5")``; descriptors,
          dissimilarity measure and stimulus ids (``pattern_descriptor``, default the first
          unique one) are kept.
    stimulus_ids : sequence, optional
        Ids of the rows/columns, in order, for a file that does not store them. For a file
        that does, the same ids in the order wanted: the RDMs are reordered to it (never
        relabelled by position), and an id the file does not have is a
        ``StimulusMismatchError``.
    metric : str, optional
        The RDMs' dissimilarity measure (overrides the file's; else ``"unknown"``).
    pattern_descriptor : str, optional
        HDF5 only: the pattern descriptor holding stimulus ids.

    Returns
    -------
    RDMs
        Condensed float64 RDMs; ``meta["source"]`` the file, ``meta["ids_in_file"]`` whether the
        file named its stimuli.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "r.npy")
    >>> np.save(p, np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 3.0, 0.0]]))
    >>> load_rdms(p).dissimilarities.tolist()
    [[1.0, 2.0, 3.0]]
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"RDM file {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".mat":
            vecs, descs, n, extra = _from_mat(path)
        elif suffix == ".npy":
            v, n, lead = _as_vectors(np.load(path, allow_pickle=False), path.name)
            vecs, descs, extra = (
                [v],
                [_lead_descriptors(lead) if lead else pd.DataFrame(index=range(1))],
                {},
            )
        elif suffix == ".npz":
            vecs, descs, n, extra = _from_npz(path)
        elif suffix in (".h5", ".hdf5"):
            vecs, descs, n, extra = _from_hdf5(path, pattern_descriptor)
        else:
            raise ValidationError(
                f"cannot read RDMs from {path.name!r}: use .mat, .npy, .npz or .h5/.hdf5 "
                "(rsatoolbox HDF5); for rsatoolbox .pkl files re-save them as HDF5."
            )
    except ValidationError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise ValidationError(
            f"cannot read RDMs from {str(path)!r}: {type(err).__name__}: {err or 'truncated or corrupt'}."
        ) from err
    _variable_rois(descs)
    desc = pd.concat(descs, ignore_index=True)
    if desc.shape[1] == 0:
        desc = pd.DataFrame({"rdm": [f"rdm{i}" for i in range(len(desc))]})
    in_file = extra.get("stimulus_ids")
    if stimulus_ids is not None and len(stimulus_ids) != n:
        raise ShapeError(
            f"stimulus_ids has {len(stimulus_ids)} ids but the RDMs in {path.name!r} are over "
            f"{n} stimuli."
        )
    order = None
    if stimulus_ids is not None and in_file is not None:
        # the file names its rows: the given ids choose the order returned, never relabel rows
        order, stimulus_ids = stimulus_ids, None
    if stimulus_ids is None:
        stimulus_ids = in_file if in_file is not None else [str(i) for i in range(n)]
    meta = dict(extra.get("meta", {}))
    meta.update(source=str(path), ids_in_file="stimulus_ids" in extra)
    out = RDMs(
        np.vstack(vecs),
        np.asarray(stimulus_ids),
        desc,
        metric=metric or str(extra.get("metric", "unknown")),
        meta=meta,
    )
    return out if order is None else out.select(order)  # a missing id: StimulusMismatchError


def save_rdms(rdms: RDMs, path: str | Path) -> Path:
    """Write RDMs to one ``.npz`` (no pickle; atomic): condensed ``dissimilarities``,
    ``stimulus_ids``, ``descriptors/<column>``, metric and JSON-able meta. Read with
    :func:`load_rdms`."""
    if not isinstance(rdms, RDMs):
        raise ValidationError(f"save_rdms needs RDMs; got {type(rdms).__name__}.")
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    assert rdms.descriptors is not None
    payload: dict[str, Any] = {
        "dissimilarities": np.asarray(rdms.dissimilarities),
        "stimulus_ids": np.asarray(rdms.stimulus_ids, dtype=str),
    }
    for col in rdms.descriptors.columns:
        values = rdms.descriptors[col]
        payload[f"descriptors/{col}"] = (
            values.to_numpy()
            if values.dtype.kind in "biuf"
            else values.astype(str).to_numpy(dtype=str)
        )
    meta = {k: v for k, v in rdms.meta.items() if isinstance(v, (str, int, float, bool))}
    payload["__meta__"] = np.array(json.dumps({"metric": rdms.metric, "meta": meta}))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)

    return atomic_write(path, write)

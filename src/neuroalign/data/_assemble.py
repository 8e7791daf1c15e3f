"""Turning single trials into :class:`Responses`, and the exclusion report every reader keeps.

Every reader in :mod:`neuroalign.data` ends here: a trial array ``(n_trials, n_targets[, n_times])``
with one stimulus id per trial becomes ``repetitions`` of shape
``(n_reps, n_stimuli, n_targets[, n_times])`` (repetition ``k`` of a stimulus = its ``k``-th trial in
file order; NaN pads the stimuli shown fewer times), the average over repetitions becomes ``data``,
and whatever was left out (NaN voxels, unmatched events, ...) is written to
``Responses.meta["exclusions"]``, warned about and logged. Nothing is dropped silently.
"""

from __future__ import annotations

import logging
import os
import warnings
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import Responses, StimulusSet
from ..core._ids import describe_mismatch
from ..core._io import check_output
from ..core.exceptions import (
    ConfigurationError,
    NeuroalignWarning,
    StimulusMismatchError,
    ValidationError,
)

__all__ = [
    "UNSET",
    "Exclusions",
    "check_file",
    "check_image_complete",
    "check_output",
    "group_trials",
    "renamed_argument",
    "stimulus_set_for",
    "trials_to_responses",
]

logger = logging.getLogger("neuroalign.data")


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


UNSET: Any = _Unset()  # default of a renamed keyword: tells "not passed" from any value


def renamed_argument(
    func: str, old: str, old_value: Any, new: str, new_value: Any, new_default: Any, why: str
) -> Any:
    """The value of an argument renamed from ``old`` to ``new``.

    The old keyword keeps working for now with a :class:`FutureWarning` saying what to write;
    passing both raises :class:`ConfigurationError`.
    """
    if old_value is UNSET:
        return new_value
    if new_value is not new_default:
        raise ConfigurationError(
            f"{func}() got both {new}= and its old name {old}=; pass only {new}= ({why})."
        )
    warnings.warn(
        f"{func}({old}=...) is deprecated and will be removed; write {new}= instead ({why}).",
        FutureWarning,
        stacklevel=3,
    )
    return old_value


class Exclusions:
    """What a reader left out, and why: one record per reason (kept in ``meta['exclusions']``)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.records: list[dict[str, Any]] = []

    def add(
        self,
        what: str,
        count: int,
        reason: str,
        items: Sequence[Any] | np.ndarray = (),
        keep: int | None = 20,
        stacklevel: int = 3,
    ) -> None:
        """Record (and warn about) ``count`` excluded ``what`` (e.g. "voxels") for ``reason``;
        the record lists the first ``keep`` items (all of them with ``keep=None``)."""
        if count <= 0:
            return
        shown = [str(i) for i in list(items)[:keep]]
        self.records.append({"what": what, "count": int(count), "reason": reason, "items": shown})
        msg = f"{self.source}: excluded {count} {what} ({reason})" + (
            f"; first: {shown[:5]}" if shown else ""
        )
        logger.warning(msg)
        warnings.warn(msg, NeuroalignWarning, stacklevel=stacklevel)

    def as_meta(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.records]


def check_file(path: str | Path, what: str, suffixes: Sequence[str] | None = None) -> Path:
    """Return ``path`` as a Path after checking that it is an existing, readable file (with an
    expected suffix); each failure is a :class:`ValidationError` naming ``what`` and the path."""
    p = Path(path).expanduser()
    try:
        exists, is_dir = p.exists(), p.is_dir()
    except OSError as err:  # e.g. a parent folder without search permission
        raise ValidationError(
            f"{what} {str(p)!r} cannot be accessed ({err.strerror or err}); check the permissions "
            "of its folders."
        ) from err
    if not exists:
        raise ValidationError(f"{what} {str(p)!r} does not exist; check the path.")
    if is_dir:
        raise ValidationError(f"{what} {str(p)!r} is a folder; a file is needed here.")
    if suffixes is not None and not any(p.name.lower().endswith(s) for s in suffixes):
        raise ValidationError(
            f"{what} {str(p)!r} has an unsupported extension; expected one of {list(suffixes)}."
        )
    try:
        with open(p, "rb"):
            pass
    except OSError as err:
        raise ValidationError(
            f"{what} {str(p)!r} cannot be read ({err.strerror or err}); check its permissions."
        ) from err
    return p


def _gunzipped_size(path: Path, expected: int) -> tuple[int, bool]:
    """Uncompressed size of a gzip file and whether its stream ends properly.

    The gzip trailer stores the size modulo 2**32: when it equals ``expected`` the file is taken as
    complete without reading it; otherwise (a truncated file's last bytes are data, not a trailer)
    the file is decompressed in 1 MiB blocks to count its bytes (memory stays bounded).
    """
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() >= 18:
            f.seek(-4, os.SEEK_END)
            if int.from_bytes(f.read(4), "little") == expected % 2**32:
                return expected, True
        f.seek(0)
        total, dec, done = 0, zlib.decompressobj(16 + zlib.MAX_WBITS), False
        try:
            while block := f.read(1 << 20):
                while block:
                    total += len(dec.decompress(block))
                    if not dec.eof:
                        break
                    block, done = dec.unused_data, True  # the next gzip member, if any
                    dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    if block:
                        done = False
        except zlib.error:
            return total, False
        return total, done or dec.eof


def check_image_complete(img: Any, path: str | Path, what: str) -> None:
    """Raise :class:`ValidationError` when a NIfTI/MGH file is shorter than its header says.

    nibabel reads headers lazily, so a truncated download loads fine and even reports its full
    number of volumes; this compares the data the header describes (offset + shape × item size)
    with the bytes present (for ``.gz``/``.mgz``, the uncompressed stream), before any reading.
    Other formats are left to their readers.
    """
    p = Path(path)
    name = p.name.lower()
    if not name.endswith((".nii", ".nii.gz", ".mgh", ".mgz")):
        return
    try:  # the proxy's offset is where nibabel reads (a header may say 0 for 352)
        offset = int(getattr(img.dataobj, "offset", None) or img.header.get_data_offset())
        item = np.dtype(img.get_data_dtype()).itemsize
    except (AttributeError, TypeError, ValueError):
        return
    expected = offset + int(np.prod(img.shape, dtype=np.int64)) * item
    if name.endswith((".gz", ".mgz")):
        size, complete = _gunzipped_size(p, expected)
    else:
        size, complete = p.stat().st_size, True
    if size < expected or not complete:
        got = f"{size} bytes" + ("" if complete else " before the compressed stream breaks off")
        raise ValidationError(
            f"{what} {str(p)!r} is truncated: its header describes an image of shape "
            f"{tuple(img.shape)} ({expected} bytes of header and data) but the file holds {got}. "
            "Download or export it again."
        )


def group_trials(
    trial_stimulus: Sequence[Any] | np.ndarray, order: Sequence[Any] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stimulus order, and for each trial its stimulus position and repetition index.

    Parameters
    ----------
    trial_stimulus : sequence of str, one per trial
    order : sequence of str, optional
        Stimulus order of the output; default: order of first appearance.

    Returns
    -------
    ids : array (n_stimuli,) of str
    stim_pos : array (n_trials,) of int
    rep_idx : array (n_trials,) of int
        ``k`` for the ``k``-th trial of its stimulus (0-based, file order).
    """
    labels = np.asarray([str(s) for s in trial_stimulus], dtype=object)
    ids = np.asarray(
        list(pd.unique(labels)) if order is None else [str(o) for o in order], dtype=object
    )
    lookup = {s: i for i, s in enumerate(ids.tolist())}
    missing = sorted({s for s in labels.tolist() if s not in lookup})
    if missing:
        raise StimulusMismatchError(
            f"{len(missing)} trial stimulus id(s) are not in the requested order: "
            f"{missing[:10]}; add them to the order or drop those trials."
        )
    stim_pos = np.fromiter((lookup[s] for s in labels.tolist()), dtype=np.intp, count=len(labels))
    rep_idx = np.zeros(len(labels), dtype=np.intp)
    seen = np.zeros(len(ids), dtype=np.intp)
    for t, s in enumerate(stim_pos):
        rep_idx[t] = seen[s]
        seen[s] += 1
    return ids.astype(str), stim_pos, rep_idx


def trials_to_responses(
    trials: np.ndarray,
    trial_stimulus: Sequence[Any] | np.ndarray,
    *,
    order: Sequence[Any] | None = None,
    targets: pd.DataFrame | None = None,
    times: np.ndarray | None = None,
    name: str = "responses",
    meta: Mapping[str, Any] | None = None,
    exclusions: Exclusions | None = None,
    dtype: Any = np.float32,
) -> Responses:
    """Build :class:`Responses` from single trials, keeping every trial as a repetition.

    Parameters
    ----------
    trials : array (n_trials, n_targets[, n_times])
    trial_stimulus : sequence (n_trials,)
        The stimulus id of each trial.
    order : sequence, optional
        Stimulus order of the output (default: first appearance). Every trial's id must be in it;
        ids of ``order`` without a trial raise.
    targets, times, name, meta
        Passed to :class:`Responses`.
    exclusions : Exclusions, optional
        Stored as ``meta["exclusions"]``.

    Examples
    --------
    >>> import numpy as np
    >>> r = trials_to_responses(np.arange(6.0)[:, None], ["a", "b", "a", "b", "a", "c"])
    >>> r.stimulus_ids.tolist(), r.n_reps, r.data[:, 0].tolist()
    (['a', 'b', 'c'], 3, [2.0, 2.0, 5.0])
    """
    trials = np.asarray(trials)
    if trials.ndim not in (2, 3):
        raise ValidationError(
            f"trials must be (n_trials, n_targets[, n_times]); got shape {trials.shape}."
        )
    if len(trial_stimulus) != trials.shape[0]:
        raise ValidationError(
            f"{len(trial_stimulus)} trial stimulus ids for {trials.shape[0]} trials; they must match."
        )
    ids, stim_pos, rep_idx = group_trials(trial_stimulus, order)
    counts = np.bincount(stim_pos, minlength=len(ids))
    if (counts == 0).any():
        absent = ids[counts == 0]
        raise StimulusMismatchError(
            f"{len(absent)} requested stimulus id(s) have no trial: {absent[:10].tolist()}; "
            "remove them from the requested order."
        )
    n_reps = int(counts.max())
    reps = np.full((n_reps, len(ids), *trials.shape[1:]), np.nan, dtype=dtype)
    reps[rep_idx, stim_pos] = trials
    full_meta = dict(meta or {})
    full_meta["trial_counts"] = dict(zip(ids.tolist(), counts.tolist(), strict=True))
    if exclusions is not None:
        full_meta["exclusions"] = exclusions.as_meta()
        full_meta.setdefault("source", exclusions.source)
    with warnings.catch_warnings():  # unequal counts: reported via trial_counts, not a warning
        warnings.simplefilter("ignore", NeuroalignWarning)
        return Responses(
            stimulus_ids=ids,
            repetitions=reps,
            targets=targets,
            times=times,
            name=name,
            meta=full_meta,
        )


def stimulus_set_for(
    ids: Sequence[str] | np.ndarray,
    stimuli: StimulusSet | None,
    source: str,
    metadata: pd.DataFrame | None = None,
    name: str = "stimuli",
) -> StimulusSet:
    """The stimuli matching ``ids`` (in that order).

    With ``stimuli`` given, every id must be one of its ids (a mismatch raises, naming ``source``
    and the ids missing on each side). Without it, a text :class:`StimulusSet` whose texts are the
    ids (condition labels) is made, with ``metadata`` as its metadata; pass ``stimuli=`` to attach
    images.
    """
    ids = [str(i) for i in ids]
    if stimuli is not None:
        known = set(stimuli.ids.tolist())
        absent = [i for i in ids if i not in known]
        if absent:
            raise StimulusMismatchError(
                f"{source}: {len(absent)} stimulus id(s) in the data are absent from the stimulus "
                f"set {stimuli.name!r}: {describe_mismatch('the data', ids, 'the stimulus set', stimuli.ids)}. "
                "Fix the events/labels or pass the stimulus set that was shown."
            )
        return stimuli.select(ids)
    meta = metadata.reset_index(drop=True) if metadata is not None else None
    return StimulusSet(
        ids=np.asarray(ids),
        texts=list(ids),
        metadata=meta if meta is not None else pd.DataFrame(),
        name=name,
    )


def finite_targets(trials: np.ndarray, exclusions: Exclusions, what: str = "voxels") -> np.ndarray:
    """Boolean mask of targets that are finite in every trial; the others are recorded as excluded.

    Targets that are NaN/inf in every trial and those that are non-finite in only some trials are
    reported separately.
    """
    flat = trials.reshape(trials.shape[0], trials.shape[1], -1)
    bad = ~np.isfinite(flat)
    all_bad = bad.all(axis=(0, 2))
    some_bad = bad.any(axis=(0, 2)) & ~all_bad
    exclusions.add(what, int(all_bad.sum()), "NaN or inf in every trial", np.flatnonzero(all_bad))
    exclusions.add(what, int(some_bad.sum()), "NaN or inf in some trials", np.flatnonzero(some_bad))
    return ~(all_bad | some_bad)


def voxel_table(mask: np.ndarray, affine: np.ndarray) -> pd.DataFrame:
    """One row per voxel selected by a boolean 3-D ``mask``, in C order (the order of
    ``data[mask]`` and of nilearn's maskers): voxel indices ``i, j, k`` and scanner
    coordinates ``x, y, z`` in mm from the image ``affine``."""
    ijk = np.argwhere(mask)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    return pd.DataFrame(
        {
            "i": ijk[:, 0],
            "j": ijk[:, 1],
            "k": ijk[:, 2],
            "x": xyz[:, 0],
            "y": xyz[:, 1],
            "z": xyz[:, 2],
        }
    )

"""M/EEG readers: MNE ``Epochs`` / ``Evoked`` objects and files (FIF, EEGLAB ``.set``,
BrainVision ``.vhdr``, BIDS via mne-bids) → time-resolved :class:`Responses`.

Epochs become single trials grouped by condition (the event name, or a column of the epochs'
metadata, mapped to a stimulus id); trials of one stimulus are repetitions ``(n_reps, n_stimuli,
n_channels, n_times)``. ``Evoked`` objects are averages (one per condition, no repetitions;
``meta["nave"]`` keeps how many trials each averaged). Values stay in SI units (V, T, T/m), as MNE
stores them. Continuous recordings are epoched around their events/annotations first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import Responses, StimulusSet
from ..core._validation import require
from ..core.exceptions import ValidationError, close_matches
from ._assemble import Exclusions, check_file, stimulus_set_for, trials_to_responses

__all__ = ["load_meeg", "load_meeg_bids", "read_meeg"]

_RAW_READERS = {
    ".set": "read_raw_eeglab",
    ".vhdr": "read_raw_brainvision",
    ".edf": "read_raw_edf",
    ".bdf": "read_raw_bdf",
    ".fif": "read_raw_fif",
    ".fif.gz": "read_raw_fif",
}


def _mne() -> Any:
    return require("mne", "neuro", "reading M/EEG data")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".fif.gz" if name.endswith(".fif.gz") else path.suffix.lower()


def read_meeg(
    path: str | Path,
    *,
    event_id: Mapping[str, int] | Sequence[str] | None = None,
    tmin: float = -0.2,
    tmax: float = 0.8,
    baseline: tuple[float | None, float | None] | None = None,
) -> Any:
    """Read an M/EEG file as MNE ``Epochs`` (or a list of ``Evoked`` for ``-ave.fif`` files).

    Epoched files (``-epo.fif``, epoched EEGLAB sets) are read as they are. Continuous files
    (EEGLAB, BrainVision, EDF/BDF, raw FIF) are epoched from ``tmin`` to ``tmax`` s around their
    events: annotations (EEGLAB / BrainVision markers) or, for FIF, the stim channel. ``event_id``
    selects events (names, or ``{name: code}``); with none matching, the error lists those found.
    """
    mne = _mne()
    p = check_file(path, "M/EEG file", tuple(_RAW_READERS))
    suffix, stem = _suffix(p), p.name.lower()
    try:
        if suffix in (".fif", ".fif.gz") and ("-ave" in stem or "_ave" in stem):
            return mne.read_evokeds(str(p), verbose="error")
        if suffix in (".fif", ".fif.gz") and ("-epo" in stem or "_epo" in stem):
            return mne.read_epochs(str(p), verbose="error")
        if suffix == ".set":
            try:
                return mne.read_epochs_eeglab(str(p), verbose="error")
            except (ValueError, TypeError):
                pass  # a continuous EEGLAB set: epoch it below
        raw = getattr(mne.io, _RAW_READERS[suffix])(str(p), preload=False, verbose="error")
    except ValidationError:
        raise
    except (OSError, ValueError, KeyError, EOFError, RuntimeError) as err:
        raise ValidationError(
            f"M/EEG file {str(p)!r} could not be read ({type(err).__name__}: {err}); it may be "
            "truncated or corrupt (for EEGLAB/BrainVision, the data file .fdt/.eeg must sit next "
            "to the header)."
        ) from err
    return _epoch_raw(raw, str(p), event_id, tmin, tmax, baseline)


def _epoch_raw(
    raw: Any,
    source: str,
    event_id: Mapping[str, int] | Sequence[str] | None,
    tmin: float,
    tmax: float,
    baseline: tuple[float | None, float | None] | None,
) -> Any:
    mne = _mne()
    if len(raw.annotations):
        events, found = mne.events_from_annotations(raw, verbose="error")
    else:
        try:
            events = mne.find_events(raw, verbose="error")
        except ValueError:
            events = np.zeros((0, 3), dtype=int)
        found = {str(c): int(c) for c in np.unique(events[:, 2])}
    if len(events) == 0:
        raise ValidationError(
            f"M/EEG file {source!r} has no events (no annotations and no stim channel events); add "
            "the event markers or pass already-epoched data."
        )
    if event_id is None:
        wanted = dict(found)
    else:
        names = list(event_id)
        wanted = {n: found[n] for n in names if n in found}
        if not wanted:
            raise ValidationError(
                f"M/EEG file {source!r} has no events matching {names}; events found: "
                f"{sorted(found)}." + close_matches(str(names[0]), found)
            )
    return mne.Epochs(
        raw,
        events,
        event_id=wanted,
        tmin=tmin,
        tmax=tmax,
        baseline=baseline,
        preload=True,
        on_missing="ignore",
        verbose="error",
    )


_TYPES = ("eeg", "seeg", "ecog", "dbs", "fnirs", "eog", "ecg", "emg", "misc", "stim")


def _pick_idx(info: Any, picks: str | Sequence[str], source: str) -> np.ndarray:
    """Channel positions for ``picks``: "data", a channel type, or a list of channel names."""
    mne = _mne()
    if isinstance(picks, str) and picks == "data":
        idx = mne.pick_types(
            info, meg=True, eeg=True, seeg=True, ecog=True, dbs=True, fnirs=True, exclude="bads"
        )
    elif isinstance(picks, str) and picks in ("meg", "mag", "grad"):
        idx = mne.pick_types(info, meg=True if picks == "meg" else picks, exclude="bads")
    elif isinstance(picks, str) and picks in _TYPES:
        idx = mne.pick_types(info, meg=False, exclude="bads", **{picks: True})
    else:
        names = [picks] if isinstance(picks, str) else list(picks)
        unknown = [n for n in names if n not in info["ch_names"]]
        if unknown:
            raise ValidationError(
                f"{source!r}: unknown channel(s) {unknown[:5]} in picks; channels are "
                f"{info['ch_names'][:10]}..." + close_matches(unknown[0], info["ch_names"])
            )
        idx = [info["ch_names"].index(n) for n in names]
    idx = np.asarray(idx, dtype=int)
    if len(idx) == 0:
        raise ValidationError(
            f"{source!r}: picks={picks!r} selects no channel; use 'data', a channel type "
            f"({', '.join(('meg', *_TYPES))}) or channel names."
        )
    return idx


def _report_unpicked(
    info: Any, picks: str | Sequence[str], pick_idx: np.ndarray, exclusions: Exclusions
) -> None:
    """Record every channel left out by ``picks``, by name, one record per reason (bad channels,
    then each channel type: EOG, ECG, stim, ...)."""
    mne = _mne()
    chosen = set(pick_idx.tolist())
    left = [i for i in range(len(info["ch_names"])) if i not in chosen]
    bads = set(info["bads"])
    by_reason: dict[str, list[str]] = {}
    for i in left:
        name = info["ch_names"][i]
        kind = mne.channel_type(info, i)
        reason = (
            f"marked bad in info['bads'] ({kind})"
            if name in bads
            else f"{kind} channel, not selected by picks={picks!r}"
        )
        by_reason.setdefault(reason, []).append(name)
    for reason, names in by_reason.items():
        exclusions.add("channels", len(names), reason, names, keep=None, stacklevel=4)


def _channel_table(info: Any, picks: np.ndarray) -> pd.DataFrame:
    mne = _mne()
    names = [info["ch_names"][i] for i in picks]
    kinds = [mne.channel_type(info, int(i)) for i in picks]
    locs = np.array([info["chs"][i]["loc"][:3] for i in picks], dtype=float)
    table = pd.DataFrame({"channel": names, "ch_type": kinds})
    if np.isfinite(locs).all() and np.abs(locs).sum() > 0:
        table["x"], table["y"], table["z"] = locs[:, 0], locs[:, 1], locs[:, 2]
    return table


def _map_condition(
    cond: str, stimulus_map: Mapping[str, str] | Callable[[str], str] | None
) -> str | None:
    if stimulus_map is None:
        return cond
    if callable(stimulus_map):
        return stimulus_map(cond)
    return stimulus_map.get(cond)


def load_meeg(
    inst: Any,
    *,
    stimulus_map: Mapping[str, str] | Callable[[str], str] | None = None,
    stimulus_column: str | None = None,
    picks: str | Sequence[str] = "data",
    event_id: Mapping[str, int] | Sequence[str] | None = None,
    tmin: float = -0.2,
    tmax: float = 0.8,
    baseline: tuple[float | None, float | None] | None = None,
    stimuli: StimulusSet | None = None,
    subject: str | None = None,
    name: str | None = None,
) -> tuple[StimulusSet, Responses]:
    """M/EEG data as time-resolved responses ``(n_stimuli, n_channels, n_times)``.

    Parameters
    ----------
    inst : mne.Epochs, mne.Evoked, list of Evoked, or a path (see :func:`read_meeg`)
    stimulus_map : mapping or callable, optional
        Condition (event name, e.g. ``"face/famous"``) → stimulus id. Conditions it maps to
        ``None`` (or leaves out) are excluded and reported. Default: the condition is the id.
    stimulus_column : str, optional
        Take each epoch's stimulus id from this column of ``epochs.metadata`` instead.
    picks : str or list
        Channels (MNE ``picks``; default the data channels, e.g. EEG/MEG but not EOG/stim/bad).
        Every channel left out is listed by name in ``meta["exclusions"]`` (and warned about).
    event_id, tmin, tmax, baseline
        Epoching of continuous files (see :func:`read_meeg`).
    stimuli : StimulusSet, optional
        The stimuli shown; stimulus ids absent from it raise.

    Returns
    -------
    (StimulusSet, Responses)
        ``Responses.times`` in seconds; targets ``channel``, ``ch_type`` (and sensor ``x, y, z``).
    """
    mne = _mne()
    source = str(inst) if isinstance(inst, (str, Path)) else type(inst).__name__
    if isinstance(inst, (str, Path)):
        inst = read_meeg(inst, event_id=event_id, tmin=tmin, tmax=tmax, baseline=baseline)
    if isinstance(inst, mne.Evoked):
        inst = [inst]
    exclusions = Exclusions(source)
    if isinstance(inst, list):
        return _from_evokeds(inst, stimulus_map, picks, stimuli, subject, name, source, exclusions)
    if not isinstance(inst, mne.BaseEpochs):
        raise ValidationError(
            f"load_meeg needs mne Epochs, Evoked or a file path; got {type(inst).__name__}."
        )
    epochs = inst
    src_file = getattr(epochs, "filename", None)
    source = str(src_file) if src_file else source
    exclusions.source = source
    pick_idx = _pick_idx(epochs.info, picks, source)
    _report_unpicked(epochs.info, picks, pick_idx, exclusions)
    if stimulus_column is not None:
        meta = epochs.metadata
        if meta is None or stimulus_column not in meta:
            cols = [] if meta is None else list(meta.columns)
            raise ValidationError(
                f"{source!r}: epochs metadata has no column {stimulus_column!r}; columns: {cols}."
            )
        labels = [None if pd.isna(v) else str(v) for v in meta[stimulus_column]]
    else:
        inv = {code: cond for cond, code in epochs.event_id.items()}
        conds = [inv.get(int(c), str(int(c))) for c in epochs.events[:, 2]]
        labels = [_map_condition(c, stimulus_map) for c in conds]
        unmapped = sorted({c for c, lab in zip(conds, labels, strict=True) if lab is None})
        if unmapped and len(unmapped) == len(set(conds)):
            raise ValidationError(
                f"{source!r}: stimulus_map matches none of the conditions {sorted(set(conds))}; "
                "map each condition name to a stimulus id."
            )
    keep = np.array([lab is not None for lab in labels])
    exclusions.add(
        "epochs",
        int((~keep).sum()),
        "condition without a stimulus id",
        [i for i, k in enumerate(keep) if not k],
    )
    if epochs.drop_log is not None:
        dropped = [i for i, why in enumerate(epochs.drop_log) if why and why != ("IGNORED",)]
        if dropped:  # already dropped by MNE (rejection); report them, they are not in the data
            exclusions.add(
                "epochs", len(dropped), "rejected before reading (MNE drop_log)", dropped
            )
    data = epochs.get_data(picks=pick_idx)[keep].astype(np.float32)
    ids = [lab for lab in labels if lab is not None]
    targets = _channel_table(epochs.info, pick_idx)
    if subject is not None:
        targets.insert(0, "subject", subject)
    resp = trials_to_responses(
        data,
        ids,
        targets=targets,
        times=np.asarray(epochs.times, dtype=float),
        name=name or Path(source).name,
        meta={"source": source, "sfreq": float(epochs.info["sfreq"]), "kind": "meeg"},
        exclusions=exclusions,
    )
    return stimulus_set_for(resp.stimulus_ids, stimuli, source), resp


def _from_evokeds(
    evokeds: list[Any],
    stimulus_map: Mapping[str, str] | Callable[[str], str] | None,
    picks: str | Sequence[str],
    stimuli: StimulusSet | None,
    subject: str | None,
    name: str | None,
    source: str,
    exclusions: Exclusions,
) -> tuple[StimulusSet, Responses]:
    _mne()
    first = evokeds[0]
    for ev in evokeds[1:]:
        if ev.ch_names != first.ch_names or not np.allclose(ev.times, first.times):
            raise ValidationError(
                f"{source}: the Evoked objects differ in channels or times; make them equal first."
            )
    pick_idx = _pick_idx(first.info, picks, source)
    _report_unpicked(first.info, picks, pick_idx, exclusions)
    ids, arrays, nave, skipped = [], [], {}, []
    for ev in evokeds:
        sid = _map_condition(str(ev.comment), stimulus_map)
        if sid is None:
            skipped.append(str(ev.comment))
            continue
        ids.append(sid)
        arrays.append(ev.data[pick_idx].astype(np.float32))
        nave[sid] = int(ev.nave)
    exclusions.add("evoked conditions", len(skipped), "no stimulus id in stimulus_map", skipped)
    if not ids:
        raise ValidationError(f"{source}: no Evoked condition maps to a stimulus id.")
    targets = _channel_table(first.info, pick_idx)
    if subject is not None:
        targets.insert(0, "subject", subject)
    resp = Responses(
        stimulus_ids=np.asarray(ids),
        data=np.stack(arrays),
        targets=targets,
        times=np.asarray(first.times, dtype=float),
        name=name or source,
        meta={
            "source": source,
            "sfreq": float(first.info["sfreq"]),
            "nave": nave,
            "kind": "meeg",
            "exclusions": exclusions.as_meta(),
        },
    )
    return stimulus_set_for(resp.stimulus_ids, stimuli, source), resp


def load_meeg_bids(
    bids_root: str | Path,
    subject: str,
    task: str,
    *,
    session: str | None = None,
    run: str | None = None,
    datatype: str = "eeg",
    **kwargs: Any,
) -> tuple[StimulusSet, Responses]:
    """Read one BIDS M/EEG recording with mne-bids and epoch it around its ``events.tsv`` events.

    ``kwargs`` go to :func:`load_meeg` (``stimulus_map``, ``event_id``, ``tmin``, ``tmax``, ...).
    The events' ``trial_type`` values are the conditions.
    """
    mne_bids = require("mne_bids", "neuro", "reading BIDS M/EEG data")
    root = Path(bids_root)
    if not root.is_dir():
        raise ValidationError(f"bids_root {str(root)!r} is not a directory.")
    path = mne_bids.BIDSPath(
        subject=subject, session=session, task=task, run=run, datatype=datatype, root=root
    )
    try:
        raw = mne_bids.read_raw_bids(path, verbose="error")
    except (FileNotFoundError, OSError, ValueError, RuntimeError) as err:
        raise ValidationError(
            f"BIDS recording {path.basename!r} under {str(root)!r} could not be read ({err})."
        ) from err
    epoch_kw = {k: kwargs.pop(k) for k in ("event_id", "tmin", "tmax", "baseline") if k in kwargs}
    epochs = _epoch_raw(
        raw,
        str(path.fpath),
        epoch_kw.get("event_id"),
        epoch_kw.get("tmin", -0.2),
        epoch_kw.get("tmax", 0.8),
        epoch_kw.get("baseline"),
    )
    kwargs.setdefault("subject", subject)
    kwargs.setdefault("name", path.basename)
    return load_meeg(epochs, **kwargs)

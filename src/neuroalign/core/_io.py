"""Saving and loading containers as ``.npz`` files (no pickle; writes are atomic), and the one
atomic-write and file-checksum helpers every layer uses."""

from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._activations import Activations
from ._responses import Responses
from .exceptions import NeuroalignError, ValidationError

__all__ = ["load_activations", "load_responses", "open_npz", "save_activations", "save_responses"]

_LAYER = "layer:"
_TARGET = "target:"
_KIND = "neuroalign_container"  # "activations" or "responses": what a file written here holds
_META = {"stimulus_ids", "model", "reduce", "layer_order", "name", "times", _KIND}


def atomic_write(path: str | Path, write: Callable[[Path], Any], durable: bool = False) -> Path:
    """Create ``path`` through ``write(tmp)`` on a hidden temporary sibling, then rename it into
    place (atomic on POSIX): readers see the old file or the whole new one, never a part.
    ``durable`` flushes the file to disk before the rename (for data a crash must not lose)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str, durable: bool = False) -> Path:
    """:func:`atomic_write` of a UTF-8 text."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), durable)


def writable_dir(path: str | Path, argument: str) -> Path:
    """``path`` as a folder that exists and can be written (created when missing), checked
    before any work: a path that is a file, or a folder that cannot be created or written, is
    one :class:`ValidationError` naming ``argument`` and the user's path."""
    root = Path(path).expanduser()
    if root.exists() and not root.is_dir():
        raise ValidationError(
            f"{argument}={str(root)!r} is not a directory (it is a file); pass a folder path."
        )
    probe = root / f".probe.{os.getpid()}.tmp"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise ValidationError(
            f"{argument}={str(root)!r} cannot be created or written: {reason}. Choose a folder "
            "you can write to."
        ) from err
    return root


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _atomic_savez(path: str | Path, arrays: dict[str, Any], compress: bool = False) -> Path:
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    if not path.parent.is_dir():
        raise ValidationError(
            f"cannot write {str(path)!r}: the folder {str(path.parent)!r} does not exist."
        )
    save = np.savez_compressed if compress else np.savez

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez adds no second suffix
            save(f, **arrays)

    try:
        return atomic_write(path, write)
    except OSError as err:  # permission denied, disk full, ...
        raise ValidationError(
            f"cannot write {str(path)!r} ({err.strerror or err}); nothing was written."
        ) from err


@contextlib.contextmanager
def open_npz(path: str | Path, kind: str) -> Iterator[Any]:
    """Open an ``.npz`` file (no pickle) for reading its arrays; every way the file can be
    missing, unreadable, not an ``.npz`` or truncated is one :class:`ValidationError` naming
    ``kind`` and the path (also when an array is read inside the ``with`` block)."""
    p = Path(path)
    where = f"{kind} file {str(p)!r}"
    if not p.exists():
        raise ValidationError(f"{where} does not exist.")
    if p.is_dir():
        raise ValidationError(f"{where} is a folder; a .npz file is needed.")
    try:
        z = np.load(p, allow_pickle=False)
    except PermissionError as err:
        raise ValidationError(f"{where} cannot be read ({err.strerror}).") from err
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValidationError(
            f"{where} is not a readable .npz file: it is truncated, corrupt or of another format "
            f"({type(err).__name__}: {err}). Write it again with save_responses/save_activations "
            "(or numpy.savez)."
        ) from err
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValidationError(
            f"{where} holds a single array (.npy), not named arrays; write a .npz with "
            "stimulus_ids and the arrays (numpy.savez or save_responses/save_activations)."
        )
    try:
        with z:
            yield z
    except NeuroalignError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        raise ValidationError(
            f"{where} is truncated or corrupt: an array could not be read ({type(err).__name__}: "
            f"{err}). Write it again."
        ) from err


def _holds(z: Any) -> str | None:
    """What a ``.npz`` holds: ``"activations"``, ``"responses"`` or None (unknown)."""
    if _KIND in z:
        return str(z[_KIND])
    keys = list(z.keys())  # files from other tools: only unambiguous arrays decide
    if "layer_order" in keys or "model" in keys or any(k.startswith(_LAYER) for k in keys):
        return "activations"
    if "repetitions" in keys or "roi" in keys or any(k.startswith(_TARGET) for k in keys):
        return "responses"
    return None  # e.g. stimulus_ids + data: a responses file or a one-layer activations file


def save_activations(acts: Activations, path: str | Path, compress: bool = False) -> Path:
    """Write ``acts`` to ``path`` (.npz): stimulus ids, model id, reduction and one array per layer
    (``compress``: zip-deflated, smaller for sparse post-ReLU features, slower to write)."""
    arrays: dict[str, Any] = {
        "stimulus_ids": acts.stimulus_ids.astype(str),
        "model": np.array(acts.model),
        "reduce": np.array(acts.reduce),
        "layer_order": np.array(list(acts.layer_names)),
        _KIND: np.array("activations"),
    }
    arrays.update({_LAYER + k: np.asarray(v) for k, v in acts.layers.items()})
    return _atomic_savez(path, arrays, compress)


def load_activations(path: str | Path) -> Activations:
    """Read an :class:`Activations` written by :func:`save_activations`.

    A plain ``.npz`` also works: ``stimulus_ids`` plus one 2-D array per layer (any other name).
    """
    with open_npz(path, "activations") as z:
        if _holds(z) == "responses":
            raise ValidationError(
                f"{str(path)!r} holds brain Responses (arrays {sorted(z.keys())[:8]}), not model "
                "Activations; read it with load_responses (CLI: pass it as --responses)."
            )
        if "stimulus_ids" not in z:
            raise ValidationError(
                f"{str(path)!r} has no 'stimulus_ids' array; found {list(z.keys())}. Activations "
                "files hold stimulus_ids plus one (n_stimuli, n_features) array per layer."
            )
        names = (
            [str(n) for n in z["layer_order"]]
            if "layer_order" in z
            else [k.removeprefix(_LAYER) for k in z if k not in _META]
        )
        if not names:
            raise ValidationError(
                f"{str(path)!r} has stimulus_ids but no layer array; add one (n_stimuli, "
                "n_features) array per layer."
            )
        layers = {n: z[_LAYER + n] if _LAYER + n in z else z[n] for n in names}
        model = str(z["model"]) if "model" in z else f"file:{Path(path).name}"
        reduce = str(z["reduce"]) if "reduce" in z else "unknown"
        return Activations(model, z["stimulus_ids"].astype(str), layers, reduce=reduce)


def save_responses(resp: Responses, path: str | Path) -> Path:
    """Write ``resp`` to ``path`` (.npz): data, repetitions, ids, times and the targets table."""
    assert resp.targets is not None and resp.data is not None
    arrays: dict[str, Any] = {
        "stimulus_ids": resp.stimulus_ids.astype(str),
        "data": np.asarray(resp.data),
        "name": np.array(resp.name),
        _KIND: np.array("responses"),
    }
    if resp.repetitions is not None:
        arrays["repetitions"] = np.asarray(resp.repetitions)
    if resp.times is not None:
        arrays["times"] = np.asarray(resp.times)
    for col in resp.targets.columns:
        values = resp.targets[col].to_numpy()
        arrays[_TARGET + str(col)] = values.astype(str) if values.dtype == object else values
    return _atomic_savez(path, arrays)


def load_responses(path: str | Path) -> Responses:
    """Read :class:`Responses` written by :func:`save_responses`.

    A plain ``.npz`` also works: ``stimulus_ids`` and ``data`` (n_stimuli, n_targets[, n_times])
    and/or ``repetitions``; optional ``roi`` (n_targets,) labels and ``times``.
    """
    with open_npz(path, "responses") as z:
        if _holds(z) == "activations":
            raise ValidationError(
                f"{str(path)!r} holds model Activations (arrays {sorted(z.keys())[:8]}), not brain "
                "Responses; read it with load_activations (CLI: pass it as --features)."
            )
        if "stimulus_ids" not in z:
            raise ValidationError(
                f"{str(path)!r} has no 'stimulus_ids' array; found {list(z.keys())}."
            )
        targets = {k.removeprefix(_TARGET): z[k] for k in z if k.startswith(_TARGET)}
        if not targets and "roi" in z:
            targets = {"roi": z["roi"].astype(str)}
        return Responses(
            stimulus_ids=z["stimulus_ids"].astype(str),
            data=z["data"] if "data" in z else None,
            repetitions=z["repetitions"] if "repetitions" in z else None,
            targets=pd.DataFrame(targets) if targets else None,
            times=z["times"] if "times" in z else None,
            name=str(z["name"]) if "name" in z else Path(path).stem,
        )

"""Saving and loading containers as ``.npz`` files (no pickle; writes are atomic), and the one
atomic-write and file-checksum helpers every layer uses."""

from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._activations import Activations
from ._responses import Responses
from .exceptions import NeuroalignError, OutputError, ValidationError

__all__ = [
    "check_output",
    "check_output_dir",
    "load_activations",
    "load_responses",
    "open_npz",
    "save_activations",
    "save_responses",
]

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
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if err.filename is None or str(err.filename) not in (str(tmp), str(path)):
            raise  # from inside ``write``, about another file: its own message is right
        # the OS names the hidden temporary file; the user gave ``path``
        new = OutputError(_write_failure(path, err))
        new.errno = err.errno
        raise new from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _write_failure(path: Path, err: OSError) -> str:
    """Why ``path`` could not be written, in the user's terms (never the temporary name)."""
    why = err.strerror or type(err).__name__
    if not path.parent.is_dir():
        why = f"the folder {str(path.parent)!r} does not exist; create it first"
    elif not os.access(path.parent, os.W_OK):
        why = f"the folder {str(path.parent)!r} is not writable; choose another"
    return f"cannot write {str(path)!r}: {why}; nothing was written"


def check_output(
    path: str | Path, what: str = "output", suffix: str | Sequence[str] | None = None
) -> Path:
    """Check, before any work, that the file ``path`` can be written: its folder exists and is
    writable, it is not a folder (and it ends with ``suffix``, one or several).

    ``what`` names the argument in the message (``"--out"``, ``"out"``). Every command and
    function that writes a file calls this first, so a bad path fails in a second, not after
    the computation. Returns the path (``~`` expanded).

    Raises
    ------
    ValidationError
        Naming ``what`` and the path, and what to do.
    """
    p = Path(path).expanduser()
    if suffix is not None:
        allowed = (suffix,) if isinstance(suffix, str) else tuple(suffix)
        if not p.name.lower().endswith(tuple(s.lower() for s in allowed)):
            want = " or ".join(repr(s) for s in allowed)
            raise ValidationError(f"{what} {str(p)!r} must end with {want}.")
    parent = p.parent
    if parent.exists() and not parent.is_dir():
        raise ValidationError(f"{what} {str(p)!r}: {str(parent)!r} is a file, not a folder.")
    if not parent.is_dir():
        raise ValidationError(
            f"{what} {str(p)!r}: the folder {str(parent)!r} does not exist; create it first "
            "(mkdir -p) or choose another path."
        )
    if p.is_dir():
        raise ValidationError(f"{what} {str(p)!r} is a folder; give a file path.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValidationError(
            f"{what} {str(p)!r}: the folder {str(parent)!r} is not writable; choose another."
        )
    return p


def check_output_dir(path: str | Path, what: str = "output folder") -> Path:
    """Check, before any work, that the folder ``path`` exists and is writable, or can be created
    (its parent exists and is writable). Returns the path (``~`` expanded)."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise ValidationError(f"{what} {str(p)!r} is a file; give a folder.")
    if p.is_dir():
        if not os.access(p, os.W_OK | os.X_OK):
            raise ValidationError(f"{what} {str(p)!r} is not writable; choose another folder.")
        return p
    check_output(p, what)
    return p


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
        raise ValidationError(
            f"{argument}={str(root)!r} cannot be created or written: {os_reason(err)}. Choose a folder "
            "you can write to."
        ) from err
    return root


def os_reason(err: OSError) -> str:
    """An OSError's reason in words ("No space left on device"), for a message that names it."""
    return err.strerror or str(err) or type(err).__name__


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 4 MiB blocks."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return sha256_range(fd, 0, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def sha256_range(fd: int, pos: int, length: int) -> str:
    """SHA-256 of ``length`` bytes of an open file at ``pos``, read in 4 MiB blocks ("" when the
    file ends before them)."""
    h, end = hashlib.sha256(), pos + length
    while pos < end:
        block = os.pread(fd, min(1 << 22, end - pos), pos)
        if not block:
            return ""
        h.update(block)
        pos += len(block)
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
    except OutputError:  # already names ``path`` and the reason
        raise
    except OSError as err:  # permission denied, disk full, ...
        raise ValidationError(
            f"cannot write {str(path)!r} ({err.strerror or err}); nothing was written."
        ) from err


def sniff_file(path: str | Path) -> str | None:
    """What ``path`` holds when it is not a ``.npz`` archive, in words (``"a CSV table"``,
    ``"a parquet table"``, ``"a single .npy array"``, ``"an empty file"`` ...); None for a zip
    archive (an ``.npz``, maybe truncated: opening it says so). Reads the first bytes only."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"PK"):
        return None
    if not head:
        return "an empty file (0 bytes)"
    if head.startswith(b"PAR1"):
        return "a parquet table"
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array"
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file"
    if head.startswith(b"\x80"):
        return "a Python pickle"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "not a .npz archive (unknown binary format)"
    first = text.splitlines()[0] if text.splitlines() else ""
    if (
        "," in first
        or "\t" in first
        or ";" in first
        or Path(path).suffix.lower() in (".csv", ".tsv")
    ):
        return "a CSV text table"
    return "a text file"


def _reason(err: BaseException) -> str:
    """The library's reason for a failed read, without numpy's advice to load pickles."""
    text = str(err)
    return type(err).__name__ if "pickle" in text.lower() else f"{type(err).__name__}: {text}"


def not_npz_message(where: str, what: str, hint: str) -> str:
    """``"<where> is <what>, not a .npz archive; <hint>"``: never an invitation to load a file
    unsafely (numpy's own message for a text file suggests ``allow_pickle=True``)."""
    return f"{where} is {what}, not a readable .npz file (named arrays); {hint}"


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
        what = sniff_file(p)
        if what is not None and what != "a single .npy array":  # .npy: said below
            raise ValidationError(
                not_npz_message(
                    where,
                    what,
                    "give the .npz written by save_responses/save_activations (or numpy.savez).",
                )
            )
        z = np.load(p, allow_pickle=False)
    except ValidationError:
        raise
    except PermissionError as err:
        raise ValidationError(f"{where} cannot be read ({err.strerror}).") from err
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValidationError(
            f"{where} is not a readable .npz file: it is truncated, corrupt or of another format "
            f"({_reason(err)}). Write it again with save_responses/save_activations "
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
    except ValidationError as err:  # about an array of this file: say which file
        if str(p) in str(err) or type(err).__init__ is not ValidationError.__init__:
            raise
        raise type(err)(f"{where}: {err}") from err
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

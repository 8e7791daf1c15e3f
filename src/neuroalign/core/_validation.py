"""Input checks shared by every layer.

Each ``check_*`` returns the cleaned value or raises one of :mod:`neuroalign.core.exceptions` with
a message that names the argument, shows what was received and says what would work.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np

from .exceptions import (
    ConfigurationError,
    DependencyError,
    ShapeError,
    ValidationError,
    close_matches,
)

__all__ = [
    "check_array",
    "check_choice",
    "check_device",
    "check_finite",
    "check_ids",
    "check_n_samples",
    "check_positive",
    "check_same_length",
    "parse_memory_budget",
    "require",
    "torch_device",
]


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__}"


def _strings(name: str, arr: np.ndarray) -> str:
    first = next((v for v in arr.ravel()[:1000] if isinstance(v, (str, bytes, np.str_))), "")
    return (
        f"{name} must hold numbers but holds strings (e.g. {str(first)[:40]!r}; shape "
        f"{arr.shape}); pass the numeric array (labels or ids belong in their own argument)."
    )


def check_not_strings(x: Any, name: str) -> None:
    """Raise :class:`ValidationError` naming ``name`` when ``x`` holds strings (an array of
    str/bytes, or a list of them) where numbers are needed; looks at the dtype only (no copy of
    an array)."""
    if isinstance(x, (list, tuple)):
        x = np.asarray(x, dtype=object)
        if any(isinstance(v, (str, bytes)) for v in x.ravel()[:1000]):
            raise ValidationError(_strings(name, x))
        return
    dtype = getattr(x, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", "") in "US":
        raise ValidationError(_strings(name, np.asarray(x)))
    if dtype is not None and getattr(dtype, "kind", "") == "O":
        flat = np.asarray(x).ravel()[:1000]
        if any(isinstance(v, (str, bytes)) for v in flat):
            raise ValidationError(_strings(name, np.asarray(x)))


def check_array(
    x: Any,
    name: str,
    *,
    ndim: int | Collection[int] | None = None,
    dtype: Any = None,
    allow_nan: bool = False,
    min_rows: int | None = None,
    copy: bool = False,
) -> np.ndarray:
    """Convert ``x`` to an ndarray and check its dimensions and values.

    Parameters
    ----------
    x : array-like
        The value to check.
    name : str
        Argument name used in error messages.
    ndim : int or collection of int, optional
        Allowed numbers of dimensions.
    dtype : numpy dtype, optional
        Convert to this dtype (floating data stays floating; integers are promoted).
    allow_nan : bool
        If False, NaN or infinite values raise :class:`ValidationError` listing where they are.
    min_rows : int, optional
        Minimum length of the first axis.
    copy : bool
        Force a copy.
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray) and x.dtype.kind in "US":
        raise ValidationError(_strings(name, x))
    try:
        arr = np.array(x, dtype=dtype, copy=True) if copy else np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as err:
        if "string" in str(err):
            raise ValidationError(_strings(name, np.asarray(x, dtype=object))) from err
        raise ValidationError(
            f"{name} must be array-like of numbers; got {_describe(x)} ({err})."
        ) from err
    if arr.dtype.kind in "US":
        raise ValidationError(_strings(name, arr))
    if arr.dtype == object:
        raise ValidationError(
            f"{name} must be a numeric array; got an object array of shape {arr.shape} "
            "(ragged lists or mixed types?)."
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ShapeError(f"{name} must be {want}; got {arr.ndim}-D with shape {arr.shape}.")
    if min_rows is not None and (arr.ndim == 0 or arr.shape[0] < min_rows):
        got = arr.shape[0] if arr.ndim else 0
        raise ShapeError(f"{name} needs at least {min_rows} rows; got {got} (shape {arr.shape}).")
    if not allow_nan and np.issubdtype(arr.dtype, np.inexact):
        check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str, axis_name: str = "column") -> None:
    """Raise :class:`ValidationError` if ``arr`` holds NaN or inf, saying where.

    A finite sum proves every value finite (a NaN or an infinity makes the sum NaN or infinite):
    one pass and no boolean copy of a large array; only a sum that is not finite (an overflow of
    large values, or a bad value) looks at every element."""
    if arr.size > 4096 and np.issubdtype(arr.dtype, np.floating):
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.add.reduce(arr, axis=None)):
                return
    finite = np.isfinite(arr)
    if finite.all():
        return
    n_bad = int((~finite).sum())
    if arr.ndim >= 2:
        bad_cols = np.flatnonzero(~finite.reshape(arr.shape[0], arr.shape[1], -1).all(axis=(0, 2)))
        where = f"; {len(bad_cols)} {axis_name}(s) affected, first: {bad_cols[:5].tolist()}"
    else:
        where = f"; first positions: {np.flatnonzero(~finite)[:5].tolist()}"
    raise ValidationError(
        f"{name} contains {n_bad} NaN or infinite value(s) (shape {arr.shape}){where}. "
        "Drop or impute them before this step (e.g. exclude NaN voxels with a mask)."
    )


def check_ids(ids: Iterable[Any], name: str = "stimulus_ids") -> np.ndarray:
    """Return ``ids`` as a 1-D array of unique strings; duplicates raise, listing them."""
    arr = np.asarray([str(i) for i in ids], dtype=object)
    if arr.ndim != 1:
        raise ShapeError(f"{name} must be 1-D; got shape {arr.shape}.")
    if arr.size == 0:
        raise ValidationError(f"{name} is empty; at least one stimulus id is needed.")
    uniq, counts = np.unique(arr.astype(str), return_counts=True)
    if (counts > 1).any():
        dups = uniq[counts > 1]
        raise ValidationError(
            f"{name} must be unique; {len(dups)} id(s) occur more than once: "
            f"{dups[:10].tolist()}{' ...' if len(dups) > 10 else ''}."
        )
    return arr.astype(str)


def check_same_length(name_a: str, n_a: int, name_b: str, n_b: int) -> None:
    """Raise :class:`ShapeError` when two sizes that must agree differ."""
    if n_a != n_b:
        raise ShapeError(f"{name_a} has {n_a} entries but {name_b} has {n_b}; they must match.")


def check_choice(value: str, name: str, allowed: Collection[str]) -> str:
    """Check that ``value`` is one of ``allowed``; the error lists them and suggests a close one."""
    if value not in allowed:
        raise ConfigurationError(
            f"{name}={value!r} is not supported; choose one of {sorted(allowed)}."
            + close_matches(value, allowed)
        )
    return value


def check_positive(value: float, name: str, *, strict: bool = True) -> float:
    """Check that a scalar is positive (or non-negative when ``strict=False``)."""
    ok = value > 0 if strict else value >= 0
    if not np.isfinite(value) or not ok:
        bound = "> 0" if strict else ">= 0"
        raise ValidationError(f"{name} must be {bound}; got {value!r}.")
    return value


def check_n_samples(n: int, n_splits: int, name: str = "X", min_per_fold: int = 2) -> None:
    """Raise when ``n`` stimuli are too few for ``n_splits`` cross-validation folds."""
    if n < n_splits * min_per_fold:
        raise ValidationError(
            f"{name} has {n} stimuli, too few for {n_splits}-fold cross-validation "
            f"(need at least {n_splits * min_per_fold}); use fewer folds or more stimuli."
        )


_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(i?)(b?)\s*", re.IGNORECASE)


def parse_memory_budget(value: int | str, name: str = "memory_budget") -> int:
    """A memory budget as a number of bytes.

    Accepts a positive integer (bytes) or a string: ``"2GB"`` (10^9 units), ``"512MiB"``
    (2^20 units), ``"1.5 GB"``, ``"800k"``, ``"1000"``. Units ``k``/``M``/``G``/``T`` are
    decimal; with an ``i`` (``KiB``, ``MiB``, ``GiB``, ``TiB``) they are binary. Case and
    spaces do not matter. Anything else raises :class:`ValidationError` naming ``name``.
    """
    if isinstance(value, (bool, np.bool_)):
        raise ValidationError(
            f"{name} must be a byte count or a size such as '2GB' or '512MiB'; got {value!r}."
        )
    if isinstance(value, (int, np.integer)):
        n = int(value)
    elif (
        isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer()
    ):
        n = int(value)
    elif isinstance(value, str) and (m := _SIZE.fullmatch(value)):
        number, unit, binary, _ = m.groups()
        if binary and not unit:
            raise ValidationError(
                f"{name}={value!r} is not a size; write e.g. '512MiB', '2GB' or a byte count."
            )
        factor = 1024 ** " kmgt".index(unit.lower()) if binary else _UNITS[unit.lower()]
        n = int(float(number) * factor)
    else:
        raise ValidationError(
            f"{name}={value!r} is not a size; give a byte count (e.g. 2**30) or a string such "
            "as '2GB', '512MiB' or '1.5 GiB'."
        )
    if n <= 0:
        raise ValidationError(f"{name} must be a positive size; got {value!r} ({n} bytes).")
    return n


_DEVICE = re.compile(r"cuda(?::(\d+))?")


def check_device(device: Any, name: str = "device") -> str | None:
    """Check a ``device`` argument and return it as a string (or ``None``).

    The one device vocabulary of neuroalign: ``None`` or ``"cpu"`` (NumPy on the CPU where a
    kernel has a NumPy path, the CPU otherwise), ``"cuda"`` or ``"cuda:N"`` (torch on that GPU),
    and ``"torch"``, an alias for torch on the CPU. A ``torch.device`` is accepted and turned
    into its string. Requesting CUDA when torch or a CUDA device (or device ``N``) is missing
    raises :class:`ConfigurationError` here, before any work is done.
    """
    if device is None:
        return None
    if not isinstance(device, str) and type(device).__name__ == "device":  # torch.device
        device = str(device)
    if not isinstance(device, str):
        raise ConfigurationError(
            f"{name} must be None, 'cpu', 'cuda', 'cuda:N' or 'torch'; got {_describe(device)} "
            f"{device!r}."
        )
    dev = device.strip().lower()
    if dev in ("cpu", "torch"):
        return dev
    m = _DEVICE.fullmatch(dev)
    if m is None:
        raise ConfigurationError(
            f"{name}={device!r} is not supported; use None, 'cpu', 'cuda', 'cuda:N' or 'torch' "
            "(torch on the CPU)." + close_matches(dev, ["cpu", "cuda", "torch"])
        )
    try:
        import torch
    except ImportError as err:
        raise ConfigurationError(
            f"{name}={device!r} needs torch with CUDA, but torch is not installed; use "
            "device='cpu' or install torch."
        ) from err
    if not torch.cuda.is_available():
        raise ConfigurationError(
            f"{name}={device!r} was requested but torch {torch.__version__} sees no CUDA device; "
            "use device='cpu'."
        )
    if m.group(1) is not None and int(m.group(1)) >= torch.cuda.device_count():
        raise ConfigurationError(
            f"{name}={device!r} was requested but only {torch.cuda.device_count()} CUDA "
            f"device(s) exist (cuda:0 ... cuda:{torch.cuda.device_count() - 1})."
        )
    return dev


def torch_device(device: Any, name: str = "device") -> Any:
    """``device`` in the one vocabulary (:func:`check_device`) as a ``torch.device``: None,
    ``"cpu"`` and ``"torch"`` are the CPU. Checked before any work (missing CUDA is a
    :class:`ConfigurationError`, not torch's own error); torch is imported only here."""
    text = check_device(device, name)
    import torch

    return torch.device("cpu" if text in (None, "cpu", "torch") else text)


def require(module: str, extra: str, purpose: str) -> Any:
    """Import an optional dependency or raise :class:`DependencyError` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise DependencyError(
            f"{purpose} needs the optional dependency {module!r}, which is not installed "
            f"({err}). Install it with: pip install 'neuroalign[{extra}]'"
        ) from err


def as_list(x: str | Sequence[str] | None) -> list[str]:
    """Normalise ``None``, a string or a sequence of strings to a list of strings."""
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return [str(v) for v in x]

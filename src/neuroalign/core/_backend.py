"""The numerical backend: NumPy or torch (CPU or CUDA), chosen per call, never globally.

Kernels ask :func:`get_backend` for a :class:`Backend` and do all heavy work through it, so the same
code runs on NumPy arrays or torch tensors on any device. float32 is the default precision.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import check_choice, require
from .exceptions import ConfigurationError

__all__ = ["Backend", "chunk_slices", "get_backend", "targets_per_chunk"]

_DTYPES = {"float32": np.float32, "float64": np.float64}


@dataclass(frozen=True)
class Backend:
    """Array operations on one library and device.

    Attributes
    ----------
    name : {"numpy", "torch"}
    device : str
        ``"cpu"`` for NumPy; a torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``) for torch.
    dtype : {"float32", "float64"}
    """

    name: str
    device: str
    dtype: str = "float32"

    # -- conversion ------------------------------------------------------------
    def asarray(self, x: Any) -> Any:
        """``x`` as an array of this backend's dtype on its device (no copy when already so)."""
        if self.name == "numpy":
            if hasattr(x, "detach"):
                x = x.detach().cpu().numpy()
            return np.asarray(x, dtype=_DTYPES[self.dtype])
        torch = _torch()
        tdtype = getattr(torch, self.dtype)
        if isinstance(x, torch.Tensor):
            return x.to(device=self.device, dtype=tdtype)
        a = np.asarray(x)
        if not a.flags.writeable:  # torch cannot wrap read-only memory
            a = np.array(a, dtype=_DTYPES[self.dtype])
        return torch.as_tensor(a, dtype=tdtype, device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        """``x`` as a NumPy array on the host."""
        if hasattr(x, "detach"):
            return x.detach().cpu().numpy()
        return np.asarray(x)

    # -- linear algebra --------------------------------------------------------
    def eigh(self, a: Any) -> tuple[Any, Any]:
        """Eigen-decomposition of a symmetric matrix: ascending eigenvalues and eigenvectors."""
        if self.name == "numpy":
            return np.linalg.eigh(a)
        w, v = _torch().linalg.eigh(a)
        return w, v

    def zeros(self, shape: tuple[int, ...]) -> Any:
        if self.name == "numpy":
            return np.zeros(shape, dtype=_DTYPES[self.dtype])
        torch = _torch()
        return torch.zeros(shape, dtype=getattr(torch, self.dtype), device=self.device)

    def sqrt(self, x: Any) -> Any:
        return np.sqrt(x) if self.name == "numpy" else _torch().sqrt(x)

    def clip_min(self, x: Any, low: float) -> Any:
        return np.maximum(x, low) if self.name == "numpy" else _torch().clamp(x, min=low)

    def itemsize(self) -> int:
        return 4 if self.dtype == "float32" else 8


def _torch() -> Any:
    return require("torch", "torch", "the torch backend")


def get_backend(device: str | None = None, dtype: str = "float32") -> Backend:
    """The backend for ``device``.

    Parameters
    ----------
    device : {"cpu", "numpy", "torch", "cuda", "cuda:N", "torch:cpu"}, optional
        ``None``, ``"cpu"`` and ``"numpy"`` use NumPy on the CPU; ``"torch"`` or ``"torch:cpu"``
        use torch on the CPU; ``"cuda"``/``"cuda:N"`` use torch on that GPU.
    dtype : {"float32", "float64"}
    """
    check_choice(dtype, "dtype", tuple(_DTYPES))
    if device is None or device in ("cpu", "numpy"):
        return Backend("numpy", "cpu", dtype)
    if device in ("torch", "torch:cpu"):
        _torch()
        return Backend("torch", "cpu", dtype)
    if device.startswith("cuda"):
        torch = _torch()
        if not torch.cuda.is_available():
            raise ConfigurationError(
                f"device={device!r} was requested but torch sees no CUDA device "
                f"(torch {torch.__version__}); use device='cpu'."
            )
        return Backend("torch", device, dtype)
    raise ConfigurationError(
        f"device={device!r} is not supported; use 'cpu', 'torch', 'cuda' or 'cuda:N'."
    )


def targets_per_chunk(bytes_per_target: int, memory_budget: int, minimum: int = 1) -> int:
    """How many targets fit in ``memory_budget`` bytes when each needs ``bytes_per_target``."""
    return max(minimum, int(memory_budget // max(1, bytes_per_target)))


def chunk_slices(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` covering ``range(n)``."""
    size = max(1, int(size))
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def centre(x: np.ndarray, axis: int | tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``x`` minus its mean over ``axis`` (a new array of ``x``'s dtype) and that mean, float64
    accumulated, as subtracted (rounded to ``x``'s dtype; shape with ``axis`` dropped).

    Kernels whose answer does not change when the data move by a constant centre first: raw
    products of data whose mean is large against its spread (BOLD ≈ 10⁴) lose every digit in
    float32 when the mean is taken out afterwards (see ARCHITECTURE, "float32")."""
    mean = x.mean(axis, keepdims=True, dtype=np.float64).astype(x.dtype, copy=False)
    return x - mean, np.squeeze(mean, axis).astype(np.float64)


def rounding_only(centred_sq: Any, raw_sq: Any, dtype: str | np.dtype) -> Any:
    """Where a centred sum of squares is only the rounding of the raw one (the data were
    constant: centring a constant 0.1 in float32 leaves ~1e-8, not 0), for ``dtype``'s
    precision; elementwise on NumPy arrays, torch tensors or floats."""
    eps = float(np.finfo(np.dtype(dtype)).eps)
    return centred_sq <= (16 * eps) ** 2 * raw_sq

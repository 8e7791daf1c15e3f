"""``.npy`` files that hold a pickled object (a dict of arrays, as THINGS-EEG2 releases its data),
read without running pickle's code and without loading the large arrays.

``numpy.save(path, {"data": array, ...})`` writes the ``.npy`` header of a 0-d object array and
then the dict as a pickle stream (``numpy.lib.format.write_array``: ``pickle.dump(array, fp,
protocol=...)``). ``numpy.load(allow_pickle=True)`` can run any code such a stream names and reads
every array into memory. :func:`read_pickled_npy` walks the same stream with a restricted
unpickler:

- only numpy's own array, dtype and scalar reconstructors are allowed (anything else in the stream
  is refused before it is called), so a file cannot run code;
- an array payload larger than ``mmap_threshold`` bytes is not read: its offset in the file is
  recorded and the array becomes a read-only :class:`numpy.memmap` of those bytes (C or Fortran
  order as pickled), so a 1 GB EEG array costs no memory until its rows are used.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from ..core.exceptions import ValidationError

__all__ = ["read_pickled_npy", "unpickle_numpy"]

_RECONSTRUCT = {"numpy.core.multiarray", "numpy._core.multiarray"}
_FROMBUFFER = {"numpy.core.numeric", "numpy._core.numeric"}


class _Payload:
    """Bytes of the file left on disk: ``nbytes`` at ``offset``."""

    __slots__ = ("nbytes", "offset")

    def __init__(self, offset: int, nbytes: int) -> None:
        self.offset, self.nbytes = offset, nbytes


class _ArrayStub:
    """What numpy's ``_reconstruct`` returns here; pickle's BUILD gives it the array's state."""

    __slots__ = ("path", "value")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.value: Any = None

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        if len(state) == 5:  # (version, shape, dtype, is_fortran, data)
            state = state[1:]
        shape, dtype, fortran, raw = state
        self.value = _make_array(self.path, raw, np.dtype(dtype), tuple(shape), bool(fortran))


def _make_array(
    path: Path, raw: Any, dtype: np.dtype, shape: tuple[int, ...], fortran: bool
) -> Any:
    order: Literal["C", "F"] = "F" if fortran else "C"
    if dtype.hasobject:  # object arrays pickle their items as a list
        items = list(raw)
        out = np.empty(len(items), dtype=object)
        for i, v in enumerate(items):
            out[i] = _resolve(v)
        return out.reshape(shape, order=order)
    count = int(np.prod(shape, dtype=np.int64))
    if isinstance(raw, _Payload):
        if raw.nbytes != count * dtype.itemsize:
            raise ValidationError(
                f"{str(path)!r}: an array of shape {shape} and dtype {dtype} needs "
                f"{count * dtype.itemsize} bytes but the file stores {raw.nbytes}; the file is "
                "damaged."
            )
        return np.memmap(path, dtype=dtype, mode="r", offset=raw.offset, shape=shape, order=order)
    buf = bytes(raw)
    if len(buf) != count * dtype.itemsize:
        raise ValidationError(
            f"{str(path)!r}: an array of shape {shape} and dtype {dtype} stores {len(buf)} bytes "
            f"instead of {count * dtype.itemsize}; the file is damaged."
        )
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order)


def _resolve(obj: Any) -> Any:
    """Arrays in place of their stubs, through dicts, lists and tuples."""
    if isinstance(obj, _ArrayStub):
        return _resolve(obj.value)
    if isinstance(obj, dict):
        return {k: _resolve(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_resolve(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_resolve(v) for v in obj)
    return obj


class _LazyUnpickler(pickle._Unpickler):  # the pure-Python unpickler: its opcodes can be replaced
    dispatch: ClassVar[dict[int, Any]] = dict(pickle._Unpickler.dispatch)
    # set by pickle._Unpickler.load (declared for type checkers only)
    _unframer: Any
    read: Any
    append: Any

    def __init__(self, fh: Any, path: Path, size: int, threshold: int) -> None:
        super().__init__(fh)
        self._fh, self._path, self._size, self._threshold = fh, path, size, threshold

    def find_class(self, module: str, name: str) -> Any:
        path = self._path
        if module in _RECONSTRUCT and name == "_reconstruct":
            return lambda *_args: _ArrayStub(path)
        if module in _RECONSTRUCT and name == "scalar":
            return lambda dtype, raw=b"": np.frombuffer(bytes(raw), dtype=np.dtype(dtype))[0]
        if module in _FROMBUFFER and name == "_frombuffer":
            return lambda buf, dtype, shape, order: _make_array(
                path, buf, np.dtype(dtype), tuple(shape), order == "F"
            )
        if module == "numpy" and name == "dtype":
            return np.dtype
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        raise pickle.UnpicklingError(
            f"{str(path)!r} asks to build {module}.{name}; only numpy arrays, dtypes and scalars "
            "(in dicts, lists, tuples, strings and numbers) are read from pickled .npy files."
        )

    def _bytes(self, n: int, kind: type = bytes) -> None:
        frame = self._unframer.current_frame
        in_frame = frame is not None and frame.tell() < len(frame.getbuffer())
        if n < self._threshold or in_frame:
            self.append(kind(self.read(n)))
            return
        offset = self._fh.tell()
        if offset + n > self._size:
            raise ValidationError(
                f"{str(self._path)!r} is truncated: an array needs {n} bytes at byte {offset}, "
                f"the file has {self._size}."
            )
        self._fh.seek(n, 1)
        self.append(_Payload(offset, n))

    def load_binbytes(self) -> None:
        (n,) = struct.unpack("<I", self.read(4))
        self._bytes(n)

    def load_binbytes8(self) -> None:
        (n,) = struct.unpack("<Q", self.read(8))
        self._bytes(n)

    def load_bytearray8(self) -> None:
        (n,) = struct.unpack("<Q", self.read(8))
        self._bytes(n, bytearray)

    dispatch[pickle.BINBYTES[0]] = load_binbytes
    dispatch[pickle.BINBYTES8[0]] = load_binbytes8
    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8


def unpickle_numpy(data: bytes, what: str = "pickled data") -> Any:
    """An object pickled in ``data`` (bytes), under the same restrictions as
    :func:`read_pickled_npy` (numpy arrays, dtypes and scalars in plain containers; everything
    read into memory). Used for pandas' pickled HDF5 column labels."""
    import io

    try:
        obj = _LazyUnpickler(io.BytesIO(data), Path(what), len(data), 1 << 62).load()
    except (pickle.UnpicklingError, EOFError, struct.error) as err:
        raise ValidationError(f"{what} cannot be read as a pickle of numpy objects: {err}") from err
    return _resolve(obj)


def read_pickled_npy(path: str | Path, mmap_threshold: int = 1 << 20) -> Any:
    """The object pickled in a ``.npy`` file (``numpy.save`` of a dict), read safely and lazily.

    Parameters
    ----------
    path : path
        A ``.npy`` file whose array is a 0-d object array (what ``numpy.save`` writes for a dict).
    mmap_threshold : int
        Array payloads of at least this many bytes stay on disk as read-only memory maps; smaller
        ones are read.

    Returns
    -------
    The pickled object (e.g. the dict), with numpy arrays (memory maps for the large ones).

    Raises
    ------
    ValidationError
        Not a ``.npy`` file, not a pickled object, a truncated file, or a stream that names
        anything but numpy's array reconstructors (refused before it is called).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "d.npy")
    >>> np.save(p, {"x": np.arange(120000.0).reshape(300, 400), "names": ["a", "b"]})
    >>> d = read_pickled_npy(p)  # 960 kB < the 1 MiB default: read into memory
    >>> type(d["x"]).__name__, type(read_pickled_npy(p, mmap_threshold=4096)["x"]).__name__
    ('ndarray', 'memmap')
    >>> float(d["x"][1, 2]), d["names"]
    (402.0, ['a', 'b'])
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            read_header = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(version)
            if read_header is None:
                raise ValueError(f"unsupported .npy format version {version}")
            shape, _fortran, dtype = read_header(fh)
        except ValueError as err:
            raise ValidationError(f"{str(path)!r} is not a .npy file ({err}).") from err
        if not dtype.hasobject:
            raise ValidationError(
                f"{str(path)!r} holds a plain {dtype} array of shape {shape}, not a pickled "
                "object; read it with numpy.load(mmap_mode='r')."
            )
        try:
            obj = _LazyUnpickler(fh, path, size, int(mmap_threshold)).load()
        except (pickle.UnpicklingError, EOFError, struct.error) as err:
            raise ValidationError(f"{str(path)!r} cannot be read as a pickled .npy: {err}") from err
    obj = _resolve(obj)
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.shape == ():
        return obj[()]  # numpy.save's 0-d wrapper of the saved object
    return obj

"""``StimulusSet``: the stimuli, their ids and metadata, and a content fingerprint."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._identity import Identity
from ._ids import positions
from ._validation import check_ids, check_same_length, require
from .exceptions import ValidationError

__all__ = ["CONTENT_COLUMNS", "StimulusSet"]

ImageLike = Any  # a path, an (H, W[, C]) array or a PIL image
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
# Metadata columns that change what a model computes for a stimulus (a word's character span in
# its sentence drives token pooling): part of the fingerprint. Other columns are labels.
CONTENT_COLUMNS = ("char_start", "char_end")


#: (resolved path, size, mtime_ns, inode) → SHA-256 of the file's bytes, this process
_FILE_HASHES: dict[tuple[str, int, int, int], bytes] = {}


def _file_hash(path: Path) -> bytes:
    """SHA-256 of a file's bytes, reused while its size, modification time and inode are
    unchanged (an overwritten file is read again)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    digest = _FILE_HASHES.get(key)
    if digest is None:
        digest = hashlib.sha256(path.read_bytes()).digest()
        if len(_FILE_HASHES) > 1_000_000:
            _FILE_HASHES.clear()
        _FILE_HASHES[key] = digest
    return digest


@dataclass(frozen=True, eq=False)
class StimulusSet:
    """A set of stimuli (images or texts) under unique string ids.

    Parameters
    ----------
    ids : sequence of str
        One unique id per stimulus; the join key for every other container.
    images : sequence of paths, arrays or PIL images, or an array of shape (n_stimuli, H, W[, C]), optional
        The images. Paths are read lazily.
    texts : sequence of str, optional
        The texts (sentences, captions, words).
    metadata : pandas.DataFrame, optional
        One row per stimulus in the order of ``ids`` (category labels, latent factors, ...).
    name : str
        A short name used in reports.

    Examples
    --------
    >>> import numpy as np
    >>> from neuroalign import StimulusSet
    >>> s = StimulusSet(ids=["a", "b"], images=np.zeros((2, 8, 8, 3), np.uint8))
    >>> len(s), s.kind
    (2, 'image')
    """

    ids: np.ndarray
    images: Sequence[ImageLike] | np.ndarray | None = None
    texts: Sequence[str] | None = None
    metadata: pd.DataFrame = field(default_factory=pd.DataFrame)
    name: str = "stimuli"

    def __post_init__(self) -> None:
        ids = check_ids(self.ids, "ids")
        object.__setattr__(self, "ids", ids)
        if self.images is None and self.texts is None:
            raise ValidationError("StimulusSet needs images or texts; got neither.")
        if self.images is not None and self.texts is not None:
            raise ValidationError("StimulusSet holds images or texts, not both; make two sets.")
        content: Any = self.images if self.images is not None else self.texts
        check_same_length(
            "ids", len(ids), "images" if self.images is not None else "texts", len(content)
        )
        if isinstance(self.images, np.ndarray):
            if self.images.ndim not in (3, 4):
                raise ValidationError(
                    f"images as an array must be (n_stimuli, H, W) or (n_stimuli, H, W, C); "
                    f"got shape {self.images.shape}."
                )
            view = self.images.view()  # read-only view; the caller's array stays writable
            view.setflags(write=False)
            object.__setattr__(self, "images", view)
        elif self.images is not None:
            object.__setattr__(self, "images", tuple(self.images))
        if self.texts is not None:
            texts = tuple(self.texts)
            bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
            if bad:
                raise ValidationError(f"texts must be strings; entries {bad[:5]} are not.")
            object.__setattr__(self, "texts", texts)
        meta = pd.DataFrame(self.metadata).copy()
        if len(meta.columns) == 0 and len(meta) == 0:
            meta = pd.DataFrame(index=pd.RangeIndex(len(ids)))
        check_same_length("ids", len(ids), "metadata rows", len(meta))
        meta.index = pd.Index(ids, name="stimulus_id")
        object.__setattr__(self, "metadata", meta)

    # ------------------------------------------------------------------ readers
    @classmethod
    def from_path(cls, path: str | Path, name: str | None = None) -> StimulusSet:
        """Stimuli from a directory of images, a text file or a table.

        - a directory: every image file below it (``.png .jpg .jpeg .bmp .gif .tif .tiff .webp``),
          sorted; ids are the relative paths without the suffix (``cats/cat01``);
        - ``.txt``: one text per non-empty line; ids ``t0000``, ``t0001``, …;
        - ``.csv`` / ``.tsv``: a column ``id`` and a column ``path`` (images, relative to the
          table's folder) or ``text``; every other column is metadata (``char_start`` /
          ``char_end`` mark a word in context).
        """
        path = Path(path).expanduser()
        label = name or path.stem
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES
            )
            if not files:
                raise ValidationError(
                    f"no image files ({', '.join(sorted(_IMAGE_SUFFIXES))}) under {str(path)!r}."
                )
            ids = [p.relative_to(path).with_suffix("").as_posix() for p in files]
            return cls(ids=np.asarray(ids), images=files, name=label)
        if not path.is_file():
            raise ValidationError(f"stimuli {str(path)!r}: no such file or directory.")
        if path.suffix.lower() == ".txt":
            lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
            return cls(
                ids=np.array([f"t{i:04d}" for i in range(len(lines))]), texts=lines, name=label
            )
        if path.suffix.lower() in (".csv", ".tsv"):
            table = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
            if "id" not in table.columns or not ({"path", "text"} & set(table.columns)):
                raise ValidationError(
                    f"{str(path)!r} needs a column 'id' and a column 'path' or 'text'; it has "
                    f"{list(table.columns)}."
                )
            meta = table.drop(columns=[c for c in ("id", "path", "text") if c in table.columns])
            if "path" in table.columns:
                images = [path.parent / str(p) for p in table["path"]]
                return cls(ids=table["id"].astype(str), images=images, metadata=meta, name=label)
            return cls(
                ids=table["id"].astype(str),
                texts=list(table["text"].astype(str)),
                metadata=meta,
                name=label,
            )
        raise ValidationError(
            f"stimuli {str(path)!r}: expected a directory of images, a .txt or a .csv/.tsv file."
        )

    # ------------------------------------------------------------------ basics
    @property
    def kind(self) -> str:
        """``"image"`` or ``"text"``."""
        return "image" if self.images is not None else "text"

    @property
    def stimulus_ids(self) -> np.ndarray:
        """The ids (the same as ``ids``; every container has ``stimulus_ids``)."""
        return self.ids

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"StimulusSet(name={self.name!r}, n_stimuli={len(self)}, kind={self.kind!r})"

    def select(self, ids: Sequence[Any]) -> StimulusSet:
        """A new set with the given ids, in that order (unknown ids raise)."""
        idx = positions(self.ids, ids, f"StimulusSet {self.name!r}")
        return self.take(idx)

    def take(self, idx: Sequence[int] | np.ndarray) -> StimulusSet:
        """A new set with the stimuli at positions ``idx``."""
        idx = np.asarray(idx, dtype=np.intp)
        images = texts = None
        if isinstance(self.images, np.ndarray):
            images = self.images[idx]
        elif self.images is not None:
            images = [self.images[i] for i in idx]
        else:
            assert self.texts is not None
            texts = [self.texts[i] for i in idx]
        return StimulusSet(
            ids=self.ids[idx],
            images=images,
            texts=texts,
            metadata=self.metadata.iloc[idx].reset_index(drop=True),
            name=self.name,
        )

    # ------------------------------------------------------------------ content
    def load_image(self, i: int) -> np.ndarray:
        """Image ``i`` as an ``(H, W, 3)`` array whose pixel values are never changed.

        Grayscale is repeated to three channels and an alpha channel is dropped; the values and
        their type are kept: 8-bit images are ``uint8``, 16-bit images ``uint16`` (not clipped),
        float images stay float (given to ``preprocess`` as they are). Integer arrays of another
        type are narrowed to ``uint8`` or ``uint16`` only when every value fits (lossless);
        otherwise they are an error, as are complex or object arrays.
        """
        if self.images is None:
            raise ValidationError(f"StimulusSet {self.name!r} holds texts, not images.")
        img = self.images[i]
        if isinstance(img, (str, Path)):
            pil = require("PIL.Image", "torch", "reading image files")
            with pil.open(img) as im:
                return self._pixels(_from_pil(im), i)
        if hasattr(img, "convert") and hasattr(img, "size"):  # PIL image
            return self._pixels(_from_pil(img), i)
        return self._pixels(np.asarray(img), i)

    def _pixels(self, arr: np.ndarray, i: int) -> np.ndarray:
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        elif arr.ndim == 3 and arr.shape[2] == 1:
            arr = np.repeat(arr, 3, axis=2)
        elif arr.ndim == 3 and arr.shape[2] == 4:
            arr = arr[..., :3]
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValidationError(
                f"image {i} ({self.ids[i]!r}) has shape {arr.shape}; expected (H, W[, 1|3|4])."
            )
        return _lossless_pixels(arr, f"image {i} ({self.ids[i]!r})")

    @property
    def fingerprint(self) -> str:
        """SHA-256 of everything that can change a model's features for this set: the kind, each
        id and its content (file bytes, array shape, type and bytes, PIL mode, size and pixels,
        or text), and the metadata columns that extraction reads (``CONTENT_COLUMNS``: word
        spans). Every field is length-prefixed, so no two different sets share a fingerprint by
        concatenation (``"s1" + "0 cats"`` is not ``"s10" + " cats"``).

        Computed from the content as it is *now* at every access (an extraction takes it once):
        image files overwritten under the same names, or an array the set shares with the
        caller edited in place, give a new fingerprint (a value kept from the first access
        served the old features from the store). A file's hash is reused while its size and
        modification time are unchanged."""
        ident = Identity("stimuli")
        put = ident.add
        put(self.kind)
        for i, sid in enumerate(self.ids):
            put(str(sid))
            if self.texts is not None:
                put(self.texts[i])
                continue
            assert self.images is not None
            img = self.images[i]
            if isinstance(img, (str, Path)):
                put("file")
                put(_file_hash(Path(img)))
            elif hasattr(img, "tobytes") and not isinstance(img, np.ndarray):  # PIL
                put(f"pil|{img.mode}|{img.size}")
                put(img.tobytes())
            else:
                ident.add_array(np.asarray(img))
        for col in CONTENT_COLUMNS:
            if col in self.metadata.columns:
                put(col)
                put(str(self.metadata[col].tolist()))
        return ident.hexdigest()

    # ------------------------------------------------------------------ export
    def to_pandas(self) -> pd.DataFrame:
        """One row per stimulus: id, text or image path (when paths), and the metadata columns."""
        df = self.metadata.copy()
        if self.texts is not None:
            df.insert(0, "text", list(self.texts))
        elif self.images is not None and not isinstance(self.images, np.ndarray):
            if all(isinstance(im, (str, Path)) for im in self.images):
                df.insert(0, "image_path", [str(p) for p in self.images])
        return df

    def to_xarray(self) -> Any:
        """An ``xarray.Dataset`` indexed by ``stimulus_id`` (images as a variable when an array)."""
        xr = require("xarray", "io", "StimulusSet.to_xarray")
        ds = xr.Dataset.from_dataframe(self.to_pandas())
        if isinstance(self.images, np.ndarray):
            dims = ["stimulus_id", "y", "x", "channel"][: self.images.ndim]
            ds["image"] = (dims, np.asarray(self.images))
        return ds


def _from_pil(im: Any) -> np.ndarray:
    """A PIL image's pixels without a lossy conversion: 16-bit and 32-bit modes are read as they
    are (``convert("RGB")`` would clip them to 8 bits); palette, CMYK and the rest become RGB."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F", "L", "LA", "RGB", "RGBA"):
        arr = np.asarray(im)
        if im.mode == "LA":
            arr = arr[..., 0]
        return arr
    return np.asarray(im.convert("RGB"))


def _lossless_pixels(arr: np.ndarray, what: str) -> np.ndarray:
    """``arr`` with its values unchanged: uint8, uint16 and floats as they are; other integer
    types narrowed to uint8/uint16 when every value fits; anything else an error."""
    if arr.dtype in (np.uint8, np.uint16) or np.issubdtype(arr.dtype, np.floating):
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(arr.dtype, np.integer):
        low, high = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        for kind in (np.uint8, np.uint16):
            if low >= 0 and high <= np.iinfo(kind).max:
                return arr.astype(kind)
        raise ValidationError(
            f"{what} has {arr.dtype} values in [{low}, {high}], which fit neither 8 nor 16 bits; "
            "pass uint8, uint16 or float images (floats are given to preprocess as they are)."
        )
    raise ValidationError(
        f"{what} has dtype {arr.dtype}; images must be uint8, uint16, integer or float arrays."
    )

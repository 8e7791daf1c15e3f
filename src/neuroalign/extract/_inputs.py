"""What ``extract`` can feed a model: a :class:`StimulusSet` (images decoded and preprocessed, or
texts tokenized), an already-preprocessed tensor/array ``(n, ...)``, or an iterable of batches
(a ``DataLoader``, a list of tensors, tuples or dicts: video clips, audio, multi-input models).

Each is an *input source*: ``n`` rows under ``ids``, a content ``fingerprint`` for the store key,
and ``batches(rows, batch_size)`` yielding ``(positions, model input, token pooling or None)`` in
row order. Tensors and stimulus sets are read at any rows (a resumed run skips stored chunks
without touching them); an iterable is read front to back, and when it is read more than once
(for the store's fingerprint, for a fitted reducer) every batch must hash the same each time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from ..core import StimulusSet
from ..core._identity import Identity
from ..core._validation import check_ids
from ..core.exceptions import ValidationError
from ._loader import image_batches
from ._text import tokenize

__all__ = ["batch_len", "make_source", "slice_batch", "to_device"]

BatchItem = tuple[np.ndarray, Any, Any]


def hash_structure(ident: Identity, obj: Any) -> None:
    """Feed a batch (tensors, arrays, and tuples/lists/dicts of them) into ``ident``: types,
    shapes, dtypes and bytes (the core identity's typed, length-prefixed fields)."""
    import torch

    if isinstance(obj, torch.Tensor):  # the same bytes as an array or a tensor: one hash
        t = obj.detach().cpu().contiguous()
        try:
            obj = t.numpy()
        except (TypeError, RuntimeError):  # bfloat16 and other types numpy does not have
            ident.add(f"tensor|{t.dtype}|{tuple(t.shape)}")
            ident.add(memoryview(t.reshape(-1).view(torch.uint8).numpy()) if t.numel() else b"")
            return
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise ValidationError("an input array holds Python objects; pass numeric arrays.")
        ident.add_array(obj)
    elif isinstance(obj, dict):
        ident.add(f"dict|{len(obj)}")
        for k in sorted(obj, key=str):
            ident.add(str(k))
            hash_structure(ident, obj[k])
    elif isinstance(obj, (tuple, list)):
        ident.add(f"seq|{len(obj)}")
        for v in obj:
            hash_structure(ident, v)
    elif obj is None or isinstance(obj, (str, int, float, bool)):
        ident.add(obj)
    else:
        raise ValidationError(
            f"a batch holds a {type(obj).__name__}, which the feature store cannot hash; batches "
            "must be tensors, arrays, or tuples/lists/dicts of them."
        )


def _first_tensor(x: Any) -> Any:
    import torch

    if isinstance(x, (torch.Tensor, np.ndarray)):
        return x
    values = x.values() if isinstance(x, dict) else x if isinstance(x, (tuple, list)) else ()
    for v in values:
        t = _first_tensor(v)
        if t is not None:
            return t
    return None


def batch_len(x: Any) -> int:
    """Rows in a batch: the first dimension of its first tensor."""
    t = _first_tensor(x)
    if t is None or not getattr(t, "ndim", 0):
        raise ValidationError(
            f"a batch of type {type(x).__name__} holds no tensor with a batch dimension."
        )
    return int(t.shape[0])


def slice_batch(x: Any, a: int, b: int, n: int) -> Any:
    """Rows ``a:b`` of every tensor with ``n`` rows in the batch (the rest passed as it is)."""
    import torch

    if isinstance(x, (torch.Tensor, np.ndarray)):
        return x[a:b] if x.ndim and x.shape[0] == n else x
    if isinstance(x, dict):
        return {k: slice_batch(v, a, b, n) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(slice_batch(v, a, b, n) for v in x)
    return x


def to_device(x: Any, dev: Any, channels_last: bool) -> Any:
    """Every tensor (and numeric array) of a batch on ``dev``; 4-D image batches in channels-last
    memory format when asked."""
    import torch

    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.array(x, copy=not x.flags.writeable))
    if isinstance(x, torch.Tensor):
        x = x.to(dev, non_blocking=True)
        if channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x
    if isinstance(x, dict):
        return {k: to_device(v, dev, channels_last) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(to_device(v, dev, channels_last) for v in x)
    return x


class StimulusSource:
    """A :class:`StimulusSet` of images (preprocessed by the model's ``preprocess``) or texts
    (tokenized with the pooling policy of ``_text``)."""

    random_access = True

    def __init__(self, stimuli: StimulusSet, loaded: Any, opts: dict[str, Any]) -> None:
        self.stimuli, self.loaded, self.opts = stimuli, loaded, opts
        self.kind = stimuli.kind
        self.n = len(stimuli)
        self.ids = stimuli.ids

    @cached_property
    def fingerprint(self) -> str:
        """The stimuli's content as this extraction starts (hashed once per call)."""
        return self.stimuli.fingerprint

    def batches(self, rows: np.ndarray | None, batch_size: int) -> Iterator[BatchItem]:
        rows = np.arange(self.n) if rows is None else rows
        if self.kind == "text":
            for start in range(0, len(rows), batch_size):
                sel = rows[start : start + batch_size]
                tb = tokenize(self.loaded.tokenizer, self.stimuli, sel, self.opts["max_length"])
                yield sel, tb.inputs, (tb.weights, tb.last)
            return
        for sel, x in image_batches(
            self.stimuli, rows, self.loaded.preprocess, batch_size, self.opts["num_workers"]
        ):
            yield sel, x, None


class TensorSource:
    """An already-preprocessed tensor or array ``(n, ...)``: rows go to the model as they are."""

    random_access = True
    kind = "tensor"

    def __init__(self, data: Any, ids: np.ndarray) -> None:
        self.data, self.ids, self.n = data, ids, len(ids)

    @cached_property
    def fingerprint(self) -> str:
        ident = Identity("tensor-input").add([str(sid) for sid in self.ids])
        hash_structure(ident, self.data)
        return ident.hexdigest()

    def batches(self, rows: np.ndarray | None, batch_size: int) -> Iterator[BatchItem]:
        rows = np.arange(self.n) if rows is None else rows
        for start in range(0, len(rows), batch_size):
            sel = rows[start : start + batch_size]
            yield sel, self.data[int(sel[0]) : int(sel[-1]) + 1], None


class StreamSource:
    """An iterable of batches (a DataLoader, a list, a generator), read front to back. Reading it
    again must give the same batches (checked batch by batch when it is read more than once)."""

    random_access = False
    kind = "batches"

    def __init__(self, batches: Iterable[Any], ids: np.ndarray) -> None:
        self.source, self.ids, self.n = batches, ids, len(ids)
        self.one_shot = iter(batches) is batches
        self.digests: list[str] | None = None
        self.passes = 0
        self.check = True  # hash every batch (False: read once, nothing to compare or key)

    def _digest(self, batch: Any) -> str:
        ident = Identity("batch")
        hash_structure(ident, batch)
        return ident.hexdigest()

    def record(self) -> None:
        """A first pass that hashes every batch (for the store key), if none was made yet."""
        if self.digests is None:
            for _ in self._iterate():
                pass

    @cached_property
    def fingerprint(self) -> str:
        self.record()
        assert self.digests is not None
        return (
            Identity("batch-input")
            .add([str(sid) for sid in self.ids])
            .add(self.digests)
            .hexdigest()
        )

    def _iterate(self) -> Iterator[Any]:
        """The batches; the first pass records each one's hash, later passes compare with it."""
        if self.one_shot and self.passes:
            raise ValidationError(
                "the batches are a one-shot iterator (a generator), but they must be read more "
                "than once here (for the feature store or a fitted reducer); pass a list or a "
                "DataLoader."
            )
        self.passes += 1
        rows = 0
        seen: list[str] = []
        for k, batch in enumerate(self.source):
            digest = self._digest(batch) if self.check else ""
            seen.append(digest)
            if self.check and self.digests is not None:
                if k >= len(self.digests) or digest != self.digests[k]:
                    raise ValidationError(
                        f"batch {k} differs from the first time it was read; the batches must be "
                        "the same at every pass (a DataLoader with shuffle=False and no random "
                        "augmentation)."
                    )
            rows += batch_len(batch)
            if rows > self.n:
                break
            yield batch
        if rows != self.n:
            raise ValidationError(
                f"ids has {self.n} entries but the batches hold {rows if rows <= self.n else 'more'}"
                " rows; give one id per row, in the order of the batches."
            )
        if self.digests is None:
            self.digests = seen

    def batches(self, rows: np.ndarray | None, batch_size: int) -> Iterator[BatchItem]:
        pos = 0
        for batch in self._iterate():
            b = batch_len(batch)
            yield np.arange(pos, pos + b), batch, None
            pos += b


def make_source(
    stimuli: Any, ids: Sequence[Any] | None, loaded: Any, opts: dict[str, Any]
) -> StimulusSource | TensorSource | StreamSource:
    """The input source for ``extract(stimuli, ids=...)`` (see module doc)."""
    import torch

    if isinstance(stimuli, StimulusSet):
        if ids is not None:
            raise ValidationError("ids= is for tensors and batches; a StimulusSet has its ids.")
        return StimulusSource(stimuli, loaded, opts)
    what = type(stimuli).__name__
    if isinstance(stimuli, (str, bytes)) or not (
        isinstance(stimuli, (torch.Tensor, np.ndarray)) or hasattr(stimuli, "__iter__")
    ):
        raise ValidationError(
            f"stimuli must be a StimulusSet, a tensor/array (n, ...) of model inputs, or an "
            f"iterable of batches (a DataLoader); got {what}."
        )
    if ids is None:
        raise ValidationError(
            f"stimuli given as a {what} need ids=[...] (one unique id per row, the join key)."
        )
    ids_arr = check_ids(ids, "ids")
    if isinstance(stimuli, (torch.Tensor, np.ndarray)):
        if stimuli.ndim < 1 or stimuli.shape[0] != len(ids_arr):
            raise ValidationError(
                f"stimuli has shape {tuple(stimuli.shape)} but ids has {len(ids_arr)} entries; "
                "the first dimension is one row per id."
            )
        return TensorSource(stimuli, ids_arr)
    return StreamSource(stimuli, ids_arr)

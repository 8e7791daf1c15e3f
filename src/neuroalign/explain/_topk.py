"""Running top-k over chunks of a (targets × candidates) score matrix that is never stored whole.

Each chunk ``S`` (rows = targets, columns = a block of candidates) is merged into the current best
``k`` per target. Most scores cannot enter the top ``k``: one comparison with a per-target
threshold finds the few that can, and only those are merged (a padded ``argpartition`` over the
targets that received any). The threshold is the current k-th best or, early on, the k-th best of
an evenly spaced subsample of the chunk (a lower bound of the chunk's own k-th best, so nothing
that belongs in the top ``k`` is skipped). A chunk with many hits is merged densely. The result is
exact (among values tied at the k-th place, any may be kept).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["RunningTopK"]

_OVERSAMPLE = 64  # subsample size per chunk, in multiples of k, for the early threshold


class RunningTopK:
    """The ``k`` largest (``largest=True``) or smallest scores of each target seen so far.

    ``update(S, offset)`` takes scores of shape (n_targets, n_block) for candidates
    ``offset ... offset + n_block``; ``result()`` gives ``(index, values)`` (n_targets, k).
    """

    keys: Any  # (n_targets, k) sign * score (NumPy, or torch on the torch backend)
    index: Any  # (n_targets, k) global candidate positions
    thr: np.ndarray

    def __init__(self, k: int, n_targets: int, largest: bool = True, backend: Any = None) -> None:
        self.k, self.sign = int(k), 1.0 if largest else -1.0
        self.torch = backend is not None and backend.name == "torch"
        if self.torch:
            import torch

            self._t = torch
            self.keys = torch.full((n_targets, k), -torch.inf, device=backend.device)
            self.index = torch.full((n_targets, k), -1, dtype=torch.int64, device=backend.device)
            return
        self.keys = np.full((n_targets, k), -np.inf, np.float32)  # sign * score: larger is better
        self.index = np.full((n_targets, k), -1, np.int64)
        self.thr = np.full((n_targets, 1), -np.inf, np.float32)

    # ------------------------------------------------------------------ update
    def update(self, S: Any, offset: int) -> None:
        """Merge the scores ``S`` (n_targets, n_block) into the running best."""
        if self.torch:
            self._update_torch(S, offset)
            return
        thr, k, n = self.thr, self.k, S.shape[1]
        if n > 4 * _OVERSAMPLE * k:
            sub = self.sign * S[:, :: n // (_OVERSAMPLE * k)]
            thr = np.maximum(thr, -np.partition(-sub, k - 1, axis=1)[:, k - 1 : k])
        hits = (S >= thr) if self.sign > 0 else (S <= -thr)
        n_hits = int(np.count_nonzero(hits))
        if n_hits == 0:
            return
        if n_hits * 8 > hits.size:
            del hits
            key = (S if self.sign > 0 else -S).astype(np.float32, copy=False)
            self._merge(np.concatenate([self.keys, key], axis=1), offset, slice(None), None)
        else:
            flat = np.flatnonzero(hits)  # row-major: grouped by target, candidates ascending
            del hits
            tgt, col = np.divmod(flat, n)
            counts = np.bincount(tgt, minlength=S.shape[0])
            rows = np.flatnonzero(counts)
            counts = counts[rows]
            start = np.concatenate([[0], np.cumsum(counts)[:-1]])
            group = np.repeat(np.arange(rows.size), counts)
            pos = np.arange(flat.size) - start[group]
            m = int(counts.max())
            pad = np.full((rows.size, m), -np.inf, np.float32)
            cand = np.zeros((rows.size, m), np.int64)
            pad[group, pos] = self.sign * S.ravel()[flat]
            cand[group, pos] = col
            self._merge(np.concatenate([self.keys[rows], pad], axis=1), offset, rows, cand)
        self.thr = self.keys.min(axis=1, keepdims=True)

    def _merge(self, cat: np.ndarray, offset: int, rows: Any, cand: np.ndarray | None) -> None:
        k = self.k
        part = np.argpartition(cat, cat.shape[1] - k, axis=1)[:, -k:]
        new = part - k
        if cand is not None:
            new = np.take_along_axis(cand, np.maximum(new, 0), axis=1)
        old = np.take_along_axis(self.index[rows], np.minimum(part, k - 1), axis=1)
        self.index[rows] = np.where(part < k, old, offset + new)
        self.keys[rows] = np.take_along_axis(cat, part, axis=1)

    def _update_torch(self, S: Any, offset: int) -> None:
        torch = self._t
        key = S if self.sign > 0 else -S
        pos = torch.arange(offset, offset + S.shape[1], device=S.device).expand(S.shape)
        vals, part = torch.topk(torch.cat([self.keys, key], dim=1), self.k, dim=1, sorted=False)
        self.keys, self.index = vals, torch.gather(torch.cat([self.index, pos], dim=1), 1, part)

    # ------------------------------------------------------------------ result
    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """``(index, values)`` of shape (n_targets, k), best first (equal values: earlier first)."""
        keys, index = self.keys, self.index
        if self.torch:
            keys, index = keys.cpu().numpy(), index.cpu().numpy()
        order = np.lexsort((index, -keys), axis=-1)
        keys = np.take_along_axis(keys, order, axis=1)
        index = np.take_along_axis(index, order, axis=1)
        return index, self.sign * keys

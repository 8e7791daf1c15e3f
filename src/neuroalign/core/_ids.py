"""Stimulus-id bookkeeping shared by the containers (the one place ids are turned into positions)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .exceptions import StimulusMismatchError

__all__ = ["describe_mismatch", "positions"]


def _preview(ids: Iterable[str], n: int = 10) -> str:
    ids = list(ids)
    shown = ", ".join(repr(i) for i in ids[:n])
    return f"[{shown}{', ...' if len(ids) > n else ''}] ({len(ids)} in all)"


def describe_mismatch(name_a: str, ids_a: Iterable[Any], name_b: str, ids_b: Iterable[Any]) -> str:
    """A message listing the ids found on one side only."""
    set_a, set_b = {str(i) for i in ids_a}, {str(i) for i in ids_b}
    only_a = sorted(set_a - set_b)
    only_b = sorted(set_b - set_a)
    parts = []
    if only_a:
        parts.append(f"missing from {name_b}: {_preview(only_a)}")
    if only_b:
        parts.append(f"missing from {name_a}: {_preview(only_b)}")
    return "; ".join(parts)


def positions(ids: np.ndarray, wanted: Iterable[Any], name: str = "stimulus_ids") -> np.ndarray:
    """Positions of ``wanted`` ids inside ``ids``; unknown ids raise :class:`StimulusMismatchError`."""
    lookup = {v: i for i, v in enumerate(ids.tolist())}
    wanted = [str(w) for w in wanted]
    missing = [w for w in wanted if w not in lookup]
    if missing:
        raise StimulusMismatchError(
            f"{len(missing)} requested id(s) are not in {name}: {_preview(missing)}."
        )
    return np.fromiter((lookup[w] for w in wanted), dtype=np.intp, count=len(wanted))

"""``align``: the one place where the stimulus order of two containers is matched."""

from __future__ import annotations

import warnings
from typing import Any, Literal, Protocol, TypeVar

import numpy as np

from ._ids import describe_mismatch
from ._validation import check_choice
from .exceptions import NeuroalignWarning, StimulusMismatchError

__all__ = ["align"]


class _HasStimuli(Protocol):
    @property
    def stimulus_ids(self) -> np.ndarray: ...

    def select(self, ids: Any) -> Any: ...


A = TypeVar("A", bound=_HasStimuli)
B = TypeVar("B", bound=_HasStimuli)


def align(a: A, b: B, how: Literal["exact", "inner"] = "exact") -> tuple[A, B]:
    """Put two containers in the same stimulus order.

    Parameters
    ----------
    a, b : StimulusSet, Activations, Responses or RDMs
        Anything with ``stimulus_ids`` and ``select(ids)``.
    how : {"exact", "inner"}
        ``"exact"``: both must hold the same ids (in any order); otherwise
        :class:`~neuroalign.core.exceptions.StimulusMismatchError` lists the ids missing on each
        side. ``"inner"``: keep the ids present in both, and warn how many were dropped from each.

    Returns
    -------
    (a, b) reordered to ``a``'s order (restricted to the common ids with ``how="inner"``).

    Examples
    --------
    >>> import numpy as np
    >>> from neuroalign import Activations, Responses, align
    >>> acts = Activations("m", ["x", "y"], {"l": np.eye(2)})
    >>> resp = Responses(["y", "x"], data=np.array([[1.0], [2.0]]))
    >>> acts2, resp2 = align(acts, resp)
    >>> resp2.data.ravel().tolist()
    [2.0, 1.0]
    """
    check_choice(how, "how", ("exact", "inner"))
    ids_a, ids_b = a.stimulus_ids, b.stimulus_ids
    name_a, name_b = type(a).__name__, type(b).__name__
    if name_a == name_b:
        name_a, name_b = f"{name_a} (first)", f"{name_b} (second)"
    in_b = np.isin(ids_a, ids_b)
    if how == "exact":
        if not in_b.all() or len(ids_a) != len(ids_b):
            raise StimulusMismatchError(
                f"{name_a} and {name_b} do not hold the same stimuli: "
                + describe_mismatch(name_a, ids_a, name_b, ids_b)
                + ". Select the common stimuli first, or call align(..., how='inner')."
            )
        common = ids_a
    else:
        common = ids_a[in_b]
        if len(common) == 0:
            raise StimulusMismatchError(f"{name_a} and {name_b} share no stimulus id.")
        n_drop_a, n_drop_b = len(ids_a) - len(common), len(ids_b) - len(common)
        if n_drop_a or n_drop_b:
            warnings.warn(
                f"align(how='inner') kept {len(common)} common stimuli; dropped {n_drop_a} from "
                f"{name_a} and {n_drop_b} from {name_b} ({describe_mismatch(name_a, ids_a, name_b, ids_b)}).",
                NeuroalignWarning,
                stacklevel=2,
            )
    a_out = a if np.array_equal(ids_a, common) else a.select(common)
    b_out = b if np.array_equal(ids_b, common) else b.select(common)
    return a_out, b_out

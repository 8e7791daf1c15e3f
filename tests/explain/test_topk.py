"""The running top-k on adversarial orders: ascending scores (every chunk beats the threshold),
the best scores hidden between the subsample's columns, and heavy ties."""

from __future__ import annotations

import numpy as np
import pytest

from neuroalign.explain._topk import RunningTopK


def _run(S, k, block, largest=True):
    top = RunningTopK(k, S.shape[0], largest)
    for s in range(0, S.shape[1], block):
        top.update(S[:, s : s + block], s)
    return top.result()


@pytest.mark.parametrize("largest", [True, False])
def test_ascending_and_hidden_maxima(rng, largest):
    n, t, k = 6000, 40, 5
    S = np.sort(rng.normal(size=(t, n)).astype(np.float32), axis=1)  # ascending: always new best
    S[:, 1::7] += 10.0  # the best scores sit off the subsample's stride
    for block in (6000, 2500, 333):
        idx, val = _run(S, k, block, largest)
        order = np.argsort(-S if largest else S, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(val, np.take_along_axis(S, order, 1))
        np.testing.assert_array_equal(np.take_along_axis(S, idx, 1), val)  # indices point at them


def test_ties_keep_the_right_values(rng):
    S = rng.integers(0, 4, size=(30, 5000)).astype(np.float32)
    idx, val = _run(S, 8, 700)
    np.testing.assert_array_equal(val, np.sort(S, axis=1)[:, ::-1][:, :8])
    np.testing.assert_array_equal(np.take_along_axis(S, idx, 1), val)
    assert all(len(set(row)) == 8 for row in idx)  # no candidate twice

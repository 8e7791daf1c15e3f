"""Bad settings of explain functions: one clear error before any model runs."""

from __future__ import annotations

import numpy as np
import pytest

from neuroalign.core.exceptions import ValidationError

pytest.importorskip("torch")


def _never(images):
    raise AssertionError("the feature model ran before the settings were checked")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 0}, r"size must be an integer >= 8 .* got 0"),
        ({"size": 32.5}, r"size must be an integer"),
        ({"lr": -1}, r"lr must be a positive learning rate .* got -1"),
        ({"lr": float("nan")}, r"lr must be a positive"),
        ({"blur": -0.5}, r"blur must be a number >= 0"),
        ({"diversity": -1.0}, r"diversity must be a number >= 0"),
    ],
)
def test_synthesize_settings(kwargs, match):
    from neuroalign.explain import LinearReadout, synthesize

    readout = LinearReadout(np.ones((4, 1)), np.zeros(1), ["t"])
    with pytest.raises(ValidationError, match=match):
        synthesize(_never, readout, "t", **kwargs)

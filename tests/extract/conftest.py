"""Fixtures of the extraction tests: the small image set most of them extract from."""

from __future__ import annotations

import numpy as np
import pytest

from neuroalign import StimulusSet


@pytest.fixture(scope="module")
def images() -> StimulusSet:
    """23 random 20 × 20 RGB images (uint8), seeded.
    ``test_extract.py`` has its own ``images`` (5 larger ones)."""
    rng = np.random.default_rng(0)
    return StimulusSet(
        ids=[f"s{k:02d}" for k in range(23)],
        images=rng.integers(0, 255, (23, 20, 20, 3), dtype=np.uint8),
    )

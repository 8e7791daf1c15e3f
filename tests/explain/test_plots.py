"""Explain figures: the image grid shows the right stimuli; concept bars; dispatch by kind."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from neuroalign.core import StimulusSet
from neuroalign.explain import ConceptSpace, LinearReadout, rank_concepts, top_stimuli
from neuroalign.report import save_figure


def test_top_stimuli_grid_shows_the_top_images(rng, tmp_path):
    images = rng.integers(0, 255, size=(30, 12, 12, 3), dtype=np.uint8)
    X = rng.normal(size=(30, 5))
    r = LinearReadout(rng.normal(size=(5, 2)), np.zeros(2), ["a", "b"])
    res = top_stimuli(r, X, k=4, stimulus_ids=[f"i{j}" for j in range(30)])
    stim = StimulusSet(ids=[f"i{j}" for j in range(30)], images=images)
    fig = res.plot(stimuli=stim)
    mosaic = fig.axes[0].images[0].get_array()
    best_b = res.arrays["top_index"][1, 0]  # row 2, column 1
    tile, gap = 96, 4
    cell = np.asarray(mosaic[tile + gap : 2 * tile + gap, :tile])
    expect = (
        images[best_b][(np.arange(96) * 12 / 96).astype(int)][
            :, (np.arange(96) * 12 / 96).astype(int)
        ]
        / 255
    )
    np.testing.assert_allclose(cell, expect, atol=1e-6)
    save_figure(fig, tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert res.plot().axes[0].get_xlabel() == "rank (top)"  # without images: values by rank


def test_concept_bars(rng):
    space = ConceptSpace(["face", "house", "car", "tree"], np.eye(4))
    r = LinearReadout(
        np.array([[0.1, 0.0], [0.9, 0.2], [0.3, 1.0], [0.0, 0.4]]), np.zeros(2), ["v1", "v2"]
    )
    fig = rank_concepts(r, space, method="weight", k=2).plot()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["house", "car", "car", "tree"]

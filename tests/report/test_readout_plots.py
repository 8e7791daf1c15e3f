"""Figures of the readouts: receptive-field mosaics, attention maps, the comparison plotter."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from neuroalign.core import Result, make_table
from neuroalign.core.exceptions import ShapeError, ValidationError
from neuroalign.report import (
    plot_attention_maps,
    plot_readout_comparison,
    plot_receptive_fields,
)


def test_receptive_field_mosaic_shows_each_mask_scaled_to_its_peak(rng):
    masks = rng.standard_normal((5, 4, 3))
    fig = plot_receptive_fields(masks, truth=masks * 2, ncols=3)
    img = fig.axes[0].images[0].get_array()
    # rows: estimated (targets 0-2), true (0-2), estimated (3-4 + empty), true (3-4 + empty)
    assert img.shape == (4 * 5 - 1, 3 * 4 - 1)
    tile = np.asarray(img[0:4, 4:7])
    np.testing.assert_allclose(tile, masks[1] / np.abs(masks[1]).max())
    true_tile = np.asarray(img[5:9, 4:7])  # the truth row shows the same field (scale removed)
    np.testing.assert_allclose(true_tile, tile)
    assert np.isnan(np.asarray(img[10:14, 8:11], dtype=float)).all()  # the empty sixth slot
    with pytest.raises(ShapeError, match="n_targets, H, W"):
        plot_receptive_fields(masks[0])


def test_attention_maps_for_tokens_and_for_feature_maps(rng):
    tokens = rng.random((3, 2, 6))
    fig = plot_attention_maps(tokens, stimulus=1, query_names=["a", "b"], planted=[[0, 1]] * 3)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), tokens[1])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b"]
    grid = rng.random((2, 3, 4, 4))
    fig = plot_attention_maps(grid, stimulus=0)
    assert fig.axes[0].images[0].get_array().shape == (4, 3 * 5 - 1)
    with pytest.raises(ValidationError, match="out of range"):
        plot_attention_maps(grid, stimulus=5)


def test_readout_comparison_is_the_plotter_of_readout_results():
    rows = [
        {"roi": roi, "method": m, "aggregate": "mean", "value": v, "se": 0.01, "ceiling_high": 0.9}
        for roi in ("V1", "V4")
        for m, v in (("ridge", 0.5), ("factorized", 0.7))
    ]
    res = Result(make_table(rows, analysis="encoding"), kind="encoding.readouts")
    fig = res.plot()
    bars = fig.axes[0].patches
    assert [round(b.get_height(), 2) for b in bars] == [0.5, 0.5, 0.7, 0.7]
    assert fig is not None and plot_readout_comparison(res).axes

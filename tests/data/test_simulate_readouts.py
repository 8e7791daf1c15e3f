"""The readout simulators: their returned truth regenerates their signal; bad sizes are errors."""

import numpy as np
import pytest

from neuroalign.core.exceptions import ValidationError
from neuroalign.core.metrics import pearson_score
from neuroalign.data import make_spatial_rf_targets, make_token_targets, make_voxel_family


def test_spatial_truth_regenerates_the_signal():
    sim = make_spatial_rf_targets(n_stimuli=50, n_channels=3, size=5, n_targets=4, seed=0)
    t = sim.truth
    again = np.einsum("nchw,vhw,vc->nv", sim.features.astype(np.float64), t["masks"], t["weights"])
    np.testing.assert_allclose(pearson_score(again, sim.signal.astype(np.float64)), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(t["masks"].reshape(4, -1), axis=1), 1.0, rtol=1e-5)
    peaks = np.array([np.unravel_index(m.argmax(), m.shape) for m in t["masks"]])
    assert np.abs(peaks - t["centres"]).max() <= 0.5 + 1e-9  # each field peaks at its centre
    flat = make_spatial_rf_targets(n_stimuli=10, n_channels=2, size=3, n_targets=2, rf_size=None)
    np.testing.assert_allclose(flat.truth["masks"], 1 / 3)
    noise = sim.responses - sim.signal
    assert noise.std() == pytest.approx(0.5, rel=0.2)


def test_tokens_plant_the_read_token_at_the_recorded_position():
    sim = make_token_targets(n_stimuli=40, n_tokens=6, dim=10, n_rois=2, n_targets_per_roi=3)
    t = sim.truth
    roi = np.array([int(r[3:]) for r in t["roi"]])
    rows = np.arange(40)[:, None]
    read = sim.features[rows, t["positions"][:, roi]].astype(np.float64)
    again = np.einsum("nvd,vd->nv", read, t["weights"])
    np.testing.assert_allclose(pearson_score(again, sim.signal.astype(np.float64)), 1.0, atol=1e-5)
    # the marker is at the recorded position: projecting tokens on it finds that position
    for r in range(2):
        score = sim.features @ t["markers"][r]
        assert (score.argmax(1) == t["positions"][:, r]).mean() > 0.85  # marker 4 SD
    np.testing.assert_allclose(t["weights"] @ t["markers"].T, 0.0, atol=1e-5)
    fixed = make_token_targets(n_stimuli=5, n_tokens=4, dim=8, varying=False)
    assert (fixed.truth["positions"] == fixed.truth["positions"][0]).all()


def test_voxel_family_weights_lie_in_the_low_rank_prior():
    sim = make_voxel_family(n_stimuli=80, n_features=10, n_voxels=30, rank=3, noise=0.0)
    t = sim.truth
    signal = sim.features.astype(np.float64) @ t["weights"]
    np.testing.assert_allclose(signal - signal.mean(0) + t["intercepts"], sim.signal, atol=1e-4)
    np.testing.assert_allclose(sim.responses, sim.signal, atol=1e-5)  # no noise asked
    assert np.linalg.matrix_rank(t["weights"], tol=1e-8) == 3


def test_bad_sizes_are_errors():
    with pytest.raises(ValidationError, match="n_targets"):
        make_spatial_rf_targets(n_targets=0)
    with pytest.raises(ValidationError, match="dim"):
        make_token_targets(n_rois=3, dim=6)
    with pytest.raises(ValidationError, match="rank"):
        make_voxel_family(n_features=4, rank=5)

"""NSD's ncsnr and its noise ceiling against simulated ground truth and the split-half estimate."""

import numpy as np
import pytest

from neuroalign.core.exceptions import ValidationError
from neuroalign.data import compute_ncsnr, ncsnr_noise_ceiling, split_half_reliability


def test_ncsnr_recovers_true_snr_and_ceiling(rng):
    snr = np.array([0.25, 0.5, 1.0, 2.0])
    signal = rng.normal(size=(20000, 4)) * snr
    reps = signal + rng.normal(size=(3, 20000, 4))
    est = compute_ncsnr(reps)
    np.testing.assert_allclose(est, snr, rtol=0.08)
    nc3 = ncsnr_noise_ceiling(est, 3)
    np.testing.assert_allclose(nc3, snr**2 / (snr**2 + 1 / 3), atol=0.03)
    # the same quantity as the Spearman-Brown split-half reliability of the 3-rep average
    np.testing.assert_allclose(nc3, split_half_reliability(reps, n_splits=3), atol=0.05)


def test_ncsnr_with_missing_repetitions(rng):
    signal = rng.normal(size=(4000, 2))
    reps = signal + rng.normal(size=(3, 4000, 2))
    reps[2, :2000] = np.nan  # half the stimuli seen twice
    np.testing.assert_allclose(compute_ncsnr(reps), 1.0, rtol=0.08)
    n = np.r_[np.full(2000, 2), np.full(2000, 3)]
    assert ncsnr_noise_ceiling(1.0, n) == pytest.approx(1 / (1 + np.mean(1 / n)))
    with pytest.raises(ValidationError, match=">= 2 repetitions"):
        compute_ncsnr(reps[:1])

import numpy as np
import pytest

from neuroalign.core.exceptions import ConfigurationError, ValidationError
from neuroalign.data import (
    compute_noise_ceiling,
    make_responses,
    make_shape_images,
    split_half_reliability,
)


def test_shape_images_deterministic_with_latents():
    a = make_shape_images(12, image_size=32, seed=3)
    b = make_shape_images(12, image_size=32, seed=3)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.fingerprint == b.fingerprint
    assert set(a.metadata["shape"]) <= {"circle", "square", "triangle", "cross", "bar"}
    c = make_shape_images(12, image_size=32, seed=4)
    assert a.fingerprint != c.fingerprint


def test_shape_is_where_the_latents_say():
    s = make_shape_images(30, image_size=64, seed=0, shapes=("circle",))
    for i in range(30):
        row = s.metadata.iloc[i]
        img = s.images[i].astype(float)
        cy, cx = int(row["y"] * 64), int(row["x"] * 64)
        # the shape's centre pixel has the shape's colour, saturated (far from the grey grating)
        assert np.ptp(img[cy, cx]) > 60


def test_make_responses_truth_and_ceiling(rng):
    n = 400
    feats = {"a": rng.normal(size=(n, 20)), "b": rng.normal(size=(n, 30))}
    resp, truth = make_responses(
        feats,
        {"V1": "a", "IT": "b"},
        n_targets_per_roi=30,
        n_reps=4,
        noise_sd=(0.5, 2.0),
        stimulus_ids=[f"s{i}" for i in range(n)],
        seed=1,
    )
    assert resp.repetitions.shape == (4, n, 60)
    np.testing.assert_allclose(truth.signal.std(0), 1.0, rtol=1e-10)
    # signal is exactly linear in its source features
    coef, *_ = np.linalg.lstsq(np.c_[feats["a"], np.ones(n)], truth.signal[:, :30], rcond=None)
    resid = truth.signal[:, :30] - np.c_[feats["a"], np.ones(n)] @ coef
    assert np.abs(resid).max() < 1e-8
    est = compute_noise_ceiling(resp)
    rois = resp.targets["roi"].to_numpy()
    for roi, true in truth.ceiling_by_roi(resp.targets).items():
        assert abs(est[rois == roi].mean() - true) < 0.05
    # per target too, with a looser bound
    assert np.abs(est - truth.noise_ceiling).max() < 0.15


def test_split_half_matches_theory():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(2000, 3))
    sd = np.array([0.5, 1.0, 2.0])
    reps = signal[None] + rng.normal(size=(6, 2000, 3)) * sd
    rel = split_half_reliability(reps)
    np.testing.assert_allclose(rel, 1 / (1 + sd**2 / 6), atol=0.03)


def test_make_responses_errors(rng):
    feats = {"a": rng.normal(size=(10, 3))}
    with pytest.raises(ConfigurationError, match="Did you mean 'a'"):
        make_responses(feats, {"V1": "aa"}, stimulus_ids=list("abcdefghij"))
    with pytest.raises(ValidationError, match="stimulus_ids is required"):
        make_responses(feats, {"V1": "a"})
    with pytest.raises(ValidationError, match="constant"):
        make_responses({"a": np.ones((10, 3))}, {"V1": "a"}, stimulus_ids=list("abcdefghij"))


def test_ceiling_needs_repetitions():
    from neuroalign import Responses

    with pytest.raises(ValidationError, match="no repetitions"):
        compute_noise_ceiling(Responses(["a", "b", "c"], data=np.eye(3)))


def test_image_statistics_track_latent_factors():
    from neuroalign.data import compute_image_statistics

    s = make_shape_images(300, image_size=64, seed=5)
    stats = compute_image_statistics(s, grid=8)
    lat = s.metadata
    # RMS contrast grows with the grating contrast; oriented energy follows the grating orientation
    contrast = stats[:, 64 + 3]
    assert np.corrcoef(contrast, lat["grating_contrast"])[0, 1] > 0.5
    # an ROI driven by image statistics is simulated like any other feature space
    resp, truth = make_responses(
        {"pixels": stats}, {"early": "pixels"}, n_targets_per_roi=5, stimulus_ids=s.ids
    )
    assert truth.roi_sources == {"early": "pixels"}
    assert resp.n_targets == 5

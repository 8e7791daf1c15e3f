"""Resampling to the recording clock: against direct loops and on signals with known spectra."""

from __future__ import annotations

import numpy as np
import pytest

from neuroalign.core.exceptions import ValidationError
from neuroalign.encode import RESAMPLERS, resample


def _lanczos_loop(values, times, new_times, window, fc):
    """Direct double loop over new and old samples (the Huth-lab formula, scaled)."""
    dt_old = np.median(np.diff(times))
    out = np.zeros((len(new_times), values.shape[1]))
    for k, tk in enumerate(new_times):
        for j, sj in enumerate(times):
            x = 2 * fc * (tk - sj)
            if abs(x) >= window:
                continue
            w = (
                1.0
                if x == 0
                else window * np.sin(np.pi * x) * np.sin(np.pi * x / window) / (np.pi**2 * x**2)
            )
            out[k] += w * values[j] * 2 * fc * dt_old
    return out


def _box_loop(values, times, new_times):
    dt = np.median(np.diff(new_times))
    out = np.zeros((len(new_times), values.shape[1]))
    for k, tk in enumerate(new_times):
        inside = [j for j, s in enumerate(times) if tk - dt / 2 <= s < tk + dt / 2]
        if inside:
            out[k] = values[inside].mean(axis=0)
    return out


@pytest.fixture
def words():
    rng = np.random.default_rng(0)
    onsets = np.sort(rng.uniform(0, 60, 150))
    return rng.standard_normal((150, 4)), onsets, np.arange(1.0, 60.0, 2.0)


def test_registry():
    assert set(RESAMPLERS) == {"lanczos", "box", "linear"}


@pytest.mark.parametrize("window", [1, 3, 5])
def test_lanczos_matches_loop_on_irregular_onsets(words, window):
    values, onsets, trs = words
    got = resample(values, onsets, trs, "lanczos", window=window)
    np.testing.assert_allclose(got, _lanczos_loop(values, onsets, trs, window, 1 / 4.0), atol=1e-12)


def test_lanczos_cutoff_override(words):
    values, onsets, trs = words
    got = resample(values, onsets, trs, "lanczos", cutoff=0.1)
    np.testing.assert_allclose(got, _lanczos_loop(values, onsets, trs, 3, 0.1), atol=1e-12)


def test_box_matches_loop_on_irregular_onsets(words):
    values, onsets, trs = words
    np.testing.assert_allclose(resample(values, onsets, trs, "box"), _box_loop(values, onsets, trs))


def test_box_of_constant_is_constant():
    t = np.arange(0, 30, 0.01)
    out = resample(np.full((t.size, 2), 3.5), t, np.arange(1.0, 29.0, 2.0), "box")
    np.testing.assert_allclose(out, 3.5)


def _gain(method, f, fs_old=100.0, fs_new=10.0):
    t = np.arange(0, 60, 1 / fs_old)
    x = np.sin(2 * np.pi * f * t)
    new = np.arange(5.0, 55.0, 1 / fs_new)  # away from the edges
    y = resample(x, t, new, method)[:, 0]
    ref = np.sin(2 * np.pi * f * new)
    # least-squares amplitude of the resampled signal against sin and cos at f
    basis = np.stack([ref, np.cos(2 * np.pi * f * new)], 1)
    coef = np.linalg.lstsq(basis, y, rcond=None)[0]
    return np.hypot(*coef), np.sqrt(np.mean(y**2)) * np.sqrt(2)


@pytest.mark.parametrize("method", ["lanczos", "linear"])
def test_sinusoid_below_nyquist_keeps_unit_gain(method):
    gain, _ = _gain(method, f=1.0)  # new Nyquist is 5 Hz
    assert abs(gain - 1) < 0.05


@pytest.mark.parametrize("method", ["lanczos", "linear"])
def test_sinusoid_above_nyquist_is_suppressed(method):
    _, rms_amplitude = _gain(method, f=8.0)  # would alias to 2 Hz
    assert rms_amplitude < 0.05


def test_box_aliases_more_than_lanczos():
    # the box filter is a poor low-pass: documents why Lanczos is the default
    _, box = _gain("box", f=8.0)
    _, lz = _gain("lanczos", f=8.0)
    assert box > 5 * lz


def test_linear_upsampling_interpolates_exactly_on_lines():
    t = np.arange(0, 10, 0.1)
    new = np.arange(0, 9.9, 0.01)
    out = resample(2 * t + 1, t, new, "linear")[:, 0]
    np.testing.assert_allclose(out, 2 * new + 1, atol=1e-9)


def test_linear_zero_outside_range():
    t = np.arange(0, 1, 0.1)
    out = resample(np.ones(t.size), t, np.array([-1.0, 0.5, 2.0]), "linear")[:, 0]
    np.testing.assert_allclose(out, [0.0, 1.0, 0.0])


def test_float32_kept_and_shape():
    t = np.arange(0, 10, 0.1)
    out = resample(np.ones((t.size, 3), np.float32), t, np.arange(0.0, 10.0, 1.0), "lanczos")
    assert out.shape == (10, 3) and out.dtype == np.float32


def test_errors_name_the_argument(words):
    values, onsets, trs = words
    with pytest.raises(ValidationError, match="times has"):
        resample(values[:-1], onsets, trs)
    with pytest.raises(ValidationError, match="new_times must be strictly increasing"):
        resample(values, onsets, trs[::-1])
    with pytest.raises(ValidationError, match="method"):
        resample(values, onsets, trs, "cubic")
    with pytest.raises(ValidationError, match="regularly sampled"):
        resample(values, onsets, trs, "linear")

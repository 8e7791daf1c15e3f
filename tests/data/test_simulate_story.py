"""make_story_experiment: a story experiment with planted layers and haemodynamic delays."""

import numpy as np
import pytest
from scipy import stats

from neuroalign.core.exceptions import ValidationError
from neuroalign.data import make_story_experiment
from neuroalign.data._simulate_story import _gamma_hrf


def test_containers_and_truth_agree():
    exp = make_story_experiment(n_runs=3, n_trs=60, n_targets=24, n_layers=3, n_features=8)
    assert exp.responses.run_ids == exp.events.run_ids == ("story1", "story2", "story3")
    assert exp.responses.data.shape == (180, 24)
    np.testing.assert_allclose(exp.responses.run_times("story2"), np.arange(60) * 2.0)
    for ts in exp.features.values():
        np.testing.assert_array_equal(ts.times, exp.events.onsets)
        assert ts.data.shape == (len(exp.events), 8)
    tg = exp.responses.targets
    assert tg["layer"].tolist() == [exp.layer_names[i] for i in exp.layer]
    np.testing.assert_array_equal(tg["delay"], exp.delay)
    assert set(exp.delay.tolist()) == {2, 3, 4} and set(exp.layer.tolist()) == {0, 1, 2}
    rate = len(exp.events) / (3 * 60 * 2.0)
    assert 1.5 < rate < 3.5  # about words_per_second = 2.5 (gaps of at least 0.1 s)
    again = make_story_experiment(n_runs=3, n_trs=60, n_targets=24, n_layers=3, n_features=8)
    np.testing.assert_array_equal(again.responses.data, exp.responses.data)


def test_adjacent_layers_correlate_as_asked():
    exp = make_story_experiment(n_runs=2, n_trs=200, n_targets=4, layer_correlation=0.6)
    a, b = (exp.features[n].data.ravel() for n in exp.layer_names[:2])
    assert np.corrcoef(a, b)[0, 1] == pytest.approx(0.6, abs=0.05)


def test_hrf_peaks_at_the_planted_delay():
    t = np.arange(0, 30, 0.01)
    h = _gamma_hrf(t, peak=6.0, shape=12.0)
    assert t[h.argmax()] == pytest.approx(6.0, abs=0.01)
    ref = stats.gamma.pdf(t, a=12.0, scale=6.0 / 11.0)  # scipy's gamma, the same density
    np.testing.assert_allclose(h, ref / ref.sum(), atol=1e-10)


def test_signal_to_noise_is_the_one_asked():
    exp = make_story_experiment(n_runs=2, n_trs=300, n_targets=50, snr=0.5, seed=1)
    # data = signal (unit SD) + noise (SD 1 / snr): total variance 1 + 4 = 5
    assert exp.responses.data.var(axis=0).mean() == pytest.approx(5.0, rel=0.1)


def test_bad_arguments():
    with pytest.raises(ValidationError, match="n_trs"):
        make_story_experiment(n_trs=0)
    with pytest.raises(ValidationError, match="delays"):
        make_story_experiment(delays=(0, 1))

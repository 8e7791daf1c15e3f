"""The narrative pipeline: words with times → TRs → delays → ridge over runs → best layer/delay."""

import warnings

import numpy as np
import pytest

from neuroalign import Result, TimeSeries
from neuroalign.core.exceptions import ConfigurationError, StimulusMismatchError, ValidationError
from neuroalign.data import make_story_experiment
from neuroalign.encode import (
    make_delays,
    narrative_encoding,
    resample,
    resample_series,
    solve_ridge_cv,
    zscore_runs,
)


@pytest.fixture(scope="module")
def story():
    return make_story_experiment(n_runs=4, n_trs=150, n_targets=120, n_features=12, seed=3)


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def test_best_layer_and_delay_are_the_planted_ones(story):
    res = _quiet(narrative_encoding, story.features, story.responses, delays=(1, 2, 3, 4, 5))
    assert isinstance(res, Result) and res.kind == "encoding.narrative"
    assert (res.arrays["best_layer"] == story.layer).mean() >= 0.9
    assert (res.arrays["best_delay"] == story.delay).mean() >= 0.9
    t = res.table
    per_target = t[t["aggregate"] == "none"]
    assert len(per_target) == 120 and per_target["target"].tolist()[:2] == ["v0", "v1"]
    assert (
        per_target["layer"].to_numpy() == np.asarray(story.layer_names)[story.layer]
    ).mean() >= 0.9
    assert set(t.loc[t["aggregate"] == "mean", "layer"]) == set(story.layer_names)
    assert (t["split"] == "cv").all() and (t["scoring"] == "r2").all()
    counts = t.loc[t["aggregate"] == "mean", "n_best"].to_numpy()
    assert counts.sum() == 120


def test_equals_the_steps_by_hand(story):
    """The pipeline's cross-validated R² is the ridge's on the design built step by step."""
    delays = (1, 2, 3)
    res = _quiet(narrative_encoding, story.features, story.responses, delays=delays, n_folds=4)
    layer = story.layer_names[2]
    f, y = story.features[layer], story.responses
    cols = []
    for r in y.run_ids:
        x = resample(f.run_data(r), f.run_times(r), y.run_times(r), "lanczos")
        cols.append((x - x.mean(0)) / x.std(0))
    X = make_delays(np.concatenate(cols), delays, groups=y.groups)
    ref = _quiet(solve_ridge_cv, X, np.asarray(y.data), cv=4, groups=y.groups)
    np.testing.assert_allclose(res.arrays["cv_r2"][2], ref.best_r2, atol=1e-5)


def test_held_out_runs_are_scored_by_pearson(story):
    res = _quiet(narrative_encoding, story.features, story.responses, test_runs=["story4"])
    t = res.table
    assert (t["split"] == "test").all() and (t["scoring"] == "pearson").all()
    assert res.params["train_runs"] == ["story1", "story2", "story3"]
    best = res.arrays["best_layer"]
    r = res.arrays["scores"][best, np.arange(len(best))]
    assert np.median(r) > 0.3
    # the best layer is chosen on the training runs' CV R², never on the test score
    np.testing.assert_array_equal(best, np.nanargmax(res.arrays["cv_r2"], axis=0))


@pytest.mark.slow
def test_banded_solver_weights_the_planted_layer(story):
    res = _quiet(narrative_encoding, story.features, story.responses, solver="banded", n_iter=10)
    assert (res.arrays["best_layer"] == story.layer).mean() >= 0.8
    assert res.arrays["gammas"].shape == (4, 120)


def test_resample_series_is_resample_run_by_run(story):
    f, y = story.features["layer0"], story.responses
    out = resample_series(
        f.select_runs(["story1", "story2"]), y.select_runs(["story2", "story1"]), "box"
    )
    assert out.run_ids == ("story2", "story1")
    direct = resample(f.run_data("story1"), f.run_times("story1"), y.run_times("story1"), "box")
    np.testing.assert_allclose(out.run_data("story1"), direct, rtol=1e-6, atol=1e-7)


def test_zscore_runs():
    ts = TimeSeries.from_runs({"a": np.arange(8.0).reshape(4, 2), "b": np.ones((3, 2))}, rate=1.0)
    z = zscore_runs(ts)
    np.testing.assert_allclose(z.run_data("a").mean(0), 0, atol=1e-7)
    np.testing.assert_allclose(z.run_data("a").std(0), 1, atol=1e-6)
    np.testing.assert_array_equal(z.run_data("b"), 0)


def test_mismatched_runs_and_durations_fail_before_any_fit(story, monkeypatch):
    import neuroalign.encode._narrative as nar

    def no_fit(*a, **k):
        raise AssertionError("the fit ran")

    monkeypatch.setitem(nar.NARRATIVE_SOLVERS, "ridge", no_fit)
    short = story.responses.select_runs(["story1", "story2", "story3"])
    with pytest.raises(StimulusMismatchError, match="story4"):
        narrative_encoding(story.features, short)
    y = story.responses
    keep = ~((y.runs == "story2") & (y.times > 200))  # story2's recording stops at 200 s of 300
    cut = TimeSeries(y.data[keep], y.runs[keep], y.times[keep])
    with pytest.raises(StimulusMismatchError, match="run 'story2'") as err:
        narrative_encoding(story.features, cut)
    assert "story1" not in str(err.value)
    with pytest.raises(ValidationError, match="training runs"):
        narrative_encoding(story.features, y, test_runs=["story1", "story2", "story3"])
    with pytest.raises(ConfigurationError, match="lanczos"):
        narrative_encoding(story.features, y, method="cubic")

"""Timed containers (events, signals, time series) and align_runs."""

import numpy as np
import pandas as pd
import pytest

from neuroalign import TimedEvents, TimedSignals, TimeSeries, align_runs
from neuroalign.core.exceptions import NeuroalignWarning, StimulusMismatchError, ValidationError


def _series(lengths, rate=0.5, n_cols=2, seed=0):
    rng = np.random.default_rng(seed)
    return TimeSeries.from_runs(
        {r: rng.normal(size=(n, n_cols)) for r, n in lengths.items()}, rate=rate
    )


def test_events_sorted_within_runs_and_read_only():
    ev = TimedEvents(["b", "a", "b", "a"], [2.0, 1.0, 0.5, 0.0], [2.5, 1.5, 1.0, 0.4], list("wxyz"))
    assert ev.run_ids == ("b", "a")
    assert ev.labels.tolist() == ["y", "w", "z", "x"]
    assert ev.onsets.tolist() == [0.5, 2.0, 0.0, 1.0]
    with pytest.raises(ValueError):
        ev.onsets[0] = 3.0
    assert ev.durations["b"] == 2.5
    text, spans = ev.texts("b")
    assert [text[s:e] for s, e in spans] == ["y", "w"]


def test_events_errors_name_the_problem():
    with pytest.raises(ValidationError, match="end before they start"):
        TimedEvents(["r"], [1.0], [0.5], ["w"])
    with pytest.raises(ValidationError, match="ending at"):
        TimedEvents(["r"], [0.0], [2.0], ["w"], durations={"r": 1.0})
    with pytest.raises(ValidationError, match="missing"):
        TimedEvents.from_frame(pd.DataFrame({"onset": [0.0], "text": ["a"]}), run="r")


def test_read_tsv(tmp_path):
    p = tmp_path / "story1.tsv"
    pd.DataFrame({"onset": [0.0, 0.3], "duration": [0.2, 0.4], "word": ["hello", "world"]}).to_csv(
        p, sep="\t", index=False
    )
    ev = TimedEvents.read_tsv(p)
    assert ev.run_ids == ("story1",)
    np.testing.assert_allclose(ev.offsets, [0.2, 0.7])
    assert ev.labels.tolist() == ["hello", "world"]


def test_read_textgrid(tmp_path):
    textgrid = pytest.importorskip("praatio.textgrid")
    tg = textgrid.Textgrid()
    words = [(0.0, 0.5, "once"), (0.5, 0.7, "sp"), (0.7, 1.1, "upon"), (1.1, 1.4, "a")]
    tg.addTier(textgrid.IntervalTier("words", words, 0.0, 2.0))
    tg.addTier(textgrid.IntervalTier("phones", [(0.0, 0.2, "W"), (0.2, 0.5, "AH1")], 0.0, 2.0))
    path = tmp_path / "run-01.TextGrid"
    tg.save(str(path), format="short_textgrid", includeBlankSpaces=True)
    ev = TimedEvents.read_textgrid(path)
    assert ev.labels.tolist() == ["once", "upon", "a"]  # the silence is left out
    np.testing.assert_allclose(ev.onsets, [0.0, 0.7, 1.1])
    assert ev.run_ids == ("run-01",) and ev.durations["run-01"] == 2.0
    ph = TimedEvents.read_textgrid(path, tier="phones", run="r1")
    assert ph.kind == "phones" and ph.labels.tolist() == ["W", "AH1"]
    with pytest.raises(ValidationError, match="tiers are"):
        TimedEvents.read_textgrid(path, tier="syllables")


def test_signals():
    s = TimedSignals({"r1": np.zeros(800), "r2": np.zeros(400)}, rate=400.0)
    assert s.duration("r1") == 2.0 and s.times("r2")[-1] == pytest.approx(399 / 400)
    with pytest.raises(ValueError):
        s["r1"][0] = 1.0
    with pytest.raises(ValidationError, match="must be 3-D or 4-D"):
        TimedSignals({"r1": np.zeros(10)}, rate=25.0, kind="video")
    with pytest.raises(StimulusMismatchError):
        s["r3"]


def test_timeseries_checks():
    ts = _series({"a": 4, "b": 3})
    assert ts.groups.tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert ts.select_runs(["b"]).data.shape == (3, 2)
    with pytest.raises(ValueError):
        ts.data[0, 0] = 1.0
    with pytest.raises(ValidationError, match="not contiguous"):
        TimeSeries(np.zeros((3, 1)), ["a", "b", "a"], [0.0, 0.0, 1.0])
    with pytest.raises(ValidationError, match="backwards"):
        TimeSeries(np.zeros((2, 1)), ["a", "a"], [1.0, 0.0])


def test_align_runs_reorders_by_run():
    x = _series({"r2": 3, "r1": 4}, seed=1)
    y = _series({"r1": 4, "r2": 3}, n_cols=5, seed=2)
    x2, y2 = align_runs(x, y)
    assert y2.run_ids == ("r2", "r1")
    np.testing.assert_array_equal(y2.run_data("r1"), y.run_data("r1"))
    assert x2 is x


def test_align_runs_missing_runs_listed():
    x, y = _series({"r1": 3, "r2": 3}), _series({"r1": 3, "r3": 3})
    with pytest.raises(StimulusMismatchError, match=r"r2.*r3|r3.*r2"):
        align_runs(x, y)
    with pytest.warns(NeuroalignWarning, match="kept 1 common"):
        x2, y2 = align_runs(x, y, how="inner")
    assert x2.run_ids == y2.run_ids == ("r1",)


def test_align_runs_duration_mismatch_is_an_error_never_truncated():
    x, y = _series({"r1": 300, "r2": 300}), _series({"r1": 300, "r2": 295})
    with pytest.raises(StimulusMismatchError) as err:
        align_runs(x, y)
    msg = str(err.value)
    assert "run 'r2'" in msg and "300 samples" in msg and "295 samples" in msg
    assert "run 'r1'" not in msg


def test_align_runs_span_of_events_against_a_recording():
    ev = TimedEvents(["r1", "r1"], [0.0, 1.0], [1.0, 9.0], ["a", "b"], durations={"r1": 10.0})
    tr = TimeSeries.from_runs({"r1": np.zeros((5, 1))}, rate=0.5)  # 0 … 8 s
    with pytest.raises(StimulusMismatchError, match="time spans"):
        align_runs(ev, tr, on="span")
    _, t2 = align_runs(ev, tr, on="span", tolerance=2.0)
    assert t2.n_samples == 5
    with pytest.raises(ValidationError, match="on='span'"):
        align_runs(ev, tr)

"""What bench.assemble hands the leaderboard: each score row's interval is its own (test) split's,
and the environment behind each cell's hash is recorded."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

pytest.importorskip("torch")

from neuroalign.bench import environment, load_benchmark, run, tiny_cnn
from neuroalign.report import leaderboard_table


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    rsa = load_benchmark("Kriegeskorte2008.hIT-rsa")
    rsa = dataclasses.replace(rsa, metric_params={**rsa.metric_params, "n_boot": 20})
    models = {f"s{s}": functools.partial(tiny_cnn, seed=s) for s in (0, 1)}
    return run(
        models, [rsa, "Simulated.late-encoding"], store=tmp_path_factory.mktemp("s"), quiet=True
    )


def test_score_interval_is_the_test_splits_own(sweep):
    t = sweep.table
    key = ["model", "benchmark"]
    score = t[t["statistic"] == "score"].set_index(key).sort_index()
    test = t[(t["statistic"] == "layer_score") & (t["split"] == "test") & t["committed"]]
    test = test.set_index(key).sort_index()
    assert (score["split"] == "test").all()
    np.testing.assert_array_equal(score["value"], test["value"])
    np.testing.assert_array_equal(
        score["ci_low"], test["ci_low"]
    )  # NaN where the test split has none
    np.testing.assert_array_equal(score["ci_high"], test["ci_high"])
    board = leaderboard_table(sweep).set_index(key)
    ok = np.isfinite(board["ci_low"].to_numpy(float))
    inside = (board["ci_low"] <= board["raw"]) & (board["raw"] <= board["ci_high"])
    assert inside[ok].all()
    # the all-data interval belongs to another number: it is not what the board shows
    alldata = t[(t["statistic"] == "layer_score") & (t["split"] == "all") & t["committed"]]
    rsa = alldata[np.isfinite(alldata["ci_low"].to_numpy(float))].set_index(key)
    assert len(rsa) and not np.isfinite(board.loc[rsa.index, "ci_low"].to_numpy(float)).any()


def test_environment_of_each_cell_is_recorded(sweep):
    envs = sweep.params["environments"]
    assert set(sweep.table["env"]) <= set(envs)
    (only,) = envs.values()
    assert only == dict(environment()) and only["numpy"] == np.__version__

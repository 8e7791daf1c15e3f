"""The built-in demo end to end: real RSA + synthetic encoding with known answers (runs ~1-2 min)."""

import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("matplotlib")

from neuroalign.demo import pick_source_layers, run_demo
from tests.browser import console_errors, probe_page
from tests.conftest import find_chromium


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return run_demo(out, n_boot=200, quiet=True)


@pytest.mark.slow
def test_synthetic_part_recovers_truth(demo):
    assert demo.best_layers == demo.true_layers
    for roi, true in demo.ceiling_true.items():
        assert abs(demo.ceiling_estimated[roi] - true) <= 0.05


@pytest.mark.slow
def test_real_part_table(demo):
    from neuroalign.core import COLUMNS

    table = pd.read_csv(demo.files["table"], keep_default_na=False, na_values=[""])
    assert list(table.columns[: len(COLUMNS)]) == list(COLUMNS)  # the one schema, no renames
    rsa = table[table["analysis"] == "rsa"]
    real = rsa[rsa["statistic"] == "similarity"]
    layers = real["layer"].unique()
    assert len(layers) >= 5
    assert set(real["roi"]) == {"human IT", "monkey IT"}
    assert len(real) == len(layers) * 2  # one row per (layer, roi)
    assert not real.duplicated(["layer", "roi"]).any()
    assert (real["ci_low"] <= real["value"]).all() and (real["value"] <= real["ci_high"]).all()
    assert (real["ci_high"] > real["ci_low"]).all()
    human = real[real["roi"] == "human IT"]
    assert set(human["resampled"]) == {"subjects"} and set(human["n"]) == {4}
    assert set(real.loc[real["roi"] == "monkey IT", "resampled"]) == {"stimuli"}
    assert (human["ceiling_low"] < human["ceiling_high"]).all()
    # a real ImageNet network correlates with human IT (Kriegeskorte-style RSA), best in deep layers
    assert human["value"].max() > 0.15
    assert human["value"].idxmax() > human.index[len(human) // 2 - 1]
    selected = rsa[rsa["statistic"] == "cv_selected"]
    assert len(selected) == 1 and selected["layer"].iloc[0] in set(layers)
    synth = table[table["analysis"] == "encoding"]
    assert set(synth["roi"]) == {"early", "mid", "late"}
    assert set(synth["aggregate"]) == {"mean", "median"}
    for name in ("report", "rsa_profile", "rdm_panel", "encoding_profile", "recovery"):
        assert demo.files[name].exists()


@pytest.mark.slow
@pytest.mark.browser
def test_demo_report_opens_in_chromium(demo):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium binary found")
    result, log = probe_page(chromium, demo.files["report"])
    assert result["n_images"] == 3
    assert result["broken"] == [] and result["errors"] == []
    assert console_errors(log) == []


def test_pick_source_layers_skips_readout():
    layers = [f"l{i}" for i in range(9)]
    picks = pick_source_layers(layers)
    assert picks == {"early": "l1", "mid": "l3", "late": "l6"}
    assert len(set(picks.values())) == 3
    with pytest.raises(ValueError):
        pick_source_layers(layers[:4])

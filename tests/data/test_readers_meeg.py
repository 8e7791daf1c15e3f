"""M/EEG readers recover known values, ids and repetitions from small files written here
(MNE needed: the whole file skips without it; in CI MNE is required, see test_peers_installed)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neuroalign.core.exceptions import (
    NeuroalignWarning,
    ValidationError,
)
from neuroalign.data import (
    load_meeg,
)

mne = pytest.importorskip("mne")


def _epochs(rng, n_per=(4, 3, 5)):
    info = mne.create_info(["Fz", "Cz", "Pz", "EOG"], 100.0, ["eeg", "eeg", "eeg", "eog"])
    codes = np.repeat([1, 2, 3], n_per)
    rng.shuffle(codes)
    events = np.c_[np.arange(len(codes)) * 200 + 100, np.zeros(len(codes), int), codes]
    data = rng.normal(size=(len(codes), 4, 50)) * 1e-6
    ep = mne.EpochsArray(
        data,
        info,
        events,
        tmin=-0.1,
        event_id={"face/1": 1, "face/2": 2, "house/1": 3},
        verbose="error",
    )
    return ep, data, codes


def test_epochs_to_time_resolved_responses_match_mne_average(rng):
    ep, data, codes = _epochs(rng)
    stim, resp = load_meeg(ep)
    assert resp.is_timeseries and resp.data.shape == (3, 3, 50)  # EOG is not a data channel
    assert resp.targets["channel"].tolist() == ["Fz", "Cz", "Pz"]
    np.testing.assert_allclose(resp.times, ep.times)
    for sid in stim.ids:
        ev = ep[sid].average(picks="eeg")
        np.testing.assert_allclose(resp.select([sid]).data[0], ev.data, rtol=1e-5, atol=1e-12)
    pos = stim.ids.tolist().index("house/1")
    assert resp.meta["trial_counts"]["house/1"] == 5
    np.testing.assert_allclose(resp.repetitions[:5, pos], data[codes == 3][:, :3], rtol=1e-5)


def test_stimulus_map_excludes_and_reports_unmapped(rng):
    ep, _, codes = _epochs(rng)
    with pytest.warns(NeuroalignWarning, match="excluded 5 epochs"):
        _, resp = load_meeg(ep, stimulus_map={"face/1": "img1", "face/2": "img2"})
    assert set(resp.stimulus_ids) == {"img1", "img2"}
    records = {r["what"]: r for r in resp.meta["exclusions"]}
    assert records["epochs"]["count"] == int((codes == 3).sum())
    assert records["channels"]["items"] == ["EOG"]  # the EOG channel is listed, not just dropped
    with pytest.raises(ValidationError, match="matches none of the conditions"):
        load_meeg(ep, stimulus_map={"cat": "x"})


def test_evoked_and_fif_roundtrip(tmp_path, rng):
    ep, _, _ = _epochs(rng)
    evokeds = [ep[c].average() for c in ep.event_id]
    mne.write_evokeds(tmp_path / "x-ave.fif", evokeds, verbose="error")
    stim, resp = load_meeg(tmp_path / "x-ave.fif")
    assert stim.ids.tolist() == list(ep.event_id) and resp.n_reps == 0
    assert resp.meta["nave"]["face/1"] == 4
    ep.save(tmp_path / "x-epo.fif", verbose="error")
    _, resp2 = load_meeg(tmp_path / "x-epo.fif")
    np.testing.assert_allclose(
        resp2.select(["face/2"]).data, resp.select(["face/2"]).data, rtol=1e-5
    )


def test_continuous_eeglab_and_brainvision(tmp_path, rng):
    pytest.importorskip("eeglabio")
    pytest.importorskip("pybv")
    sf = 100.0
    info = mne.create_info(["C3", "C4"], sf, "eeg")
    raw = mne.io.RawArray(rng.normal(size=(2, 3000)) * 1e-5, info, verbose="error")
    onsets = np.arange(1.0, 28.0, 2.0)
    desc = ["cat" if i % 2 else "dog" for i in range(len(onsets))]
    raw.set_annotations(mne.Annotations(onsets, 0.0, desc))
    # BrainVision markers come back as "<type>/<description>" (MNE's convention)
    for fname, prefix in (("c.set", ""), ("c.vhdr", "Comment/")):
        mne.export.export_raw(tmp_path / fname, raw, overwrite=True, verbose="error")
        stim, resp = load_meeg(tmp_path / fname, tmin=0.0, tmax=0.5)
        assert sorted(stim.ids) == [prefix + "cat", prefix + "dog"] and resp.n_reps == 7
        i0 = round(onsets[0] * sf)  # first dog trial
        got = resp.select([prefix + "dog"]).repetitions[0, 0, 0]
        np.testing.assert_allclose(got, raw.get_data()[0, i0 : i0 + 51], rtol=1e-3, atol=2e-8)
        with pytest.raises(ValidationError, match=r"no events matching \['cow'\].*events found"):
            load_meeg(tmp_path / fname, event_id=["cow"])


def test_bids_eeg(tmp_path, rng):
    mne_bids = pytest.importorskip("mne_bids")
    pytest.importorskip("pybv")
    info = mne.create_info(["C3", "C4"], 100.0, "eeg")
    raw = mne.io.RawArray(rng.normal(size=(2, 2000)) * 1e-5, info, verbose="error")
    raw.set_annotations(mne.Annotations([1.0, 3.0, 5.0, 7.0], 0.0, ["a", "b", "a", "b"]))
    raw.info["line_freq"] = 50
    path = mne_bids.BIDSPath(subject="01", task="view", root=tmp_path / "bids", datatype="eeg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mne_bids.write_raw_bids(
            raw, path, allow_preload=True, format="BrainVision", verbose="error"
        )
    from neuroalign.data import load_meeg_bids

    stim, resp = load_meeg_bids(tmp_path / "bids", "01", "view", tmin=0, tmax=0.2)
    assert sorted(stim.ids) == ["a", "b"] and resp.n_reps == 2
    assert (resp.targets["subject"] == "01").all()


# --------------------------------------------------------------------------- NWB

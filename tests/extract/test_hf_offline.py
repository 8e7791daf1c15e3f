"""Without a connection to the hub, Hugging Face / open_clip loads fail at once with our message
(offline mode: the local cache only), not after the hub client's retry loop."""

from __future__ import annotations

import logging
import time

import pytest

pytest.importorskip("transformers")

from neuroalign.core.exceptions import ModelLoadError
from neuroalign.extract import _hf, load_model


@pytest.fixture
def unreachable(monkeypatch):
    monkeypatch.setattr(_hf, "_hub_reachable", lambda timeout=2.0: False)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return constants


def test_uncached_hf_model_fails_at_once_when_the_hub_is_unreachable(unreachable, caplog):
    caplog.set_level(logging.WARNING)
    t0 = time.perf_counter()
    with pytest.raises(ModelLoadError, match=r"(?s)could not obtain pretrained weights.*internet"):
        load_model("hf:neuroalign-tests/no-such-model-xyz")
    assert time.perf_counter() - t0 < 10.0  # the retry loop alone takes 25-30 s
    assert "Retrying" not in caplog.text
    assert unreachable.HF_HUB_OFFLINE is False  # offline mode only inside the load


def test_offline_mode_is_not_forced_when_the_hub_is_reachable(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(_hf, "_hub_reachable", lambda timeout=2.0: True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with _hf.hub_offline_unless_reachable("some/model"):
        assert constants.is_offline_mode() is False
    monkeypatch.setattr(_hf, "_hub_reachable", lambda timeout=2.0: False)
    with _hf.hub_offline_unless_reachable("some/model"):
        assert constants.is_offline_mode() is True
    assert constants.is_offline_mode() is False

"""``benchmarks/gpu_check.py --dry-run``: every CUDA path's torch code runs on the CPU and agrees
with the NumPy result, so the script is ready for the day a GPU is lent."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.mark.slow
def test_dry_run_exercises_every_path_and_agrees_with_the_cpu(gpu_check, capsys):
    assert gpu_check.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{len(gpu_check.CHECKS)} of {len(gpu_check.CHECKS)} paths agree" in out
    for label in (
        "extraction (AMP bf16)",
        "extraction (channels_last)",
        "ridge k-fold",
        "ridge GCV",
        "banded ridge",
        "RSA",
    ):
        assert label in out


def test_a_path_off_tolerance_or_raising_fails_the_run(gpu_check, monkeypatch, capsys):
    def off(device, small):
        return gpu_check.Check("fake", 1.0, 1.0, 0.5, 1e-3, "made up")

    def boom(device, small):
        raise RuntimeError("kernel failed")

    monkeypatch.setattr(gpu_check, "CHECKS", {"off": off, "boom": boom})
    assert gpu_check.main(["--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "boom" in out and "0 of 2 paths agree" in out

"""The one ``memory_budget`` parser and the one ``device`` checker every layer calls."""

from __future__ import annotations

import numpy as np
import pytest

from neuroalign.core._validation import check_device, parse_memory_budget
from neuroalign.core.exceptions import ConfigurationError, ValidationError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2**30, 2**30),
        (np.int64(4096), 4096),
        (1e9, 10**9),
        ("2GB", 2 * 10**9),
        ("2gb", 2 * 10**9),
        ("2G", 2 * 10**9),
        ("512MiB", 512 * 2**20),
        ("1.5 GiB", int(1.5 * 2**30)),
        ("800k", 800_000),
        ("800 KB", 800_000),
        ("3TiB", 3 * 2**40),
        ("1000", 1000),
        ("1000B", 1000),
        (".5MB", 500_000),
    ],
)
def test_parse_memory_budget_accepts_bytes_and_sizes(value, expected):
    assert parse_memory_budget(value) == expected


@pytest.mark.parametrize(
    "value", ["2 gigabytes", "", "GB", "-1GB", "2i", "1e9", None, [1], True, 0, -5, 1.5, "0MB"]
)
def test_parse_memory_budget_rejects_with_named_argument(value):
    with pytest.raises(ValidationError, match="memory_budget"):
        parse_memory_budget(value)


def test_parse_memory_budget_names_the_argument():
    with pytest.raises(ValidationError, match=r"budget=.*'lots'"):
        parse_memory_budget("lots", name="budget")


@pytest.mark.parametrize(
    ("device", "expected"), [(None, None), ("cpu", "cpu"), ("CPU", "cpu"), ("torch", "torch")]
)
def test_check_device_cpu_vocabulary(device, expected):
    assert check_device(device) == expected


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "cuda0", "mps2", 3, "numpy:1"])
def test_check_device_rejects_unknown_devices(device):
    with pytest.raises(ConfigurationError, match="device"):
        check_device(device)


def test_check_device_cuda_without_gpu_is_a_clear_error(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for dev in ("cuda", "cuda:0", torch.device("cuda:1")):
        with pytest.raises(
            ConfigurationError, match=r"device=.*cuda.*no CUDA device.*device='cpu'"
        ):
            check_device(dev)


def test_check_device_cuda_index_out_of_range(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert check_device("cuda") == "cuda"
    assert check_device("cuda:0") == "cuda:0"
    assert check_device(torch.device("cuda:0")) == "cuda:0"
    with pytest.raises(ConfigurationError, match=r"cuda:3.*only 1 CUDA device"):
        check_device("cuda:3")


@pytest.mark.gpu
def test_check_device_on_a_real_gpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    n = torch.cuda.device_count()
    assert check_device(f"cuda:{n - 1}") == f"cuda:{n - 1}"
    with pytest.raises(ConfigurationError, match=f"only {n} CUDA device"):
        check_device(f"cuda:{n}")

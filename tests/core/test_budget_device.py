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


def test_torch_device_is_the_one_mapping_for_every_torch_path(monkeypatch):
    """extract, the readouts, the contrastive decoder and synthesis all go through
    ``torch_device``: None / "cpu" / "torch" are the CPU, and CUDA without a GPU is the clear
    ConfigurationError before any work (not torch's own error)."""
    torch = pytest.importorskip("torch")
    from neuroalign.core._validation import torch_device
    from neuroalign.decode import ContrastiveDecoder
    from neuroalign.explain import most_discriminative_stimuli, synthesize

    for dev in (None, "cpu", "torch"):
        assert torch_device(dev) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigurationError, match="sees no CUDA device"):
        torch_device("cuda")
    rng = np.random.default_rng(0)
    X, E = rng.normal(size=(40, 5)).astype("f4"), rng.normal(size=(40, 3)).astype("f4")
    with pytest.raises(ConfigurationError, match="sees no CUDA device"):
        ContrastiveDecoder(device="cuda").fit(X, E)
    # checked before the encoder file is even opened (it does not exist)
    with pytest.raises(ConfigurationError, match="sees no CUDA device"):
        synthesize(lambda x: x, "not-an-encoder.npz", "t0", device="cuda")
    with pytest.raises(ConfigurationError, match="sees no CUDA device"):
        most_discriminative_stimuli(lambda x: x, "not-an-encoder.npz", 2, device="cuda")

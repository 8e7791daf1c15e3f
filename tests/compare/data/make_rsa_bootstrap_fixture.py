"""Write ``rsa_bootstrap_v0.npz``: per-resample bootstrap RSA values of the code as it was before
the batched rewrite, so tests can check later versions reproduce them. The stored file was written
at commit 8a92592; running this on later code would make the reference the code under test, so
check that commit out first (``git worktree add /tmp/v0 8a92592``) if it ever must be rewritten.

    PYTHONPATH=src python tests/compare/data/make_rsa_bootstrap_fixture.py
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from neuroalign import RDMs
from neuroalign.compare import bootstrap_rsa

METHODS = ("spearman", "kendall_tau_a", "pearson", "rho_a", "cosine", "corr_cov")
OVERS = ("subjects", "stimuli", "both")


def inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(21)
    n_pairs = 24 * 23 // 2
    truth = rng.normal(size=n_pairs)
    data = np.stack([truth + rng.normal(size=n_pairs) for _ in range(6)])
    data[:2] = np.round(data[:2], 1)  # ties in two subjects
    models = np.stack([truth + s * rng.normal(size=n_pairs) for s in (0.5, 1.0, 2.0, 4.0)])
    models[3] = np.round(models[3])  # a model that predicts ties
    return models, data


def main() -> None:
    warnings.simplefilter("ignore")
    models, data = inputs()
    ids = [f"s{i}" for i in range(24)]
    out = {"models": models, "data": data}
    for method in METHODS:
        for over in OVERS:
            r = bootstrap_rsa(
                RDMs(models, ids),
                RDMs(data, ids),
                method,
                n_boot=30,
                over=over,
                seed=5,
                quiet=True,
                n_jobs=1,
            )
            out[f"{method}/{over}/samples"] = r.arrays["samples"]
            out[f"{method}/{over}/ceiling_samples"] = r.arrays["ceiling_samples"]
    np.savez_compressed(Path(__file__).with_name("rsa_bootstrap_v0.npz"), **out)


if __name__ == "__main__":
    main()

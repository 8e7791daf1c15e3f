"""Representational comparison: RDMs, RDM similarity, RSA with bootstrap inference, noise ceilings."""

from ._inference import RSAResult, bootstrap_indices, bootstrap_rsa, rdm_noise_ceiling
from ._rdm import RDM_METRICS, compute_rdm, compute_rdms
from ._similarity import SIMILARITIES, compare_rdms, pool_rdms

__all__ = [
    "RDM_METRICS",
    "SIMILARITIES",
    "RSAResult",
    "bootstrap_indices",
    "bootstrap_rsa",
    "compare_rdms",
    "compute_rdm",
    "compute_rdms",
    "pool_rdms",
    "rdm_noise_ceiling",
]

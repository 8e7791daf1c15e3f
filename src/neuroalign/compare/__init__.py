"""Representational comparison: RDMs, RDM similarity, RSA with bootstrap inference and noise
ceilings, CKA and shape metrics."""

from ._cka import CKA_KERNELS, cka, minibatch_cka
from ._inference import RSAResult, bootstrap_indices, bootstrap_rsa, rdm_noise_ceiling
from ._rdm import RDM_METRICS, compute_rdm, compute_rdms
from ._shape import procrustes_distance, shape_distance
from ._similarity import SIMILARITIES, compare_rdms, pool_rdms

__all__ = [
    "CKA_KERNELS",
    "RDM_METRICS",
    "SIMILARITIES",
    "RSAResult",
    "bootstrap_indices",
    "bootstrap_rsa",
    "cka",
    "compare_rdms",
    "compute_rdm",
    "compute_rdms",
    "minibatch_cka",
    "pool_rdms",
    "procrustes_distance",
    "rdm_noise_ceiling",
    "shape_distance",
]

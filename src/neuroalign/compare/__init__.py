"""Representational comparison: RDMs, RDM similarity, RSA with bootstrap inference and noise
ceilings, CKA and shape metrics."""

from ._cka import CKA_KERNELS, cka, minibatch_cka
from ._inference import RSAResult, bootstrap_indices, bootstrap_rsa, rdm_noise_ceiling
from ._rdm import RDM_METRICS, compute_rdm, compute_rdms
from ._shape import procrustes_distance, shape_distance
from ._similarity import SIMILARITIES, compare_rdms, pool_rdms
from ._tables import brain_rdms, cka_table, rsa_table
from ._temporal import compute_rdms_over_time, rsa_over_time, temporal_generalization

__all__ = [
    "CKA_KERNELS",
    "RDM_METRICS",
    "SIMILARITIES",
    "RSAResult",
    "bootstrap_indices",
    "bootstrap_rsa",
    "brain_rdms",
    "cka",
    "cka_table",
    "compare_rdms",
    "compute_rdm",
    "compute_rdms",
    "compute_rdms_over_time",
    "minibatch_cka",
    "pool_rdms",
    "procrustes_distance",
    "rdm_noise_ceiling",
    "rsa_over_time",
    "rsa_table",
    "shape_distance",
    "temporal_generalization",
]

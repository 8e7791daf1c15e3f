"""Representational comparison: RDMs, RDM similarity, RSA with bootstrap inference and noise
ceilings, CKA and shape metrics."""

from ._cka import CKA_KERNELS, cka, minibatch_cka
from ._inference import RSAResult, bootstrap_indices, bootstrap_rsa, rdm_noise_ceiling
from ._rdm import RDM_METRICS, compute_crossnobis_rdm, compute_rdm, compute_rdms, noise_precision
from ._shape import procrustes_distance, pwcca, shape_distance, svcca
from ._similarity import SIMILARITIES, compare_rdms, pool_rdms
from ._tables import brain_rdms, cka_table, rsa_table
from ._temporal import compute_rdms_over_time, rsa_over_time, temporal_generalization
from ._tests import compare_models, rsa_permutation_test
from ._topology import geodesic_transform, geotopological_transform

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
    "compare_models",
    "compare_rdms",
    "compute_crossnobis_rdm",
    "compute_rdm",
    "compute_rdms",
    "compute_rdms_over_time",
    "geodesic_transform",
    "geotopological_transform",
    "minibatch_cka",
    "noise_precision",
    "pool_rdms",
    "procrustes_distance",
    "pwcca",
    "rdm_noise_ceiling",
    "rsa_over_time",
    "rsa_permutation_test",
    "rsa_table",
    "shape_distance",
    "svcca",
    "temporal_generalization",
]

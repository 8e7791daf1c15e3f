"""Representational comparison: RDMs, RDM similarity, RSA with bootstrap inference and noise
ceilings (subjects as the unit), cross-validated layer selection, CKA and shape metrics, RDM files.

Every analysis returns a :class:`neuroalign.core.Result` (kinds ``rsa.*``, ``cka.table``,
``shape.table``)."""

from ._cka import CKA_KERNELS, cka, minibatch_cka
from ._evaluate import rdm_noise_ceiling
from ._inference import bootstrap_indices, bootstrap_rsa
from ._rdm import RDM_METRICS, compute_crossnobis_rdm, compute_rdm, compute_rdms, noise_precision
from ._rdm_io import load_rdms, save_rdms
from ._select import select_layer
from ._shape import procrustes_distance, pwcca, shape_distance, svcca
from ._similarity import SIMILARITIES, compare_rdms, pool_rdms
from ._subjects import pool_subjects
from ._tables import SHAPE_METHODS, brain_rdms, cka_table, rsa_table, shape_table
from ._temporal import compute_rdms_over_time, rsa_over_time, temporal_generalization
from ._tests import compare_models, rsa_permutation_test
from ._topology import geodesic_transform, geotopological_transform

__all__ = [
    "CKA_KERNELS",
    "RDM_METRICS",
    "SHAPE_METHODS",
    "SIMILARITIES",
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
    "load_rdms",
    "minibatch_cka",
    "noise_precision",
    "pool_rdms",
    "pool_subjects",
    "procrustes_distance",
    "pwcca",
    "rdm_noise_ceiling",
    "rsa_over_time",
    "rsa_permutation_test",
    "rsa_table",
    "save_rdms",
    "select_layer",
    "shape_distance",
    "shape_table",
    "svcca",
    "temporal_generalization",
]

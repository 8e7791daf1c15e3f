"""Decoding: brain data → labels, time courses of decodability, embeddings and retrieval.

Classic decoding with scikit-learn classifiers and run-aware cross-validation; time-resolved
decoding and temporal generalisation with closed-form classifiers batched over time points;
cluster-based permutation statistics; brain → embedding ridge and chunked top-k retrieval;
contrastive (CLIP-loss) decoders; cross-subject alignment (SRM) and subject adapters.
"""

from ._batched import TIME_ESTIMATORS
from ._classic import ESTIMATORS, decode, haufe_patterns
from ._clusters import cluster_test_subjects, find_clusters, permutation_cluster_test
from ._contrastive import BRAIN_MODULES, ContrastiveDecoder, clip_loss
from ._crosssubject import SharedDecoder, fit_srm, procrustes
from ._embedding import RidgeDecoder, decode_embeddings, solve_ridge_loo
from ._retrieval import SIMILARITIES, TopK, identification, retrieve
from ._scoring import CLASSIFICATION_SCORES, chance_level
from ._segments import Windows, aligned_windows, decode_segments
from ._temporal import decode_over_time, temporal_generalization, time_features

__all__ = [
    "BRAIN_MODULES",
    "CLASSIFICATION_SCORES",
    "ESTIMATORS",
    "SIMILARITIES",
    "TIME_ESTIMATORS",
    "ContrastiveDecoder",
    "RidgeDecoder",
    "SharedDecoder",
    "TopK",
    "Windows",
    "aligned_windows",
    "chance_level",
    "clip_loss",
    "cluster_test_subjects",
    "decode",
    "decode_embeddings",
    "decode_over_time",
    "decode_segments",
    "find_clusters",
    "fit_srm",
    "haufe_patterns",
    "identification",
    "permutation_cluster_test",
    "procrustes",
    "retrieve",
    "solve_ridge_loo",
    "temporal_generalization",
    "time_features",
]

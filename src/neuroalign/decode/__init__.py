"""Decoding: brain data → labels, time courses of decodability, embeddings and retrieval.

Classic decoding with scikit-learn classifiers and run-aware cross-validation; time-resolved
decoding and temporal generalisation with closed-form classifiers batched over time points;
cluster-based permutation statistics; brain → embedding ridge and chunked top-k retrieval;
contrastive (CLIP-loss) decoders; cross-subject alignment (SRM) and subject adapters.
"""

from ._batched import TIME_ESTIMATORS
from ._classic import ESTIMATORS, decode, haufe_patterns
from ._clusters import cluster_test_subjects, find_clusters, permutation_cluster_test
from ._retrieval import SIMILARITIES, TopK, identification, retrieve
from ._scoring import CLASSIFICATION_SCORES, chance_level
from ._temporal import decode_over_time, temporal_generalization, time_features

__all__ = [
    "CLASSIFICATION_SCORES",
    "ESTIMATORS",
    "SIMILARITIES",
    "TIME_ESTIMATORS",
    "TopK",
    "chance_level",
    "cluster_test_subjects",
    "decode",
    "decode_over_time",
    "find_clusters",
    "haufe_patterns",
    "identification",
    "permutation_cluster_test",
    "retrieve",
    "temporal_generalization",
    "time_features",
]

"""Small Results of several kinds, made by the analyses themselves on generated data (seconds)."""

from __future__ import annotations

import numpy as np

from neuroalign.core import Activations, Result


def make_results(n_layers: int = 4, seed: int = 0) -> dict[str, Result]:
    """kind → a Result of that kind: encoding sweep, CKA, RSA, classic and time-resolved
    decoding, temporal generalisation, identification."""
    from neuroalign.compare import brain_rdms, cka_table, rsa_table
    from neuroalign.data import make_epochs, make_responses
    from neuroalign.decode import decode, decode_over_time, identification, temporal_generalization
    from neuroalign.encode import sweep_layers

    rng = np.random.default_rng(seed)
    ids = np.array([f"stim{i:03d}" for i in range(60)])
    layers = {f"_blocks.{i}": rng.normal(size=(60, 24)).astype(np.float32) for i in range(n_layers)}
    acts = Activations("tiny_cnn:seed=0", ids, layers)
    resp, _ = make_responses(
        acts, {"V1-like": "_blocks.0", "IT-like": f"_blocks.{n_layers - 1}"}, n_targets_per_roi=12
    )
    out = {
        "encoding.sweep": sweep_layers(acts, resp, quiet=True),
        "cka.table": cka_table(acts, resp, quiet=True),
        "rsa.table": rsa_table(acts, brain_rdms(resp), n_boot=20, quiet=True),
    }
    ep = make_epochs(n_epochs=60, n_channels=8, n_times=20, seed=seed)
    X, y = np.asarray(ep.epochs).mean(axis=2), np.asarray(ep.labels)
    out["decoding.classic"] = decode(X, y, estimator="lda", quiet=True)
    out["decoding.over_time"] = decode_over_time(ep.epochs, y, times=ep.times, quiet=True)
    out["decoding.generalization"] = temporal_generalization(
        ep.epochs, y, times=ep.times, quiet=True
    )
    emb = rng.normal(size=(30, 16))
    q = [f"q{i}" for i in range(30)]
    out["retrieval.identification"] = identification(
        emb + rng.normal(scale=0.5, size=emb.shape), emb, query_ids=q, candidate_ids=q
    )
    return out

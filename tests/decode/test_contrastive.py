"""Contrastive decoder: beats ridge-then-cosine when the latent-to-target map is non-linear;
deterministic for a seed on the CPU; subject layers and the temporal-convolution module."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuroalign.core.exceptions import ValidationError  # noqa: E402
from neuroalign.data import make_decoding_problem  # noqa: E402
from neuroalign.decode import ContrastiveDecoder, RidgeDecoder, identification  # noqa: E402


def _top1(pred, E, ids):
    return identification(pred, E, query_ids=ids, candidate_ids=ids, k=1).table.iloc[0]["value"]


@pytest.mark.slow
def test_contrastive_beats_ridge_on_a_nonlinear_map():
    p = make_decoding_problem(800, 4, 32, noise=0.3, nonlinear=True, seed=0)
    X, E, ids = p.responses[0], p.latents, p.stimulus_ids
    tr, te = slice(0, 600), slice(600, 800)
    ridge = _top1(RidgeDecoder().fit(X[tr], E[tr]).predict(X[te]), E[te], ids[te])
    clip = ContrastiveDecoder("mlp", hidden=128, lr=3e-3, max_epochs=40, patience=8, seed=0)
    top1 = _top1(clip.fit(X[tr], E[tr]).predict(X[te]), E[te], ids[te])
    assert top1 > ridge + 0.08, (top1, ridge)  # measured 0.565 vs 0.425 (200 candidates)


def test_deterministic_with_a_seed_and_leaves_global_rng_alone():
    p = make_decoding_problem(120, 4, 10, noise=0.5, seed=1)
    X, E = p.responses[0], p.latents
    state = torch.random.get_rng_state()
    a = ContrastiveDecoder(max_epochs=5, seed=3, mse_weight=0.5).fit(X, E).predict(X)
    b = ContrastiveDecoder(max_epochs=5, seed=3, mse_weight=0.5).fit(X, E).predict(X)
    c = ContrastiveDecoder(max_epochs=5, seed=4, mse_weight=0.5).fit(X, E).predict(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert torch.equal(state, torch.random.get_rng_state())


def test_batch_of_one_is_refused_and_a_trailing_single_sample_is_merged(monkeypatch):
    p = make_decoding_problem(60, 4, 8, noise=0.5, seed=1)
    X, E = p.responses[0], p.latents
    with pytest.raises(ValidationError, match="batch_size must be >= 2; got 1"):
        ContrastiveDecoder(batch_size=1, max_epochs=2).fit(X, E)
    import neuroalign.decode._contrastive as mod

    sizes = []
    real = mod.clip_loss

    def spy(z, e, log_scale):
        if torch.is_grad_enabled():  # training steps only (validation runs under no_grad)
            sizes.append(z.shape[0])
        return real(z, e, log_scale)

    monkeypatch.setattr(mod, "clip_loss", spy)
    n_val = round(0.15 * 60)  # the decoder's validation split (9): 51 training samples
    n_train = 60 - n_val
    est = ContrastiveDecoder(batch_size=10, max_epochs=1, patience=1).fit(X, E)
    assert n_train % 10 == 1  # 5 batches of 10 and one sample left over
    assert sizes == [10, 10, 10, 10, 11]  # the single sample joins the last batch
    assert np.isfinite(est.history_[0][0]) and est.history_[0][0] > 0


def test_conv_module_with_subject_layers():
    p = make_decoding_problem(90, 4, [6, 6], n_times=12, noise=0.5, seed=2)
    X = np.concatenate(p.responses)
    subjects = np.repeat([0, 1], 90)
    E = np.tile(p.latents, (2, 1))
    dec = ContrastiveDecoder("conv", hidden=16, subject_layers=True, max_epochs=3).fit(
        X, E, subjects
    )
    assert dec.predict(X[:5], subjects[:5]).shape == (5, 4)
    assert dec.module_.subject.shape == (2, 6, 6)
    with pytest.raises(ValidationError, match="needs subjects"):
        dec.predict(X[:5])
    with pytest.raises(ValidationError, match="needs epochs"):
        ContrastiveDecoder("conv").fit(X.mean(-1), E)


@pytest.mark.gpu
def test_cuda_training_runs():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    p = make_decoding_problem(200, 4, 20, noise=0.3, seed=0)
    dec = ContrastiveDecoder("mlp", max_epochs=5, device="cuda").fit(p.responses[0], p.latents)
    assert next(dec.module_.parameters()).is_cuda
    assert dec.predict(p.responses[0]).shape == (200, 4)

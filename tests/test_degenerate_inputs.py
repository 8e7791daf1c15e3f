"""Plausible degenerate inputs that used to give a silent, plausible-looking wrong number (found
by an audit of every public analysis): each now gives the right value, NaN with a report, or an
error that names the problem."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neuroalign import Activations, RDMs, Responses
from neuroalign.compare import (
    bootstrap_rsa,
    compute_rdm,
    load_rdms,
    rdm_noise_ceiling,
    rsa_permutation_test,
    save_rdms,
)
from neuroalign.core.exceptions import ShapeError, StimulusMismatchError, ValidationError
from neuroalign.data import compute_ncsnr, compute_noise_ceiling, split_half_reliability
from neuroalign.decode import identification
from neuroalign.encode import permutation_test, sweep_layers


def test_load_rdms_reorders_by_the_ids_a_file_stores(tmp_path):
    """Ids given for a file that names its stimuli choose the order; they used to relabel the
    rows by position (d(bus, car) became d(cat, car))."""
    X = np.random.default_rng(0).normal(size=(5, 30))
    stored = RDMs(compute_rdm(X, dtype="float64"), ["cat", "dog", "car", "bus", "tree"])
    path = save_rdms(stored, tmp_path / "r.npz")
    wanted = ["bus", "car", "cat", "dog", "tree"]
    loaded = load_rdms(path, stimulus_ids=wanted)
    assert loaded.stimulus_ids.tolist() == wanted
    np.testing.assert_array_equal(loaded.square()[0], stored.select(wanted).square()[0])
    with pytest.raises(StimulusMismatchError):
        load_rdms(path, stimulus_ids=["bus", "car", "cat", "dog", "cow"])


def test_square_similarity_matrix_is_refused():
    """A correlation matrix (diagonal 1) passed as dissimilarities reversed every RSA."""
    rng = np.random.default_rng(1)
    S = np.corrcoef(rng.normal(size=(6, 20)))
    with pytest.raises(ValidationError, match="zero diagonal"):
        RDMs(S, [f"s{i}" for i in range(6)])
    assert RDMs(1 - S, [f"s{i}" for i in range(6)]).n_rdms == 1


def test_three_by_three_square_rdm_is_one_rdm():
    """(3, 3) over 3 stimuli: a symmetric zero-diagonal matrix is one square RDM (it used to be
    read as three condensed RDMs); anything else stays three condensed RDMs."""
    sq = np.array([[0.0, 1, 2], [1, 0, 3], [2, 3, 0]])
    r = RDMs(sq, ["a", "b", "c"])
    assert r.n_rdms == 1 and r.dissimilarities.tolist() == [[1.0, 2.0, 3.0]]
    three = RDMs(np.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]), ["a", "b", "c"])
    assert three.n_rdms == 3


def test_correlation_distance_refuses_a_constant_nonzero_pattern():
    """A pattern of 0.1 everywhere is constant: after centring its norm is rounding, not 0, and
    its distance to every stimulus came out exactly 1."""
    X = np.random.default_rng(2).normal(size=(5, 1000))
    X[2] = 0.1
    for dtype in ("float32", "float64"):
        with pytest.raises(ValidationError, match="constant across features"):
            compute_rdm(X, "correlation", dtype=dtype)


def test_sweep_gives_constant_voxels_no_test_score():
    """A constant voxel is excluded from the fit; its test r and R² were 1.0 (float32
    rounding of a constant prediction of a constant), lifting the ROI mean."""
    rng = np.random.default_rng(0)
    n, p, t = 120, 20, 6
    X = rng.normal(size=(n, p))
    Y = X @ rng.normal(size=(p, t)) * 0.15 + rng.normal(size=(n, t))
    Y[:, 0] = 0.1
    ids = [f"s{i}" for i in range(n)]
    with pytest.warns(UserWarning, match="constant"):
        res = sweep_layers(Activations("m", ids, {"l1": X}), Responses(ids, data=Y), quiet=True)
    assert np.isnan(res.arrays["test_pearson"][0, 0]) and np.isnan(res.arrays["test_r2"][0, 0])
    table = res.table.astype({"statistic": str, "scoring": str, "aggregate": str})
    row = table[
        (table.statistic == "score") & (table.scoring == "pearson") & (table["aggregate"] == "mean")
    ].iloc[0]
    assert row.n == 5
    assert row.value == pytest.approx(np.mean(res.arrays["test_pearson"][0, 1:]))


def test_sweep_ceiling_normalisation_uses_the_same_targets():
    """Mean r over the targets with a ceiling (≥ 0.1) divided by their mean ceiling: it divided
    the mean over all targets by the mean of fewer ceilings, and near-zero ceilings exploded."""
    rng = np.random.default_rng(3)
    n, t = 150, 4
    X = rng.normal(size=(n, 10))
    Y = X[:, :4] * 0.8 + rng.normal(size=(n, t))
    ids = [f"s{i}" for i in range(n)]
    ceiling = np.array([0.9, 0.8, np.nan, 0.05])
    res = sweep_layers(
        Activations("m", ids, {"l1": X}), Responses(ids, data=Y), ceiling=ceiling, quiet=True
    )
    table = res.table.astype({"statistic": str, "aggregate": str})
    got = table[(table.statistic == "ceiling_normalized") & (table["aggregate"] == "mean")]
    r = res.arrays["test_pearson"][0]
    assert float(got.value.iloc[0]) == pytest.approx(r[:2].mean() / ceiling[:2].mean())
    assert int(got.n.iloc[0]) == 2


def test_permutation_test_gives_an_undefined_r_no_p_value():
    rng = np.random.default_rng(4)
    y = rng.normal(size=(60, 3))
    pred = y + rng.normal(size=(60, 3))
    y[:, 2] = 1.0
    with pytest.warns(UserWarning, match="undefined correlation"):
        res = permutation_test(y, pred, n_permutations=200, quiet=True)
    p = res.table["p_value"].to_numpy()
    assert np.isfinite(p[:2]).all() and np.isnan(p[2])


def test_ncsnr_of_a_constant_voxel_is_undefined():
    rng = np.random.default_rng(5)
    reps = rng.normal(size=(3, 50, 1)) + rng.normal(size=(1, 50, 1))
    reps = np.concatenate([reps, np.full((3, 50, 1), 2.0)], axis=2)
    ncsnr = compute_ncsnr(reps)
    assert np.isfinite(ncsnr[0]) and np.isnan(ncsnr[1])


def test_split_half_ceiling_with_unequal_repetitions():
    """Most stimuli seen once, 10 % twice: the ceiling is the correlation a perfect model
    reaches with the averaged data (0.715 here); the plain Spearman–Brown step gave 0.81."""
    rng = np.random.default_rng(0)
    n, t = 4000, 40
    sig = rng.normal(size=(n, t))
    reps = sig + rng.normal(size=(2, n, t))
    reps[1, n // 10 :] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resp = Responses([f"s{i}" for i in range(n)], repetitions=reps)
    perfect = np.mean([np.corrcoef(sig[:, j], resp.data[:, j])[0, 1] for j in range(t)])
    assert compute_noise_ceiling(resp).mean() == pytest.approx(perfect, abs=0.02)
    # equal counts: the same Spearman–Brown value as before, 2 r / (1 + r)
    full = sig[:500] + rng.normal(size=(4, 500, t))
    assert split_half_reliability(full).mean() == pytest.approx(1 / (1 + 1 / 4), abs=0.03)


def test_rdm_statistics_check_array_inputs():
    rng = np.random.default_rng(6)
    d = rng.random((4, 66))
    d[0, 3] = np.nan
    with pytest.raises(ValidationError, match="NaN"):
        rdm_noise_ceiling(d)
    with pytest.raises(ShapeError, match="same stimuli"):
        rsa_permutation_test(rng.random(66), rng.random((4, 45)), n_permutations=10, quiet=True)
    with pytest.warns(UserWarning, match="undefined"):
        res = rsa_permutation_test(np.ones(66), rng.random((4, 66)), n_permutations=20, quiet=True)
    assert np.isnan(res.table["p_value"].iloc[0])


def test_stimulus_bootstrap_resamples_without_two_pairs_are_nan():
    """Three stimuli: a resample drawing one stimulus three times has no pair; it scored 0.0,
    pulling the interval to 0."""
    ids = ["a", "b", "c"]
    m = RDMs(np.array([[1.0, 2, 3]]), ids)
    d = RDMs(np.array([[1.0, 2, 3.1], [1.2, 2, 2.9], [0.9, 2.2, 3]]), ids)
    with pytest.warns(UserWarning, match="fewer than 3 distinct stimuli"):
        r = bootstrap_rsa(m, d, n_boot=100, over="stimuli", quiet=True)
    s = r.arrays["samples"][:, 0]
    idx = r.arrays["stimulus_indices"]
    distinct = np.array([len(set(row)) for row in idx])
    assert np.isnan(s[distinct < 3]).all() and np.isfinite(s[distinct == 3]).all()


def test_identification_checks_candidates_against_their_ids():
    rng = np.random.default_rng(7)
    emb = rng.normal(size=(50, 8))
    ids = [f"s{i}" for i in range(50)]
    with pytest.raises(ShapeError, match="candidates has 50 rows"):
        identification(emb[10:], emb, query_ids=ids[10:], candidate_ids=ids[10:])


def test_cka_of_a_constant_layer_is_nan_and_minibatches_use_every_stimulus():
    from neuroalign.compare import cka, minibatch_cka

    rng = np.random.default_rng(8)
    X = rng.normal(size=(50, 20)).astype(np.float32)
    dead = np.full((50, 10), 0.3, dtype=np.float32)  # float32 centring leaves ~1e-8: CKA was inf
    with pytest.warns(UserWarning, match="undefined"):
        assert np.isnan(cka(X, dead))
    # 103 stimuli in batches of <= 50: three batches of 34-35, none dropped (a last batch of 3
    # used to be skipped); the estimate then depends on all 103 stimuli
    Y = X[:, :10] + rng.normal(size=(50, 10)).astype(np.float32)
    X2, Y2 = np.vstack([X, X, X[:3]]), np.vstack([Y, Y, Y[:3] + 100])
    moved = minibatch_cka(X2, Y2, batch_size=50)
    X3, Y3 = np.vstack([X, X, X[:3]]), np.vstack([Y, Y, Y[:3]])
    assert moved != pytest.approx(minibatch_cka(X3, Y3, batch_size=50))

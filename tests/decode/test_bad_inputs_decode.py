"""Bad decoding inputs: one clear error, raised before any fitting or permutation."""

from __future__ import annotations

import numpy as np
import pytest

from neuroalign.core.exceptions import ShapeError, ValidationError
from neuroalign.decode import cluster_test_subjects, decode, decode_over_time

rng = np.random.default_rng(0)
X2 = rng.normal(size=(30, 4))
Y2 = np.repeat([0, 1], 15)
E3 = rng.normal(size=(30, 3, 6))


def test_strings_empty_and_continuous():
    with pytest.raises(ValidationError, match="X must hold numbers but holds strings"):
        decode(np.array([["a", "b"]] * 30), Y2)
    with pytest.raises(ValidationError, match="no trials"):
        decode(np.zeros((0, 4)), [])
    with pytest.raises(ValidationError, match="looks continuous") as err:
        decode(X2, rng.normal(size=30))
    assert "decode_embeddings" in str(err.value) and "cv<=" not in str(err.value)
    # float labels that are whole numbers are classes
    assert len(decode(X2, Y2.astype(float), cv=3, scoring="accuracy").table) == 1


def test_single_group():
    for cv in (None, "loro"):
        with pytest.raises(ValidationError, match="at least 2 groups"):
            decode(X2, Y2, groups=np.zeros(30), cv=cv)
    with pytest.raises(ValidationError, match="at least 2 groups"):
        decode_over_time(E3, Y2, groups=np.ones(30))


def test_counts_checked_before_any_fit(monkeypatch):
    import neuroalign.decode._classic as classic
    import neuroalign.decode._temporal as temporal

    def boom(*a, **k):
        raise AssertionError("work ran before the check")

    monkeypatch.setattr(classic, "_cv_scores", boom)
    monkeypatch.setattr(temporal, "_cv_run", boom)
    with pytest.raises(ValidationError, match=r"n_permutations must be an integer >= 0; got -1"):
        decode(X2, Y2, n_permutations=-1)
    with pytest.raises(ValidationError, match=r"n_permutations .* got -2"):
        decode_over_time(E3, Y2, n_permutations=-2)
    with pytest.raises(ValidationError, match=r"step must be an integer >= 1; got 0"):
        decode_over_time(E3, Y2, step=0)
    with pytest.raises(ValidationError, match="window"):
        decode_over_time(E3, Y2, window=0)
    with pytest.raises(ValidationError, match=r"cluster_alpha .* got 1\.5"):
        decode_over_time(E3, Y2, cluster_alpha=1.5, n_permutations=50)
    with pytest.raises(ValidationError, match="cluster_alpha"):
        cluster_test_subjects(rng.normal(size=(5, 6)), 0.5, cluster_alpha=0)


@pytest.mark.slow
def test_contrastive_predict_wrong_feature_count():
    pytest.importorskip("torch")
    from neuroalign.decode import ContrastiveDecoder

    dec = ContrastiveDecoder(max_epochs=1).fit(
        rng.normal(size=(40, 6)).astype(np.float32), rng.normal(size=(40, 3)).astype(np.float32)
    )
    with pytest.raises(ShapeError, match=r"7 features per sample .* fitted on 6"):
        dec.predict(rng.normal(size=(5, 7)))
    assert dec.predict(rng.normal(size=(5, 6))).shape == (5, 3)

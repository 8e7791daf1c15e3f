"""Bad encoding inputs: one clear error naming the argument, never a numpy/torch internal."""

from __future__ import annotations

import numpy as np
import pytest

from neuroalign.core.exceptions import ShapeError, ValidationError
from neuroalign.encode import RidgeEncoder

rng = np.random.default_rng(0)


def test_ridge_encoder_on_strings_names_the_argument():
    X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    with pytest.raises(ValidationError, match=r"X \(the features\) .*holds strings"):
        RidgeEncoder().fit(np.array([["a", "b", "c"]] * 20), Y)
    with pytest.raises(ValidationError, match=r"y \(the responses\) .*holds strings"):
        RidgeEncoder().fit(X, np.array([["a", "b"]] * 20))
    with pytest.raises(ValidationError, match=r"y \(the responses\) .*holds strings"):
        RidgeEncoder().fit(X, [["a", "b"]] * 20)
    enc = RidgeEncoder(alphas=[1.0, 10.0], cv=2).fit(X, Y)
    with pytest.raises(ValidationError, match=r"X \(the features\) .*holds strings"):
        enc.predict(np.array([["a", "b", "c"]]))


def test_readout_score_shapes():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    from neuroalign.encode import FactorizedReadout

    X = rng.normal(size=(40, 4, 3, 3)).astype(np.float32)
    Y = rng.normal(size=(40, 2))
    fr = FactorizedReadout(max_epochs=2).fit(X, Y)
    with pytest.raises(ShapeError, match=r"y has shape \(4, 2\) but X has 5 stimuli"):
        fr.score_targets(X[:5], Y[:4])
    with pytest.raises(ShapeError, match=r"predicts 2 target"):
        fr.score_targets(X[:5], rng.normal(size=(5, 3)))
    with pytest.raises(ValidationError, match=r"y \(the responses\) .*holds strings"):
        FactorizedReadout(max_epochs=1).fit(X, np.array([["a", "b"]] * 40))
    assert fr.score_targets(X[:5], Y[:5]).shape == (2,)


@pytest.mark.slow
def test_truncated_or_corrupt_incontext_encoder(tmp_path):
    pytest.importorskip("torch")
    from neuroalign.data import make_voxel_family
    from neuroalign.encode import InContextEncoder, load_incontext_encoder

    sim = make_voxel_family(n_stimuli=60, n_features=6, n_voxels=40, rank=2, seed=0)
    enc = InContextEncoder(
        d_model=8,
        max_context=8,
        min_context=4,
        voxels_per_step=8,
        n_query=4,
        steps_per_epoch=2,
        max_epochs=1,
    ).fit(sim.features, sim.responses)
    path = enc.save(tmp_path / "icl")
    weights = (path / "weights.pt").read_bytes()
    config = (path / "config.json").read_text()
    (path / "weights.pt").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(ValidationError) as err:
        load_incontext_encoder(path)
    assert "weights.pt" in str(err.value) and "truncated or corrupt" in str(err.value)
    assert "re-save" in str(err.value)
    (path / "weights.pt").write_bytes(weights)
    for bad in (config[: len(config) // 2], "[1, 2]", '{"format": "x"'):
        (path / "config.json").write_text(bad)
        with pytest.raises(ValidationError, match=r"config\.json' is truncated or corrupt"):
            load_incontext_encoder(path)
    (path / "config.json").write_text(config)
    assert load_incontext_encoder(path).n_features_in_ == 6

"""Stimulus synthesis and most-discriminative-stimuli clustering through a tiny differentiable
encoder (random CNN, 32 × 32 images, few steps; one torch thread: the machine is shared)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.metrics import adjusted_rand_score  # noqa: E402

from neuroalign.core.exceptions import ShapeError, ValidationError  # noqa: E402
from neuroalign.data import load_kriegeskorte92, make_functional_types  # noqa: E402
from neuroalign.explain import (  # noqa: E402
    FeatureModel,
    FourierImage,
    LinearReadout,
    most_discriminative_stimuli,
    synthesize,
    top_stimuli,
)


@pytest.fixture(scope="module")
def setup():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1),
    )
    fm = FeatureModel(net, reduce="avgpool", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    with torch.no_grad():
        p = FourierImage()
        F = fm(p.render(p.init(256, 32, torch.Generator().manual_seed(1)))).numpy()
    ft = make_functional_types(32, n_types=4, n_per_type=10, feature_covariance=np.cov(F.T))
    readout = LinearReadout(
        ft.weights,
        np.zeros(40),
        [f"n{i}" for i in range(40)],
        rois=np.repeat(["A", "B", "C", "D"], 10),
    )
    k92 = np.asarray(load_kriegeskorte92().stimuli.images, np.float32) / 255
    natural = torch.nn.functional.interpolate(
        torch.as_tensor(k92).permute(0, 3, 1, 2),
        size=(32, 32),
        mode="bilinear",
        align_corners=False,
    )
    plain = make_functional_types(32, n_types=4, n_per_type=10)  # weights in feature space
    synth = LinearReadout(plain.weights, np.zeros(40), readout.targets, rois=readout.rois)
    yield fm, ft, readout, natural, synth
    torch.set_num_threads(threads)


@pytest.mark.parametrize("parameterization", ["fourier", "pixel"])
def test_synthesis_beats_best_natural_image(setup, parameterization):
    fm, _, _, natural, readout = setup
    targets = ["n3", "n25", "roi:B"]
    res = synthesize(fm, readout, targets, size=32, steps=40, parameterization=parameterization)
    with torch.no_grad():
        feats = fm(natural).numpy()
    best = top_stimuli(readout, feats, k=1, bottom=False, roi_means=True)
    tops = dict(zip(best.arrays["targets"], best.arrays["top_value"][:, 0], strict=True))
    got = res.table.set_index("target")["value"]
    for t in targets:
        assert got[t] > tops[t], (t, got[t], tops[t])
    assert res.arrays["images"].shape == (3, 1, 32, 32, 3)
    assert res.table.set_index("target").loc["roi:B", "aggregate"] == "mean"
    assert res.params["seconds_per_target"] > 0


def test_diversity_gives_different_optima(setup):
    fm, _, _, _, readout = setup
    p = FourierImage()
    with torch.no_grad():
        ref = fm(p.render(p.init(64, 32, torch.Generator().manual_seed(5))))
    mu, sd = ref.mean(0), ref.std(0)

    def spread(div):
        res = synthesize(fm, readout, "n3", size=32, steps=40, lr=0.1, n_images=3, diversity=div)
        im = res.arrays["images"][0]
        with torch.no_grad():
            z = ((fm(torch.as_tensor(im.copy()).permute(0, 3, 1, 2)) - mu) / sd).numpy()
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        pairs = [(i, j) for i in range(3) for j in range(i + 1, 3)]
        return (
            np.mean([np.abs(im[i] - im[j]).mean() for i, j in pairs]),
            np.mean([z[i] @ z[j] for i, j in pairs]),
        )

    (pix0, cos0), (pix1, cos1) = spread(0.0), spread(100.0)
    assert cos1 < cos0 - 0.3, (cos0, cos1)  # feature-space optima pushed apart
    assert pix1 > 1.2 * pix0, (pix0, pix1)  # and visibly different images


def test_mds_recovers_functional_types(setup):
    fm, ft, readout, _, _ = setup
    res = most_discriminative_stimuli(fm, readout, 4, steps=32, n_iter=5)
    assert adjusted_rand_score(ft.labels, res.arrays["labels"]) >= 0.9
    # the EM loop itself repairs a corrupted start (30 % of the labels shuffled)
    rng = np.random.default_rng(0)
    init = ft.labels.copy()
    flip = rng.random(init.size) < 0.3
    init[flip] = rng.integers(0, 4, flip.sum())
    # 64 synthesis steps: with 48, on some CPUs the EM loop stops at a fixed point with 3 of the
    # 40 targets misassigned (ARI 0.871): the optimised stimuli were not yet discriminative
    res = most_discriminative_stimuli(fm, readout, 4, init=init, steps=64, n_iter=6)
    assert adjusted_rand_score(ft.labels, init) < 0.8
    assert adjusted_rand_score(ft.labels, res.arrays["labels"]) >= 0.9
    assert res.kind == "explain.mds" and res.arrays["images"].shape == (4, 32, 32, 3)


def test_synthesis_bad_input(setup):
    fm, _, readout, _, _ = setup
    with pytest.raises(ValidationError, match="not in the encoder"):
        synthesize(fm, readout, "nope", size=32, steps=1)
    small = LinearReadout(np.ones((8, 1)), np.zeros(1), ["x"])
    with pytest.raises(ShapeError, match="fitted on 8"):
        synthesize(fm, small, "x", size=32, steps=1)
    with pytest.raises(ValidationError, match="n_clusters"):
        most_discriminative_stimuli(fm, readout, 1)

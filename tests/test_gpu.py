"""GPU code paths agree with the CPU ones (run only where CUDA is available)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]


def test_ridge_on_cuda_matches_numpy():
    from neuroalign.encode import solve_ridge_cv

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 300))
    Y = X @ rng.normal(size=(300, 50)) + 5 * rng.normal(size=(200, 50))
    alphas = np.logspace(0, 5, 11)
    cpu = solve_ridge_cv(X, Y, alphas=alphas, dtype="float64")
    gpu = solve_ridge_cv(X, Y, alphas=alphas, dtype="float64", device="cuda")
    np.testing.assert_allclose(gpu.cv_scores, cpu.cv_scores, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gpu.coef, cpu.coef, rtol=1e-7, atol=1e-10)


def test_rdm_on_cuda_matches_numpy():
    from neuroalign.compare import compute_rdm

    X = np.random.default_rng(1).normal(size=(4, 50, 300))
    np.testing.assert_allclose(
        compute_rdm(X, device="cuda", dtype="float64"),
        compute_rdm(X, dtype="float64"),
        rtol=1e-9,
        atol=1e-12,
    )
    # float32 (the default) on the GPU: within float32 rounding of the float64 result
    np.testing.assert_allclose(
        compute_rdm(X, device="cuda"), compute_rdm(X, dtype="float64"), rtol=0, atol=2e-5
    )


def test_extract_on_cuda_matches_cpu():
    pytest.importorskip("torchvision")
    from neuroalign import StimulusSet
    from neuroalign.extract import extract, load_model

    torch.manual_seed(0)
    model = load_model("torchvision:resnet18", pretrained=False)
    imgs = np.random.default_rng(0).integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    s = StimulusSet(ids=list("abcd"), images=imgs)
    cpu = extract(model, s, layers=["layer3", "fc"], quiet=True)
    gpu = extract(model, s, layers=["layer3", "fc"], device="cuda", quiet=True)
    model.module.cpu()
    for layer in ("layer3", "fc"):
        np.testing.assert_allclose(gpu[layer], cpu[layer], rtol=1e-3, atol=1e-3)


def test_extract_amp_channels_last_and_device_restored_on_cuda():
    pytest.importorskip("torchvision")
    from neuroalign import StimulusSet
    from neuroalign.extract import extract, load_model

    torch.manual_seed(0)
    model = load_model("torchvision:resnet18", pretrained=False)
    imgs = np.random.default_rng(0).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    s = StimulusSet(ids=list("abcdef"), images=imgs)
    ref = extract(model, s, layers=["layer4", "fc"], reduce="avgpool", quiet=True)
    for amp in ("fp16", "bf16"):
        got = extract(
            model,
            s,
            layers=["layer4", "fc"],
            reduce="avgpool",
            device="cuda",
            amp=amp,
            channels_last=True,
            quiet=True,
        )
        assert next(model.module.parameters()).device.type == "cpu"  # put back where it was
        np.testing.assert_allclose(got["fc"], ref["fc"], rtol=0.1, atol=0.1)
        assert np.corrcoef(got["layer4"].ravel(), ref["layer4"].ravel())[0, 1] > 0.99

import numpy as np
import pytest
from scipy.stats import pearsonr

from neuroalign.core import get_backend
from neuroalign.core._backend import chunk_slices, targets_per_chunk
from neuroalign.core.exceptions import ConfigurationError
from neuroalign.core.metrics import pearson_score, r2_score


def test_pearson_matches_scipy_and_constant_gives_nan(rng):
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    expected = [pearsonr(a[:, j], b[:, j])[0] for j in range(4)]
    np.testing.assert_allclose(pearson_score(a, b), expected, rtol=1e-12)
    b[:, 0] = 1.0
    assert np.isnan(pearson_score(a, b)[0])


def test_r2_matches_sklearn(rng):
    from sklearn.metrics import r2_score as sk

    a, b = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    np.testing.assert_allclose(r2_score(a, b), sk(a, b, multioutput="raw_values"))


def test_torch_backend_matches_numpy(rng):
    pytest.importorskip("torch")
    a = rng.normal(size=(20, 20))
    sym = a @ a.T
    w_np, _ = get_backend("cpu", "float64").eigh(sym)
    bk = get_backend("torch", "float64")
    w_t, _ = bk.eigh(bk.asarray(sym))
    np.testing.assert_allclose(bk.to_numpy(w_t), w_np, rtol=1e-9, atol=1e-9)
    x = bk.asarray(rng.normal(size=(30, 2)))
    y = bk.asarray(rng.normal(size=(30, 2)))
    np.testing.assert_allclose(
        bk.to_numpy(pearson_score(x, y)), pearson_score(bk.to_numpy(x), bk.to_numpy(y))
    )


def test_backend_errors_and_chunks():
    with pytest.raises(ConfigurationError, match="device='tpu'"):
        get_backend("tpu")
    with pytest.raises(ConfigurationError, match="dtype"):
        get_backend("cpu", "float16")
    assert [s.stop for s in chunk_slices(10, 4)] == [4, 8, 10]
    assert targets_per_chunk(100, 1000) == 10


def test_cuda_request_without_gpu_is_clear():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigurationError, match="no CUDA device"):
        get_backend("cuda")

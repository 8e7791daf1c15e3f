"""``benchmarks/bench_extract_peers.py --quick``: the side-by-side extraction benchmark runs end to
end without THINGSvision (each measurement in its own process), the in-memory and on-disk
features of neuroalign agree bit for bit on the layers both hold, and the channels-last run agrees
with them within ``CL_RTOL``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_extract_peers.py"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("bench_extract_peers_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.path.remove(str(SCRIPT.parent))


@pytest.mark.slow
def test_quick_run_measures_and_checks_features(bench, capsys, tmp_path):
    tasks = "bare,na_mem5,tv_mem5,na_disk16,na_mem5_cl"  # --quick leaves THINGSvision out
    bench.main(["--quick", "--work", str(tmp_path), "--tasks", tasks])
    out = capsys.readouterr().out
    assert "THINGSvision: not run (--quick)" in out
    assert "features na_mem5 vs na_disk16: 4 layers x 3 rows identical" in out
    assert f"features na_mem5 vs na_mem5_cl: 5 layers x 3 rows within {bench.CL_RTOL:g}" in out
    for task in ("bare", "na_mem5", "na_disk16", "na_mem5_cl"):
        assert f"round 1 {task}" in out
    assert "5 layers in memory: vs bare forward" in out
    assert "16 blocks to disk: vs bare forward" in out
    assert "5 layers in memory, channels_last: vs bare forward" in out
    assert not list(tmp_path.iterdir())  # images and stores removed


def test_rows_that_differ_fail_the_comparison(bench, tmp_path):
    import numpy as np

    rows = {k: np.ones((2, 3), np.float32) for k in bench.FIVE}
    np.savez(tmp_path / "rows_na_mem5.npz", **rows)
    other = {v: np.ones((2, 3), np.float32) for v in bench.STAGE_END.values()}
    other["layer3.5"][1, 2] = np.nextafter(np.float32(1), np.float32(2))
    np.savez(tmp_path / "rows_na_disk16.npz", **other)
    with pytest.raises(AssertionError, match="DIFFER"):
        bench.compare_rows(tmp_path, ["na_mem5", "na_disk16"])


def test_channels_last_rows_pass_within_the_tolerance_and_fail_beyond(bench, tmp_path):
    import numpy as np

    rows = {k: np.full((2, 3), 100.0, np.float32) for k in bench.FIVE}
    np.savez(tmp_path / "rows_na_mem5.npz", **rows)
    close = {k: v.copy() for k, v in rows.items()}
    close["layer2"][0, 0] += 100.0 * bench.CL_RTOL / 2  # rounding-sized: accepted
    np.savez(tmp_path / "rows_na_mem5_cl.npz", **close)
    (line,) = bench.compare_rows(tmp_path, ["na_mem5", "na_mem5_cl"])
    assert f"within {bench.CL_RTOL:g}" in line
    close["layer2"][0, 0] = 100.0 * (1 + 3 * bench.CL_RTOL)  # beyond rounding: refused
    np.savez(tmp_path / "rows_na_mem5_cl.npz", **close)
    with pytest.raises(AssertionError, match="DIFFER"):
        bench.compare_rows(tmp_path, ["na_mem5", "na_mem5_cl"])

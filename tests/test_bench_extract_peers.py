"""``benchmarks/bench_extract_peers.py --quick``: the side-by-side extraction benchmark runs end to
end without THINGSvision (each measurement in its own process) and the in-memory and on-disk
features of neuroalign agree bit for bit on the layers both hold."""

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
    bench.main(["--quick", "--work", str(tmp_path)])
    out = capsys.readouterr().out
    assert "THINGSvision: not run (--quick)" in out
    assert "features na_mem5 vs na_disk16: 4 layers x 3 rows identical" in out
    for task in ("bare", "na_mem5", "na_disk16"):
        assert f"round 1 {task}" in out
    assert "5 layers in memory: vs bare forward" in out
    assert "16 blocks to disk: vs bare forward" in out
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

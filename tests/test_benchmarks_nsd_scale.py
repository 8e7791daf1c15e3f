"""``benchmarks/bench_nsd_scale.py --quick``: the NSD-scale benchmark script runs end to end on
small sizes (tiny_cnn, 240 + 60 images, 600 voxels) and reports every number of its cost model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("h5py")

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_run_reports_rss_times_and_the_gemm_bound(tmp_path):
    out = tmp_path / "scale.json"
    proc = subprocess.run(
        [sys.executable, "bench_nsd_scale.py", "--quick", "--json", str(out)],
        cwd=REPO / "benchmarks",
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    print(json.dumps(r, indent=1))  # shown when an assertion below fails
    assert r["sizes"]["n_train"] == 240 and r["sizes"]["n_test"] == 60
    assert r["sizes"]["voxels"] == 600 and r["sizes"]["layers"] == ["conv1", "conv2", "conv3"]
    assert 0.05 < r["peak_rss_gb"] < 3.0
    # the parts of the cost model are measured and fit in the wall time
    parts = r["load_s"] + r["extract_s"] + r["cells_s"]
    assert 0 < parts <= r["wall_s"] + 0.5
    assert 0 < r["ridge_s"] <= r["cells_s"] + 0.05
    assert len(r["ridge_per_layer"]) == 3 and r["gemm_gflops"] > 0.5
    assert r["ridge_gemm_bound_s"] > 0 and r["ridge_over_gemm_bound"] > 0
    assert r["feature_bytes"] > 0 and r["committed_layer"] in ("conv1", "conv2", "conv3")
    # the responses are linear in the images' pixels: a model sees some of it, below the ceiling
    assert np.isfinite(r["score"]) and 0 < r["score"] < r["ceiling"] < 1

"""Several writer processes on one store, and a SIGKILL in the middle of the final join."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

SCRIPT = textwrap.dedent(
    """
    import os, sys, time, numpy as np, torch
    sys.path.insert(0, {here!r})
    torch.set_num_threads(1)
    from helpers import tiny
    from neuroalign import StimulusSet
    from neuroalign.extract import extract
    import neuroalign.extract._store as store

    cache, out, go, mode = sys.argv[1:5]
    if mode == "in-place":  # every chunk in place (the threshold is for large features)
        store.INPLACE_MIN_BYTES = 0
    if mode == "hang-in-join":  # write the whole joined file, then stop before the rename
        real = store.atomic_write
        def atomic_write(path, write, durable=False):
            if os.path.basename(path) != "features.npy":
                return real(path, write, durable)
            def slow(tmp):
                write(tmp)
                open(go + ".joining", "w").close()
                time.sleep(120)
            return real(path, slow, durable)
        store.atomic_write = atomic_write
    model = tiny()
    inner = model.module.forward
    def forward(x):
        time.sleep(0.01)
        return inner(x)
    forward.cache_key = "slowed-down, same values"  # an instance forward must be keyed
    model.module.forward = forward
    rng = np.random.default_rng(1)
    stim = StimulusSet(ids=[f"s{{k}}" for k in range(48)],
                       images=rng.integers(0, 255, (48, 20, 20, 3), dtype=np.uint8))
    while not os.path.exists(go):  # start together
        time.sleep(0.005)
    acts = extract(model, stim, cache=cache, memory_budget=4 * 2100 * 4, batch_size=4,
                   quiet=True)
    np.savez(out, **{{k: np.asarray(acts[k]) for k in acts.layer_names}})
    print("calls", model.module._calls)
    """
)


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "writer.py"
    path.write_text(SCRIPT.format(here=str(Path(__file__).parent)))
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _assert_clean_complete_store(cache: Path, n_layers: int) -> None:
    import json

    manifests = sorted(cache.rglob("manifest.json"))
    assert len(manifests) == n_layers
    for m in manifests:
        rec = json.loads(m.read_text())
        assert rec["final"] and rec["chunks"] == {}
        assert (m.parent / "features.npy").is_file()
    leftovers = [p.name for p in cache.rglob("*") if p.is_file()]
    bad = [p for p in leftovers if p.endswith(".tmp") or p.startswith(("chunk-", "partial"))]
    assert not bad, leftovers


@pytest.mark.slow
@pytest.mark.parametrize(("n_writers", "mode"), [(2, "-"), (4, "-"), (3, "in-place")])
def test_concurrent_writers_give_identical_complete_entries(tmp_path, n_writers, mode):
    """In place, one writer holds partial.npy and the others write chunk files."""
    script, cache, go = _script(tmp_path), tmp_path / "cache", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(cache), str(tmp_path / f"{k}.npz"), str(go), mode],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(n_writers)
    ]
    time.sleep(0.5)
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    results = [np.load(tmp_path / f"{k}.npz") for k in range(n_writers)]
    assert sorted(results[0].files) == ["conv1", "conv2", "fc"]
    for r in results[1:]:
        for layer in results[0].files:
            assert r[layer].tobytes() == results[0][layer].tobytes()
    _assert_clean_complete_store(cache, 3)
    from neuroalign import StimulusSet
    from neuroalign.extract import extract

    from .helpers import tiny

    rng = np.random.default_rng(1)
    stim = StimulusSet(
        ids=[f"s{k}" for k in range(48)],
        images=rng.integers(0, 255, (48, 20, 20, 3), dtype=np.uint8),
    )
    ref = extract(tiny(), stim, batch_size=4, quiet=True)  # in memory, one process
    for layer in results[0].files:
        np.testing.assert_allclose(results[0][layer], ref[layer], rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_sigkill_during_the_final_join_leaves_no_orphan(tmp_path):
    script, cache, go = _script(tmp_path), tmp_path / "cache", tmp_path / "go"
    go.touch()
    proc = subprocess.Popen(
        [sys.executable, str(script), str(cache), str(tmp_path / "a.npz"), str(go), "hang-in-join"],
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    joining = Path(str(go) + ".joining")
    while time.time() < deadline and not joining.exists() and proc.poll() is None:
        time.sleep(0.05)
    assert joining.exists(), proc.stderr.read() if proc.poll() is not None else "no join"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    orphans = list(cache.rglob("*.tmp"))
    assert orphans and all(p.stat().st_size > 1000 for p in orphans)  # a full-size join
    again = subprocess.run(
        [sys.executable, str(script), str(cache), str(tmp_path / "b.npz"), str(go), "-"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.split()[-1] == "0"  # every chunk was on disk: only the joins ran
    _assert_clean_complete_store(cache, 3)
    fresh = subprocess.run(
        [
            sys.executable,
            str(script),
            str(tmp_path / "fresh"),
            str(tmp_path / "c.npz"),
            str(go),
            "-",
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fresh.returncode == 0, fresh.stderr
    b, c = np.load(tmp_path / "b.npz"), np.load(tmp_path / "c.npz")
    for k in c.files:
        assert b[k].tobytes() == c[k].tobytes()

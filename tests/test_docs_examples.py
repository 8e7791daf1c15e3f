"""The Python code blocks of README.md and docs/*.md run as written, offline.

Each file's blocks run in order in one fresh interpreter (later blocks may use names defined by
earlier ones), with the Hugging Face hub in offline mode and a temporary working directory.
Blocks that cannot run here are listed in ``SKIP`` with the reason; a skipped block's names are
unavailable to the blocks after it, so those are listed too. Blocks in ``RUN_ELSEWHERE`` run as
written in another test, named there (the README quick start is ``examples/quickstart.py``).
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FRAGMENT = "a fragment: uses placeholder names for your own data or models ({})"
#: "<file>#<block index>" → why it does not run in the test suite.
SKIP: dict[str, str] = {
    "README.md#1": _FRAGMENT.format("model, stim, net, clips, clip_ids"),
    "README.md#2": _FRAGMENT.format("acts, ids, 92_brainRDMs.mat"),
    "docs/bench.md#1": _FRAGMENT.format("your fMRI files"),
    "docs/bench.md#2": _FRAGMENT.format("a metric body"),
    "docs/bench.md#3": "needs a Dask cluster (scheduler address) and models, benchmarks",
    "docs/bench.md#4": "configures Dask workers (placeholder cluster)",
    "docs/bench.md#5": "needs dask_jobqueue and a SLURM cluster",
    "docs/compare.md#0": _FRAGMENT.format("X, runs"),
    "docs/compare.md#1": _FRAGMENT.format("model_rdms, brain_rdms"),
    "docs/data.md#0": "reads the full Haxby download (haxby/bold.nii.gz), not bundled",
    "docs/data.md#1": "reads the EEGLAB file from its own download",
    "docs/encode.md#0": _FRAGMENT.format("X_train, Y_train"),
    "docs/explain.md#2": "needs the CLIP weights (hf:openai/clip-vit-base-patch32), a download",
    "docs/extract.md#1": _FRAGMENT.format("video_net, clips, net, loader"),
    "docs/readouts.md#0": _FRAGMENT.format("F_train, Y_train"),
    "docs/readouts.md#1": _FRAGMENT.format("tokens, Y"),
    "docs/readouts.md#2": _FRAGMENT.format("embeddings, Y_many_voxels"),
    "docs/readouts.md#3": _FRAGMENT.format("F, Y"),
    "docs/naturalistic.md#0": _FRAGMENT.format("X, y"),
    "docs/naturalistic.md#1": "reads naplib's 82 MB file from ../shared/data (not bundled); the "
    "same steps run in tests/encode/test_trf_speech.py",
    "docs/naturalistic.md#2": "uses #1's speech sample; the same pipeline runs in "
    "tests/encode/test_trf_audio_model.py",
    "docs/naturalistic.md#3": "uses #1's speech sample; runs in tests/encode/test_reconstruct.py",
    "docs/naturalistic.md#4": "reads nitime's files from ../shared/data (not bundled); runs in "
    "tests/data/test_speech.py",
    "docs/naturalistic.md#5": _FRAGMENT.format("story1.TextGrid, waveform, Y1"),
    "docs/naturalistic.md#6": "needs the GPT-2 weights (hf:gpt2), a download",
    "docs/naturalistic.md#7": _FRAGMENT.format("feats, bold"),
    "docs/naturalistic.md#9": _FRAGMENT.format("wav2vec, audio, meg"),
}


#: "<file>#<block index>" → the test that runs the block's code as written (its own process).
#: The README quick start is examples/quickstart.py line for line (plus its plot line):
#: ``test_readme_quick_start_is_the_tested_example`` below fails on any difference.
RUN_ELSEWHERE: dict[str, str] = {
    "README.md#0": "tests/test_examples.py::test_quickstart_runs_and_recovers_layers",
}


def _image_folder(cwd: Path) -> None:
    """``stimuli/``: eight small PNG images, the folder a block names as the user's own."""
    import numpy as np
    from PIL import Image

    (cwd / "stimuli").mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(img).save(cwd / "stimuli" / f"img{i}.png")


#: "<file>#<block index>" → writes, in the block's working folder, the input files it names as
#: the user's own (the block then runs as written; ``~`` is that folder too).
SETUP: dict[str, Callable[[Path], None]] = {
    "docs/extract.md#0": _image_folder,
}


def blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M)


RUNNER = """
import json, sys, traceback
blocks = json.loads(sys.stdin.read())
ns = {"__name__": "__main__"}
for key, code in blocks:
    try:
        exec(compile(code, key, "exec"), ns)
    except BaseException as err:
        print("FAILED " + key + ": " + type(err).__name__ + ": " + str(err)[:500])
        traceback.print_exc()
        sys.exit(1)
    print("ok " + key, flush=True)
"""


def _cases():
    for path in FILES:
        n = len(blocks(path))
        if n:
            yield pytest.param(path, id=path.name)


@pytest.mark.slow
@pytest.mark.parametrize("path", list(_cases()))
def test_doc_blocks_run_offline(path, tmp_path):
    rel = path.relative_to(ROOT).as_posix()
    todo = [
        (f"{rel}#{k}", code)
        for k, code in enumerate(blocks(path))
        if f"{rel}#{k}" not in SKIP and f"{rel}#{k}" not in RUN_ELSEWHERE
    ]
    if not todo:
        pytest.skip(f"every block of {rel} is in SKIP or RUN_ELSEWHERE")
    for key, _ in todo:
        if key in SETUP:
            SETUP[key](tmp_path)
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "HF_HUB_OFFLINE": "1",
        "MPLBACKEND": "Agg",
        "NEUROALIGN_BENCH_STORE": str(tmp_path / "bench-store"),
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    res = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=json.dumps(todo),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]


def test_skip_list_names_existing_blocks():
    have = {f"{p.relative_to(ROOT).as_posix()}#{k}" for p in FILES for k in range(len(blocks(p)))}
    assert set(SKIP) | set(RUN_ELSEWHERE) <= have, sorted((set(SKIP) | set(RUN_ELSEWHERE)) - have)
    assert not set(SKIP) & set(RUN_ELSEWHERE)
    assert set(SETUP) <= have - set(SKIP), "SETUP names a block that does not run"


def test_blocks_run_elsewhere_name_a_test_that_exists():
    for key, where in RUN_ELSEWHERE.items():
        file, name = where.split("::")
        tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
        tests = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert name in tests, f"{key}: {where} is not a test"


def _code_lines(code: str) -> list[str]:
    return [
        ln.rstrip() for ln in code.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]


def test_readme_quick_start_is_the_tested_example():
    """The README quick start is examples/quickstart.py (run by tests/test_examples.py) plus its
    closing ``rsa.plot`` line: an edit to one without the other fails here."""
    example = (ROOT / "examples" / "quickstart.py").read_text(encoding="utf-8")
    tree = ast.parse(example)
    body = ast.get_source_segment(example, tree.body[1]) or ""  # after the docstring
    start = example.index(body)
    ex = _code_lines(example[start:])
    readme = _code_lines(blocks(ROOT / "README.md")[0])
    assert readme[: len(ex)] == ex
    assert [ln.split("#")[0].strip() for ln in readme[len(ex) :]] == ['rsa.plot("rsa.png")']

"""Layer rules: import-linter contracts, and a light top-level import."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_import_neuroalign_does_not_import_heavy_libraries():
    code = (
        "import sys, neuroalign, neuroalign.core, neuroalign.data, neuroalign.encode, neuroalign.compare;"
        "heavy = [m for m in ('torch', 'matplotlib', 'typer', 'torchvision') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing neuroalign pulled in: {out.stdout.strip()}"


def test_import_linter_contracts_hold():
    pytest.importorskip("importlinter")
    exe = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run(
        [str(exe), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 kept, 0 broken" in res.stdout


def test_every_subpackage_is_in_architecture_md():
    """Each subpackage has a ``sub/`` line and each module a `` `sub/module` `` entry (exact token,
    so a module name that happens to be an English word elsewhere in the text does not count)."""
    text = (REPO / "ARCHITECTURE.md").read_text()
    pkg = REPO / "src" / "neuroalign"
    missing = []
    for sub in sorted(p for p in pkg.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        if f"{sub.name}/" not in text:
            missing.append(f"{sub.name}/")
        for mod in sorted(sub.glob("*.py")):
            if mod.name != "__init__.py" and f"`{sub.name}/{mod.stem.lstrip('_')}`" not in text:
                missing.append(f"{sub.name}/{mod.name}")
    assert not missing, f"ARCHITECTURE.md does not describe: {missing}"

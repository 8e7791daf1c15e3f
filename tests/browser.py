"""Open an HTML file in headless Chromium; report console errors and images that failed to render."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

PROBE = """
<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.type)), true);
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt);
  const div = document.createElement('div');
  div.id = '__probe';
  div.textContent = JSON.stringify({n_images: imgs.length, broken: broken, errors: window.__errors});
  document.body.appendChild(div);
});
</script>
"""


def probe_page(chromium: str, html_path: Path) -> tuple[dict, str]:
    """Load a copy of ``html_path`` with a probe script; return (probe result, Chromium's log)."""
    import json

    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(
            html_path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
            encoding="utf-8",
        )
        profile = Path(tmp) / "profile"
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        shutil.rmtree(profile, ignore_errors=True)
    match = re.search(r'<div id="__probe">(.*?)</div>', res.stdout)
    if not match:
        raise AssertionError(
            f"page did not finish loading; chromium rc={res.returncode}\n{res.stderr[-2000:]}"
        )
    import html

    return json.loads(html.unescape(match.group(1))), res.stderr


def console_errors(log: str) -> list[str]:
    """Lines of Chromium's log that report page (console) errors, not browser-internal noise."""
    return [
        ln
        for ln in log.splitlines()
        if ("CONSOLE" in ln and ("ERROR" in ln or "Uncaught" in ln))
        or "Failed to load resource" in ln
    ]


def _chromium_cmd(chromium: str, profile: Path, *extra: str) -> list[str]:
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        "--disable-background-networking",
        "--disable-component-update",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
    ]


def run_in_page(
    chromium: str,
    html_path: Path,
    script: str,
    width: int = 1280,
    height: int = 900,
    png: Path | None = None,
) -> tuple[object, str]:
    """Load ``html_path`` in a ``width`` × ``height`` window, run ``script`` after load (it must
    set ``window.__out`` to something JSON-serialisable) and return (that value, Chromium's log);
    with ``png``, the same run also writes a screenshot there."""
    import html
    import json

    probe = (
        "<script>window.addEventListener('load',function(){"
        + script
        + ";var d=document.createElement('div');d.id='__out';"
        "d.textContent=JSON.stringify(window.__out);document.body.appendChild(d);});</script>"
    )
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(
            html_path.read_text(encoding="utf-8").replace("</body>", probe + "</body>"),
            encoding="utf-8",
        )
        cmd = _chromium_cmd(
            chromium,
            Path(tmp) / "profile",
            f"--window-size={width},{height}",
            "--virtual-time-budget=5000",
            *([f"--screenshot={png}"] if png is not None else []),
            "--dump-dom",
            page.as_uri(),
        )
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    match = re.search(r'<div id="__out">(.*?)</div>', res.stdout, re.S)
    if not match:
        raise AssertionError(
            f"page did not finish; chromium rc={res.returncode}\n{res.stderr[-2000:]}"
        )
    return json.loads(html.unescape(match.group(1))), res.stderr


def screenshot(
    chromium: str, html_path: Path, png: Path, width: int = 1280, height: int = 2400
) -> Path:
    """A ``width`` × ``height`` screenshot of the top of ``html_path`` (PNG at ``png``)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = _chromium_cmd(
            chromium,
            Path(tmp) / "profile",
            f"--window-size={width},{height}",
            "--virtual-time-budget=5000",
            f"--screenshot={png}",
            Path(html_path).resolve().as_uri(),
        )
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if not png.exists():
        raise AssertionError(f"no screenshot; chromium rc={res.returncode}\n{res.stderr[-2000:]}")
    return png

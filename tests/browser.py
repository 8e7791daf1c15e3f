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

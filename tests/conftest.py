"""Shared fixtures: paths to ../shared/data (or $NEUROALIGN_SHARED_DATA), a headless Chromium
finder, a seeded RNG."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# a checkout elsewhere (a git worktree) points at the shared data with $NEUROALIGN_SHARED_DATA
SHARED_DATA = Path(os.environ.get("NEUROALIGN_SHARED_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """The headless browser of the figure and report checks (skips when none is installed)."""
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium binary found")
    return path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "required_in_ci: must run in CI (CI=true): a skip there is turned into a failure",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """In CI, a ``required_in_ci`` test that skips fails instead: a missing peer library, browser
    or data folder must not silently turn a correctness check into a skip."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if (
        report.skipped
        and os.environ.get("CI", "").lower() in ("1", "true", "yes")
        and item.get_closest_marker("required_in_ci") is not None
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"required_in_ci test skipped in CI: {reason}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser and real-data tests are required in CI (it installs Chromium and has ../shared)."""
    for item in items:
        if item.get_closest_marker("browser") or item.get_closest_marker("realdata"):
            item.add_marker(pytest.mark.required_in_ci)

"""What the browser tests share: one Chromium per test process (a process can hold only one sync
Playwright session, and make test's two worker processes each get browser tests), and the folder
for screenshots, outside the repository."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("LRKIT_CHROMIUM", "/usr/bin/chromium")
# Chromium flags for a closed network, as root, without a screen
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; run scripts/browser.sh (make test does) or apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """$LRKIT_ARTIFACTS/browser (default $LRKIT_HOME/artifacts/browser)."""
    from lrkit.core.assets import lrkit_home

    folder = Path(os.environ.get("LRKIT_ARTIFACTS") or lrkit_home() / "artifacts") / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder

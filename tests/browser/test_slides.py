"""The slides command makes reveal.js decks that render offline: the first slide shows in Chromium."""
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def test_every_notebook_becomes_a_deck_that_opens_offline(chromium, artifacts, tmp_path):
    out = tmp_path / "slides"
    subprocess.run([str(ROOT / "scripts" / "slides.sh"), str(out)], check=True, env={**os.environ})
    decks = sorted(out.glob("*.slides.html"))
    assert [d.name.split(".")[0] for d in decks] == sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9]*.ipynb"))
    html = decks[0].read_text()
    assert "assets/dist/reveal.js" in html and "unpkg.com/reveal.js" not in html

    context = chromium.new_context()
    try:
        # offline: any request that leaves the file system fails, as without a network
        context.route("http*://**", lambda route: route.abort())
        page = context.new_page()
        page.goto(decks[0].as_uri())
        first = page.locator(".reveal .slides section.present").first
        first.wait_for(state="visible", timeout=30_000)
        assert "Setup check" in first.inner_text()
        page.locator(".reveal.ready").wait_for(timeout=30_000)  # reveal.js initialised the deck
        page.screenshot(path=str(artifacts / "slides-00.png"))
    finally:
        context.close()

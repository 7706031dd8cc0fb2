"""The slides command makes reveal.js decks that render offline (the first slide shows in Chromium),
and each deck shows what tests/test_decks.py asks of the notebook: no skipped cell, no collapsed
code, short code, speaker notes under every main slide, no empty output."""
import json
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
    for deck in decks:
        _check_deck(deck, ROOT / "notebooks" / (deck.name.split(".")[0] + ".ipynb"))

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


def _check_deck(deck: Path, notebook: Path) -> None:
    from bs4 import BeautifulSoup  # nbconvert's own dependency

    from test_decks import MAX_CODE_LINES, _slide_type

    page = BeautifulSoup(deck.read_text(), "html.parser")
    cells = json.loads(notebook.read_text())["cells"]
    for cell in cells:
        shown = page.find(id=f"cell-id={cell['id']}")
        if _slide_type(cell) == "skip":
            assert shown is None, f"{deck.name}: a skipped cell is on a slide: {''.join(cell['source'])[:80]}"
            continue
        if _slide_type(cell) == "notes":  # in the speaker view only
            assert shown is not None and shown.find_parent("aside", class_="notes") is not None, (
                f"{deck.name}: speaker notes on a slide: {''.join(cell['source'])[:80]}")
            continue
        assert shown is not None, f"{deck.name}: a cell is missing: {''.join(cell['source'])[:80]}"
        if cell["cell_type"] == "code":
            code = shown.select(".jp-InputArea pre")
            if "hide-input" in cell["metadata"].get("tags", []):
                assert not code, f"{deck.name}: collapsed code is shown: {''.join(cell['source'])[:80]}"
            else:
                assert len(code[0].get_text().strip().splitlines()) <= MAX_CODE_LINES, f"{deck.name}: long code"
            for out in shown.select(".jp-OutputArea-output"):
                assert out.get_text().strip() or out.find(["img", "svg", "table", "script", "style"]), (  # style: fastprogress
                    f"{deck.name}: an empty output after {''.join(cell['source'])[:80]}")
    main = sum(_slide_type(c) == "slide" for c in cells)
    assert len(page.select("aside.notes")) >= main, f"{deck.name}: fewer speaker notes than main slides ({main})"

"""The app in headless Chromium: draw with the mouse and search, then run an example in each other tab.

Uses Debian's `chromium` (or the browser named by SIGLIP_PROJECTS_CHROMIUM) through Python Playwright;
never downloads a browser. Screenshots go to `artifacts/browser/` (gitignored) for people to look at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
TIMEOUT_MS = 60_000


def chromium_path() -> str | None:
    named = os.environ.get("SIGLIP_PROJECTS_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def page(request):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium, or set SIGLIP_PROJECTS_CHROMIUM)")
    live_app = request.getfixturevalue("live_app")  # started only when a browser can drive it
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
        except Exception as error:  # a broken install must not fail the suite; say why it was skipped
            pytest.skip(f"Chromium at {executable} does not start: {error}")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(live_app.url)
        page.locator("#draw-sketchpad canvas").first.wait_for()
        yield page
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def draw_stroke(page) -> None:
    """Drag the mouse across the middle of the drawing surface (the white square in the canvas)."""
    box = page.locator("#draw-sketchpad canvas").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 70, y + 60)
    page.mouse.down()
    for step in range(1, 15):
        page.mouse.move(x - 70 + step * 10, y + 60 - step * 9, steps=2)
    page.mouse.move(x + 70, y + 60, steps=8)
    page.mouse.up()


def test_draw_then_search_shows_k_paintings(page):
    shot(page, "01-start")
    # No click on the brush: the app selects it, so drawing works at once.
    assert page.locator("#draw-sketchpad button.highlight").count() == 1
    draw_stroke(page)
    page.locator("#draw-run").click()
    gallery = page.locator("#draw-gallery")
    page.wait_for_function(
        "() => document.querySelectorAll('#draw-gallery .thumbnail-item img, #draw-gallery img').length >= 9"
    )
    captions = gallery.locator(".caption-label").all_inner_texts()
    assert len(captions) == 9, captions
    assert all(" — " in caption and " · " in caption for caption in captions)
    assert "9 nearest to your drawing" in page.locator("#draw-status").inner_text()
    shot(page, "02-draw-search")


def test_clear_then_search_says_the_canvas_is_empty(page):
    page.locator('#draw-sketchpad button[aria-label="Clear canvas"]').click()
    page.locator("#draw-run").click()
    page.get_by_text("The canvas is empty").first.wait_for()
    # The brush is selected again after clearing.
    page.wait_for_function("() => document.querySelectorAll('#draw-sketchpad button.highlight').length === 1")
    shot(page, "03-empty-canvas")


def test_clip_vs_siglip_example_shows_three_label_columns(page):
    page.get_by_role("tab", name="CLIP vs SigLIP").click()
    page.locator("#cvs-examples [data-testid='dataset-cell-0-1']").click()
    for key in ("clip", "siglip", "siglip2"):
        page.locator(f"#label-{key} [data-testid='cat-confidence-set']").wait_for()
        assert page.locator(f"#label-{key} .confidence-set").count() == 5
    assert "sum to 1.00" in page.locator("#note-clip").inner_text()
    shot(page, "04-clip-vs-siglip")


def test_multilingual_example_shows_four_label_columns(page):
    page.get_by_role("tab", name="Multilingual zero-shot").click()
    page.locator("#ml-examples").get_by_role("button", name="German").click()
    for key in ("siglip-multilingual", "siglip2", "nllb-clip", "mclip"):
        page.locator(f"#label-{key} [data-testid='Katze-confidence-set']").wait_for()
    assert "German" in page.locator("#ml-language").inner_text()
    shot(page, "05-multilingual")


def test_evaluate_100_images_shows_table_bar_chart_and_confusion_matrices(page, tmp_path_factory):
    """A new user's first run: upload a zip of 100 images in 5 class folders, keep the default models."""
    import time

    from tests.core.evaluation.conftest import write_class_folder, write_zip

    root = tmp_path_factory.mktemp("browser-eval")
    folder = write_class_folder(root / "photos", ("cat", "dog", "car", "bird", "red_apple"), 20, ".jpg")
    upload = write_zip(root / "my_photos.zip", folder, top="my_photos")
    page.get_by_role("tab", name="Evaluate on your data").click()
    page.locator("#eval-file input[type=file]").set_input_files(str(upload))
    page.locator("#eval-file").get_by_text("my_photos.zip").wait_for()
    # Before the run: its size and estimated time (the default models: 3).
    page.locator("#eval-estimate").get_by_text("100 images x 3 model(s): about").wait_for()
    started = time.monotonic()
    page.locator("#eval-run").click()
    page.locator("#eval-status").get_by_text("Best:").wait_for()
    assert time.monotonic() - started < 60
    assert "100 images, 5 classes" in page.locator("#eval-status").inner_text()
    rows = page.locator("#eval-table .virtual-row").all_inner_texts()  # Gradio 6 renders rows as divs
    assert [row.split("\n")[0].removeprefix("★ ") for row in rows] == ["SigLIP", "SigLIP 2", "CLIP"]
    assert sum("★" in row for row in rows) == 1
    loaded = "(selector) => [...document.querySelectorAll(selector)].filter(i => i.naturalWidth > 0).length"
    page.wait_for_function(f"() => ({loaded})('#eval-plot img') === 1")
    page.wait_for_function(f"() => ({loaded})('#eval-confusion img') >= 3")
    assert page.evaluate(f"({loaded})('#eval-per-class img')") == 1
    shot(page, "06-evaluate")
    page.locator("#eval-confusion img").first.scroll_into_view_if_needed()
    page.locator("#eval-confusion").screenshot(path=str(ARTIFACTS / "07-evaluate-confusion.png"))

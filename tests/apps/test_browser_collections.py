"""Your own collection in headless Chromium: upload images and a zip and watch the progress, search the
collection, combine a drawing with a text, filter, search again from a result, and compare two models'
indexes side by side. Screenshots go to `artifacts/browser/` for people to look at.

Uses Debian's `chromium` through Python Playwright like tests/apps/test_browser.py; skipped without it.
"""

from __future__ import annotations

import re
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from tests.apps.conftest import serve
from tests.apps.test_browser import ARTIFACTS, TIMEOUT_MS, chromium_path, draw_stroke, shot

pytestmark = pytest.mark.browser

#: Enough large pictures that the build takes a few seconds, so its progress shows.
UPLOADED = 40
PICTURE_SIZE = 1400


@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> dict[str, list[str]]:
    """Loose pictures and a zip with two folders (their names become a filter)."""
    from tests.apps.conftest import painting

    folder = tmp_path_factory.mktemp("browser-uploads")
    shapes = ("disc", "square", "line", "cross", "stripes", "ring", "star")
    colours = ("red", "blue", "green", "gold", "purple", "teal", "black", "orange")
    loose = []
    for n in range(UPLOADED):
        path = folder / f"photo-{n:02d}.png"
        painting(shapes[n % len(shapes)], colours[n % len(colours)], size=PICTURE_SIZE).save(path)
        loose.append(str(path))
    archive = folder / "trip.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        # The last one is also a loose picture: the collection holds it once.
        trip = (("disc", "navy"), ("ring", "deeppink"), ("cross", "saddlebrown"), ("disc", "red"))
        for n, (shape, colour) in enumerate(trip):
            picture = folder / f"trip-{n}.png"
            painting(shape, colour, size=PICTURE_SIZE).save(picture)
            zipped.write(picture, f"trip/{'beach' if n < 2 else 'town'}/{n}.png")
    return {"loose": loose, "zip": [str(archive)]}


@pytest.fixture(scope="module")
def page(request, gallery_dir, tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium, or set SIGLIP_PROJECTS_CHROMIUM)")
    root = tmp_path_factory.mktemp("browser-collections") / "indexes"
    shutil.copytree(gallery_dir, root)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "10-collection-building.png").unlink(missing_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIGLIP_PROJECTS_BATCH_SIZE", "2")  # small batches: the progress moves visibly
        yield from _browse(sync_api, executable, root)


def _browse(sync_api, executable: str, root: Path):
    with serve(root) as (_, _, url, _settings), sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
        except Exception as error:
            pytest.skip(f"Chromium at {executable} does not start: {error}")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        page.locator("#draw-sketchpad canvas").first.wait_for()
        yield page
        browser.close()


def choose(page, selector: str, text: str) -> None:
    """Open a Gradio dropdown (which re-reads its choices) and click the option that shows `text`."""
    page.locator(f"{selector} input").first.click()
    page.locator(f"{selector} [data-testid='dropdown-option']", has_text=text).first.click()


def status_text(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def test_upload_images_and_watch_the_collection_build(page, uploads):
    page.get_by_role("tab", name="Your images").click()
    page.locator("#yours-files input[type=file]").set_input_files(uploads["loose"] + uploads["zip"])
    page.locator("#yours-name input, #yours-name textarea").first.fill("my-photos")
    page.locator("#yours-create-run").click()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # catch the live progress part-way, if the build is slow enough
        status = status_text(page, "#yours-status")
        if "ready" in status or re.search(r"\(([1-9]\d?)%\)", status):
            break
        time.sleep(0.05)
    if "ready" not in status:
        shot(page, "10-collection-building")
    page.wait_for_function("() => /is ready/.test(document.querySelector('#yours-status').innerText)")
    status = status_text(page, "#yours-status")
    assert f"{UPLOADED + 3} images" in status and "1 image was already in the collection" in status
    page.wait_for_function("() => document.querySelector('#yours-table').innerText.includes('my-photos')")
    shot(page, "11-collection-ready")


def test_search_the_new_collection(page):
    page.get_by_role("tab", name="Draw to Search").click()
    choose(page, "#draw-index", "my-photos")
    page.get_by_role("tab", name="Describe").click()
    page.locator("#draw-query textarea, #draw-query input").first.fill("a red disc")
    page.locator("#draw-text-run").click()
    page.wait_for_function("() => /index 'my-photos'/.test(document.querySelector('#draw-status').innerText)")
    assert page.locator("#draw-gallery .caption-label").count() == 9
    shot(page, "12-search-my-photos")


def test_combine_a_drawing_with_a_text(page):
    page.get_by_role("tab", name="Draw", exact=True).click()
    draw_stroke(page)
    page.get_by_role("tab", name="Combine").click()
    page.locator("#combine-use-drawing").click()
    page.locator("#combine-image img").first.wait_for()
    page.locator("#combine-text textarea, #combine-text input").first.fill("a blue ring")
    page.locator("#combine-negative textarea, #combine-negative input").first.fill("stripes")
    page.locator("#combine-run").click()
    expected = "your picture + “a blue ring” without “stripes”"
    page.wait_for_function(f"() => document.querySelector('#draw-status').innerText.includes({expected!r})")
    shot(page, "13-combined-drawing-and-text")


def test_filter_by_folder_and_more_like_this(page):
    page.locator("#draw-filter-panel button").first.click()
    choose(page, "#draw-filters", "folder: beach")
    page.get_by_role("tab", name="Describe").click()
    page.locator("#draw-text-run").click()
    page.wait_for_function(
        "() => /only 2 images pass the filters/.test(document.querySelector('#draw-status').innerText)"
    )
    captions = page.locator("#draw-gallery .caption-label").all_inner_texts()
    assert len(captions) == 2 and all(caption.startswith("beach/") for caption in captions)
    shot(page, "14-filtered-by-folder")
    page.locator("#draw-gallery .thumbnail-item").first.click()
    page.locator("#draw-more").click()
    page.wait_for_function("() => /selected image/.test(document.querySelector('#draw-status').innerText)")
    first = page.locator("#draw-gallery .caption-label").first.inner_text()
    assert first.endswith("1.000") and first.startswith("beach/")
    shot(page, "15-more-like-this")


def test_compare_two_models_side_by_side(page):
    page.get_by_role("tab", name="Search side by side").click()
    choose(page, "#cmp-index-a", "wikiart")
    choose(page, "#cmp-index-b", "shapes-siglip2")
    page.locator("#cmp-text textarea, #cmp-text input").first.fill("a red disc")
    page.locator("#cmp-run").click()
    page.wait_for_function("() => /SigLIP 2/.test(document.querySelector('#cmp-status-b').innerText)")
    for side in ("a", "b"):
        assert page.locator(f"#cmp-gallery-{side} .caption-label").count() == 6
    assert "SigLIP" in status_text(page, "#cmp-status-a")
    shot(page, "16-side-by-side")

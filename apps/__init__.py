"""The Gradio app: five tabs on the core. `app.py` calls `build_demo` and `launch`.

Building the app imports no ML library and loads no model: each model loads on first use. The app's
API (named endpoints, for `gradio_client`) is also served as MCP tools when `SIGLIP_PROJECTS_MCP` is on.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from core.config import Settings, set_settings
from core.images import MAX_IMAGE_BYTES

__all__ = ["build_demo", "launch", "max_file_size"]

#: Requests waiting in the queue before new ones are turned away.
MAX_QUEUE = 64
#: Largest request body read at all (uploads aside): larger ones get HTTP 413 before a byte is read.
#: The largest valid request is under 0.4 MB (texts of a few thousand characters, inline images up to
#: 256 KB; images otherwise come as uploads). Gradio parses a whole body, and keeps it while the
#: request waits in the queue, so this bounds what one request, or a full queue, can hold.
MAX_REQUEST_BYTES = 2 * 1024 * 1024
#: Sessions whose state Gradio keeps (default 10,000). Each holds a copy of the page's configuration and
#: the last value of every input, about 0.2 MB here; the app keeps nothing else per session, so an
#: evicted session simply starts afresh on its next request.
MAX_SESSIONS = 256
#: Largest image upload: the largest image file the core opens (zips may be larger; see max_file_size).
MAX_FILE_SIZE = MAX_IMAGE_BYTES
#: Most seconds between two sweeps of Gradio's cache.
CACHE_SWEEP_S = 300

_STATIC = Path(__file__).resolve().parent / "static"


def build_demo(settings: Settings) -> gr.Blocks:
    """Build the app's `gr.Blocks` (nothing is loaded; nothing is served yet).

    The handlers use the process-wide settings, so these become them.
    """
    from apps import texts
    from apps.clip_vs_siglip import build_clip_vs_siglip_tab
    from apps.compare_search import build_compare_search_tab
    from apps.draw_search import build_draw_search_tab
    from apps.evaluate import build_evaluate_tab
    from apps.identity import browser_key
    from apps.multilingual import build_multilingual_tab
    from apps.your_images import build_your_images_tab

    set_settings(settings)
    with gr.Blocks(title=texts.TITLE, analytics_enabled=False, delete_cache=delete_cache(settings)) as demo:
        browser_key(demo, settings)
        gr.Markdown(texts.HEADER, elem_id="header")
        with gr.Tabs():
            with gr.Tab("Draw to Search", id="draw"):
                build_draw_search_tab(settings)
            with gr.Tab("Your images", id="your-images") as yours:
                build_your_images_tab(settings, yours)
            with gr.Tab("Search side by side", id="compare-search"):
                build_compare_search_tab(settings)
            with gr.Tab("CLIP vs SigLIP", id="clip-vs-siglip"):
                build_clip_vs_siglip_tab(settings)
            with gr.Tab("Multilingual zero-shot", id="multilingual"):
                build_multilingual_tab(settings)
            with gr.Tab("Evaluate on your data", id="evaluate"):
                build_evaluate_tab(settings)
    return demo


def delete_cache(settings: Settings) -> tuple[int, int] | None:
    """Gradio's `delete_cache` (every, age) in seconds: uploads and generated files older than the
    setting go (None: kept until the app stops)."""
    age = round(settings.upload_cache_minutes * 60)
    if age <= 0:
        return None
    return max(1, min(age, CACHE_SWEEP_S)), max(1, age)


def max_file_size(settings: Settings) -> int:
    """Largest file the server accepts: an image, a zip of a whole upload to the Your images tab, or a
    zip for the Evaluate tab (each is then held to its own limit by the core, with a message)."""
    return max(MAX_FILE_SIZE, settings.upload_max_mb * 1_000_000, settings.eval_max_upload_mb * 1_000_000)


def launch(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    settings: Settings,
    block: bool = True,
) -> tuple[object, str, str]:
    """Start the WikiArt gallery build if needed, then serve `demo` with a bounded queue.

    Args:
        block: Wait until the server stops (False returns at once, for tests).

    Returns:
        What `gr.Blocks.launch` returns: (FastAPI app, local URL, share URL).
    """
    from starlette.middleware import Middleware

    from apps import gallery
    from apps.fairness import FairQueue
    from apps.mcp_inputs import McpUrlGuard
    from apps.request_limit import RequestBodyLimit
    from core.index.searching.served import served_at_launch, set_publisher

    set_publisher(gr.set_static_paths)  # the core says which thumbnail folders; Gradio serves them
    gallery.start_default_gallery(settings)
    demo.queue(default_concurrency_limit=max(1, settings.concurrency), max_size=MAX_QUEUE)
    return demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=not block,
        quiet=not block,
        max_file_size=max_file_size(settings),
        state_session_capacity=MAX_SESSIONS,
        app_kwargs={
            "middleware": [
                Middleware(RequestBodyLimit, limit=MAX_REQUEST_BYTES),
                Middleware(FairQueue),
                Middleware(McpUrlGuard),
            ]
        },
        allowed_paths=served_at_launch(settings),
        mcp_server=settings.mcp,
        footer_links=["api", "settings"],
        theme=theme(),
        css_paths=[_STATIC / "app.css"],
        js=(_STATIC / "app.js").read_text(encoding="utf-8"),
    )


def theme() -> gr.themes.Base:
    # System fonts: the default theme fonts come from Google Fonts, which an offline Space cannot reach.
    return gr.themes.Soft(
        primary_hue="indigo",
        secondary_hue="slate",
        font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Noto Sans", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )

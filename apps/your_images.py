"""Tab "Your images": make a searchable collection from uploaded images or a zip, add to it, delete it,
and see every index with its model, size and item count.

Builds run as background jobs of the core (`core.index.service.collections`); the request that started one
follows it with a live progress bar, and the build goes on if the browser closes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from apps import gallery, texts
from apps.common import model_picker, user_error
from apps.components import guarded, open_dropdown, short_text
from core.config import Settings, get_settings
from core.errors import SiglipProjectsError
from core.index.service import collections
from core.index.service.jobs import JobState, jobs
from core.limits import quote
from core.registry import DEFAULT_MODEL_KEY, MODELS, get_spec

#: Builds followed at once (they run one at a time; the others wait, showing so).
COLLECTIONS_CONCURRENCY = 4
COLUMNS = ["name", "kind", "model", "items", "size", "made with", "updated", "yours"]
#: (status in Markdown, build report).
BuildOutput = tuple[str, dict[str, Any]]


def create_index(
    files: list[str] | None,
    name: str,
    model: str = DEFAULT_MODEL_KEY,
    request: gr.Request | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's way of asking for a progress bar
) -> Iterator[BuildOutput]:
    """Create a searchable collection (an image index) from uploaded images or zips of them.

    Args:
        files: Image files (JPEG, PNG, WebP...) and/or .zip files of them, optionally with a metadata.csv.
        name: Name of the new collection: 1-64 letters, digits, '.', '_' or '-'.
        model: Model key that embeds the images (siglip, siglip2, ...).

    Returns:
        (status, report): a Markdown summary; {"name", "count", "embedded", "skipped", "duplicates", ...}.
    """
    _refuse_mcp(request)
    name = (name or "").strip()
    try:
        collections.start_create(name, _paths(files), model or DEFAULT_MODEL_KEY, owner=_owner(request))
    except SiglipProjectsError as error:
        raise user_error(error) from None
    yield from _follow(name, progress)


def add_to_index(
    files: list[str] | None,
    name: str,
    request: gr.Request | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008
) -> Iterator[BuildOutput]:
    """Add uploaded images to a collection this session created; only images it does not hold yet are
    embedded.

    Args:
        files: Image files and/or .zip files of them.
        name: Name of the collection.

    Returns:
        (status, report) as create_index.
    """
    _refuse_mcp(request)
    name = (name or "").strip()
    try:
        collections.start_add(name, _paths(files), owner=_owner(request))
    except SiglipProjectsError as error:
        raise user_error(error) from None
    yield from _follow(name, progress)


def delete_index(name: str, request: gr.Request | None = None) -> str:
    """Delete a collection this session created (any index, when the app runs as admin).

    Args:
        name: Name of the index.

    Returns:
        A Markdown status line.
    """
    _refuse_mcp(request)
    name = (name or "").strip()
    try:
        collections.delete(name, owner=_owner(request))
    except SiglipProjectsError as error:
        raise user_error(error) from None
    return texts.deleted_note(name)


def list_indexes() -> list[dict[str, Any]]:
    """List every index of the app: images and texts, built with any model, by the app or the CLI.

    Returns:
        One dict per index: {"name", "kind", "model_key", "count", "source", "updated", "size_bytes"}.
    """
    return gallery.index_rows()


def _follow(name: str, progress: gr.Progress) -> Iterator[BuildOutput]:
    status = jobs.status(name)
    for status in jobs.follow(name, every=0.3):
        if status.state != JobState.RUNNING:
            break
        if status.total:
            progress((status.done, status.total), desc=f"Embedding '{name}'", unit="images")
        yield texts.building_collection_note(name, status.done, status.total, status.message), {}
    if status.state != JobState.DONE:
        raise gr.Error(status.message or f"Building '{name}' stopped.", print_exception=False)
    report = status.result.as_dict()
    yield texts.collection_done(report), report


def _paths(files: Any) -> list[str]:
    if files is None:
        return []
    return [str(getattr(file, "path", file)) for file in (files if isinstance(files, list) else [files])]


def upload_files(**kwargs: Any) -> gr.File:
    """A multiple-file upload of images and zips; a payload that is not a list of uploaded files is
    refused with a clear message before Gradio looks at it."""
    files = gr.File(
        file_count="multiple", file_types=["image", ".zip"], type="filepath", height=260, **kwargs
    )

    def check(payload: object) -> None:
        if not isinstance(payload, list):
            raise gr.Error(
                f"Files must be a list of uploaded files (gradio_client: [handle_file(path), ...]); got "
                f"{quote(payload)}.",
                print_exception=False,
            )

    return guarded(files, check, "a list of uploaded files")


def _owner(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None) or None


def _refuse_mcp(request: gr.Request | None) -> None:
    headers = getattr(request, "headers", None) or {}
    if headers.get("x-gradio-user") == "mcp":
        raise gr.Error(texts.MCP_REFUSED, print_exception=False)


def _table(request: gr.Request | None = None) -> list[list[Any]]:
    from core.index.cli.output import size_text

    owner = _owner(request)
    admin = get_settings().admin
    rows = []
    for row in gallery.index_rows():
        mine = admin or collections.owners.owns(row["name"], owner)
        model = get_spec(row["model_key"]).name if row["model_key"] in MODELS else row["model_key"]
        size, updated = size_text(row["size_bytes"]), row["updated"][:10]
        rows.append(
            [
                row["name"],
                row["kind"],
                model,
                row["count"],
                size,
                row["source"],
                updated,
                "yes" if mine else "",
            ]
        )
    return rows


def _targets(request: gr.Request | None = None) -> tuple[Any, Any, list[list[Any]]]:
    """The Add and Delete choices (collections made in the app; every index) and the table."""
    rows = gallery.index_rows()
    made = [row["name"] for row in rows if row["source"] == "upload"]
    return gr.Dropdown(choices=made), gr.Dropdown(choices=[row["name"] for row in rows]), _table(request)


def build_your_images_tab(settings: Settings, tab: gr.Tab | None = None) -> None:
    """Lay out the tab inside the current `gr.Blocks` and wire its events."""
    limits = texts.collection_limits(
        settings.upload_max_files, settings.upload_max_mb, settings.collection_max_images
    )
    gr.Markdown(texts.COLLECTIONS_INTRO + "\n" + limits)
    with gr.Row():
        with gr.Column(scale=2, min_width=320), gr.Tabs():
            with gr.Tab("Create", id="yours-create"):
                files = upload_files(label="Images or a .zip", elem_id="yours-files")
                name = short_text(
                    gr.Textbox(
                        label="Collection name", placeholder="my-photos", max_length=64, elem_id="yours-name"
                    ),
                    "The collection name",
                )
                model = model_picker("Model", DEFAULT_MODEL_KEY, "yours-model")
                create = gr.Button("Create collection", variant="primary", elem_id="yours-create-run")
            with gr.Tab("Add images", id="yours-add"):
                add_target = short_text(
                    open_dropdown(label="Collection", choices=[], elem_id="yours-add-name"), "The collection"
                )
                add_files = upload_files(label="More images or a .zip", elem_id="yours-add-files")
                add = gr.Button("Add images", variant="primary", elem_id="yours-add-run")
            with gr.Tab("Delete", id="yours-delete"):
                delete_target = short_text(
                    open_dropdown(label="Index", choices=[], elem_id="yours-delete-name"), "The index"
                )
                delete = gr.Button("Delete", variant="stop", elem_id="yours-delete-run")
        with gr.Column(scale=3):
            status = gr.Markdown(elem_id="yours-status")
            with gr.Accordion("Build report", open=False):
                report = gr.JSON(label="Build report", elem_id="yours-report")
            table = gr.Dataframe(headers=COLUMNS, value=_table(), interactive=False, elem_id="yours-table")
            refresh = gr.Button("Refresh", size="sm", elem_id="yours-refresh")
    # The status line is the progress display (a bar and counts): no overlay on it while it updates
    # (gr.Progress still reports to gradio_client and MCP clients).
    common: dict[str, Any] = dict(
        concurrency_id="collections", concurrency_limit=COLLECTIONS_CONCURRENCY, show_progress="hidden"
    )
    private: dict[str, Any] = dict(api_visibility="private", queue=False, show_progress="hidden")
    lists = [add_target, delete_target, table]
    create.click(
        create_index, [files, name, model], [status, report], api_name="create_index", **common
    ).then(_targets, None, lists, **private)
    add.click(
        add_to_index, [add_files, add_target], [status, report], api_name="add_to_index", **common
    ).then(_targets, None, lists, **private)
    delete.click(delete_index, [delete_target], [status], api_name="delete_index", **common).then(
        _targets, None, lists, **private
    )
    refresh.click(_targets, None, lists, **private)
    if tab is not None:
        tab.select(_targets, None, lists, **private)
    gr.api(list_indexes, api_name="list_indexes", queue=False)

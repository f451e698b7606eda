"""Tab "Your images": make a searchable collection from uploaded images or a zip, add to it, delete it,
and see every index with its model, size and item count.

Builds run as background jobs of the core (`core.index.service.collections`); the request that started one
follows it with a live progress bar, and the build goes on if the browser closes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import gradio as gr

from apps import collection_texts, gallery
from apps.collection_texts import VISIBILITY_CHOICES
from apps.common import model_picker, user_error
from apps.components import guarded, open_dropdown, short_text, upload_files
from apps.identity import caller_of, owner_for_create, token_input
from core.config import Settings
from core.errors import SiglipProjectsError
from core.index.format.access import PRIVATE, VISIBILITIES
from core.index.service import collections, owners
from core.index.service.jobs import JobState, jobs
from core.limits import check_choice
from core.registry import DEFAULT_MODEL_KEY, MODELS, get_spec

#: Builds followed at once (they run one at a time; the others wait, showing so).
COLLECTIONS_CONCURRENCY = 4
COLUMNS = ["name", "kind", "model", "items", "size", "made with", "updated", "who sees it", "yours"]
#: (status in Markdown, build report).
BuildOutput = tuple[str, dict[str, Any]]


def create_index(
    files: list[str] | None,
    name: str,
    model: str = DEFAULT_MODEL_KEY,
    token: str = "",
    request: gr.Request | None = None,
    profile: gr.OAuthProfile | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's way of asking for a progress bar
) -> Iterator[BuildOutput]:
    """Create a private searchable collection (an image index) from uploaded images or zips of them.

    Args:
        files: Image files (JPEG, PNG, WebP...) and/or .zip files of them, optionally with a metadata.csv.
        name: Name of the new collection: 1-64 letters, digits, '.', '_' or '-'.
        model: Model key that embeds the images (siglip, siglip2, ...).
        token: Your owner token, from an earlier create_index; empty: a new one is made and returned.

    Returns:
        (status, report): a Markdown summary; {"name", "count", "embedded", "skipped", "duplicates", ...},
        with "token" (your owner token, to keep: pass it to see and change your collections) when new.
    """
    _refuse_mcp(request)
    name = (name or "").strip()
    caller, fresh = owner_for_create(token, request, profile)
    try:
        collections.start_create(name, _paths(files), model or DEFAULT_MODEL_KEY, caller=caller)
    except SiglipProjectsError as error:
        raise user_error(error) from None
    yield from _follow(name, progress, {"token": fresh} if fresh else {})


def add_to_index(
    files: list[str] | None,
    name: str,
    token: str = "",
    request: gr.Request | None = None,
    profile: gr.OAuthProfile | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008
) -> Iterator[BuildOutput]:
    """Add uploaded images to a collection of yours; only images it does not hold yet are embedded.

    Args:
        files: Image files and/or .zip files of them.
        name: Name of the collection.
        token: Your owner token (not needed from the session that created the collection).

    Returns:
        (status, report) as create_index.
    """
    _refuse_mcp(request)
    name = (name or "").strip()
    try:
        collections.start_add(name, _paths(files), caller=caller_of(token, request, profile))
    except SiglipProjectsError as error:
        raise user_error(error) from None
    yield from _follow(name, progress)


def delete_index(
    name: str, token: str = "", request: gr.Request | None = None, profile: gr.OAuthProfile | None = None
) -> str:
    """Delete a collection of yours (any index, when the app runs as admin).

    Args:
        name: Name of the index.
        token: Your owner token (not needed from the session that created the collection).

    Returns:
        A Markdown status line.
    """
    _refuse_mcp(request)
    name = (name or "").strip()
    try:
        collections.delete(name, caller=caller_of(token, request, profile))
    except SiglipProjectsError as error:
        raise user_error(error) from None
    return collection_texts.deleted_note(name)


def share_index(
    name: str, visibility: str = PRIVATE, token: str = "", request: gr.Request | None = None,
    profile: gr.OAuthProfile | None = None,
) -> str:  # fmt: skip
    """Choose who may see a collection of yours: only you, anyone with a link, or everyone.

    Args:
        name: Name of the collection.
        visibility: "private" (only you), "link" (anyone with the share token this returns; a new link
            revokes the previous one) or "public" (listed and searchable by everyone).
        token: Your owner token (not needed from the session that created the collection).

    Returns:
        A Markdown status line; for "link", with the share token (shown once) and the link to give.
    """
    _refuse_mcp(request)
    name = (name or "").strip()
    try:
        shared = owners.share(name, visibility, caller=caller_of(token, request, profile))
    except SiglipProjectsError as error:
        raise user_error(error) from None
    return collection_texts.shared_note(name, visibility, shared)


def list_indexes(
    token: str = "", request: gr.Request | None = None, profile: gr.OAuthProfile | None = None
) -> list[dict[str, Any]]:
    """List the indexes you may search: the gallery, command-line indexes, public collections, yours,
    and those shared with you by a link.

    Args:
        token: Your owner token, or a share token (not needed from the session that holds it).

    Returns:
        One dict per index: {"name", "kind", "model_key", "count", "source", "updated", "size_bytes",
        "access" (public, private or link), "yours" (you may change it)}.
    """
    return gallery.index_rows(caller_of(token, request, profile))


def _follow(name: str, progress: gr.Progress, extra: dict[str, Any] | None = None) -> Iterator[BuildOutput]:
    status = jobs.status(name)
    for status in jobs.follow(name, every=0.3):
        if status.state != JobState.RUNNING:
            break
        if status.total:
            progress((status.done, status.total), desc=f"Embedding '{name}'", unit="images")
        yield collection_texts.building_collection_note(name, status.done, status.total, status.message), {}
    if status.state != JobState.DONE:
        raise gr.Error(status.message or f"Building '{name}' stopped.", print_exception=False)
    report = {**status.result.as_dict(), **(extra or {})}
    yield collection_texts.collection_done(report), report


def _paths(files: Any) -> list[str]:
    if files is None:
        return []
    return [str(getattr(file, "path", file)) for file in (files if isinstance(files, list) else [files])]


def _refuse_mcp(request: gr.Request | None) -> None:
    headers = getattr(request, "headers", None) or {}
    if headers.get("x-gradio-user") == "mcp":
        raise gr.Error(collection_texts.MCP_REFUSED, print_exception=False)


def _table(request: gr.Request | None = None) -> list[list[Any]]:
    from core.index.cli.output import size_text

    rows = []
    for row in gallery.index_rows(caller_of(None, request)):
        model = get_spec(row["model_key"]).name if row["model_key"] in MODELS else row["model_key"]
        size, updated = size_text(row["size_bytes"]), row["updated"][:10]
        mine = "yes" if row["yours"] else ""
        rows.append([row["name"], row["kind"], model, row["count"], size, row["source"], updated,
                     row["access"], mine])  # fmt: skip
    return rows


def _targets(request: gr.Request) -> tuple[Any, Any, Any, list[list[Any]]]:
    """The Add, Share and Delete choices (the visitor's collections; every index they may change) and
    the table."""
    rows = gallery.index_rows(caller_of(None, request))
    mine = [row["name"] for row in rows if row["yours"]]
    made = [row["name"] for row in rows if row["yours"] and row["source"] == "upload"]
    return gr.Dropdown(choices=made), gr.Dropdown(choices=made), gr.Dropdown(choices=mine), _table(request)


def build_your_images_tab(settings: Settings, tab: gr.Tab | None = None) -> None:
    """Lay out the tab inside the current `gr.Blocks` and wire its events."""
    limits = collection_texts.collection_limits(
        settings.upload_max_files, settings.upload_max_mb, settings.collection_max_images
    )
    gr.Markdown(collection_texts.COLLECTIONS_INTRO + "\n" + limits)
    if os.environ.get("OAUTH_CLIENT_ID"):  # a Space with `hf_oauth: true`: collections follow the account
        gr.LoginButton()
    with gr.Row():
        with gr.Column(scale=2, min_width=320), gr.Tabs():
            inputs = _build_inputs()
        with gr.Column(scale=3):
            status = gr.Markdown(elem_id="yours-status")
            with gr.Accordion("Build report", open=False):
                report = gr.JSON(label="Build report", elem_id="yours-report")
            table = gr.Dataframe(headers=COLUMNS, value=_table(), interactive=False, elem_id="yours-table")
            refresh = gr.Button("Refresh", size="sm", elem_id="yours-refresh")
    token = token_input()
    # The status line is the progress display (a bar and counts): no overlay on it while it updates
    # (gr.Progress still reports to gradio_client and MCP clients).
    common: dict[str, Any] = dict(
        concurrency_id="collections", concurrency_limit=COLLECTIONS_CONCURRENCY, show_progress="hidden"
    )
    private: dict[str, Any] = dict(api_visibility="private", queue=False, show_progress="hidden")
    lists = [inputs["add_target"], inputs["share_target"], inputs["delete_target"], table]
    events = (
        (create_index, ["files", "name", "model"], [status, report], "create"),
        (add_to_index, ["add_files", "add_target"], [status, report], "add"),
        (share_index, ["share_target", "visibility"], [status], "share"),
        (delete_index, ["delete_target"], [status], "delete"),
    )
    for handler, names, outputs, button in events:
        wired = [inputs[name] for name in names] + [token]
        api_name = handler.__name__
        inputs[button].click(handler, wired, outputs, api_name=api_name, **common).then(
            _targets, None, lists, **private
        )
    refresh.click(_targets, None, lists, **private)
    if tab is not None:
        tab.select(_targets, None, lists, **private)
    gr.api(list_indexes, api_name="list_indexes", queue=False)


def _build_inputs() -> dict[str, Any]:
    """The Create, Add images, Share and Delete forms: their inputs and buttons, by name."""
    found: dict[str, Any] = {}
    with gr.Tab("Create", id="yours-create"):
        found["files"] = upload_files(label="Images or a .zip", elem_id="yours-files")
        found["name"] = short_text(
            gr.Textbox(label="Collection name", placeholder="my-photos", max_length=64, elem_id="yours-name"),
            "The collection name",
        )
        found["model"] = model_picker("Model", DEFAULT_MODEL_KEY, "yours-model")
        found["create"] = gr.Button("Create collection", variant="primary", elem_id="yours-create-run")
    with gr.Tab("Add images", id="yours-add"):
        found["add_target"] = _name_choice("Collection", "yours-add-name")
        found["add_files"] = upload_files(label="More images or a .zip", elem_id="yours-add-files")
        found["add"] = gr.Button("Add images", variant="primary", elem_id="yours-add-run")
    with gr.Tab("Share", id="yours-share"):
        found["share_target"] = _name_choice("Collection", "yours-share-name")
        found["visibility"] = guarded(
            gr.Radio(
                VISIBILITY_CHOICES,
                value=PRIVATE,
                label="Who may see it",
                elem_id="yours-visibility",
            ),
            lambda payload: check_choice("Visibility", payload, VISIBILITIES),
        )
        found["share"] = gr.Button("Apply", variant="primary", elem_id="yours-share-run")
    with gr.Tab("Delete", id="yours-delete"):
        found["delete_target"] = _name_choice("Index", "yours-delete-name")
        found["delete"] = gr.Button("Delete", variant="stop", elem_id="yours-delete-run")
    return found


def _name_choice(label: str, elem_id: str) -> gr.Dropdown:
    return short_text(open_dropdown(label=label, choices=[], elem_id=elem_id), f"The {label.lower()}")

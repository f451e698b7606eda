"""The Your images tab's texts: the introduction, limits, progress, reports and sharing notes.

File names and reasons come from uploads: they are escaped before they reach Markdown, so a file named
`[link](https://…).png` shows as text, never as a link.
"""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~])")


def escape_markdown(text: str) -> str:
    """`text` with every Markdown (and HTML) special character escaped."""
    return _MARKDOWN.sub(r"\\\1", text)


COLLECTIONS_INTRO = """
Upload your own images (or a .zip of them) to make a searchable collection, then search it in the
**Draw to Search** tab (choose it under *Index*) or compare two models in **Search side by side**. Adding
images later embeds only the new ones. A `metadata.csv` or `metadata.jsonl` with a `file_name` column,
uploaded beside the images or inside the zip, adds its columns as filters.

A collection is **private**: only you see, search and change it (this browser keeps your owner key,
also after you close the tab; signed in, your account does). Under *Share* you can make it visible to
anyone with a link, or to everyone. Collections are kept on this server, in the app's index folder.
"""


def collection_limits(files: int, megabytes: int, images: int) -> str:
    return (
        f"Up to {files:,} images and {megabytes:,} MB per upload (zips counted unpacked), {images:,} images "
        "per collection; unreadable files are skipped and listed."
    )


def building_collection_note(name: str, done: int, total: int, message: str) -> str:
    if message:
        return f"**{name}:** {escape_markdown(message)}"
    if not total:
        return f"**Building '{name}'...**"
    filled = round(24 * min(done, total) / total)
    bar = "█" * filled + "░" * (24 - filled)
    return f"**Building '{name}':** `{bar}` {done:,} of {total:,} images ({done / total:.0%})"


def collection_done(report: dict) -> str:
    skipped = report["skipped"]
    lines = [
        f"**Collection '{report['name']}' is ready:** {report['count']:,} images ({report['embedded']:,} "
        f"embedded now, {report['kept']:,} already there) in {report['seconds']:.1f} s, with "
        f"{report['model_key']}. Search it in the Draw to Search tab: choose it under *Index*.",
    ]
    if report["duplicates"]:
        count = len(report["duplicates"])
        lines.append(f"{count} {'image was' if count == 1 else 'images were'} already in the collection.")
    if skipped:
        shown = escape_markdown("; ".join(f"{s['item']}: {s['reason']}" for s in skipped[:10]))
        more = f" (and {len(skipped) - 10} more)" if len(skipped) > 10 else ""
        lines.append(f"Skipped {len(skipped)}: {shown}{more}.")
    return "\n\n".join(lines)


def deleted_note(name: str) -> str:
    return f"Deleted index '{name}'."


MCP_REFUSED = (
    "Collections are created, changed and deleted in the app or with gradio_client, not through MCP "
    "(MCP calls share one session, so ownership could not be kept)."
)


VISIBILITY_CHOICES = [
    ("Only me (private)", "private"),
    ("Anyone with the link", "link"),
    ("Everyone (public)", "public"),
]


def shared_note(name: str, visibility: str, token: str | None) -> str:
    if visibility == "link" and token:
        return (
            f"**'{name}' is shared by a link.** Anyone who opens this app with `?share={token}` at the "
            "end of its address (or passes the token as `token` to the API) can search it. Copy it now: "
            "it is not shown again; sharing again makes a new link and the old one stops working."
        )
    if visibility == "public":
        return f"**'{name}' is public:** everyone using this app can see and search it."
    return f"**'{name}' is private:** only you can see and search it; any share link stopped working."

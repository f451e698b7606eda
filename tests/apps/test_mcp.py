"""The app as an MCP server (`launch(mcp_server=True)`): its tools, as MCP clients list them from the
running app's schema, and a tool called through the MCP endpoint with the `mcp` client library."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest

pytest.importorskip("mcp", reason="the mcp package (gradio[mcp]) is not installed")

READ_TOOLS = {"text_search", "image_search", "draw_search", "combined_search", "similar", "compare_search",
              "list_indexes", "compare_clip_siglip", "compare_multilingual", "evaluate"}  # fmt: skip
WRITE_TOOLS = {"create_index", "add_to_index", "share_index", "delete_index"}


@pytest.fixture(scope="module")
def schema(live_app) -> dict[str, dict]:
    with urllib.request.urlopen(live_app.url + "gradio_api/mcp/schema", timeout=30) as response:
        return {tool["name"]: tool for tool in json.loads(response.read())}


def test_the_schema_lists_every_tool_with_descriptions_and_plain_types(schema):
    assert set(schema) >= READ_TOOLS | WRITE_TOOLS
    for name in READ_TOOLS:
        assert len(schema[name]["description"]) > 40, name
    search = schema["text_search"]["inputSchema"]["properties"]
    assert search["query"]["type"] == "string" and search["query"]["description"].startswith(
        "What to look for"
    )
    assert search["k"]["type"] == "number"
    # Index names and filters are open strings, not the start-up choices (indexes are added later).
    assert search["index"]["type"] == "string" and "enum" not in search["index"]
    assert search["filters"]["type"] == "array" and "enum" not in search["filters"]["items"]
    assert "url" in schema["image_search"]["inputSchema"]["properties"]["image"]["format"]


def call_tools(url: str, calls: list[tuple[str, dict]]) -> tuple[list[str], list]:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def run() -> tuple[list[str], list]:
        async with streamablehttp_client(url) as (read, write, _), ClientSession(read, write) as session:
            await session.initialize()
            tools = [tool.name for tool in (await session.list_tools()).tools]
            return tools, [await session.call_tool(name, arguments) for name, arguments in calls]

    return asyncio.run(run())


def test_a_search_is_called_through_the_mcp_endpoint_and_writes_are_refused(live_app):
    tools, (found, listed, refused) = call_tools(
        live_app.url + "gradio_api/mcp/",
        [
            ("text_search", {"query": "a red disc", "k": 3}),
            ("list_indexes", {}),
            ("delete_index", {"name": "wikiart"}),
        ],
    )
    assert set(tools) >= READ_TOOLS
    text = found.content[0].text
    assert not found.isError and text.count("'caption'") == 3 and "3 nearest to 'a red disc'" in text
    assert not listed.isError and "'name': 'wikiart'" in listed.content[0].text
    assert refused.isError and "not through MCP" in refused.content[0].text
    assert (live_app.settings.index_dir / "wikiart").is_dir()


def test_file_inputs_given_by_web_address_are_refused_before_anything_is_downloaded(live_app, tmp_path):
    """Gradio's MCP server takes each image or file input as a URL it would download with no size limit;
    the app answers such a call with a tool error saying what to send instead, before Gradio reads it.
    (Gradio itself refuses loopback addresses, so the local server shows that nothing tried.)"""
    import base64
    import io

    from PIL import Image

    from core.testing.web import recording_server

    picture = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(picture, format="PNG")
    data_uri = "data:image/png;base64," + base64.b64encode(picture.getvalue()).decode()
    with recording_server() as (address, fetched):
        url = f"{address}/huge.png"
        _, (by_url, built, evaluated, by_content, text) = call_tools(
            live_app.url + "gradio_api/mcp/",
            [
                ("image_search", {"image": url, "k": 3}),
                ("create_index", {"files": [url], "name": "from-the-web"}),
                ("evaluate", {"file": url.replace("http", "HTTP"), "models": ["siglip"]}),
                ("image_search", {"image": data_uri, "k": 3}),
                ("text_search", {"query": url, "k": 2}),  # a URL as a text is only a text
            ],
        )
    assert fetched == []
    for refused in (by_url, built, evaluated):
        message = refused.content[0].text
        assert (
            refused.isError and "not by their web address" in message and "data:image/png;base64" in message
        )
    assert not by_content.isError and by_content.content[0].text.count("'caption'") == 3
    assert not text.isError and "2 nearest to" in text.content[0].text

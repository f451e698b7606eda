"""Security: no remote code, weights from safetensors, no pickle, only thumbnails served (of indexes made
after launch too), no user path opened, bounded uploads.

Elsewhere: index checksums verified on load (tests/core/index/test_search.py::test_damaged_files_are_detected,
test_a_tampered_thumbnail_is_detected); thumbnail paths from a tampered index never leave `thumbnails/`
(core.index.searching.search.LoadedIndex.thumbnail); served folders are thumbnail folders
(tests/apps/test_draw_search.py::test_served_folders_are_only_thumbnail_folders).
"""

from __future__ import annotations

import ast
import http.client
import json
import shutil
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apps import MAX_FILE_SIZE, max_file_size
from core import encoders
from core.config import Settings
from core.errors import ModelLoadError
from core.images import MAX_IMAGE_BYTES

ROOT = Path(__file__).resolve().parents[2]
#: The code that runs in the app and the CLI (tests and benchmarks build their own inputs).
APP_CODE = sorted([ROOT / "app.py", *(ROOT / "core").rglob("*.py"), *(ROOT / "apps").rglob("*.py")])


def calls(path: Path) -> list[tuple[str, ast.Call]]:
    """(called name, call) for every call in a file: `a.b.from_pretrained(...)` is "from_pretrained"."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            found.append((name, node))
    return found


def keyword(call: ast.Call, name: str) -> object:
    for item in call.keywords:
        if item.arg == name:
            return item.value.value if isinstance(item.value, ast.Constant) else "<not a constant>"
    return "<absent>"


# --------------------------------------------------------------------------------------------------
# Model code and weights


def test_every_model_load_passes_trust_remote_code_false():
    loads = {"from_pretrained", "SentenceTransformer", "pipeline", "load_dataset"}
    seen = 0
    for path in APP_CODE:
        for name, call in calls(path):
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            assert keyword(call, "trust_remote_code") in (False, "<absent>"), where
            if name in loads - {"load_dataset"}:
                seen += 1
                assert keyword(call, "trust_remote_code") is False, (
                    f"{where}: {name} without trust_remote_code=False"
                )
            assert keyword(call, "weights_only") in (True, "<absent>"), where
    assert seen >= 4  # transformers model + processor, two sentence-transformers towers


def test_code_shipped_in_a_checkpoint_never_runs(tiny_models, tmp_path):
    marker = tmp_path / "remote-code-ran"
    folder = tmp_path / "siglip-with-remote-code"
    shutil.copytree(tiny_models["siglip"], folder)
    (folder / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "evil.EvilModel", "AutoConfig": "evil.EvilConfig"}
    (folder / "config.json").write_text(json.dumps(config))
    settings = Settings.from_env().with_model_overrides([f"siglip={folder}"])
    try:
        encoder = encoders.get_encoder("siglip", settings)
        assert encoder.dim == 32  # the built-in SigLIP class, not the checkpoint's
    except ModelLoadError:
        pass  # refusing is fine too; running the code is not
    assert not marker.exists()


class _Payload:
    """Unpickling this creates a file: the proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize(
    ("slot", "key", "weights", "pickled"),
    [
        ("siglip", "siglip", "model.safetensors", "pytorch_model.bin"),
        ("nllb-clip", "nllb-clip", "open_clip_model.safetensors", "open_clip_pytorch_model.bin"),
        ("mclip-text", "mclip", "model.safetensors", "pytorch_model.bin"),
    ],
    ids=["transformers", "open_clip", "sentence-transformers"],
)
def test_weights_come_from_safetensors_and_pickles_never_run(
    tiny_models, tmp_path, slot, key, weights, pickled
):
    import torch

    marker = tmp_path / "pickle-ran"
    source = Path(tiny_models[slot].removeprefix("local-dir:"))
    prefix = "local-dir:" if slot == "nllb-clip" else ""
    for variant in ("both", "pickle-only"):
        folder = tmp_path / variant
        shutil.copytree(source, folder)
        # A checkpoint that runs code if it is ever unpickled.
        torch.save({"weights": _Payload(marker)}, folder / pickled)
        if variant == "pickle-only":
            (folder / weights).unlink()
        settings = Settings.from_env().with_model_overrides([f"{slot}={prefix}{folder}"])
        if variant == "both":
            assert encoders.get_encoder(key, settings).dim > 0  # loaded from safetensors
        else:
            with pytest.raises(ModelLoadError, match="safe loader refused") as error:
                encoders.get_encoder(key, settings)  # torch's weights_only loader refuses the payload
            assert "weights_only=False" not in str(error.value)  # never advise running the pickle
        assert not marker.exists(), variant


# --------------------------------------------------------------------------------------------------
# Pickle


def test_no_pickle_is_ever_loaded_by_the_app_code():
    banned_modules = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
    for path in APP_CODE:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
                assert not {n.split(".")[0] for n in names} & banned_modules, f"{path}:{node.lineno}"
        for name, call in calls(path):
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            assert name not in {"read_pickle", "load_pickle"}, where
            if (
                name == "load"
                and isinstance(call.func, ast.Attribute)
                and getattr(call.func.value, "id", "") == "np"
            ):
                assert keyword(call, "allow_pickle") is False, f"{where}: np.load without allow_pickle=False"
            assert keyword(call, "allow_pickle") in (False, "<absent>"), where


def test_a_pickle_planted_in_an_unfinished_build_is_ignored(tiny_models, tmp_path):
    from core.index import (
        FolderSource,
        build_index,
        verify_index,
    )
    from core.index.format.layout import PARTIAL
    from tests.core.index.conftest import write_images

    settings = Settings.from_env().with_(index_dir=tmp_path / "indexes", batch_size=4)
    write_images(tmp_path / "images", range(12))

    def stop_early(done: int, total: int) -> None:  # after two batches
        if done >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index("photos", FolderSource(tmp_path / "images"), settings=settings, progress=stop_early)
    batches = sorted((settings.index_dir / "photos" / PARTIAL).glob("batch-*.npy"))
    assert len(batches) == 2
    marker = tmp_path / "pickle-ran"
    for batch in batches:
        np.save(batch, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    report = build_index("photos", FolderSource(tmp_path / "images"), settings=settings)
    assert not marker.exists()
    assert (report.resumed, report.count) == (0, 12)  # the planted batches were embedded again
    verify_index("photos", settings)


# --------------------------------------------------------------------------------------------------
# What the server hands out and opens


def http_get(app, path: str) -> int:
    """Status of GET `path` sent as is (no client-side normalisation of `..`)."""
    url = urllib.parse.urlsplit(app.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def test_only_thumbnails_are_served(app, tiny_models):
    index = app.settings.index_dir / "wikiart"
    thumbnail = next((index / "thumbnails").iterdir())
    (data,) = index.glob("v*/index.faiss")
    forbidden = [
        "/etc/passwd",
        str(ROOT / "README.md"),
        str(ROOT / "app.py"),
        str(index / "manifest.json"),
        str(data),
        str(data.with_name("metadata.jsonl")),
        str(Path(tiny_models["siglip"]) / "config.json"),
        str(Path(tiny_models["siglip"]) / "model.safetensors"),
        f"{thumbnail.parent}/../manifest.json",
        f"{thumbnail.parent}/%2E%2E/manifest.json",
        f"{thumbnail.parent}/..%2Fmanifest.json",
        str(Path.home() / ".cache" / "huggingface"),
    ]
    assert http_get(app, "/gradio_api/file=" + str(thumbnail)) == 200
    for prefix in ("/gradio_api/file=", "/file=", "/gradio_api/file/", "/static/", "/assets/"):
        for path in forbidden:
            assert http_get(app, prefix + path) in (403, 404), prefix + path


def test_allowed_paths_are_the_thumbnail_folders_alone(app):
    allowed = [Path(path) for path in app.demo.allowed_paths]
    assert allowed and all(path.name == "thumbnails" for path in allowed)
    assert all(app.settings.index_dir in path.parents for path in allowed)
    largest_zip = max(app.settings.upload_max_mb, app.settings.eval_max_upload_mb) * 1_000_000
    assert app.demo.max_file_size == max_file_size(app.settings) == largest_zip
    assert MAX_FILE_SIZE == MAX_IMAGE_BYTES


def test_indexes_made_after_launch_serve_their_thumbnails_and_nothing_else(
    app, client, paintings_dir, tmp_path
):
    from core.index import FolderSource, build_index

    before = http_get(app, "/gradio_api/file=" + str(ROOT / "README.md"))
    build_index("late", FolderSource(paintings_dir), settings=app.settings)
    late = app.settings.index_dir / "late"
    thumbnail = next((late / "thumbnails").iterdir())
    client.predict("a red disc", k=2, index="late", api_name="/text_search")  # the app finds it
    assert http_get(app, "/gradio_api/file=" + str(thumbnail)) == 200
    (data,) = late.glob("v*/index.faiss")
    for path in (late / "manifest.json", data, data.with_name("metadata.jsonl"), late / ".lock", late):
        assert http_get(app, "/gradio_api/file=" + str(path)) in (403, 404), path
    for path in (f"{thumbnail.parent}/../manifest.json", f"{thumbnail.parent}/%2E%2E/manifest.json"):
        assert http_get(app, "/gradio_api/file=" + path) in (403, 404), path
    assert before in (403, 404) and http_get(app, "/gradio_api/file=" + str(ROOT / "README.md")) == before

    # An index whose thumbnails folder is a link elsewhere is searched, but nothing of it is served.
    build_index("linked", FolderSource(paintings_dir), settings=app.settings)
    linked = app.settings.index_dir / "linked" / "thumbnails"
    secrets = tmp_path / "secrets"
    linked.rename(secrets)
    linked.symlink_to(secrets)
    (secrets / "secret.txt").write_text("private")
    client.predict("a red disc", k=2, index="linked", api_name="/text_search")
    assert http_get(app, "/gradio_api/file=" + str(linked / "secret.txt")) in (403, 404)
    assert http_get(app, "/gradio_api/file=" + str(secrets / "secret.txt")) in (403, 404)


def upload(app, data: bytes, name: str = "photo.jpg") -> tuple[int, str]:
    boundary = "reliability-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    url = urllib.parse.urlsplit(app.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    try:
        connection.request(
            "POST", "/gradio_api/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def test_uploads_over_the_size_limit_are_refused(app, assert_serving):
    status, _ = upload(app, b"\xff" * 1000)
    assert status == 200
    limit = max_file_size(app.settings)  # a whole upload to Your images fits in one zip
    status, text = upload(app, b"\xff" * (limit + 1))
    assert status == 413, text
    assert "200" in text or "size" in text.lower()
    assert_serving()


def test_images_over_the_image_limit_are_refused_by_the_core(client, tmp_path, assert_serving):
    """The server takes uploads up to the Evaluate tab's zip limit; a single image above 50 MB still
    never reaches a decoder: the core refuses it by its size, with a message."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + b"\0" * MAX_IMAGE_BYTES)
    with pytest.raises(AppError, match=r"over the limit of 50 MB\. Use a smaller file"):
        client.predict(handle_file(str(big)), api_name="/image_search")
    assert_serving()


def call_api(app, api_name: str, data: list) -> str:
    """Call an endpoint with a raw JSON payload (what a script could send); return the event stream."""
    url = urllib.parse.urlsplit(app.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        payload = json.dumps({"data": data})
        connection.request(
            "POST", f"/gradio_api/call/{api_name}", payload, {"Content-Type": "application/json"}
        )
        event_id = json.loads(connection.getresponse().read())["event_id"]
        connection.request("GET", f"/gradio_api/call/{api_name}/{event_id}")
        return connection.getresponse().read().decode(errors="replace")
    finally:
        connection.close()


def test_no_path_named_by_a_request_is_ever_opened(app, tmp_path, monkeypatch, assert_serving):
    opened: list[str] = []
    real_open = Image.open

    def spy(source, *args, **kwargs):
        opened.append(str(getattr(source, "name", source)))
        return real_open(source, *args, **kwargs)

    monkeypatch.setattr(Image, "open", spy)
    secret = tmp_path / "secret.png"
    Image.new("RGB", (8, 8), "red").save(secret)
    targets = [str(secret), str(ROOT / "examples" / "cat.jpg"), "/etc/passwd"]
    for target in targets:
        file = {"path": target, "meta": {"_type": "gradio.FileData"}}
        sketch = {"background": None, "layers": [], "composite": file}
        for api_name, data in (
            ("image_search", [file, 3, "siglip"]),
            ("compare_clip_siglip", [file, "cat, dog", "{}", 2]),
            ("draw_search", [sketch, 3, "siglip"]),
            ("combined_search", [file, "a cat", "", 1, 1, 1, 3, "siglip", "", -1, []]),
            ("compare_search", ["", file, "wikiart", "wikiart", 3]),
            ("create_index", [[file], "stolen", "siglip"]),
        ):
            events = call_api(app, api_name, data)
            assert "event: error" in events and "event: complete" not in events, (api_name, target, events)
    assert not [path for path in opened if any(target in path for target in targets)], opened
    assert not (app.settings.index_dir / "stolen").exists()
    assert_serving()


def test_files_given_by_web_address_are_refused_before_anything_is_downloaded(app, client, tmp_path):
    """Gradio would download a FileData whose path is a URL before any check of the app, whatever its
    size; the app refuses it before Gradio reads the request (a local server counts the downloads)."""
    import httpx
    from gradio_client.exceptions import ValidationError

    from core.testing.fuzz import RawClient
    from core.testing.web import recording_server

    with recording_server() as (address, fetched):
        file = {"path": f"{address}/huge.png", "meta": {"_type": "gradio.FileData"}}
        outcome = RawClient(app.url).call("image_search", [file, 3, "siglip", "", -1, [], ""])
        assert outcome.kind == "error" and "not by their web address" in outcome.message
        with pytest.raises(ValidationError, match="not by their web address"):
            client.predict(file, api_name="/image_search")
        with pytest.raises(ValidationError, match="not by their web address"):
            client.predict([file], "from-the-web", "siglip", api_name="/create_index")
        # The browser's events that skip the queue (the Evaluate tab's estimate takes the zip).
        config = httpx.get(app.url + "config", timeout=30).json()
        estimate = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "estimate")
        body = {"data": [file, ["siglip"]], "fn_index": estimate, "session_hash": "s", "trigger_id": None}
        answer = httpx.post(app.url + "gradio_api/run/predict", json=body, timeout=30)
        assert answer.status_code == 422 and "not by their web address" in answer.text
    assert fetched == []

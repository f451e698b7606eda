"""The build's reader: the source's items, planned and loaded, handed to the model in chunks.

It runs one step ahead of the model in a background thread (`prefetch`): listing, decoding images,
writing thumbnails and streaming dataset rows happen while the model embeds the previous chunk. Each
chunk holds at most one batch of items to embed; items to keep or resume travel with it, so the
ledger sees every item in source order. Unusable items become skips with their reason; they never
stop a build. Beside a GPU (or with `jpeg_decode="torchvision"`), JPEG files are decoded a chunk at a
time by `core.index.build.gpu_decode`; everything else goes through `core.index.build.decode`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from core.encoders import Encoder
from core.index.build.decode import ImageLoader, LoadedImage, encoded_jpeg, resolve_workers
from core.index.build.gpu_decode import decode_jpegs_to_pixels, gpu_decode_available
from core.index.build.options import ReadOptions
from core.index.build.plan import Action, Plan
from core.index.format.layout import Kind
from core.index.format.store import IndexStore
from core.index.sources import Item

log = logging.getLogger(__name__)

#: Most items the reader hands over at once (kept items need no model call but still take memory).
MAX_CHUNK = 1024


@dataclass
class Work:
    """One item as the reader hands it over: what to do with it, and its loaded payload (a text, an
    RGB image, JPEG bytes for the GPU, or the model's pixels)."""

    action: Action
    item: Item
    payload: Any = None
    derived: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


class Reader:
    """Makes the chunks of work of one build (run `chunks` in the background with `prefetch`)."""

    def __init__(self, plan: Plan, encoder: Encoder, store: IndexStore, options: ReadOptions) -> None:
        self.plan = plan
        self.encoder = encoder
        self.store = store
        self.batch_size = options.batch_size
        self.thumbnail_size = options.thumbnail_size
        self.workers = resolve_workers(options.decode_workers, encoder.device)
        path = encoder.fast_path
        batched = path is not None and path.tensor_preprocess is not None
        self.gpu = (
            gpu_decode_available(encoder)
            if options.jpeg_decode == "auto"
            else options.jpeg_decode == "torchvision" and batched
        )

    def chunks(self, items: Iterable[Item]) -> Iterator[list[Work]]:
        """Chunks of work, each with at most `batch_size` items to embed."""
        planned = ((item, self.plan.action(item)) for item in items)
        if self.plan.source.kind != Kind.IMAGE:
            yield from _chunked(
                (text_work(item) if a == Action.EMBED else Work(a, item) for item, a in planned),
                self.batch_size,
            )
            return
        with ImageLoader(self.encoder, thumbnail_size=self.thumbnail_size, workers=self.workers) as loader:
            for chunk in _chunked(self._image_works(planned, loader), self.batch_size):
                yield self._decode_jpegs(chunk, loader) if self.gpu else chunk

    def _image_works(self, planned: Iterable[tuple[Item, Action]], loader: ImageLoader) -> Iterator[Work]:
        """Works in source order, with the loader working ahead on the items to embed."""
        pending: deque[tuple[Work, Future | None]] = deque()
        ahead = max(1, 4 * self.workers)
        for item, action in planned:
            work, future = Work(action, item), None
            if action == Action.EMBED:
                jpeg = encoded_jpeg(item) if self.gpu else None
                if jpeg is not None:
                    work.payload = jpeg  # decoded with its chunk, in one call
                else:
                    future = loader.submit(item)
            pending.append((work, future))
            while len(pending) > ahead or (pending and pending[0][1] is None):
                yield self._resolved(*pending.popleft())
        while pending:
            yield self._resolved(*pending.popleft())

    def _resolved(self, work: Work, future: Future | None) -> Work:
        return self._loaded(work, future.result()) if future is not None else work

    def _loaded(self, work: Work, loaded: LoadedImage | str) -> Work:
        """Turn what the image loader gave into work for the model, writing the thumbnail."""
        if isinstance(loaded, str):
            return Work(Action.SKIP, work.item, reason=loaded)
        relative = self.store.write_thumbnail(loaded.thumbnail)
        derived = {"_thumbnail": relative, "width": loaded.width, "height": loaded.height}
        payload = loaded.pixels if loaded.pixels is not None else loaded.image
        return Work(Action.EMBED, work.item, payload, derived)

    def _decode_jpegs(self, chunk: list[Work], loader: ImageLoader) -> list[Work]:
        """Decode the chunk's JPEG files in one call; if that fails, decode them one by one on the CPU."""
        jpegs = [n for n, work in enumerate(chunk) if isinstance(work.payload, bytes)]
        if not jpegs:
            return chunk
        try:
            pixels, thumbnails, sizes = decode_jpegs_to_pixels(
                [chunk[n].payload for n in jpegs], self.encoder, self.thumbnail_size
            )
        except RuntimeError as error:  # one bad file fails the batch
            log.warning("Batched JPEG decode failed (%s); decoding this batch on the CPU", error)
            for n in jpegs:
                chunk[n] = self._loaded(chunk[n], loader.submit(chunk[n].item).result())
            return chunk
        for row, n in enumerate(jpegs):
            width, height = sizes[row]
            single = {key: value[row : row + 1] for key, value in pixels.items()}
            chunk[n] = self._loaded(chunk[n], LoadedImage(single, None, thumbnails[row], width, height))
        return chunk


def text_work(item: Item) -> Work:
    """The work of a text item to embed: the text, or a skip when it is empty."""
    if not (item.text or "").strip():
        return Work(Action.SKIP, item, reason="empty text")
    return Work(Action.EMBED, item, item.text)


def _chunked(works: Iterable[Work], size: int) -> Iterator[list[Work]]:
    chunk: list[Work] = []
    to_embed = 0
    for work in works:
        chunk.append(work)
        to_embed += work.action == Action.EMBED
        if to_embed >= size or len(chunk) >= MAX_CHUNK:
            yield chunk
            chunk, to_embed = [], 0
    if chunk:
        yield chunk


def prefetch(make_chunks: Callable[[], Iterator[Any]], depth: int = 2) -> Iterator[Any]:
    """Run `make_chunks` in a background thread, up to `depth` chunks ahead of the consumer.

    Its exceptions re-raise here; when the consumer stops (error, KeyboardInterrupt), the reader stops.
    """
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(message: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for chunk in make_chunks():
                if not put(("chunk", chunk)):
                    return
            put(("end", None))
        except BaseException as error:  # handed to the consumer, which re-raises it
            put(("error", error))

    reader = threading.Thread(target=read, name="index-reader", daemon=True)
    reader.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        reader.join(timeout=10)

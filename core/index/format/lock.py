"""One build of an index at a time: an advisory lock on `<index>/.lock`, released by the OS if the
build's process dies (so a killed build never leaves the index locked)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from core.errors import IndexWriteError
from core.index.format.fsio import writing
from core.index.format.layout import LOCK


@contextlib.contextmanager
def build_lock(folder: Path) -> Iterator[None]:
    """Hold `<folder>/.lock` for the duration of a build.

    Raises:
        IndexWriteError: the folder cannot be created, or another build of this index is running.
    """
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / LOCK, "a+")  # noqa: SIM115 - held open for the whole build
    try:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock; concurrent builds of one index are on the user
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise IndexWriteError(
                    f"Another build of index '{folder.name}' is running (it holds {folder / LOCK}). "
                    "Wait for it to finish, or stop it; an interrupted build resumes when re-run."
                ) from None
        yield
    finally:
        handle.close()

"""Exceptions a user can cause. Their messages say what was wrong and what to do.

`apps/` turns them into `gr.Error`, the CLI into a one-line message; anything else is a bug.
"""

from __future__ import annotations


class SiglipProjectsError(Exception):
    """Base class of every error whose message is meant for the user."""


class UnknownModelError(SiglipProjectsError, KeyError):
    """A model key (or override slot) that is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelLoadError(SiglipProjectsError):
    """A checkpoint could not be loaded (offline and not cached, unknown id, missing folder...)."""


class InvalidInputError(SiglipProjectsError, ValueError):
    """Labels, template, image or other request input that cannot be used as given."""


class IndexLoadError(SiglipProjectsError):
    """An index that is missing or damaged; the message says how to build one."""


class IndexWriteError(SiglipProjectsError):
    """An index could not be written: disk full, folder not writable, or another build holds it."""


class IndexMismatchError(IndexLoadError):
    """An index built with another model (or dimension) than the one asked for."""


class NoIndexError(IndexLoadError):
    """No index was built with the model asked for (the message says how to build one)."""

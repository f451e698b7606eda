"""Who owns the app's collections, and who may see and change them (the rules of
`core.index.format.access` applied to the index folder): the name taken for its owner, the ownership
rule with its messages, and sharing.
"""

from __future__ import annotations

import threading

from core.config import Settings, get_settings
from core.errors import IndexLoadError, InvalidInputError
from core.index.format.access import VISIBILITIES, Access, Caller, read_access, write_access
from core.index.format.layout import WIKIART_INDEX
from core.index.format.store import IndexStore
from core.limits import check_choice

#: Names a visitor cannot take: the default gallery's (Draw to Search shows it to everyone).
RESERVED_NAMES = frozenset({WIKIART_INDEX})
_claiming = threading.Lock()


def check_may_change(name: str, caller: Caller, settings: Settings) -> None:
    """The ownership rule: only the owner of a collection (or an admin) changes it; an index the caller
    may not even read is, for them, an index that does not exist.

    Raises:
        IndexLoadError: no such index, or one the caller may not read.
        InvalidInputError: the caller may read it but does not own it.
    """
    store = IndexStore.named(name, settings)
    access = read_access(store.folder) if store.folder.is_dir() else None
    if not store.folder.is_dir() or (access is not None and not access.may_read(caller)):
        raise IndexLoadError(f"There is no index named '{name}'.")
    if caller.admin or (access is not None and access.may_change(caller)):
        return
    raise InvalidInputError(
        f"Index '{name}' is not yours, so it cannot be changed, shared or deleted here: only the visitor "
        "who made it (same browser, signed-in account or owner token) can. Create your own collection"
        + ("." if access is not None else ", or run the app with SIGLIP_PROJECTS_ADMIN=1 if it is yours.")
    )


def taken(name: str) -> str:
    return f"An index named '{name}' already exists. Choose another name, or add your images to it."


def claim(name: str, caller: Caller, settings: Settings) -> IndexStore:
    """Take the name: make its folder (only one of two concurrent creates can) and write its owner.

    Raises:
        InvalidInputError: the name is taken (an index, or a collection being built).
    """
    store = IndexStore.named(name, settings)
    with _claiming:
        try:
            store.folder.parent.mkdir(parents=True, exist_ok=True)
            store.folder.mkdir()
        except FileExistsError:
            raise InvalidInputError(taken(name)) from None
    write_access(store.folder, Access.for_owner(caller))
    return store


def share(name: str, visibility: str, *, caller: Caller, settings: Settings | None = None) -> str | None:
    """Make collection `name` private, public, or shared by a link (a new link revokes the old one).

    Returns:
        The link's token for LINK (shown once: only its hash is kept), else None.

    Raises:
        InvalidInputError: not yours, not a collection, or an unknown visibility.
        IndexLoadError: no such index (or not one the caller may see).
    """
    settings = settings or get_settings()
    check_choice("Visibility", visibility, VISIBILITIES)
    check_may_change(name, caller, settings)
    folder = IndexStore.named(name, settings).folder
    access = read_access(folder)
    if access is None:
        message = f"Index '{name}' has no owner (a gallery or a command-line index): it is public."
        raise InvalidInputError(message)
    updated, token = access.shared(visibility)
    write_access(folder, updated)
    return token

"""Who may see and change an index: `access.json`, kept in the index folder beside the manifest.

A collection made in the app has an access record from the moment its name is taken: the hash of its
owner's identity (a signed-in Hugging Face user, or an owner token: a secret kept by the browser or
returned to an API client), its visibility (private by default, public, or shared by a link) and, for
a link, the hash of the link's token. Only hashes are stored: the file says nothing a visitor could use.
An index without a record (the gallery, an index built with the command line or pulled from the Hub)
is public and has no owner.

The record is not part of the published format: `index push` leaves it out, and it is never served.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from core.index.format.fsio import atomic_write_text

ACCESS = "access.json"
PRIVATE = "private"
PUBLIC = "public"
LINK = "link"
VISIBILITIES = (PRIVATE, LINK, PUBLIC)
#: Characters of a token made here (URL-safe base64 of 24 random bytes); longer ones are refused.
TOKEN_CHARS = 32
MAX_TOKEN_CHARS = 128


def new_token() -> str:
    """A fresh unguessable token (192 random bits): an owner token or a share link's token."""
    return secrets.token_urlsafe(24)


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who asks: the hash of their owner identity (None: nobody known), the hashes of the share tokens
    they presented, and whether the app runs as admin (then everything is theirs)."""

    owner: str | None = None
    shares: frozenset[str] = frozenset()
    admin: bool = False

    @classmethod
    def of(
        cls, *, user: str | None = None, token: str | None = None, shares: tuple[str, ...] = (),
        admin: bool = False,
    ) -> Caller:  # fmt: skip
        """The caller known by a signed-in user name (first) or an owner token, with share tokens.

        A token is tried as both: the owner token of the caller's collections and a share link's token.
        """
        owner = _digest("hf", user) if user else _digest("token", token) if token else None
        presented = {*shares, *([token] if token else [])}
        return cls(owner, frozenset(_digest("share", share) for share in presented if share), admin)


@dataclass(frozen=True)
class Access:
    """The access record of a collection: its owner (hashed), visibility, and share token (hashed)."""

    owner: str
    visibility: str = PRIVATE
    share: str | None = None

    @classmethod
    def for_owner(cls, caller: Caller) -> Access:
        if caller.owner is None:
            raise ValueError("a collection needs an owner")
        return cls(caller.owner)

    def may_read(self, caller: Caller) -> bool:
        """Listed, searched, thumbnailed and walked: public, the owner's, or shared by a link presented."""
        if self.visibility == PUBLIC or self.may_change(caller):
            return True
        return self.visibility == LINK and self.share is not None and self.share in caller.shares

    def may_change(self, caller: Caller) -> bool:
        """Added to, deleted and shared: by its owner (or an admin)."""
        return caller.admin or (caller.owner is not None and caller.owner == self.owner)

    def shared(self, visibility: str) -> tuple[Access, str | None]:
        """This record with `visibility`, and the new link token for LINK (a new link revokes the old)."""
        if visibility == LINK:
            token = new_token()
            return Access(self.owner, LINK, _digest("share", token)), token
        return Access(self.owner, visibility, None), None


def read_access(folder: Path) -> Access | None:
    """The access record of index `folder`; None when it has none (a public index without owner).

    A record that cannot be read makes the index private to nobody but an admin (never public).
    """
    path = folder / ACCESS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return Access(owner="", visibility=PRIVATE)
    if not isinstance(data, dict) or not isinstance(data.get("owner"), str):
        return Access(owner="", visibility=PRIVATE)
    visibility = data.get("visibility") if data.get("visibility") in VISIBILITIES else PRIVATE
    share = data.get("share") if isinstance(data.get("share"), str) else None
    return Access(data["owner"], visibility, share)


def write_access(folder: Path, access: Access) -> None:
    """Write the access record of index `folder` atomically."""
    atomic_write_text(folder / ACCESS, json.dumps(asdict(access)) + "\n")


def may_read(folder: Path, caller: Caller) -> bool:
    """Whether `caller` may see index `folder` (every index without a record is public)."""
    access = read_access(folder)
    return access is None or access.may_read(caller)


def is_owned(folder: Path) -> bool:
    """Whether index `folder` has an owner (a collection made in the app), so its files are never
    served from a fixed address."""
    return (folder / ACCESS).exists()

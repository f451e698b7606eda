"""Who a request comes from, for the collections it may see and change (`core.index.format.access`).

- On a Space with `hf_oauth: true` in its README, a signed-in visitor is their Hugging Face account
  (`gr.OAuthProfile`): their collections follow them to any browser.
- Otherwise a browser keeps an owner token of its own in its local storage (`gr.BrowserState`): the
  page sends it when it loads, and the session's requests use it. Closing the tab, or a restart of the
  app, changes nothing; clearing the browser's site data loses it.
- An API client passes the token `/create_index` returned as the `token` parameter of the endpoints
  that take one (a `gradio_client.Client` keeps it for its own session without that).

A share link's token, given as `token` or in the page's address (`?share=TOKEN`), lets its holder see
that one collection. The server keeps tokens only in memory, per session, and stores their hashes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import gradio as gr

from apps.components import short_text
from core.config import Settings, get_settings
from core.index.format.access import MAX_TOKEN_CHARS, Caller, new_token
from core.index.format.fsio import atomic_write_text
from core.index.format.layout import index_root

#: Sessions whose owner token and share tokens are kept (the oldest are forgotten first; their page
#: sends its token again when it reloads).
MAX_SESSIONS = 10_000
#: Share tokens one session keeps.
MAX_SHARES = 16
#: Where the browser keeps its owner token (local storage), and the file of the index folder holding
#: the key Gradio encrypts it with.
BROWSER_STORAGE_KEY = "siglip-projects-owner"
BROWSER_SECRET_FILE = ".browser-key"


@dataclass
class _Session:
    token: str | None = None
    shares: list[str] = field(default_factory=list)


_sessions: OrderedDict[str, _Session] = OrderedDict()
_lock = threading.Lock()


def token_input() -> gr.Textbox:
    """The hidden `token` input of the endpoints that take one (empty in the browser)."""
    box = gr.Textbox(value="", visible=False, label="Owner or share token", max_length=MAX_TOKEN_CHARS)
    return short_text(box, "The token", MAX_TOKEN_CHARS)


def browser_key(demo: gr.Blocks, settings: Settings) -> gr.BrowserState:
    """The owner token kept in the browser's local storage, read into the session on every page load.

    Gradio encrypts the stored value with a key it also sends to the page; the key is kept in the
    index folder so that a restart of the app can still read what browsers hold.
    """
    stored = gr.BrowserState(None, storage_key=BROWSER_STORAGE_KEY, secret=_browser_secret(settings))
    demo.load(remember_browser, [stored], [stored], api_visibility="private", queue=False)
    return stored


def _browser_secret(settings: Settings) -> str:
    path = index_root(settings) / BROWSER_SECRET_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        secret = new_token()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, secret)
        except OSError:  # a read-only index folder: owners last until the app restarts
            pass
        return secret


def _session(request: gr.Request | None) -> _Session | None:
    """The session's record (made on first use), or None without a session."""
    key = getattr(request, "session_hash", None)
    if not key:
        return None
    with _lock:
        session = _sessions.pop(key, None) or _Session()
        _sessions[key] = session
        while len(_sessions) > MAX_SESSIONS:
            _sessions.popitem(last=False)
        return session


def _valid(token: object) -> str | None:
    if isinstance(token, str) and 16 <= len(token.strip()) <= MAX_TOKEN_CHARS:
        return token.strip()
    return None


def remember_browser(stored: object, request: gr.Request) -> str:
    """On page load: the browser's owner token (a new one if it has none) becomes the session's, with
    the share token of the page's address; returns the token for the browser to keep."""
    token = _valid(stored) or new_token()
    session = _session(request)
    if session is not None:
        session.token = token
        shared = _valid(request.query_params.get("share")) if request is not None else None
        if shared and shared not in session.shares:
            session.shares = [*session.shares, shared][-MAX_SHARES:]
    return token


def caller_of(
    token: str | None, request: gr.Request | None, profile: gr.OAuthProfile | None = None
) -> Caller:
    """Who asks: the signed-in user, else the given token, else the session's token; with the
    session's share tokens."""
    session = _session(request)
    given = _valid(token)
    if token and given is None:
        raise gr.Error(
            "The token must be the one /create_index returned (or a share token): "
            f"16 to {MAX_TOKEN_CHARS} characters. Leave it empty to use this session's own.",
            print_exception=False,
        )
    own = given or (session.token if session is not None else None)
    user = getattr(profile, "username", None) or None
    shares = tuple(session.shares) if session is not None else ()
    return Caller.of(user=user, token=own, shares=shares, admin=get_settings().admin)


def owner_for_create(
    token: str | None, request: gr.Request | None, profile: gr.OAuthProfile | None = None
) -> tuple[Caller, str | None]:
    """The caller who creates a collection, and a new owner token when they had no identity (an API
    client's first collection): the session keeps it, and the client is told it once."""
    caller = caller_of(token, request, profile)
    if caller.owner is not None:
        return caller, None
    fresh = new_token()
    session = _session(request)
    if session is not None:
        session.token = fresh
    return caller_of(fresh, request, profile), fresh

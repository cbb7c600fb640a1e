"""Which eve client generation a session speaks, and how a request shows it.

Two generations share one mount: the seed's (eve 0.18: stream version 16, continuation
tokens, 404/410 on a send to an unknown or ended session) and today's (eve 0.80: stream
versions 21-26, delivery ids, 409 ``session_not_active``). Their create requests are
byte-identical in the common case, so a session's generation is decided by the first
request that shows it, kept on the session (and in its stored record), and used for every
later answer about it. A request that says its generation explicitly still wins for
itself. What shows it:

* a create without a body (today's prewarm) or with ``stubs``: today's; a create that
  carries a ``continuationToken`` (the seed's token-only state): the seed's;
* a send with a ``continuationToken``: the seed's (explicit); without: today's;
* a stream request with ``streamControlVersion``, ``includeTailIndex``, ``follow`` or a
  negative ``startIndex``: today's (explicit); today's client also always fetches with
  ``cache: "no-store"``, which adds ``pragma: no-cache`` (and ``cache-control:
  no-cache``) to every stream request, ``reconnect: false`` included; a stream request
  with none of these: the seed's.
"""

from __future__ import annotations

from enum import StrEnum

from ..http import Request

#: Query parameters only today's client sends on a stream request.
_CURRENT_QUERY = ("streamControlVersion", "includeTailIndex", "follow")


class Generation(StrEnum):
    """A generation by its stream version."""

    SEED = "16"
    CURRENT = "26"


def of(session_version: str | None) -> Generation | None:
    try:
        return Generation(session_version) if session_version else None
    except ValueError:
        return None


def stream_says(request: Request, start: int) -> Generation | None:
    """What a stream request says explicitly (None: nothing)."""
    if start < 0 or any(name in request.query for name in _CURRENT_QUERY):
        return Generation.CURRENT
    return None


def stream_shows(request: Request) -> Generation:
    """What a stream request that says nothing explicitly shows by its headers."""
    no_cache = (
        "no-cache"
        in (request.headers.get("pragma", "") + request.headers.get("cache-control", "")).lower()
    )
    return Generation.CURRENT if no_cache else Generation.SEED

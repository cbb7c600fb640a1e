"""Every request target the clients use, built in one place (so a route is spelled once
on the client side, as the router spells it once on the daemon's)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

HEALTH = "/api/v1/health"
API_VERSION = "/api/v1/api-version"
CAPABILITIES = "/api/v1/capabilities"
ACTIONS = "/api/v1/actions"
SESSIONS = "/api/v1/sessions"
INBOX = "/api/v1/inbox"


def notifications(after_seq: int = 0, *, follow: bool = False) -> str:
    query = {"afterSeq": after_seq, **({"follow": 1} if follow else {})}
    return f"/api/v1/notifications?{urlencode(query)}"


def _id(session_id: str) -> str:
    return quote(session_id, safe="")


def session(session_id: str, tail: str = "") -> str:
    """``/api/v1/sessions/<id><tail>`` (``tail``: ``/input``, ``/kill``, …)."""
    return f"{SESSIONS}/{_id(session_id)}{tail}"


def sessions(*, limit: int | None = None, cursor: str | None = None) -> str:
    query = {k: v for k, v in {"limit": limit, "cursor": cursor}.items() if v is not None}
    return SESSIONS + (f"?{urlencode(query)}" if query else "")


def events(
    session_id: str, *, after_seq: int | None = None, limit: int | None = None, follow: bool = False
) -> str:
    query: dict[str, str | int] = {"sessionId": session_id}
    if after_seq is not None:
        query["afterSeq"] = after_seq
    if limit is not None:
        query["limit"] = limit
    if follow:
        query["follow"] = 1
    return f"/api/v1/events?{urlencode(query)}"


def eve(mount: str, session_id: str | None = None, tail: str = "") -> str:
    """The eve mount's routes: ``<mount>/session`` and ``<mount>/session/<id><tail>``."""
    base = f"{mount}/session"
    return base if session_id is None else f"{base}/{_id(session_id)}{tail}"

"""coven.daemon.v1 under ``/api/v1``: handshake, capabilities, actions, sessions, events.

Shapes follow the Rust Coven daemon (docs/reference in ``spec/reference/coven-v1.md``)
with the decisions of spec §4; where we differ, ``docs/api.md`` says so.
"""

from __future__ import annotations

import base64
import binascii
import json
from enum import StrEnum
from typing import Any

from .. import models
from .._json import dumps
from ..config import MAX_EVENTS_RESPONSE_BYTES, SESSION_LIST_MAX_BYTES
from ..errors import (
    ActionRejected,
    EventResponseTooLarge,
    InvalidRequest,
    SessionNotFound,
    SessionNotLive,
)
from ..http import Request, Response, Router, StreamResponse
from ..journal import Journal
from ..records import read as read_records
from . import coven_inbox, coven_worktrees
from ._context import ApiContext
from ._params import input_data, int_param, parse_int
from ._tail import attended, event_records, tail
from .coven_extras import CovenExtras
from .coven_health import PREFIX


class Action(StrEnum):
    """The control-plane actions ``POST /api/v1/actions`` carries out."""

    CAPABILITIES_REFRESH = "coven.capabilities.refresh"
    SESSIONS_KILL = "coven.sessions.kill"
    SESSIONS_KILL_ALL = "coven.sessions.killAll"
    STORE_PRUNE = "coven.store.prune"


#: The fixed capability catalog (the Rust daemon's shape; only what we serve).
CAPABILITY_CATALOG: list[dict[str, Any]] = [
    {
        "id": "coven.sessions",
        "label": "Project-scoped harness sessions",
        "adapter": "coven-daemon",
        "status": "available",
        "policy": "allow",
        "actions": [],
    },
    {
        "id": "coven.control.actions",
        "label": "Coven control-plane action router",
        "adapter": "coven-daemon",
        "status": "available",
        "policy": "allow",
        "actions": list(Action),
    },
    {
        "id": "coven.eve",
        "label": "eve-compatible session API",
        "adapter": "coven-daemon",
        "status": "available",
        "policy": "allow",
        "actions": [],
    },
]


class CovenV1:
    """Handlers of ``/api/v1``; each reads the context it was built for."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    # --- handshake (health itself: coven_health.py) ---------------------------------

    async def api_version(self, request: Request) -> Response:
        return Response.json({"apiVersion": "v1", "supportedApiVersions": ["v1"]})

    async def capabilities(self, request: Request) -> Response:
        return Response.json({"capabilities": CAPABILITY_CATALOG})

    # --- actions -------------------------------------------------------------------------

    async def actions(self, request: Request) -> Response:
        try:
            body = request.json()
        except InvalidRequest:
            raise ActionRejected("failed to parse request body", action="(unknown)") from None
        if not isinstance(body, dict):
            raise ActionRejected("request body must be a JSON object", action="(unknown)")
        action = body.get("action")
        if not isinstance(action, str) or not action.strip():
            raise ActionRejected("request body requires string field `action`", action="")
        action = action.strip()
        args = body.get("args")
        args = args if isinstance(args, dict) else {}
        if action == Action.CAPABILITIES_REFRESH:
            self.ctx.harnesses.refresh()
            payload: dict[str, Any] = {
                "capabilities": len(CAPABILITY_CATALOG),
                "harnesses": self.ctx.harnesses.available(),
            }
            kind = "capabilities.refreshed"
        elif action == Action.SESSIONS_KILL:
            session_id = args.get("sessionId")
            if not isinstance(session_id, str) or not session_id:
                raise ActionRejected("args requires string field `sessionId`", action=action)
            try:
                await self.ctx.sessions.kill(session_id)
            except (SessionNotFound, SessionNotLive) as exc:  # a bug stays a 500, logged
                raise ActionRejected(str(exc), action=action) from None
            payload, kind = {"sessionId": session_id}, "session.killed"
        elif action == Action.SESSIONS_KILL_ALL:
            killed = await self.ctx.sessions.kill_all()
            payload, kind = {"sessionIds": killed}, "sessions.killed"
        elif action == Action.STORE_PRUNE:
            payload, kind = await self._prune(args, action), "store.pruned"
        else:
            raise ActionRejected(f"unknown action `{action}`", action=action)
        event: dict[str, Any] = {"kind": kind, "action": action}
        for key in ("origin", "intentId"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                event[key] = value.strip()
        event["payload"] = payload
        return Response.json(
            {"ok": True, "accepted": True, "action": action, "status": "completed", "event": event}
        )

    async def _prune(self, args: dict[str, Any], action: str) -> dict[str, Any]:
        """``coven.store.prune`` ``{olderThanDays?, maxBytes?}`` (defaults: the daemon's
        retention): forget ended sessions from the store now."""
        config = self.ctx.config
        days, max_bytes = args.get("olderThanDays"), args.get("maxBytes")
        if days is not None and (isinstance(days, bool) or not isinstance(days, int | float)):
            raise ActionRejected("args.olderThanDays must be a number", action=action)
        if max_bytes is not None and (
            isinstance(max_bytes, bool) or not isinstance(max_bytes, int)
        ):
            raise ActionRejected("args.maxBytes must be an integer", action=action)
        age = (config.store_max_age_days if days is None else days) * 86400
        pruned = await self.ctx.store.prune(
            age, config.store_max_bytes if max_bytes is None else max_bytes
        )
        return {"sessions": pruned.sessions, "events": pruned.events, "bytes": pruned.bytes}

    # --- sessions ------------------------------------------------------------------------

    async def list_sessions(self, request: Request) -> Response:
        query = request.query
        if not {"limit", "cursor", "includeArchived"} & query.keys():
            return _bare_list(await self.ctx.sessions.page(None, BARE_LIST_MAX_SESSIONS))
        limit = int_param(query, "limit")
        limit = 100 if limit is None else limit
        if not 1 <= limit <= 1000:
            raise InvalidRequest(
                "Query parameter `limit` must be an integer between 1 and 1000.",
                details={"limit": query["limit"]},
            )
        archived = query.get("includeArchived", "false")
        if archived not in ("true", "false"):
            raise InvalidRequest(
                "Query parameter `includeArchived` must be `true` or `false`.",
                details={"includeArchived": archived},
            )
        after = _decode_cursor(query["cursor"]) if "cursor" in query else None
        records = await self.ctx.sessions.page(after, limit + 1)
        page = records[:limit]
        next_cursor = _encode_cursor(page[-1]) if len(records) > limit else None
        return Response.json({"sessions": page, "next_cursor": next_cursor})

    async def launch(self, request: Request) -> Response:
        launch = models.structure(request.json_object(), models.LaunchRequest)
        session = await self.ctx.sessions.launch(launch)
        return Response.json(models.unstructure(session.as_launched()), status=201)

    async def get_session(self, request: Request) -> Response:
        session = await self.ctx.sessions.find(request.params["id"])
        return Response.json(session.describe())

    async def send_input(self, request: Request) -> Response:
        session = await self.ctx.sessions.find_live(request.params["id"])
        details = {"sessionId": session.id}
        try:
            body = request.json()
        except InvalidRequest:
            raise InvalidRequest("failed to parse request body", details=details) from None
        await session.send_input(input_data(body, details), body)
        return Response.json({"ok": True, "accepted": True}, status=202)

    async def resize(self, request: Request) -> Response:
        session = await self.ctx.sessions.find_live(request.params["id"])
        size = models.structure(request.json_object(), models.ResizeRequest)
        session.resize(size.rows, size.cols)
        return Response.json({"ok": True, "accepted": True}, status=202)

    async def kill(self, request: Request) -> Response:
        await self.ctx.sessions.kill(request.params["id"])
        return Response.json({"ok": True, "accepted": True}, status=202)

    # --- events --------------------------------------------------------------------------

    async def events(self, request: Request) -> Response | StreamResponse:
        query = request.query
        session_id = request.params.get("id", query.get("sessionId"))
        if session_id is None:
            raise InvalidRequest("sessionId query parameter is required.")
        after_seq = int_param(query, "afterSeq", "afterSeq must be an integer.")
        limit = int_param(query, "limit", "limit must be an integer.")
        session = await self.ctx.sessions.find(session_id)
        journal = await self.ctx.sessions.journal(session)
        if after_seq is None:
            after_seq = _seq_of_event_id(session.id, query.get("afterEventId"), len(journal))
        start = max(after_seq, 0)
        if query.get("follow") in ("1", "true"):
            return StreamResponse(
                200,
                [("content-type", "application/x-ndjson"), ("cache-control", "no-cache")],
                attended(request, session, lambda send: tail(journal, start, send, event_records)),
            )
        return Response(body=_events_page(journal, start, limit))


#: The bare list (no ``limit``) reads at most this many sessions; pages read any.
BARE_LIST_MAX_SESSIONS = 10_000


def _bare_list(records: list[dict[str, Any]]) -> Response:
    """The whole list, newest first, up to SESSION_LIST_MAX_BYTES; past it the rest is
    left out and ``x-coven-truncated: true`` says so (pages have no such limit)."""
    parts: list[bytes] = []
    size = 2
    for record in records:
        encoded = dumps(record)
        if size + len(encoded) + 1 > SESSION_LIST_MAX_BYTES:
            return Response(body=b"[" + b",".join(parts) + b"]", headers=[_TRUNCATED])
        parts.append(encoded)
        size += len(encoded) + 1
    return Response(body=b"[" + b",".join(parts) + b"]")


_TRUNCATED = ("x-coven-truncated", "true")


def _encode_cursor(record: dict[str, Any]) -> str:
    raw = json.dumps({"created_at": record["created_at"], "id": record["id"]}).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(cursor: str) -> tuple[str, str]:
    def bad(detail: str) -> InvalidRequest:
        return InvalidRequest(
            "Query parameter `cursor` is invalid.", details={"cursor": cursor, "detail": detail}
        )

    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != cursor:
            raise ValueError
    except (ValueError, binascii.Error):
        raise bad("session cursor is not valid URL-safe base64") from None
    try:
        value = json.loads(raw)
        created_at, session_id = value["created_at"], value["id"]
        if not isinstance(created_at, str) or not isinstance(session_id, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise bad("session cursor is malformed") from None
    return created_at, session_id


def _seq_of_event_id(session_id: str, event_id: str | None, count: int) -> int:
    """``afterEventId`` → afterSeq; an unknown id means "from the start" (Rust rule)."""
    if not event_id:
        return 0
    owner, _, raw = event_id.rpartition(":")
    index = parse_int(raw)
    if owner != session_id or index is None or index >= count:
        return 0
    return index + 1


def _events_page(journal: Journal, start: int, limit: int | None) -> bytes:
    """``{"events":[…],"nextCursor":…,"hasMore":…}`` from pre-encoded records, stopping
    before ``limit`` entries or the response budget.

    Without ``limit`` the Rust daemon answers 413 when everything left overflows 4 MiB;
    we return a full page with ``hasMore:true`` instead (docs/api.md), so a long session
    can always be read. Only an entry too large on its own is 413.
    """
    count = len(journal)
    wanted = count - start if limit is None else max(1, min(limit, 1000))
    budget = MAX_EVENTS_RESPONSE_BYTES - 64
    records, index = read_records(journal, start, budget, wanted)
    if len(records) > budget:  # one entry, too large on its own
        raise EventResponseTooLarge(
            "The next event is too large for the daemon transport response limit.",
            details={"eventId": f"{journal.session_id}:{start}", "seq": start + 1},
        )
    has_more = index < count and bool(records)
    cursor = b'{"afterSeq":%d}' % index if records else b"null"
    return (
        b'{"events":['
        + records[:-1].replace(b"\n", b",")  # records hold no raw newline (JSON)
        + b'],"nextCursor":'
        + cursor
        + b',"hasMore":'
        + (b"true" if has_more else b"false")
        + b"}"
    )


def install(router: Router, ctx: ApiContext) -> CovenV1:
    """Every route under ``/api/v1`` but health (``coven_health.py``) and, as Coven
    serves them, unprefixed too."""
    api, more = CovenV1(ctx), CovenExtras(ctx)
    routes = [
        ("GET", "/api-version", api.api_version),
        ("GET", "/capabilities", api.capabilities),
        ("GET", "/capabilities/harnesses", more.capabilities_harnesses),
        ("GET", "/capabilities/{id}", more.capability),
        ("POST", "/actions", api.actions),
        ("GET", "/sessions", api.list_sessions),
        ("POST", "/sessions", api.launch),
        ("POST", "/sessions/external", more.register_external),
        ("GET", "/sessions/{id}", api.get_session),
        ("POST", "/sessions/{id}/input", api.send_input),
        ("POST", "/sessions/{id}/kill", api.kill),
        ("POST", "/sessions/{id}/complete", more.complete),
        ("POST", "/sessions/{id}/resize", api.resize),
        ("GET", "/sessions/{id}/events", api.events),
        ("GET", "/sessions/{id}/log", more.log),
        ("GET", "/events", api.events),
    ]
    for method, path, handler in routes:
        router.add(method, f"{PREFIX}{path}", handler)
    router.add("POST", f"{PREFIX}/internal/lifecycle/shutdown", more.shutdown)
    coven_inbox.install(router, ctx, PREFIX)
    coven_worktrees.install(router, ctx, PREFIX)
    for method, path, handler in routes:
        router.add(method, path, handler)
    return api

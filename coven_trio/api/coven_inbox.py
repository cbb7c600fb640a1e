"""What waits for a person, across every live session, and the answers to it: the inbox
(``GET /api/v1/inbox``), one answer (``POST /api/v1/sessions/:id/respond``), and the
notifications as a list or a stream (``GET /api/v1/notifications``).

These are coven-trio's own routes (Coven has none of them); ``docs/api.md`` has the shapes.
"""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

import trio

from ..errors import InvalidRequest
from ..http import Request, Response, Router, StreamResponse
from ..notify import FollowerDropped
from ..notify.moments import asking
from ..sessions import TurnInput
from ._context import ApiContext
from ._params import int_param
from ._tail import Send

#: An idle notifications stream sends a blank line this often, so a client that went
#: away is noticed (and a proxy keeps the connection).
HEARTBEAT_SECONDS = 15.0


def inbox_items(ctx: ApiContext) -> list[dict[str, Any]]:
    """Every open approval and question of every live session, oldest first, numbered
    from 1 (the number ``coven-trio inbox answer N`` takes)."""
    now = time.time()
    found = []
    for session in ctx.sessions.live():
        for request, since in session.questions():
            found.append((since, session, request))
    found.sort(key=lambda item: item[0])
    items = []
    for number, (since, session, request) in enumerate(found, 1):
        what = asking(request)
        items.append(
            {
                "number": number,
                "sessionId": session.id,
                "requestId": request.get("requestId"),
                "kind": what.kind,
                "project": session.project_root,
                "harness": session.harness,
                "title": session.title,
                "tool": what.tool,
                "detail": what.detail,
                "prompt": what.prompt,
                "options": request.get("options") or [],
                "allowFreeform": bool(request.get("allowFreeform")),
                "since": _iso(since),
                "waitingSeconds": round(max(0.0, now - since), 1),
                "attached": session.people > 0,
            }
        )
    return items


def _iso(when: float) -> str:
    moment = datetime.datetime.fromtimestamp(when, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Inbox:
    """Handlers of the inbox, its answers, and the notifications."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    async def inbox(self, request: Request) -> Response:
        return Response.json({"items": inbox_items(self.ctx)})

    async def respond(self, request: Request) -> Response:
        """``{requestId, optionId}`` (or ``text`` for a free answer): one open question
        of the session answered; the turn goes on once its last question is."""
        session = await self.ctx.sessions.find_live(request.params["id"])
        details: dict[str, Any] = {"sessionId": session.id}
        body = request.json_object()
        request_id, option = body.get("requestId"), body.get("optionId", body.get("text"))
        if not isinstance(request_id, str) or not request_id:
            raise InvalidRequest("`requestId` must be a non-empty string.", details=details)
        if not isinstance(option, str):
            raise InvalidRequest("`optionId` or `text` must be a string.", details=details)
        response = {"requestId": request_id, "optionId": option}
        await session.start_turn(TurnInput("", "", input_responses=(response,)))
        return Response.json({"ok": True, "accepted": True, **details}, status=202)

    async def notifications(self, request: Request) -> Response | StreamResponse:
        """The recent notifications after ``afterSeq``; with ``follow=1``, NDJSON: those,
        then each as it is published (a blank line every 15 s while idle)."""
        after = int_param(request.query, "afterSeq", "afterSeq must be an integer.") or 0
        dispatcher = self.ctx.notifications
        if request.query.get("follow") not in ("1", "true"):
            recent = [n.as_json() for n in dispatcher.snapshot(after)]
            return Response.json({"notifications": recent, "lastSeq": dispatcher.last_seq})

        async def produce(send: Send) -> None:
            with dispatcher.follow(after) as follower:
                try:
                    while True:
                        notification = None
                        with trio.move_on_after(HEARTBEAT_SECONDS):
                            notification = await follower.__anext__()
                        if notification is None:
                            await send(b"\n")
                            continue
                        line = json.dumps(notification.as_json(), separators=(",", ":"))
                        await send(line.encode() + b"\n")
                except (StopAsyncIteration, FollowerDropped):
                    return  # the daemon stops, or the client fell behind: resume afterSeq

        headers = [("content-type", "application/x-ndjson"), ("cache-control", "no-cache")]
        return StreamResponse(200, headers, produce)


def install(router: Router, ctx: ApiContext, prefix: str) -> None:
    views = Inbox(ctx)
    router.add("GET", f"{prefix}/inbox", views.inbox)
    router.add("POST", f"{prefix}/sessions/{{id}}/respond", views.respond)
    router.add("GET", f"{prefix}/notifications", views.notifications)

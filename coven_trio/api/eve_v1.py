"""The eve-compatible session API under the configurable mount (default ``/eve/v1``).

One mount for two generations of eve's client (``docs/eve.md`` has the table); each
session speaks one, decided by the first request that shows it (``_eve_generation``):

* the seed's (stream version 16, eve 0.18): create (202 + continuation token),
  follow-ups carrying the token (stale → 409, mid-turn → 409 ``turn_active``; unknown
  session → 404, ended → 410), the journal in the v16 line shape;
* today's (stream versions 21-26, eve 0.80): no tokens — a send is given a
  ``deliveryId`` and, mid-turn, queued; unknown or ended → 409 ``session_not_active``;
  prewarm (a create without a message); cancel, clear, compact and reset; the v26
  event stream (``_eve_v26``) with the tail index and bounded replays.

Errors are the envelope plus eve's top-level ``ok: false`` and ``code``, which today's
client reads (the seed's read the body as text).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable

from ..agents import DEFAULT_AGENT, AgentProfile, default_project_root, load_agents
from ..errors import (
    AgentNotFound,
    ContinuationTokenMismatch,
    CovenError,
    InvalidStartIndex,
    SessionNotActive,
    SessionNotFound,
    SessionTerminal,
    StaleContinuationToken,
)
from ..http import Request, Response, Router, StreamResponse
from ..models import LaunchRequest
from ..sessions import Historical, Session, is_live
from ..vocabulary import HarnessId, LaunchMode
from . import _eve_v26
from ._context import ApiContext
from ._eve_body import parse
from ._eve_generation import Generation, of, stream_says, stream_shows
from ._eve_info import agent_info, seed_info
from ._eve_peer import Peers
from ._params import parse_int
from ._tail import attended, eve_lines, tail

Handler = Callable[[Request], Awaitable[Response | StreamResponse]]


def _eve_errors(handler: Handler) -> Handler:
    """Errors as eve's clients read them: the envelope plus top-level ``ok``/``code``."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response | StreamResponse:
        try:
            return await handler(request)
        except CovenError as exc:
            body = {"ok": False, "code": str(exc.code), **exc.body()}
            return Response.json(body, status=exc.status, headers=exc.headers)

    return wrapped


def _delivery_id() -> str:
    return "dlv_" + secrets.token_hex(12)


_NO_STORE = ("cache-control", "no-store")


def _asks(profile: AgentProfile) -> str | None:
    """eve has human-in-the-loop: a claude agent in stream mode asks the client before
    using a tool, unless its profile says otherwise."""
    stream = profile.launch_mode in (None, LaunchMode.STREAM)
    return "ask" if profile.harness == HarnessId.CLAUDE and stream else None


class EveV1:
    """Handlers of the eve mount."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.agents = load_agents(ctx.config.home)
        #: What each client process has shown of its generation (for ``/info``).
        self.peers = Peers()

    def _agent(self, name: str | None) -> AgentProfile:
        profile = self.agents.get(name or DEFAULT_AGENT)
        if profile is None:
            raise AgentNotFound(
                f"Agent {name!r} is not configured.",
                details={"agent": name, "configured": list(self.agents)},
            )
        return profile

    async def _session(self, session_id: str) -> Session | Historical:
        try:
            return await self.ctx.sessions.find(session_id)
        except SessionNotFound:
            raise SessionNotFound(
                f"Session {session_id} not found", details={"sessionId": session_id}
            ) from None

    async def _found(self, session_id: str) -> Session | Historical | None:
        try:
            return await self.ctx.sessions.find(session_id)
        except SessionNotFound:
            return None

    async def _active(self, session_id: str, generation: Generation | None) -> Session:
        """A live session to send to; otherwise each generation's answer: the seed's
        404 (unknown) and 410 (ended), today's 409 ``session_not_active`` for both.
        ``generation``: what the request says (a token: the seed's), else the session's."""
        found = await self._found(session_id)
        if isinstance(found, Session) and found.live:
            return found
        if generation is None and found is not None:
            generation = _generation(found)
        details = {"sessionId": session_id, "status": found.status if found else "unknown"}
        if generation is Generation.SEED:
            if found is None:
                raise SessionNotFound(f"Session {session_id} not found", details=details)
            raise SessionTerminal(
                f"Session {session_id} is {found.status} and cannot accept more messages",
                details=details,
            )
        status = details["status"]
        raise SessionNotActive(f"Session {session_id} is not active ({status}).", details=details)

    def _default_mode(self, harness: str) -> str | None:
        """eve's sessions take follow-ups: the harness's own default mode (claude
        ``stream``, codex ``nonInteractive``), not Coven's one-shot run."""
        spec = self.ctx.harnesses.get(harness)
        return None if spec is None else str(spec.default_mode)

    async def health(self, request: Request) -> Response:
        return Response.json({"ok": True, "status": "ready", "workflowId": "wf_compat"})

    async def info(self, request: Request) -> Response:
        """The stock clients' requests are identical: the document is the one the asking
        process's generation reads (``_eve_peer``), today's when nothing tells."""
        profile = self._agent(None)
        if self.peers.generation(request.peer_pid) is Generation.SEED:
            return Response.json(seed_info(profile), headers=[_NO_STORE])
        body = agent_info(profile, str(self.ctx.config.home))
        return Response.json(body, headers=[_NO_STORE])

    async def create(self, request: Request) -> Response:
        body = parse(request, follow_up=False)
        shows = None
        if body.prewarm:  # today's client prewarms with an empty POST (or only ``stubs``)
            shows = Generation.CURRENT
        elif body.continuation_token is not None:  # the seed's token-only state
            shows = Generation.SEED
        profile = self._agent(body.agent)
        turn = body.turn()  # a create's stream is read from 0: no delivery id to look for
        launch = LaunchRequest(
            project_root=profile.project_root or default_project_root(),
            harness=profile.harness,
            prompt=turn.harness_text,
            launch_mode=profile.launch_mode or self._default_mode(profile.harness),
            model=profile.model,
            title=body.message[:200],
            follow_ups=True,
            permission_mode=profile.permission_mode or _asks(profile),
            sandbox=profile.sandbox,
            approval=profile.approval,
            isolation=body.isolation,
        )
        session = await self.ctx.sessions.launch(
            launch,
            agent=profile.name,
            first_turn=turn,
            system_prompt=profile.system_prompt,
            render=False,
            prewarm=body.prewarm,
        )
        if shows is not None:
            session.speaks(shows)
            self.peers.remember(request.peer_pid, shows)
        accepted = {
            "ok": True,
            "sessionId": session.id,
            "continuationToken": session.continuation_token,
        }
        return Response.json(
            accepted, status=202, headers=[_NO_STORE, ("x-eve-session-id", session.id)]
        )

    async def follow_up(self, request: Request) -> Response:
        """A send. With a continuation token (the seed's clients) it must be the current
        one and a running turn is 409 ``turn_active``; without (today's), a running turn
        queues it (202). A send with a message is given a ``deliveryId``."""
        body = parse(request, follow_up=True)
        token = body.continuation_token
        bearer = request.headers.get("authorization")
        if bearer is not None and token is not None:
            scheme, _, value = bearer.partition(" ")
            if scheme.lower() != "bearer" or value.strip() != token:
                raise ContinuationTokenMismatch(
                    "Authorization bearer does not match continuationToken."
                )
        if body.agent is not None:
            self._agent(body.agent)
        says = Generation.SEED if token is not None else None
        self.peers.remember(request.peer_pid, says or Generation.CURRENT)
        session = await self._active(request.params["id"], says)
        session.speaks(says or Generation.CURRENT)
        if token is not None and token != session.continuation_token:
            raise StaleContinuationToken(
                f"Stale continuationToken for session {session.id}",
                details={"sessionId": session.id},
            )
        # Today's client finds its turn by the id (the seed's, by its token).
        delivery = _delivery_id() if body.message and token is None else None
        turn = body.turn(delivery)
        queued = False
        if token is not None:
            await session.start_turn(turn)
        else:
            queued = await session.send(turn)
        accepted = {
            "ok": True,
            "sessionId": session.id,
            "continuationToken": session.continuation_token,
        }
        if delivery is not None:
            accepted["deliveryId"] = delivery
        return Response.json(
            accepted,
            status=202 if queued else 200,
            headers=[_NO_STORE, ("x-eve-session-id", session.id)],
        )

    async def cancel(self, request: Request) -> Response:
        session = await self._found(request.params["id"])
        body = request.json()
        turn_id = body.get("turnId") if isinstance(body, dict) else None
        turn_id = turn_id if isinstance(turn_id, str) else None
        if isinstance(session, Session) and await session.cancel(turn_id):
            return Response.json({"ok": True, "sessionId": session.id, "status": "accepted"})
        return Response.json({"ok": True, "status": "no_active_turn"})

    async def clear(self, request: Request) -> Response:
        session = await self._found(request.params["id"])
        if not is_live(session):
            return Response.json({"ok": True, "status": "no_active_session"})
        await session.clear()
        return Response.json({"ok": True, "sessionId": session.id, "status": "accepted"})

    async def compact(self, request: Request) -> Response:
        session = await self._found(request.params["id"])
        if not is_live(session):
            return Response.json({"ok": True, "status": "no_active_session"})
        await session.compact()
        return Response.json({"ok": True, "sessionId": session.id, "status": "accepted"})

    async def reset(self, request: Request) -> Response:
        """The session ends (as a kill does); later sends are 409 ``session_not_active``."""
        session = await self._found(request.params["id"])
        if not is_live(session):
            return Response.json({"ok": True, "status": "no_active_session"})
        session.kill()
        return Response.json({"ok": True, "previousSessionId": session.id, "status": "reset"})

    async def stream(self, request: Request) -> StreamResponse:
        """The journal from ``startIndex`` (negative: back from the tail), then live. Today's
        client gets version 26 and, when it asks, the tail index (``-1``: empty) and a
        replay that stops there (``follow=false``)."""
        query = request.query
        raw = query.get("startIndex", "0")
        start = parse_int(raw, signed=True)
        if start is None:
            raise InvalidStartIndex(
                "Expected startIndex to be an integer.", details={"startIndex": raw}
            )
        session = await self._session(request.params["id"])
        generation = stream_says(request, start)  # explicit: it wins for itself
        if generation is None:
            generation = _generation(session) or stream_shows(request)
        if isinstance(session, Session):
            session.speaks(generation)
        if generation is Generation.CURRENT:  # (a bare request shows no process's client)
            self.peers.remember(request.peer_pid, generation)
        current = generation is Generation.CURRENT
        journal = await self.ctx.sessions.journal(session)
        last = len(journal) - 1
        start = max(0, last + 1 + start) if start < 0 else start
        headers = [
            ("content-type", "application/x-ndjson; charset=utf-8"),
            ("x-eve-stream-format", "ndjson"),
            ("x-eve-stream-version", str(generation)),
            ("cache-control", "no-cache"),
            ("x-accel-buffering", "no"),
            ("x-eve-session-id", session.id),
        ]
        if query.get("includeTailIndex") in ("1", "true"):
            headers.append(("x-eve-stream-tail-index", str(last)))
        stop = last + 1 if query.get("follow") in ("false", "0") else None
        read = _eve_v26.V26Lines(journal, start) if current else eve_lines
        heartbeat = self.ctx.config.eve_heartbeat
        return StreamResponse(
            200,
            headers,
            attended(
                request,
                session,
                lambda send: tail(journal, start, send, read, heartbeat=heartbeat, stop=stop),
            ),
        )


def _generation(session: Session | Historical) -> Generation | None:
    """The generation the session speaks, if decided (live, ended or stored)."""
    if isinstance(session, Session):
        return of(session.eve_stream_version)
    return of(session.describe().get("eve_stream_version"))


def install(router: Router, ctx: ApiContext) -> EveV1:
    api = EveV1(ctx)
    mount = ctx.config.eve_mount
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/health", api.health),
        ("GET", "/info", api.info),
        ("POST", "/session", api.create),
        ("POST", "/session/{id}", api.follow_up),
        ("POST", "/session/{id}/cancel", api.cancel),
        ("POST", "/session/{id}/clear", api.clear),
        ("POST", "/session/{id}/compact", api.compact),
        ("POST", "/session/{id}/reset", api.reset),
        ("GET", "/session/{id}/stream", api.stream),
    ]
    for method, path, handler in routes:
        router.add(method, f"{mount}{path}", _eve_errors(handler))
    return api

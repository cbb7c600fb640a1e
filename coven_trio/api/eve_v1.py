"""The eve-compatible session API under the configurable mount (default ``/eve/v1``).

The seed's contract made precise by spec §5 and ``reference/eve-http.md`` §7.2: create
(202 + continuation token), follow-ups (400 → 404 → 410 → 409 stale token → 409 turn
active → accept and rotate), and the NDJSON stream, which is the session's journal in
the eve line shape, replayed from ``startIndex`` and then tailed live.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from .. import schema
from .._json import JsonRejected, loads_request
from ..agents import DEFAULT_AGENT, AgentProfile, default_project_root, load_agents
from ..errors import (
    AgentNotFound,
    ContinuationTokenMismatch,
    InvalidBody,
    InvalidInputResponses,
    InvalidJson,
    MissingContinuationToken,
    MissingInput,
    MissingMessage,
    SessionNotFound,
    SessionTerminal,
    StaleContinuationToken,
)
from ..http import Request, Response, Router, StreamResponse
from ..models import LaunchRequest
from ..sessions import Historical, Session, TurnInput
from ..vocabulary import HarnessId, LaunchMode
from ._context import ApiContext
from ._params import start_index
from ._tail import eve_lines, tail

STREAM_VERSION = "16"
_NO_STORE = ("cache-control", "no-store")


@attrs.frozen
class _Body:
    """A validated create or follow-up body."""

    message: str
    agent: str | None
    output_schema: dict[str, Any] | None
    client_context: Any
    continuation_token: str | None
    input_responses: tuple[dict[str, Any], ...]

    def turn(self) -> TurnInput:
        parts = []
        if self.client_context not in (None, "", [], {}):
            context = self.client_context
            text = context if isinstance(context, str) else json.dumps(context, indent=2)
            parts.append(f"Client context:\n{text}")
        if self.message:
            parts.append(self.message)
        if self.output_schema is not None:
            parts.append(schema.instructions(self.output_schema))
        return TurnInput(
            message=self.message,
            harness_text="\n\n".join(parts),
            output_schema=self.output_schema,
            input_responses=self.input_responses,
        )


def _message(body: dict[str, Any]) -> str:
    """``message`` as text: a string, or text/file parts flattened as eve does. It
    becomes a harness's prompt (sometimes in argv), where NUL cannot go."""
    text = _flatten(body.get("message"))
    if "\0" in text:
        raise InvalidBody("Expected 'message' without NUL characters.")
    return text


def _flatten(value: Any) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    if not isinstance(value, list):
        raise InvalidBody("Expected 'message' to be a string or an array of text/file parts.")
    lines = []
    for part in value:
        if not isinstance(part, dict):
            raise InvalidBody("Expected each message part to be an object.")
        kind = part.get("type")
        if kind == "text":
            if not isinstance(part.get("text"), str) or not part["text"]:
                raise InvalidBody("Text parts require a non-empty 'text' string.")
            lines.append(part["text"])
        elif kind == "file":
            media = part.get("mediaType")
            if not isinstance(media, str) or not media:
                raise InvalidBody("File parts require a non-empty 'mediaType' string.")
            if not isinstance(part.get("data"), str):
                raise InvalidBody("File parts require a 'data' string (base64, data URL, or URL).")
            name = part.get("filename") or "file"
            lines.append(f"[file: {name} ({media})]")
        else:
            raise InvalidBody(f"Unsupported message part type \"{kind}\". Use 'text' or 'file'.")
    return "\n".join(lines)


def _input_responses(body: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    value = body.get("inputResponses")
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise InvalidInputResponses("Expected 'inputResponses' to be a non-empty array.")
    for entry in value:
        ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("requestId"), str)
            and set(entry) <= {"requestId", "optionId", "text"}
            and all(isinstance(entry[k], str) for k in entry)
        )
        if not ok:
            raise InvalidInputResponses(
                "Expected every 'inputResponses' entry to match the HITL response schema."
            )
    return tuple(value)


def _parse(request: Request, *, follow_up: bool) -> _Body:
    try:
        body = loads_request(request.body) if request.body.strip() else None
    except JsonRejected:
        raise InvalidJson("Invalid JSON body.") from None
    if not isinstance(body, dict):
        raise InvalidBody("Expected a JSON object.")
    token = body.get("continuationToken")
    if follow_up and (not isinstance(token, str) or not token):
        raise MissingContinuationToken("Missing or empty 'continuationToken' field.")
    message = _message(body)
    responses = _input_responses(body) if follow_up else ()
    context = body.get("clientContext")
    if isinstance(context, list):
        if not all(isinstance(c, str) and c for c in context):
            raise InvalidBody("Expected 'clientContext' array entries to be non-empty strings.")
    elif context is not None and not isinstance(context, str | dict):
        raise InvalidBody("Expected 'clientContext' to be a string, string array, or JSON object.")
    output_schema = body.get("outputSchema")
    if output_schema is not None:
        try:
            schema.check_schema(output_schema)
        except schema.SchemaRejected as exc:
            raise InvalidBody(str(exc)) from None
    agent = body.get("agent")
    if agent is not None and not isinstance(agent, str):
        raise InvalidBody("Expected 'agent' to be a string.")
    if follow_up and not message and not responses:
        raise MissingInput(
            "Expected a non-empty 'message', a non-empty 'inputResponses' array, or both."
        )
    if not follow_up and not message:
        raise MissingMessage("Missing or empty 'message' field.")
    return _Body(
        message=message,
        agent=agent,
        output_schema=output_schema,
        client_context=context,
        continuation_token=token if isinstance(token, str) else None,
        input_responses=responses,
    )


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

    def _default_mode(self, harness: str) -> str | None:
        """eve's sessions take follow-ups: the harness's own default mode (claude
        ``stream``, codex ``nonInteractive``), not Coven's one-shot run."""
        spec = self.ctx.harnesses.get(harness)
        return None if spec is None else str(spec.default_mode)

    async def health(self, request: Request) -> Response:
        return Response.json({"ok": True, "status": "ready", "workflowId": "wf_compat"})

    async def info(self, request: Request) -> Response:
        profile = self._agent(None)
        return Response.json(
            {
                "agent": {"name": profile.name, "model": profile.model or profile.harness},
                "tools": list(profile.tools),
                "connections": [],
            },
            headers=[_NO_STORE],
        )

    async def create(self, request: Request) -> Response:
        body = _parse(request, follow_up=False)
        profile = self._agent(body.agent)
        turn = body.turn()
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
        )
        session = await self.ctx.sessions.launch(
            launch,
            agent=profile.name,
            first_turn=turn,
            system_prompt=profile.system_prompt,
            render=False,
        )
        return Response.json(
            {"ok": True, "sessionId": session.id, "continuationToken": session.continuation_token},
            status=202,
            headers=[_NO_STORE, ("x-eve-session-id", session.id)],
        )

    async def follow_up(self, request: Request) -> Response:
        body = _parse(request, follow_up=True)
        bearer = request.headers.get("authorization")
        if bearer is not None:
            scheme, _, value = bearer.partition(" ")
            if scheme.lower() != "bearer" or value.strip() != body.continuation_token:
                raise ContinuationTokenMismatch(
                    "Authorization bearer does not match continuationToken."
                )
        if body.agent is not None:
            self._agent(body.agent)
        session = await self._session(request.params["id"])
        if not isinstance(session, Session) or not session.live:
            raise SessionTerminal(
                f"Session {session.id} is {session.status} and cannot accept more messages",
                details={"sessionId": session.id, "status": session.status},
            )
        if body.continuation_token != session.continuation_token:
            raise StaleContinuationToken(
                f"Stale continuationToken for session {session.id}",
                details={"sessionId": session.id},
            )
        await session.start_turn(body.turn())
        return Response.json(
            {"ok": True, "sessionId": session.id, "continuationToken": session.continuation_token},
            headers=[_NO_STORE, ("x-eve-session-id", session.id)],
        )

    async def stream(self, request: Request) -> StreamResponse:
        start = start_index(request.query)
        session = await self._session(request.params["id"])
        journal = await self.ctx.sessions.journal(session)
        heartbeat = self.ctx.config.eve_heartbeat
        headers = [
            ("content-type", "application/x-ndjson; charset=utf-8"),
            ("x-eve-stream-format", "ndjson"),
            ("x-eve-stream-version", STREAM_VERSION),
            ("cache-control", "no-cache"),
            ("x-accel-buffering", "no"),
            ("x-eve-session-id", session.id),
        ]
        return StreamResponse(
            200, headers, lambda send: tail(journal, start, send, eve_lines, heartbeat=heartbeat)
        )


def install(router: Router, ctx: ApiContext) -> EveV1:
    api = EveV1(ctx)
    mount = ctx.config.eve_mount
    router.add("GET", f"{mount}/health", api.health)
    router.add("GET", f"{mount}/info", api.info)
    router.add("POST", f"{mount}/session", api.create)
    router.add("POST", f"{mount}/session/{{id}}", api.follow_up)
    router.add("GET", f"{mount}/session/{{id}}/stream", api.stream)
    return api

"""The bodies of eve's create and follow-up requests, validated (spec §5 and today's
client): message text or parts, client context, output schema, input responses, the
optional continuation token and turn policy."""

from __future__ import annotations

import json
from typing import Any

import attrs

from .. import schema
from .._json import JsonRejected, loads_request
from ..errors import (
    InvalidBody,
    InvalidInputResponses,
    InvalidJson,
    MissingContinuationToken,
    MissingInput,
    MissingMessage,
)
from ..http import Request
from ..sessions import TurnInput

#: eve's ``turnPolicy`` for a send while a turn runs: after it (``queue``), or into it
#: (``steer``: no harness here can take text into a running turn, so it queues too).
TURN_POLICIES = ("queue", "steer")


@attrs.frozen
class Body:
    """A validated create or follow-up body. ``prewarm``: a create without a message."""

    message: str
    agent: str | None
    output_schema: dict[str, Any] | None
    client_context: Any
    continuation_token: str | None
    input_responses: tuple[dict[str, Any], ...]
    prewarm: bool = False
    turn_policy: str | None = None
    #: Ours, on a create: ``"worktree"`` (checked with the launch, as on ``/api/v1``).
    isolation: Any = None

    def turn(self, delivery_id: str | None = None) -> TurnInput:
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
            delivery_id=delivery_id,
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


def parse(request: Request, *, follow_up: bool) -> Body:
    try:
        body = loads_request(request.body) if request.body.strip() else None
    except JsonRejected:
        raise InvalidJson("Invalid JSON body.") from None
    # Today's client prewarms with an empty POST (or only its test ``stubs``).
    prewarm = not follow_up and (
        not request.body.strip()
        or (isinstance(body, dict) and bool(body) and set(body) <= {"stubs"})
    )
    if prewarm:
        body = {}
    if not isinstance(body, dict):
        raise InvalidBody("Expected a JSON object.")
    token = body.get("continuationToken")
    if follow_up and token is not None and (not isinstance(token, str) or not token):
        raise MissingContinuationToken("Missing or empty 'continuationToken' field.")
    policy = body.get("turnPolicy")
    if policy is not None and policy not in TURN_POLICIES:
        raise InvalidBody("Expected 'turnPolicy' to be 'queue' or 'steer'.")
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
    if not follow_up and not message and not prewarm:
        raise MissingMessage("Missing or empty 'message' field.")
    return Body(
        prewarm=prewarm,
        turn_policy=policy,
        message=message,
        agent=agent,
        output_schema=output_schema,
        client_context=context,
        continuation_token=token if isinstance(token, str) else None,
        input_responses=responses,
        isolation=None if follow_up else body.get("isolation"),
    )

"""Errors as classes, each carrying its HTTP status and stable envelope code.

Every error a client can see is a :class:`CovenError`. Handlers raise them; the HTTP
layer turns them into ``{"error": {"code", "message", "details"?}}`` in exactly one place
(:func:`envelope`). Codes are part of the API contract: never rename one.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar


class CovenError(Exception):
    """Base of every client-visible error.

    Subclasses fix ``status`` and ``code``; an instance carries the message, optional
    ``details`` (a JSON object) and extra response headers (``Allow``, ``Retry-After``).
    """

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or []

    def body(self) -> dict[str, Any]:
        """The JSON body of the response; subclasses may add sibling fields."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


def envelope(exc: CovenError) -> bytes:
    """Encode ``exc`` as the JSON error envelope (the one place this happens)."""
    return json.dumps(exc.body(), separators=(",", ":")).encode()


class InvalidRequest(CovenError):
    status = 400
    code = "invalid_request"


class InvalidStartIndex(CovenError):
    status = 400
    code = "invalid_start_index"


class CwdOutsideRoot(CovenError):
    status = 400
    code = "session.cwd_outside_root"


class HarnessUnsupported(CovenError):
    status = 400
    code = "harness.unsupported"


class HarnessNotFound(CovenError):
    status = 400
    code = "harness.not_found"


class ActionRejected(CovenError):
    """A refused control-plane action.

    The body carries the envelope *and* the real Coven daemon's rejection fields, so
    clients of either shape can read it (spec §4).
    """

    status = 400
    code = "action_rejected"

    def __init__(self, message: str, *, action: str) -> None:
        super().__init__(message, details={"action": action})
        self.action = action

    def body(self) -> dict[str, Any]:
        body = super().body()
        body.update(
            ok=False, accepted=False, action=self.action, status="rejected", reason=self.message
        )
        return body


class PeerRefused(CovenError):
    status = 403
    code = "peer_uid_mismatch"


class NotFound(CovenError):
    status = 404
    code = "not_found"


class UnsupportedApiVersion(CovenError):
    status = 404
    code = "unsupported_api_version"


class SessionNotFound(CovenError):
    status = 404
    code = "session_not_found"


class MethodNotAllowed(CovenError):
    status = 405
    code = "method_not_allowed"


class RequestTimeout(CovenError):
    status = 408
    code = "request_timeout"


class SessionNotLive(CovenError):
    status = 409
    code = "session_not_live"


class TurnActive(CovenError):
    status = 409
    code = "turn_active"


class PayloadTooLarge(CovenError):
    status = 413
    code = "payload_too_large"


class EventResponseTooLarge(CovenError):
    status = 413
    code = "event_response_too_large"


class HeadersTooLarge(CovenError):
    status = 431
    code = "request_header_fields_too_large"


class InternalError(CovenError):
    status = 500
    code = "internal_error"


class LaunchFailed(CovenError):
    status = 500
    code = "launch_failed"


class SendInputFailed(CovenError):
    status = 500
    code = "send_input_failed"


class CapacityExhausted(CovenError):
    status = 503
    code = "capacity_exhausted"


class BadHttp(CovenError):
    """A request h11 could not parse (malformed request line, headers, framing)."""

    status = 400
    code = "bad_request"


# --- eve API (spec §5; codes from reference/eve-http.md §11.2) --------------------------


class InvalidJson(CovenError):
    status = 400
    code = "invalid_json"


class InvalidBody(CovenError):
    status = 400
    code = "invalid_body"


class MissingMessage(CovenError):
    status = 400
    code = "missing_message"


class MissingContinuationToken(CovenError):
    status = 400
    code = "missing_continuation_token"


class MissingInput(CovenError):
    status = 400
    code = "missing_input"


class InvalidInputResponses(CovenError):
    status = 400
    code = "invalid_input_responses"


class ContinuationTokenMismatch(CovenError):
    status = 400
    code = "continuation_token_mismatch"


class AgentNotFound(CovenError):
    status = 400
    code = "agent_not_found"


class StaleContinuationToken(CovenError):
    status = 409
    code = "stale_continuation_token"


class SessionTerminal(CovenError):
    status = 410
    code = "session_terminal"


class StartupError(Exception):
    """The daemon cannot start (home, lock, socket); the CLI prints it and exits 1."""


class DaemonAlreadyRunning(StartupError):
    """Another live daemon serves this home."""

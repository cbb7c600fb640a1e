"""Errors as classes, each carrying its HTTP status and stable envelope code.

Every error a client can see is a :class:`CovenError`. Handlers raise them; the HTTP
layer turns them into ``{"error": {"code", "message", "details"?}}`` in exactly one place
(:func:`envelope`). Codes are part of the API contract: never rename one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from ._json import dumps


class ErrorCode(StrEnum):
    """Every code an error envelope can carry. Part of the API contract: never rename."""

    INVALID_REQUEST = "invalid_request"
    INVALID_START_INDEX = "invalid_start_index"
    SESSION_CWD_OUTSIDE_ROOT = "session.cwd_outside_root"
    HARNESS_UNSUPPORTED = "harness.unsupported"
    HARNESS_NOT_FOUND = "harness.not_found"
    ACTION_REJECTED = "action_rejected"
    PEER_UID_MISMATCH = "peer_uid_mismatch"
    NOT_FOUND = "not_found"
    UNSUPPORTED_API_VERSION = "unsupported_api_version"
    SESSION_NOT_FOUND = "session_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    REQUEST_TIMEOUT = "request_timeout"
    SESSION_NOT_LIVE = "session_not_live"
    TURN_ACTIVE = "turn_active"
    NOT_A_TERMINAL = "not_a_terminal"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    EVENT_RESPONSE_TOO_LARGE = "event_response_too_large"
    REQUEST_HEADER_FIELDS_TOO_LARGE = "request_header_fields_too_large"
    INTERNAL_ERROR = "internal_error"
    LAUNCH_FAILED = "launch_failed"
    SEND_INPUT_FAILED = "send_input_failed"
    CAPACITY_EXHAUSTED = "capacity_exhausted"
    BAD_REQUEST = "bad_request"
    INVALID_JSON = "invalid_json"
    INVALID_BODY = "invalid_body"
    MISSING_MESSAGE = "missing_message"
    MISSING_CONTINUATION_TOKEN = "missing_continuation_token"
    MISSING_INPUT = "missing_input"
    INVALID_INPUT_RESPONSES = "invalid_input_responses"
    CONTINUATION_TOKEN_MISMATCH = "continuation_token_mismatch"
    AGENT_NOT_FOUND = "agent_not_found"
    STALE_CONTINUATION_TOKEN = "stale_continuation_token"
    UNKNOWN_FAMILIAR = "unknown_familiar"
    SESSION_ID_CONFLICT = "session_id_conflict"
    NOT_EXTERNAL_SESSION = "not_external_session"
    HARNESS_NOT_FOUND_ID = "harness_not_found"
    DAEMON_IDENTITY_MISMATCH = "daemon_identity_mismatch"
    SESSION_NOT_ACTIVE = "session_not_active"
    SESSION_TERMINAL = "session_terminal"
    # A git worktree per session (coven_trio/worktrees, docs/worktrees.md).
    WORKTREE_NOT_A_REPOSITORY = "worktree.not_a_repository"
    WORKTREE_UNKNOWN_BASE = "worktree.unknown_base"
    WORKTREE_EXISTS = "worktree.exists"
    WORKTREE_MISSING = "worktree.missing"
    WORKTREE_CONFLICT = "worktree.conflict"
    WORKTREE_MAIN_DIRTY = "worktree.main_dirty"
    WORKTREE_BASE_NOT_CHECKED_OUT = "worktree.base_not_checked_out"
    WORKTREE_UNMERGED = "worktree.unmerged"
    WORKTREE_GIT_FAILED = "worktree.git_failed"
    WORKTREE_NONE = "worktree.none"
    WORKTREE_SESSION_LIVE = "worktree.session_live"


class CovenError(Exception):
    """Base of every client-visible error.

    Subclasses fix ``status`` and ``code``; an instance carries the message, optional
    ``details`` (a JSON object) and extra response headers (``Allow``, ``Retry-After``).
    """

    status: ClassVar[int] = 500
    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR

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
    return dumps(exc.body())


class InvalidRequest(CovenError):
    status = 400
    code = ErrorCode.INVALID_REQUEST


class InvalidStartIndex(CovenError):
    status = 400
    code = ErrorCode.INVALID_START_INDEX


class CwdOutsideRoot(CovenError):
    status = 400
    code = ErrorCode.SESSION_CWD_OUTSIDE_ROOT


class HarnessUnsupported(CovenError):
    status = 400
    code = ErrorCode.HARNESS_UNSUPPORTED


class HarnessNotFound(CovenError):
    status = 400
    code = ErrorCode.HARNESS_NOT_FOUND


class ActionRejected(CovenError):
    """A refused control-plane action.

    The body carries the envelope *and* the real Coven daemon's rejection fields, so
    clients of either shape can read it (spec §4).
    """

    status = 400
    code = ErrorCode.ACTION_REJECTED

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
    code = ErrorCode.PEER_UID_MISMATCH


class NotFound(CovenError):
    status = 404
    code = ErrorCode.NOT_FOUND


class UnsupportedApiVersion(CovenError):
    status = 404
    code = ErrorCode.UNSUPPORTED_API_VERSION


class SessionNotFound(CovenError):
    status = 404
    code = ErrorCode.SESSION_NOT_FOUND


class MethodNotAllowed(CovenError):
    status = 405
    code = ErrorCode.METHOD_NOT_ALLOWED


class RequestTimeout(CovenError):
    status = 408
    code = ErrorCode.REQUEST_TIMEOUT


class SessionNotLive(CovenError):
    status = 409
    code = ErrorCode.SESSION_NOT_LIVE


class NotATerminal(CovenError):
    """Resizing a session that has no PTY."""

    status = 409
    code = ErrorCode.NOT_A_TERMINAL


class TurnActive(CovenError):
    status = 409
    code = ErrorCode.TURN_ACTIVE


class PayloadTooLarge(CovenError):
    status = 413
    code = ErrorCode.PAYLOAD_TOO_LARGE


class EventResponseTooLarge(CovenError):
    status = 413
    code = ErrorCode.EVENT_RESPONSE_TOO_LARGE


class HeadersTooLarge(CovenError):
    status = 431
    code = ErrorCode.REQUEST_HEADER_FIELDS_TOO_LARGE


class InternalError(CovenError):
    status = 500
    code = ErrorCode.INTERNAL_ERROR


class LaunchFailed(CovenError):
    status = 500
    code = ErrorCode.LAUNCH_FAILED


class SendInputFailed(CovenError):
    status = 500
    code = ErrorCode.SEND_INPUT_FAILED


class CapacityExhausted(CovenError):
    status = 503
    code = ErrorCode.CAPACITY_EXHAUSTED


class BadHttp(CovenError):
    """A request h11 could not parse (malformed request line, headers, framing)."""

    status = 400
    code = ErrorCode.BAD_REQUEST


# --- eve API (spec §5; codes from reference/eve-http.md §11.2) --------------------------


class InvalidJson(CovenError):
    status = 400
    code = ErrorCode.INVALID_JSON


class InvalidBody(CovenError):
    status = 400
    code = ErrorCode.INVALID_BODY


class MissingMessage(CovenError):
    status = 400
    code = ErrorCode.MISSING_MESSAGE


class MissingContinuationToken(CovenError):
    status = 400
    code = ErrorCode.MISSING_CONTINUATION_TOKEN


class MissingInput(CovenError):
    status = 400
    code = ErrorCode.MISSING_INPUT


class InvalidInputResponses(CovenError):
    status = 400
    code = ErrorCode.INVALID_INPUT_RESPONSES


class ContinuationTokenMismatch(CovenError):
    status = 400
    code = ErrorCode.CONTINUATION_TOKEN_MISMATCH


class AgentNotFound(CovenError):
    status = 400
    code = ErrorCode.AGENT_NOT_FOUND


class StaleContinuationToken(CovenError):
    status = 409
    code = ErrorCode.STALE_CONTINUATION_TOKEN


class StartupError(Exception):
    """The daemon cannot start (home, lock, socket); the CLI prints it and exits 1."""


class DaemonAlreadyRunning(StartupError):
    """Another live daemon serves this home."""


class UnknownFamiliar(CovenError):
    """A launch names a familiar (Coven's agent identities); coven-trio has none."""

    status = 400
    code = ErrorCode.UNKNOWN_FAMILIAR


class SessionIdConflict(CovenError):
    """An external registration names a session the daemon supervises."""

    status = 409
    code = ErrorCode.SESSION_ID_CONFLICT


class NotExternalSession(CovenError):
    """``complete`` is for external sessions; the daemon's own end by ``kill``."""

    status = 422
    code = ErrorCode.NOT_EXTERNAL_SESSION


class UnknownHarness(CovenError):
    """``GET /capabilities/:id`` of a harness the daemon does not know."""

    status = 404
    code = ErrorCode.HARNESS_NOT_FOUND_ID


class DaemonIdentityMismatch(CovenError):
    """A lifecycle request for another daemon (or an older run of this one)."""

    status = 409
    code = ErrorCode.DAEMON_IDENTITY_MISMATCH


class SessionNotActive(CovenError):
    """An eve send to a session that is unknown or has ended (today's eve's answer)."""

    status = 409
    code = ErrorCode.SESSION_NOT_ACTIVE


class SessionTerminal(CovenError):
    """A follow-up to a session that has ended (the seed's eve answer)."""

    status = 410
    code = ErrorCode.SESSION_TERMINAL

"""The web listener's refusals, in the daemon's JSON envelope.

Their codes are namespaced ``web.*``: they are the listener's, not the API's, and say
which check refused (a client can tell "log in" from "wrong Host" from "read-only").
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import CovenError

#: Every refusal carries these: nothing the listener refuses may be cached or framed.
REFUSAL_HEADERS = [("cache-control", "no-store"), ("x-content-type-options", "nosniff")]


class WebError(CovenError):
    status = 400
    web_code: ClassVar[str] = "web.invalid"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message, details=details, headers=[*(headers or []), *REFUSAL_HEADERS])

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.web_code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class Unauthorized(WebError):
    """No credential, or one that is not (or no longer) valid."""

    status = 401
    web_code = "web.unauthorized"

    def __init__(self, message: str = "Log in: open the URL `coven-trio web` prints.") -> None:
        super().__init__(message, headers=[("www-authenticate", 'Bearer realm="coven-trio"')])


class WrongHost(WebError):
    """A ``Host`` the listener does not answer to (DNS rebinding)."""

    status = 403
    web_code = "web.host"


class CrossOrigin(WebError):
    """A state-changing request from another origin (CSRF)."""

    status = 403
    web_code = "web.origin"


class ScopeRequired(WebError):
    """An ``observe`` credential asked to change something."""

    status = 403
    web_code = "web.scope"


class PairingRequired(WebError):
    """The launch token, from another machine: devices there must pair."""

    status = 403
    web_code = "web.pairing_required"


class PairingRefused(WebError):
    status = 401
    web_code = "web.pairing_refused"


class TooManyAttempts(WebError):
    status = 429
    web_code = "web.too_many_attempts"

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(
            f"Too many failed attempts; try again in {seconds} s.",
            headers=[("retry-after", str(seconds))],
        )


class NotListening(WebError):
    status = 409
    web_code = "web.not_listening"


class AlreadyListening(WebError):
    status = 409
    web_code = "web.already_listening"


class UnknownDevice(WebError):
    status = 404
    web_code = "web.unknown_device"


class ListenFailed(WebError):
    status = 400
    web_code = "web.listen_failed"

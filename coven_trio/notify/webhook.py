"""The webhook notifier: POST the notification as JSON, signed, with retries.

Every request carries (docs/notifications.md has a receiver's side)::

    Content-Type: application/json
    X-Coven-Event: needs_you                 (the kind)
    X-Coven-Delivery: ntf_01M8…              (the notification's id: the same on a retry)
    X-Coven-Timestamp: 1764005437            (Unix seconds, at this attempt)
    X-Coven-Signature: sha256=<hex>          (HMAC-SHA256 of "<timestamp>." + body)

The timestamp is inside what is signed, so a captured request cannot be replayed later
than the receiver's tolerance (Stripe's scheme); the body is signed byte for byte, so a
receiver verifies before it parses. An answer of 2xx is delivered; 5xx, 429, a timeout
or no connection is retried with backoff (a ``Retry-After`` in seconds is honoured, up
to the cap); any other status is a failure at once (retrying a 4xx changes nothing),
and so is a 3xx: redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import ssl
import time
from typing import ClassVar

from .._json import dumps
from .._version import __version__
from ._event import Notification
from ._http import HttpError, parse_url, post
from .config import WebhookSpec
from .notifier import DeliveryError, Notifier

EVENT_HEADER = "X-Coven-Event"
DELIVERY_HEADER = "X-Coven-Delivery"
TIMESTAMP_HEADER = "X-Coven-Timestamp"
SIGNATURE_HEADER = "X-Coven-Signature"
#: How old a signed request may be for :func:`verify_signature` (Stripe's default).
DEFAULT_TOLERANCE = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Coven-Signature`` value of ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """A receiver's check: the signature is ours and the request is recent."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds; an HTTP date (rare from webhooks) is ignored."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


class WebhookNotifier(Notifier):
    """POSTs to ``spec.url``; ``ssl_context`` replaces the system's trust (tests, or a
    private CA)."""

    type: ClassVar[str] = "webhook"
    spec: WebhookSpec

    def __init__(self, spec: WebhookSpec, *, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(spec)
        self.endpoint = parse_url(spec.url)
        if ssl_context is None and self.endpoint.tls:
            ssl_context = ssl.create_default_context()
        self._ssl_context = ssl_context

    def request(
        self, notification: Notification, *, now: float | None = None
    ) -> tuple[bytes, list[tuple[str, str]]]:
        """The body and the headers of one attempt at delivering ``notification``."""
        body = dumps(notification.as_json())
        timestamp = int(time.time() if now is None else now)
        headers = [
            ("content-type", "application/json"),
            ("user-agent", f"coven-trio/{__version__}"),
            (EVENT_HEADER, str(notification.kind)),
            (DELIVERY_HEADER, notification.id),
            (TIMESTAMP_HEADER, str(timestamp)),
            (SIGNATURE_HEADER, sign(self.spec.secret, timestamp, body)),
            *self.spec.headers,
        ]
        return body, headers

    async def deliver(self, notification: Notification) -> None:
        body, headers = self.request(notification)
        where = f"{self.endpoint.scheme}://{self.endpoint.authority}"
        try:
            answer = await post(self.endpoint, body, headers, ssl_context=self._ssl_context)
        except OSError as exc:
            raise DeliveryError(f"{where}: {exc}", retryable=True) from None
        except HttpError as exc:
            raise DeliveryError(f"{where}: {exc}", retryable=exc.retryable) from None
        status = answer.status
        if 200 <= status < 300:
            return
        raise DeliveryError(
            f"{where} answered {status}",
            retryable=status >= 500 or status == 429,
            retry_after=_retry_after(answer.headers.get("retry-after")),
        )

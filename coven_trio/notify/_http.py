"""One HTTP POST with h11 over a trio socket (TLS for https), for webhooks.

h11 is already the daemon's HTTP layer; a webhook needs one request per delivery, no
pooling, no redirects and no proxies, which is a page of code rather than a runtime
dependency. One connection per request (``connection: close``), so the answer is read
only as far as its status line and headers: the body of an answer is never needed.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from urllib.parse import urlsplit

import attrs
import h11
import trio

#: Bytes asked of the socket per read.
READ_SIZE = 65536


class HttpError(Exception):
    """The request did not get an answer: reset, cut short, not HTTP, or the server's
    certificate was refused (``retryable`` False: waiting will not fix that)."""

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.retryable = retryable


@attrs.frozen
class Endpoint:
    """Where a URL's requests go: a checked, pre-split URL."""

    scheme: str
    host: str
    port: int
    #: The request target: path and query (the fragment never leaves the client).
    target: str
    #: The ``host`` header: the URL's authority as written.
    authority: str

    @property
    def tls(self) -> bool:
        return self.scheme == "https"


def parse_url(url: str) -> Endpoint:
    """``http(s)://host[:port]/path?query`` → :class:`Endpoint`; ValueError says what is
    wrong with any other URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid url {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"invalid url {url!r}: the scheme must be http or https")
    if port == 0:
        raise ValueError(f"invalid url {url!r}: port 0")
    if not parts.hostname:
        raise ValueError(f"invalid url {url!r}: it names no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"invalid url {url!r}: credentials do not belong in the url; "
            "send them in `headers` (Authorization)"
        )
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise ValueError(f"invalid url {url!r}: it holds spaces or control characters")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if parts.scheme == "https" else 80
    return Endpoint(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or default,
        target=target,
        authority=parts.netloc,
    )


@attrs.frozen
class Answer:
    """What came back: the status and the headers (names in lower case)."""

    status: int
    headers: dict[str, str]


async def post(
    endpoint: Endpoint,
    body: bytes,
    headers: Sequence[tuple[str, str]],
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> Answer:
    """POST ``body`` and read the answer's head. The caller bounds the time (connect,
    TLS, send and answer alike). Raises :class:`HttpError` for anything that is not an
    answer, and ``OSError`` when the host cannot be reached."""
    stream: trio.abc.Stream
    if endpoint.tls:
        context = ssl_context or ssl.create_default_context()
        # https_compatible: servers commonly close without TLS close_notify.
        stream = await trio.open_ssl_over_tcp_stream(
            endpoint.host, endpoint.port, ssl_context=context, https_compatible=True
        )
    else:
        stream = await trio.open_tcp_stream(endpoint.host, endpoint.port)
    async with stream:
        conn = h11.Connection(h11.CLIENT)
        head = [
            ("host", endpoint.authority),
            ("content-length", str(len(body))),
            ("connection", "close"),
            *headers,
        ]
        try:
            data = conn.send(h11.Request(method="POST", target=endpoint.target, headers=head))
            data += conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise HttpError(f"cannot send the request: {exc}") from None
        try:
            await stream.send_all(data)
            return await _answer(conn, stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            cause = exc.__cause__
            if isinstance(cause, ssl.SSLCertVerificationError):
                reason = f"TLS: certificate verify failed: {cause.verify_message}"
                raise HttpError(reason, retryable=False) from None
            if isinstance(cause, ssl.SSLError):
                raise HttpError(f"TLS: {cause}") from None
            raise HttpError(f"connection lost: {cause or exc}") from None


async def _answer(conn: h11.Connection, stream: trio.abc.Stream) -> Answer:
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise HttpError(f"not an HTTP answer: {exc}") from None
        if event is h11.NEED_DATA:
            conn.receive_data(bytes(await stream.receive_some(READ_SIZE)))
        elif isinstance(event, h11.Response):
            return Answer(
                status=event.status_code,
                headers={k.decode("latin-1"): v.decode("latin-1") for k, v in event.headers},
            )
        elif isinstance(event, h11.ConnectionClosed):
            raise HttpError("the connection closed before an answer")
        # an InformationalResponse (100 Continue…) is followed by the real one

"""Raw HTTP/1.1 over TCP (and TLS) to a web listener: bytes we choose, parsed with h11.

The security tests speak raw HTTP on purpose: a client library would add or normalise
the very headers under test (``Host``, ``Origin``, cookies)."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import h11
import trio

from coven_trio.web import WebListener

from ..rawhttp import RawResponse, read_response


def client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the fingerprint is checked by the tests instead
    return context


@attrs.define
class Web:
    """Requests to one listener, with a credential or without."""

    listener: WebListener
    token: str | None = None
    cookie: str | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.listener.port}"

    @property
    def origin(self) -> str:
        return f"{'https' if self.listener.tls else 'http'}://{self.host}"

    async def connect(self) -> trio.abc.Stream:
        stream: trio.abc.Stream = await trio.open_tcp_stream("127.0.0.1", self.listener.port)
        if self.listener.tls:
            tls = trio.SSLStream(stream, client_tls(), server_hostname="localhost")
            await tls.do_handshake()
            stream = tls
        return stream

    def head(self, method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        sent = {"host": self.host}
        if self.token is not None:
            sent["authorization"] = f"Bearer {self.token}"
        if self.cookie is not None:
            sent["cookie"] = self.cookie
        if body or method not in ("GET", "HEAD"):
            sent["content-length"] = str(len(body))
        sent.update(headers)
        lines = [f"{method} {target} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in sent.items() if v is not None]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def send(
        self,
        method: str,
        target: str,
        *,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        body: bytes = b"",
    ) -> RawResponse:
        if json_body is not None:
            body = json.dumps(json_body).encode()
        stream = await self.connect()
        async with stream:
            await stream.send_all(self.head(method, target, headers or {}, body))
            return await read_response(stream)  # type: ignore[arg-type]

    async def get(self, target: str, **kwargs: Any) -> RawResponse:
        return await self.send("GET", target, **kwargs)

    async def post(self, target: str, json_body: Any = None, **kwargs: Any) -> RawResponse:
        headers = {"origin": self.origin, **kwargs.pop("headers", {})}
        return await self.send("POST", target, json_body=json_body, headers=headers, **kwargs)

    @asynccontextmanager
    async def stream(self, target: str) -> AsyncIterator[tuple[int, AsyncIterator[bytes]]]:
        """A streaming GET: its status and an iterator of body chunks (ends at EOF or at
        the end of the response)."""
        stream = await self.connect()
        conn = h11.Connection(h11.CLIENT)
        async with stream:
            conn.send(h11.Request(method="GET", target=target, headers=[("host", self.host)]))
            await stream.send_all(self.head("GET", target, {}, b""))
            status = 0
            while not status:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code

            async def chunks() -> AsyncIterator[bytes]:
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        try:
                            data = await stream.receive_some(65536)
                        except trio.BrokenResourceError:
                            data = b""
                        conn.receive_data(data)
                        if not data:
                            return
                    elif isinstance(event, h11.Data):
                        yield bytes(event.data)
                    elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                        return

            yield status, chunks()

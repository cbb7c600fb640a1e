"""One request to the daemon over its Unix socket: the bytes of it, the errors of it,
and a blocking round trip for commands that need nothing more.

Both clients use this: :class:`~coven_trio.client.Client` (trio, for streams and
programs) and the command line's one-shot commands, which answer without importing
trio at all (``coven-trio status`` in tens of milliseconds, not hundreds).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h11

JSON = dict[str, Any]


class ClientError(Exception):
    """The daemon answered with an error envelope (or could not be reached)."""

    def __init__(self, status: int, code: str, message: str, details: JSON | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class DaemonUnreachable(ClientError):
    """Nothing answers on the socket (no daemon, or a stale socket file)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(0, "unreachable", f"cannot reach the daemon at {path}: {reason}")
        self.path = path


class ClientTimeout(ClientError):
    """The daemon accepted the connection but did not answer within the timeout."""

    def __init__(self, timeout: float) -> None:
        super().__init__(0, "timeout", f"no answer from the daemon within {timeout:g} s")


class BadResponse(ClientError):
    """What came back is not HTTP we can read (not a coven-trio daemon?)."""

    def __init__(self, reason: str) -> None:
        super().__init__(0, "bad_response", f"unreadable answer from the daemon: {reason}")


def next_event(conn: h11.Connection) -> Any:
    """h11's next event, its protocol errors as :class:`BadResponse`."""
    try:
        return conn.next_event()
    except h11.ProtocolError as exc:
        raise BadResponse(str(exc)) from None


def error_of(status: int, body: bytes) -> ClientError:
    """The :class:`ClientError` an error response's envelope describes."""
    try:
        envelope = json.loads(body)["error"]
        return ClientError(status, envelope["code"], envelope["message"], envelope.get("details"))
    except (ValueError, KeyError, TypeError):
        return ClientError(status, "http_error", body.decode("utf-8", "replace")[:500])


def encode_request(
    conn: h11.Connection,
    method: str,
    target: str,
    body: Any = None,
    headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The whole request (one per connection), JSON body and all."""
    payload = b"" if body is None else json.dumps(body).encode()
    head = [("host", "coven"), ("connection", "close"), *headers]
    if body is not None:
        head += [("content-type", "application/json"), ("content-length", str(len(payload)))]
    data = conn.send(h11.Request(method=method, target=target, headers=head))
    if payload:
        data += conn.send(h11.Data(data=payload))
    return data + conn.send(h11.EndOfMessage())


def decode_answer(status: int, data: bytes) -> Any:
    """The JSON of a response, or the :class:`ClientError` it carries."""
    if status >= 400:
        raise error_of(status, data)
    try:
        return json.loads(data) if data else None
    except ValueError:
        raise BadResponse("the body is not JSON") from None


def request(path: Path, method: str, target: str, body: Any = None, *, timeout: float = 30) -> Any:
    """One blocking JSON request (no trio): the answer's JSON, or a :class:`ClientError`."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    with sock:
        try:
            sock.connect(str(path))
        except OSError as exc:
            raise DaemonUnreachable(path, exc.strerror or str(exc)) from None
        conn = h11.Connection(h11.CLIENT)
        status, data = 0, bytearray()
        try:
            sock.sendall(encode_request(conn, method, target, body))
            while True:
                event = next_event(conn)
                if event is h11.NEED_DATA:
                    conn.receive_data(sock.recv(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    data += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise BadResponse("connection closed before the response ended")
        except TimeoutError:
            raise ClientTimeout(timeout) from None
        except OSError as exc:
            raise BadResponse(f"connection lost ({exc})") from None
    return decode_answer(status, bytes(data))

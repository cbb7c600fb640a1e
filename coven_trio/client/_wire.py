"""One request to the daemon over its Unix socket: the errors of it, and a blocking
round trip for commands that need nothing more.

Both clients use the errors and the answer's decoding: :class:`~coven_trio.client.Client`
(trio and h11, for streams and programs) and the command line's one-shot commands,
whose :func:`request` is a plain socket: it sends ``connection: close`` and reads to
EOF, so the answer needs no protocol state machine. It imports neither trio nor h11
(~25 ms of regular expressions and dataclasses): ``coven-trio status`` is one Python
start and one round trip.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

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


def error_of(status: int, body: bytes) -> ClientError:
    """The :class:`ClientError` an error response's envelope describes."""
    try:
        envelope = json.loads(body)["error"]
        return ClientError(status, envelope["code"], envelope["message"], envelope.get("details"))
    except (ValueError, KeyError, TypeError):
        return ClientError(status, "http_error", body.decode("utf-8", "replace")[:500])


def decode_answer(status: int, data: bytes) -> Any:
    """The JSON of a response, or the :class:`ClientError` it carries."""
    if status >= 400:
        raise error_of(status, data)
    try:
        return json.loads(data) if data else None
    except ValueError:
        raise BadResponse("the body is not JSON") from None


#: The largest answer read: far above any the daemon gives (pages and lists stop at
#: 4 MiB, a session's log at its journal's 80 MiB), so a peer that never stops sending
#: is cut off rather than filling memory.
MAX_ANSWER_BYTES = 256 << 20


def _request_bytes(method: str, target: str, body: Any) -> bytes:
    if not target.isascii() or any(c <= " " or c == "\x7f" for c in target):
        raise ValueError(f"not a request target: {target!r}")  # our own bug, never input
    payload = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {target} HTTP/1.1\r\nhost: coven\r\nconnection: close\r\n"
    if body is not None:
        head += f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n"
    return head.encode("ascii") + b"\r\n" + payload


def _dechunk(data: bytes) -> bytes:
    body = bytearray()
    while True:
        size_line, sep, data = data.partition(b"\r\n")
        size_text = size_line.split(b";", 1)[0].strip()
        if not sep or not size_text or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
            raise BadResponse("malformed chunked body")
        size = int(size_text, 16)
        if size == 0:
            return bytes(body)
        if len(data) < size + 2:
            raise BadResponse("connection closed before the response ended")
        body += data[:size]
        data = data[size + 2 :]


def parse_response(data: bytes) -> tuple[int, bytes]:
    """The status and body of a whole HTTP/1.1 response (read to EOF)."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise BadResponse("connection closed before the response head ended")
    status_line, *lines = head.split(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0") or not parts[1].isdigit():
        raise BadResponse(f"not an HTTP/1.1 status line: {status_line[:80]!r}")
    headers: dict[bytes, bytes] = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise BadResponse(f"malformed header line: {line[:80]!r}")
        headers[name.lower()] = value.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        return int(parts[1]), _dechunk(rest)
    length = headers.get(b"content-length")
    if length is None:
        return int(parts[1]), rest
    if not length.isdigit() or len(rest) < int(length):
        raise BadResponse("connection closed before the response ended")
    return int(parts[1]), rest[: int(length)]


def request(path: Path, method: str, target: str, body: Any = None, *, timeout: float = 30) -> Any:
    """One blocking JSON request (no trio): the answer's JSON, or a :class:`ClientError`."""
    return decode_answer(*exchange(path, method, target, body, timeout=timeout))


def text(path: Path, target: str, *, timeout: float = 30) -> str:
    """One blocking ``GET`` of a text answer (a patch), or a :class:`ClientError`."""
    status, data = exchange(path, "GET", target, None, timeout=timeout)
    if status >= 400:
        raise error_of(status, data)
    return data.decode("utf-8", "replace")


def exchange(
    path: Path, method: str, target: str, body: Any = None, *, timeout: float = 30
) -> tuple[int, bytes]:
    """One blocking request: the answer's status and body."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    with sock:
        try:
            sock.connect(str(path))
        except OSError as exc:
            raise DaemonUnreachable(path, exc.strerror or str(exc)) from None
        data = bytearray()
        try:
            sock.sendall(_request_bytes(method, target, body))
            while chunk := sock.recv(65536):
                data += chunk
                if len(data) > MAX_ANSWER_BYTES:
                    raise BadResponse(f"the answer is over {MAX_ANSWER_BYTES >> 20} MiB")
        except TimeoutError:
            raise ClientTimeout(timeout) from None
        except OSError as exc:
            raise BadResponse(f"connection lost ({exc})") from None
    return parse_response(bytes(data))

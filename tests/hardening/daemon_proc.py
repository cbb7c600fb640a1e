"""A real `coven-trio serve` subprocess for hardening tests, with its log in a file, and
blocking raw-socket helpers (the fuzzers are plain synchronous hypothesis tests)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h11


class DaemonProcess:
    def __init__(self, home: Path, log: Path, env: dict[str, str]) -> None:
        self.home = home
        self.log_path = log
        self.socket_path = home / "coven.sock"
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "coven_trio",
                "serve",
                "--home",
                str(home),
                "--log-level",
                "debug",
            ],
            stderr=self._log,
            env=env,
        )
        deadline = time.monotonic() + 20
        while not self.healthy():
            assert self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, "daemon did not start"
            time.sleep(0.05)

    def healthy(self) -> bool:
        try:
            return exchange(self.socket_path, b"GET /health HTTP/1.1\r\nhost: c\r\n\r\n")[0] == 200
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self._log.close()
        return code


@contextmanager
def running_daemon(home: Path, log: Path, **env: str) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(home, log, {**os.environ, **env})
    try:
        yield daemon
    finally:
        daemon.stop()


def exchange(
    path: Path, data: bytes, *, half_close: bool = True, timeout: float = 10
) -> tuple[int, dict[str, str], bytes] | None:
    """Send ``data``; the parsed response, or None if the daemon closed without one.
    Raises on a malformed response."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it answered early and closed; read what it said
        conn = h11.Connection(h11.CLIENT)
        # Tell h11 which request this answers (a HEAD response has no body).
        method = "HEAD" if data.startswith(b"HEAD ") else "GET"
        conn.send(h11.Request(method=method, target="/", headers=[("host", "c")]))
        conn.send(h11.EndOfMessage())
        status, headers, body = 0, {}, b""
        received = 0
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                if not received:
                    return None  # closed without a byte: a clean close
                raise
            if event is h11.NEED_DATA:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                received += len(chunk)
                conn.receive_data(chunk)
                continue
            if isinstance(event, h11.ConnectionClosed):
                return None
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, headers, body


def request_json(path: Path, method: str, target: str, body: object = None) -> tuple[int, object]:
    payload = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {target} HTTP/1.1\r\nhost: c\r\ncontent-length: {len(payload)}\r\n\r\n"
    result = exchange(path, head.encode() + payload)
    assert result is not None
    return result[0], json.loads(result[2]) if result[2] else None

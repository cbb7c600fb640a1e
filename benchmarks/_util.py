"""Plumbing shared by the benchmarks: scratch folders, processes, the load generator."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
HEALTH_REQUEST = "GET /api/v1/health HTTP/1.1\r\nhost: bench\r\n\r\n"


@contextmanager
def scratch() -> Iterator[Path]:
    """A short folder under /tmp (socket paths must fit in sun_path)."""
    path = Path(tempfile.mkdtemp(prefix="cvb", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def wait_for_socket(path: Path, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(str(path))
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {path}")


@contextmanager
def server(argv: list[str], path: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    process = subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_socket(path, process)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def loadgen_binary() -> Path | None:
    """benchmarks/loadgen.c compiled once into a cache; None without a C compiler."""
    return compiled("loadgen")


def compiled(name: str) -> Path | None:
    """benchmarks/<name>.c compiled once into a cache; None without a C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "coven-trio"
    binary = cache / name
    source = HERE / f"{name}.c"
    if not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([compiler, "-O2", "-o", str(binary), str(source)], check=True)
    return binary


def load(path: Path, connections: int, seconds: float) -> dict[str, Any]:
    """Keep-alive requests for ``seconds`` on ``connections`` connections."""
    binary = loadgen_binary()
    if binary is not None:
        out = subprocess.run(
            [str(binary), str(path), str(connections), str(seconds), HEALTH_REQUEST],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        result: dict[str, Any] = json.loads(out)
        result["generator"] = "loadgen.c"
        return result
    return _python_load(path, connections, seconds)


def _python_load(path: Path, connections: int, seconds: float) -> dict[str, Any]:
    """Fallback generator (the client may then be the bottleneck; the table says so)."""
    request = HEALTH_REQUEST.encode()
    selector = selectors.DefaultSelector()
    latencies: list[float] = []
    errors = 0
    for _ in range(connections):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(path))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, [b"", time.perf_counter()])
        sock.send(request)
    start = time.perf_counter()
    deadline = start + seconds
    open_count = connections
    while open_count:
        for key, _ in selector.select(1):
            sock, state = key.fileobj, key.data
            assert isinstance(sock, socket.socket)
            data = sock.recv(65536)
            if not data:
                errors += 1
                selector.unregister(sock)
                open_count -= 1
                continue
            state[0] += data
            head, sep, rest = state[0].partition(b"\r\n\r\n")
            if not sep:
                continue
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            if len(rest) < length:
                continue
            now = time.perf_counter()
            latencies.append(now - state[1])
            state[0] = rest[length:]
            if now >= deadline:
                selector.unregister(sock)
                sock.close()
                open_count -= 1
                continue
            state[1] = now
            sock.send(request)
    elapsed = time.perf_counter() - start
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "seconds": elapsed,
        "errors": errors,
        "p50_us": latencies[n // 2] * 1e6 if n else 0.0,
        "p99_us": latencies[int(n * 0.99)] * 1e6 if n else 0.0,
        "generator": "python",
    }


def python() -> str:
    return sys.executable


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

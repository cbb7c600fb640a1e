"""``coven-trio serve`` as a real subprocess: startup, refusal, stale socket, signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import trio

from .rawhttp import exchange, get

SERVE = [sys.executable, "-m", "coven_trio", "serve"]


async def _start(home: Path, *extra: str) -> trio.Process:
    return await trio.lowlevel.open_process(
        [*SERVE, "--home", str(home), *extra], stderr=subprocess.PIPE
    )


async def _wait_ready(home: Path, process: trio.Process) -> dict[str, object]:
    """Poll the socket until the daemon answers health."""
    with trio.fail_after(20):
        while True:
            assert process.poll() is None, "daemon exited during startup"
            try:
                response = await exchange(home / "coven.sock", get("/api/v1/health"))
            except OSError:
                await trio.sleep(0.05)
                continue
            body: dict[str, object] = response.json()
            return body


async def _stop(process: trio.Process) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    with trio.fail_after(20):
        return await process.wait()


async def _logged(process: trio.Process, needle: bytes) -> None:
    """Wait until the daemon's log (its stderr) says ``needle``."""
    assert process.stderr is not None
    seen = b""
    with trio.fail_after(30):
        while needle not in seen:
            chunk = await process.stderr.receive_some(65536)
            assert chunk, f"the daemon's log ended without {needle!r}: {seen.decode()}"
            seen += chunk


async def _stderr(process: trio.Process) -> str:
    assert process.stderr is not None
    chunks = []
    while chunk := await process.stderr.receive_some(65536):
        chunks.append(chunk)
    return b"".join(chunks).decode()


async def test_serve_answers_then_sigterm_exits_zero(home: Path) -> None:
    process = await _start(home, "--log-format", "json")
    try:
        health = await _wait_ready(home, process)
        assert health["daemon"]["pid"] == process.pid  # type: ignore[index]
        info = json.loads((home / "daemon.json").read_text())
        assert info["pid"] == process.pid
        assert info["socket"] == str(home / "coven.sock")
    finally:
        code = await _stop(process)
    assert code == 0
    assert not (home / "coven.sock").exists()
    assert not (home / "daemon.json").exists()
    lines = [json.loads(line) for line in (await _stderr(process)).splitlines()]
    assert any("shutting down" in line["event"] for line in lines)


async def test_second_serve_exits_1_naming_first_pid(home: Path) -> None:
    first = await _start(home)
    try:
        await _wait_ready(home, first)
        second = await trio.run_process(
            [*SERVE, "--home", str(home)], capture_stderr=True, check=False
        )
        assert second.returncode == 1
        assert f"pid {first.pid}" in second.stderr.decode()
        # The first daemon is untouched.
        assert (await exchange(home / "coven.sock", get("/health"))).status == 200
    finally:
        assert await _stop(first) == 0


async def test_stale_socket_is_replaced(home: Path) -> None:
    home.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(home / "coven.sock"))
    stale.close()  # the file stays; nobody listens: a crashed daemon's leftover
    assert (home / "coven.sock").exists()
    process = await _start(home)
    try:
        health = await _wait_ready(home, process)
        assert health["ok"] is True
    finally:
        assert await _stop(process) == 0


async def test_unsafe_homes_are_refused(tmp_short: Path) -> None:
    target = tmp_short / "real"
    target.mkdir(mode=0o700)
    link = tmp_short / "link"
    link.symlink_to(target)
    result = await trio.run_process([*SERVE, "--home", str(link)], capture_stderr=True, check=False)
    assert result.returncode == 1
    assert "symlink" in result.stderr.decode()
    deep = tmp_short / ("d" * 120)
    result = await trio.run_process([*SERVE, "--home", str(deep)], capture_stderr=True, check=False)
    assert result.returncode == 1
    assert "Unix sockets allow at most" in result.stderr.decode()


async def test_coven_home_env_is_the_default(tmp_short: Path) -> None:
    home = tmp_short / "envhome"
    env = {**os.environ, "COVEN_HOME": str(home)}
    process = await trio.lowlevel.open_process([*SERVE], env=env, stderr=subprocess.DEVNULL)
    try:
        await _wait_ready(home, process)
    finally:
        assert await _stop(process) == 0


async def test_second_signal_stops_at_once_and_kills_sessions(home: Path, tmp_short: Path) -> None:
    from .sessions_util import live_pids_in_group

    process = await _start(home)
    try:
        await _wait_ready(home, process)
        body = json.dumps(
            {
                "projectRoot": str(tmp_short),
                "harness": "command",
                "command": ["sh", "-c", "sleep 300 & sleep 300"],
            }
        ).encode()
        head = f"POST /api/v1/sessions HTTP/1.1\r\nhost: c\r\ncontent-length: {len(body)}\r\n\r\n"
        record = (await exchange(home / "coven.sock", head.encode() + body)).json()
        process.send_signal(signal.SIGTERM)  # graceful: would wait the 5 s stdin grace
        await _logged(process, b"shutting down gracefully")  # the first one was taken
        process.send_signal(signal.SIGTERM)  # second signal: stop now
        with trio.fail_after(30):
            assert await process.wait() == 0
    finally:
        await _stop(process)
    assert live_pids_in_group(record["pid"]) == []
    assert not (home / "coven.sock").exists()


async def test_an_unroutable_eve_mount_is_a_usage_error(home: Path) -> None:
    process = await _start(home, "--eve-mount", "/api/v1/eve")
    with trio.fail_after(20):
        code = await process.wait()
    assert code == 2
    assert "invalid eve mount" in await _stderr(process)
    assert not (home / "coven.sock").exists()

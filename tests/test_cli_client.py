"""CLI client commands as real subprocesses against a live daemon; --json parsed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from coven_trio.daemon import Daemon

pytestmark = pytest.mark.usefixtures("fakes_on_path")


async def cli(home: Path, command: str, *args: str, check: bool = True) -> tuple[int, str, str]:
    result = await trio.run_process(
        [sys.executable, "-m", "coven_trio", command, "--home", str(home), *args],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    out, err = result.stdout.decode(), result.stderr.decode()
    if check:
        assert result.returncode == 0, err
    return result.returncode, out, err


async def cli_json(home: Path, command: str, *args: str) -> Any:
    _, out, _ = await cli(home, command, "--json", *args)
    return json.loads(out)


async def test_cli_client_commands(daemon: Daemon, tmp_short: Path) -> None:
    home = daemon.config.home
    status = await cli_json(home, "status")
    assert status == {"state": "running", "pid": daemon.pid, "socket": str(daemon.socket_path)}
    health = await cli_json(home, "health")
    assert health["apiVersion"] == "coven.daemon.v1"
    record = await cli_json(
        home,
        "launch",
        "--harness",
        "claude",
        "--mode",
        "stream",
        "--project-root",
        str(tmp_short),
        "hi",
        "there",
    )
    sid = record["id"]
    assert record["status"] == "running" and record["title"] == "hi there"
    listed = await cli_json(home, "sessions")
    assert [r["id"] for r in listed] == [sid]
    with trio.fail_after(20):
        while (await cli_json(home, "sessions"))[0]["status"] != "idle":
            await trio.sleep(0.05)
    assert await cli_json(home, "input", sid, "again") == {"ok": True, "accepted": True}
    assert await cli_json(home, "kill", sid) == {"ok": True, "accepted": True}
    _, out, _ = await cli(home, "tail", "--json", sid)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [e["streamIndex"] for e in lines] == list(range(len(lines)))
    assert lines[-1]["type"] == "session.failed"
    _, out, _ = await cli(home, "tail", "--json", sid, "--from", "3")
    assert json.loads(out.splitlines()[0])["streamIndex"] == 3
    _, human, _ = await cli(home, "tail", sid)
    assert "> hi there" in human and "Echo: hi there" in human
    assert "[waiting for input]" in human and "[session failed: killed" in human
    # a refused request: exit 1 and the envelope
    code, out, _ = await cli(home, "kill", "--json", sid, check=False)
    assert code == 1
    assert json.loads(out)["error"]["code"] == "session_not_live"
    code, _, err = await cli(home, "input", "ses_nope", "x", check=False)
    assert code == 1 and "session_not_found" in err
    command = await cli_json(
        home,
        "launch",
        "--harness",
        "command",
        "--project-root",
        str(tmp_short),
        "--",
        "sh",
        "-c",
        "echo from-command",
    )
    _, out, _ = await cli(home, "tail", command["id"])
    assert "from-command" in out


async def test_cli_status_without_daemon(tmp_short: Path) -> None:
    home = tmp_short / "nohome"
    code, out, _ = await cli(home, "status", "--json", check=False)
    assert code == 3
    assert json.loads(out)["state"] == "unreachable"
    home.mkdir()
    import socket

    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(home / "coven.sock"))
    stale.close()
    code, out, _ = await cli(home, "status", "--json", check=False)
    assert (code, json.loads(out)["state"]) == (4, "stale")
    code, _, err = await cli(home, "health", check=False)
    assert code == 3 and "unreachable" in err


async def test_sessions_archive_and_prune(daemon: Daemon, tmp_short: Path) -> None:
    home = daemon.config.home
    record = await cli_json(
        home, "launch", "--harness", "command", "--project-root", str(tmp_short), "--", "true"
    )
    sid = record["id"]
    with trio.fail_after(20):
        while (await cli_json(home, "sessions"))[0]["status"] != "completed":
            await trio.sleep(0.05)
    archived = tmp_short / "kept.ndjson"
    result = await cli_json(home, "sessions", "archive", sid, "-o", str(archived))
    lines = [json.loads(line) for line in archived.read_text().splitlines()]
    assert lines[0] == {"type": "coven-trio.archive", "record": lines[0]["record"]}
    assert lines[0]["record"]["id"] == sid
    assert [e["seq"] for e in lines[1:]] == list(range(1, result["events"] + 1))
    assert lines[-1]["kind"] == "session.completed"
    await daemon.sessions.store.flush()
    pruned = await cli_json(home, "sessions", "prune", "--older-than", "0")
    assert pruned["sessions"] == 1
    _, human, _ = await cli(home, "sessions", "prune")
    assert human.startswith("pruned 0 sessions")


async def test_one_shot_commands_load_neither_trio_nor_the_daemon(daemon: Daemon) -> None:
    """``status``/``sessions``/``health`` answer with a plain socket: the ~250 ms of
    importing trio and the daemon is not paid by a person typing a command."""
    probe = (
        "import sys, contextlib, io\n"
        "from coven_trio.main import main\n"
        "for command in ('status', 'sessions', 'health'):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        f"        assert main([command, '--home', {str(daemon.config.home)!r}]) == 0\n"
        "loaded = ('trio', 'h11', 'coven_trio.daemon', 'coven_trio.client._trio', 'cattrs')\n"
        "print(sorted(m for m in loaded if m in sys.modules))\n"
    )
    result = await trio.run_process(
        [sys.executable, "-c", probe], capture_stdout=True, capture_stderr=True, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == "[]"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", (200, b"{}")),
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope", (404, b"nope")),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            (200, b"{}"),
        ),
        (b"HTTP/1.1 200 OK\r\n\r\n[1]", (200, b"[1]")),  # no length: up to EOF
    ],
)
def test_the_plain_client_reads_whole_responses(raw: bytes, expected: tuple[int, bytes]) -> None:
    from coven_trio.client._wire import parse_response

    assert parse_response(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"SSH-2.0-OpenSSH\r\n",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n{}",  # cut short
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_the_plain_client_calls_anything_else_a_bad_response(raw: bytes) -> None:
    from coven_trio.client._wire import BadResponse, parse_response

    with pytest.raises(BadResponse):
        parse_response(raw)

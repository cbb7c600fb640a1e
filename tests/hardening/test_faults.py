"""Process faults: harnesses killed from outside, harnesses that leave children behind,
and the daemon itself terminated (gracefully or not) with live sessions."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
import trio

from coven_trio.daemon import Daemon

from ..sessions_util import launch, live_pids_in_group, payload, pid_alive, wait_for_kind
from .daemon_proc import DaemonProcess, request_json

pytestmark = pytest.mark.usefixtures("fakes_on_path")


async def test_harness_sigkilled_from_outside(client: httpx.AsyncClient, tmp_short: Path) -> None:
    record = await launch(client, tmp_short, harness="claude", prompt="victim")
    await wait_for_kind(client, record["id"], "session.waiting")
    os.kill(record["pid"], signal.SIGKILL)
    seen = await wait_for_kind(client, record["id"], "session.failed")
    exit_entry = payload(next(r for r in seen if r["kind"] == "exit"))
    assert exit_entry == {"exitCode": None, "signal": "SIGKILL", "status": "failed"}
    assert payload(seen[-1])["code"] == "harness_exited"
    assert (await client.get(f"/api/v1/sessions/{record['id']}")).json()["status"] == "failed"


async def test_grandchild_of_an_exited_harness_is_killed(
    client: httpx.AsyncClient, tmp_short: Path
) -> None:
    pid_file = tmp_short / "gc.pid"
    script = f"sleep 300 & echo $! > {pid_file}; exit 0"
    record = await launch(client, tmp_short, harness="command", command=["sh", "-c", script])
    await wait_for_kind(client, record["id"], "session.completed")
    grandchild = int(pid_file.read_text())
    with trio.fail_after(30):
        while pid_alive(grandchild):
            await trio.sleep(0.01)
    assert live_pids_in_group(record["pid"] or grandchild) == []


def _short_home() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="cvd", dir="/tmp"))


def test_sigterm_with_50_live_sessions_leaves_no_process(tmp_path: Path) -> None:
    scratch = _short_home()
    project = scratch / "proj"
    project.mkdir()
    daemon = DaemonProcess(scratch / "h", scratch / "log", {**os.environ})
    pgids = []
    try:
        for i in range(50):
            if i % 10 == 0:
                body = {
                    "projectRoot": str(project),
                    "harness": "claude",
                    "prompt": f"s{i}",
                    "launchMode": "stream",
                }
            else:  # a shell with a child of its own that ignores stdin
                body = {
                    "projectRoot": str(project),
                    "harness": "command",
                    "command": ["sh", "-c", "sleep 300 & sleep 300"],
                }
            status, record = request_json(daemon.socket_path, "POST", "/api/v1/sessions", body)
            assert status == 201, record
            assert isinstance(record, dict)
            pgids.append(record["pid"])
        assert all(live_pids_in_group(p) for p in pgids)
        start = time.monotonic()
        code = daemon.stop(signal.SIGTERM, timeout=30)
        elapsed = time.monotonic() - start
        print(f"\nSIGTERM with 50 sessions: exit {code} after {elapsed:.2f} s")
        assert code == 0
        assert elapsed < 10 + 20  # the shutdown grace, then all is cancelled: never stuck
        assert not daemon.socket_path.exists()
        assert [p for p in pgids if live_pids_in_group(p)] == []
        assert "Traceback" not in daemon.log()
    finally:
        for pgid in pgids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)


def test_sigkilled_daemon_is_replaced_by_the_next_start() -> None:
    scratch = _short_home()
    home = scratch / "h"
    first = DaemonProcess(home, scratch / "log1", {**os.environ})
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    assert (home / "coven.sock").exists()  # left behind: nobody cleaned up
    second = DaemonProcess(home, scratch / "log2", {**os.environ})
    try:
        status, body = request_json(second.socket_path, "GET", "/api/v1/health")
        assert status == 200
        assert isinstance(body, dict) and body["daemon"]["pid"] == second.process.pid
    finally:
        assert second.stop() == 0


async def test_kill_all_action(daemon: Daemon, client: httpx.AsyncClient, tmp_short: Path) -> None:
    ids = [
        (await launch(client, tmp_short, harness="command", command=["sleep", "300"]))["id"]
        for _ in range(3)
    ]
    response = await client.post("/api/v1/actions", json={"action": "coven.sessions.killAll"})
    assert sorted(response.json()["event"]["payload"]["sessionIds"]) == sorted(ids)
    for sid in ids:
        await wait_for_kind(client, sid, "session.failed")
    rejected = await client.post(
        "/api/v1/actions", json={"action": "coven.sessions.kill", "args": {"sessionId": ids[0]}}
    )
    assert rejected.status_code == 400
    assert rejected.json()["status"] == "rejected"

"""Processes: whatever a harness starts is stopped with it — also what left its process
group — and PTY harnesses have a real terminal (controlling tty, window size, SIGHUP)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

import coven_trio
from coven_trio import LaunchRequest

from ..conftest import FAST
from ..sessions_util import in_groups, launch, pid_alive, wait_for_kind, zombie_children
from .daemon_proc import DaemonProcess, request_json

pytestmark = pytest.mark.usefixtures("fakes_on_path")


async def _escapees(pid_file: Path) -> list[int]:
    with trio.fail_after(30):
        while not (pid_file.exists() and Path(f"{pid_file}.daemon").exists()):
            await trio.sleep(0.05)
    pids = [int(p) for p in pid_file.read_text().split()]
    pids.append(int(Path(f"{pid_file}.daemon").read_text()))
    assert all(pid_alive(p) for p in pids)
    return pids


async def _all_gone(pids: list[int]) -> None:
    with trio.fail_after(30):
        while any(pid_alive(p) for p in pids) or any(Path(f"/proc/{p}").exists() for p in pids):
            await trio.sleep(0.05)  # not alive, and reaped (no zombie left either)


async def test_kill_stops_descendants_that_left_the_process_group(
    client: httpx.AsyncClient, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "escape")
    monkeypatch.setenv("FAKE_ESCAPE_PIDS", str(tmp_short / "escaped"))
    sid = (await launch(client, tmp_short, harness="claude", prompt="run away"))["id"]
    await wait_for_kind(client, sid, "session.waiting")
    escaped = await _escapees(tmp_short / "escaped")
    await client.post(f"/api/v1/sessions/{sid}/kill")
    await wait_for_kind(client, sid, "session.failed")
    await _all_gone(escaped)


async def test_shutdown_stops_descendants_that_left_the_process_group(
    home: Path, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "escape")
    monkeypatch.setenv("FAKE_ESCAPE_PIDS", str(tmp_short / "escaped"))
    async with coven_trio.open_daemon(home=home, **FAST) as daemon:
        request = LaunchRequest(project_root=tmp_short, harness="codex", prompt="x")
        await daemon.launch(request)
        escaped = await _escapees(tmp_short / "escaped")
    await _all_gone(escaped)


async def output_until(client: httpx.AsyncClient, sid: str, needle: str) -> str:
    """The session's output text once it contains ``needle``."""
    with trio.fail_after(30):
        while True:
            page = (await client.get("/api/v1/events", params={"sessionId": sid})).json()
            text = "".join(json.loads(e["payload_json"]).get("data", "") for e in page["events"])
            if needle in text:
                return text
            await trio.sleep(0.05)


async def test_a_pty_harness_has_a_controlling_terminal_of_24_by_80(
    client: httpx.AsyncClient, tmp_short: Path
) -> None:
    script = "exec 3</dev/tty && echo HAS-TTY; stty size; sleep 30"
    command = ["sh", "-c", script]
    record = await launch(
        client, tmp_short, harness="command", command=command, launchMode="interactive"
    )
    text = await output_until(client, record["id"], "24 80")
    assert "HAS-TTY" in text  # /dev/tty opens only with a controlling terminal
    await client.post(f"/api/v1/sessions/{record['id']}/kill")


async def test_a_client_resizes_the_terminal_and_the_harness_sees_sigwinch(
    client: httpx.AsyncClient, tmp_short: Path
) -> None:
    script = 'trap "stty size" WINCH; echo ready; while :; do sleep 0.05; done'
    command = ["sh", "-c", script]
    record = await launch(
        client, tmp_short, harness="command", command=command, launchMode="interactive"
    )
    sid = record["id"]
    await output_until(client, sid, "ready")
    response = await client.post(f"/api/v1/sessions/{sid}/resize", json={"cols": 120, "rows": 40})
    assert response.status_code == 202
    await output_until(client, sid, "40 120")
    bad = await client.post(f"/api/v1/sessions/{sid}/resize", json={"cols": 0, "rows": 40})
    assert bad.status_code == 400
    await client.post(f"/api/v1/sessions/{sid}/kill")
    pipes = (await launch(client, tmp_short, harness="command", command=["sleep", "30"]))["id"]
    refused = await client.post(f"/api/v1/sessions/{pipes}/resize", json={"cols": 80, "rows": 24})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "not_a_terminal")
    await client.post(f"/api/v1/sessions/{pipes}/kill")


async def test_pty_harnesses_get_a_hangup_when_the_daemon_dies(tmp_short: Path, home: Path) -> None:
    daemon = DaemonProcess(home, tmp_short / "daemon.log", dict(os.environ))
    try:
        status, record = request_json(
            daemon.socket_path,
            "POST",
            "/api/v1/sessions",
            {
                "projectRoot": str(tmp_short),
                "harness": "command",
                "command": ["sleep", "300"],
                "launchMode": "interactive",
            },
        )
        assert status == 201, record
        assert isinstance(record, dict)
        assert pid_alive(record["pid"])
    finally:
        daemon.stop(signal.SIGKILL)  # no cleanup at all: only the kernel is left
    with trio.fail_after(30):
        while pid_alive(record["pid"]):  # SIGHUP from the closed terminal ended it
            await trio.sleep(0.05)


#: Two processes, like a real codex (a node wrapper and its native binary): the root
#: never reaps its child and neither minds SIGTERM, so the kill ends in SIGKILL to the
#: group and the child dies after its parent, as an orphan of the daemon.
TWO_PROCESSES = ["sh", "-c", "trap '' TERM; sleep 300 & exec sleep 301"]


async def _until(check: Any, what: str, timeout: float = 20) -> None:
    """Wait until ``check()`` is true (polling: these are facts of /proc, not events)."""
    with trio.move_on_after(timeout):
        while not check():
            await trio.sleep(0.05)
    assert check(), what


async def test_killed_harnesses_leave_no_zombie_child_in_the_daemon(
    tmp_short: Path, home: Path
) -> None:
    daemon = DaemonProcess(home, tmp_short / "daemon.log", dict(os.environ))
    try:
        body = {"projectRoot": str(tmp_short), "harness": "command", "command": TWO_PROCESSES}
        ids = []
        for _ in range(20):
            status, record = await trio.to_thread.run_sync(
                request_json, daemon.socket_path, "POST", "/api/v1/sessions", body
            )
            assert status == 201, record
            assert isinstance(record, dict)
            ids.append(record["id"])
        for sid in ids:
            await trio.to_thread.run_sync(
                request_json, daemon.socket_path, "POST", f"/api/v1/sessions/{sid}/kill"
            )

        def all_killed() -> bool:
            for sid in ids:
                _, record = request_json(daemon.socket_path, "GET", f"/api/v1/sessions/{sid}")
                if not isinstance(record, dict) or record.get("pid") is not None:
                    return False
            return True

        await _until(all_killed, "every session ended")
        pid = daemon.process.pid
        await _until(lambda: not zombie_children(pid), f"zombies: {zombie_children(pid)}")
    finally:
        daemon.stop()


async def test_an_embedded_daemon_reaps_what_is_left_of_each_killed_harness(
    client: httpx.AsyncClient, tmp_short: Path
) -> None:
    roots = set()
    for _ in range(5):
        record = await launch(client, tmp_short, harness="command", command=TWO_PROCESSES)
        roots.add(record["pid"])
        await client.post(f"/api/v1/sessions/{record['id']}/kill")
        await wait_for_kind(client, record["id"], "session.failed")
    # Every process of the harnesses' groups is gone: none runs, none is a zombie.
    await _until(lambda: not in_groups(roots), f"left: {in_groups(roots)}")


def _launch_pty(daemon: DaemonProcess, root: Path, command: list[str]) -> dict[str, Any]:
    body = {
        "projectRoot": str(root),
        "harness": "command",
        "command": command,
        "launchMode": "interactive",
    }
    status, record = request_json(daemon.socket_path, "POST", "/api/v1/sessions", body)
    assert status == 201, record
    assert isinstance(record, dict)
    return record


async def test_a_pty_harness_that_ignores_hangups_is_stopped_by_the_next_daemon(
    tmp_short: Path, home: Path
) -> None:
    first = DaemonProcess(home, tmp_short / "first.log", dict(os.environ))
    try:
        # killed the moment the launch is answered: the 201 promised a session the
        # next daemon knows, with the process it must stop
        record = _launch_pty(first, tmp_short, ["sh", "-c", "trap '' HUP; exec sleep 300"])
    finally:
        first.stop(signal.SIGKILL)
    assert pid_alive(record["pid"])  # the hangup did nothing
    second = DaemonProcess(home, tmp_short / "second.log", dict(os.environ))
    try:
        status, found = request_json(second.socket_path, "GET", f"/api/v1/sessions/{record['id']}")
        assert status == 200, found
        assert isinstance(found, dict)
        assert found["status"] == "orphaned"
        with trio.move_on_after(20):
            while pid_alive(record["pid"]):
                await trio.sleep(0.05)
        assert not pid_alive(record["pid"])
    finally:
        second.stop()


async def test_a_daemon_under_nohup_still_hangs_up_its_pty_harnesses(
    tmp_short: Path, home: Path
) -> None:
    env = dict(os.environ)
    original = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # what nohup does
    try:
        daemon = DaemonProcess(home, tmp_short / "daemon.log", env)
    finally:
        signal.signal(signal.SIGHUP, original)
    try:
        record = _launch_pty(daemon, tmp_short, ["sleep", "300"])
    finally:
        daemon.stop(signal.SIGKILL)
    with trio.move_on_after(20):
        while pid_alive(record["pid"]):
            await trio.sleep(0.05)
    assert not pid_alive(record["pid"])

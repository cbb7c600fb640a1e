"""Durable sessions: a daemon killed with SIGKILL, and the one that starts after it.

The first daemon runs five live sessions (pipes, a PTY, a stream claude, a codex between
turns, a command whose grandchild left its process group) and is killed with SIGKILL.
The next one lists all five as ``orphaned``, serves their journals through both APIs
(the lines live clients saw, then the entries that say what happened), has stopped what
the first one left running, refuses input to them, and continues their conversations
when asked to.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import FAKES
from .hardening.daemon_proc import DaemonProcess, exchange, request_json
from .sessions_util import with_turns

pytestmark = pytest.mark.timeout(120)


def call(daemon: DaemonProcess, method: str, target: str, body: Any = None) -> Any:
    status, answer = request_json(daemon.socket_path, method, target, body)
    assert status < 300, (status, answer)
    return answer


def status_of(daemon: DaemonProcess, sid: str) -> str:
    return str(call(daemon, "GET", f"/api/v1/sessions/{sid}")["status"])


def wait_for(check: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def records(daemon: DaemonProcess, sid: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = call(daemon, "GET", f"/api/v1/events?sessionId={sid}&afterSeq={len(found)}")
        found += page["events"]
        if not page["hasMore"]:
            return found


def marked(sid: str) -> list[int]:
    """Processes still running with the session's marker (anywhere, any group)."""
    needle = f"COVEN_SESSION_ID={sid}\0".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if needle in Path(f"/proc/{entry}/environ").read_bytes():
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    if stat[stat.rindex(")") + 2] not in "ZX":
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def launch(daemon: DaemonProcess, root: Path, **body: Any) -> dict[str, Any]:
    body = with_turns(body)
    record: dict[str, Any] = call(
        daemon, "POST", "/api/v1/sessions", {"projectRoot": str(root), **body}
    )
    return record


class Crash:
    """What the module's scenario left: the homes, both daemons, what was seen before."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.home = scratch / "h"
        self.env = {
            **os.environ,
            "PATH": f"{FAKES}{os.pathsep}{os.environ['PATH']}",
            "FAKE_STATE_DIR": str(scratch / "fake-state"),
        }
        self.sessions: dict[str, dict[str, Any]] = {}
        self.before: dict[str, list[dict[str, Any]]] = {}
        self.old_pid = 0
        self.daemon: DaemonProcess


@pytest.fixture(scope="module")
def crash() -> Iterator[Crash]:
    scratch = Path(tempfile.mkdtemp(prefix="cvd", dir="/tmp"))
    run = Crash(scratch)
    first = DaemonProcess(run.home, scratch / "first.log", run.env)
    try:
        root = scratch
        run.sessions = {
            "pipe": launch(first, root, harness="command", command=["sleep", "300"]),
            "pty": launch(
                first, root, harness="command", command=["sleep", "300"], launchMode="interactive"
            ),
            "claude": launch(first, root, harness="claude", prompt="remember the tea"),
            "codex": launch(first, root, harness="codex", prompt="remember the milk"),
            "escape": launch(
                first, root, harness="command", command=["sh", "-c", "setsid sleep 301 & sleep 300"]
            ),
        }
        for name in ("claude", "codex"):
            sid = run.sessions[name]["id"]
            wait_for(lambda sid=sid: status_of(first, sid) == "idle")
        run.sessions["codex"] = call(
            first, "GET", f"/api/v1/sessions/{run.sessions['codex']['id']}"
        )
        wait_for(lambda: len(marked(run.sessions["escape"]["id"])) >= 2)
        wait_for(lambda: call(first, "GET", "/api/v1/health")["eventWriter"]["queuedEvents"] == 0)
        run.before = {name: records(first, r["id"]) for name, r in run.sessions.items()}
        run.old_pid = first.process.pid
    finally:
        first.stop(signal.SIGKILL)  # no shutdown at all
    run.daemon = DaemonProcess(run.home, scratch / "second.log", run.env)
    try:
        yield run
    finally:
        run.daemon.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def test_every_session_live_at_the_crash_is_listed_orphaned(crash: Crash) -> None:
    listed = {r["id"]: r for r in call(crash.daemon, "GET", "/api/v1/sessions")}
    for name, record in crash.sessions.items():
        assert listed[record["id"]]["status"] == "orphaned", name
        assert listed[record["id"]]["pid"] is None


def test_their_journals_are_what_clients_saw_then_why_they_ended(crash: Crash) -> None:
    for name, record in crash.sessions.items():
        after = records(crash.daemon, record["id"])
        before = crash.before[name]
        assert after[: len(before)] == before, name  # the same records, byte for byte
        added = [r["kind"] for r in after[len(before) :]]
        turn_open = name in ("pipe", "pty", "escape")  # command sessions: turn_0 runs
        assert added == (["turn.failed", "session.failed"] if turn_open else ["session.failed"])
        last = json.loads(after[-1]["payload_json"])
        assert last["code"] == "orphaned"
        assert f"pid {crash.old_pid}" in last["message"]


def test_the_eve_stream_replays_them_and_ends(crash: Crash) -> None:
    sid = crash.sessions["claude"]["id"]
    head = f"GET /eve/v1/session/{sid}/stream?startIndex=0 HTTP/1.1\r\nhost: c\r\n\r\n"
    result = exchange(crash.daemon.socket_path, head.encode(), half_close=False)
    assert result is not None and result[0] == 200
    lines = [json.loads(line) for line in result[2].splitlines() if line.strip()]
    events = records(crash.daemon, sid)
    assert [line["type"] for line in lines] == [e["kind"] for e in events]
    assert [line["streamIndex"] for line in lines] == list(range(len(events)))
    assert lines[-1]["type"] == "session.failed"


def test_nothing_the_dead_daemon_ran_is_left(crash: Crash) -> None:
    for record in crash.sessions.values():
        wait_for(lambda record=record: marked(record["id"]) == [], timeout=15)


def test_orphaned_sessions_take_no_input(crash: Crash) -> None:
    sid = crash.sessions["claude"]["id"]
    for target in (f"/api/v1/sessions/{sid}/input", f"/api/v1/sessions/{sid}/kill"):
        status, answer = request_json(crash.daemon.socket_path, "POST", target, {"data": "x"})
        assert (status, answer["error"]["code"]) == (409, "session_not_live")
    status, answer = request_json(
        crash.daemon.socket_path,
        "POST",
        f"/eve/v1/session/{sid}",
        {"message": "x", "continuationToken": "tok_x"},
    )
    assert (status, answer["error"]["code"]) == (410, "session_terminal")  # the seed's answer
    status, answer = request_json(
        crash.daemon.socket_path, "POST", f"/eve/v1/session/{sid}", {"message": "x"}
    )
    assert (status, answer["error"]["code"]) == (409, "session_not_active")  # today's


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_a_conversation_is_continued_by_a_resume_launch(crash: Crash, name: str) -> None:
    old = crash.sessions[name]
    mode = "stream" if name == "claude" else "nonInteractive"
    new = launch(
        crash.daemon,
        crash.scratch,
        harness=name,
        prompt="what did I ask?",
        launchMode=mode,
        conversation={"mode": "resume", "id": old["conversation_id"]},
    )
    assert new["resumed_from"] == old["id"]
    assert new["conversation_id"] == old["conversation_id"]
    wait_for(lambda: status_of(crash.daemon, new["id"]) == "idle")
    said = [
        json.loads(r["payload_json"])["content"]
        for r in records(crash.daemon, new["id"])
        if r["kind"] == "message.appended"
    ]
    assert said == ["Echo: what did I ask? (remembering 1 earlier messages)"]
    call(crash.daemon, "POST", f"/api/v1/sessions/{new['id']}/kill")


def _check_store(path: Path) -> tuple[int, int]:
    """The file opens, passes SQLite's integrity check, and every session's journal is
    dense from 0 with lines that are strict JSON at their own index. Returns (sessions,
    events)."""
    import sqlite3

    from .sessions_util import strict_json

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        sessions = events = 0
        for sid, key in conn.execute("SELECT id, num FROM sessions"):
            sessions += 1
            lines = conn.execute(
                "SELECT idx, line FROM events WHERE session = ? ORDER BY idx", (key,)
            ).fetchall()
            assert [idx for idx, _ in lines] == list(range(len(lines))), sid  # no holes
            for idx, line in lines:
                assert strict_json(bytes(line))["streamIndex"] == idx
            events += len(lines)
        return sessions, events
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_crash_loop_never_corrupts_the_store() -> None:
    import random

    rng = random.Random(2026)
    scratch = Path(tempfile.mkdtemp(prefix="cvl", dir="/tmp"))
    home = scratch / "h"
    writer = "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.001; done"
    try:
        for round_ in range(50):
            daemon = DaemonProcess(home, scratch / f"{round_}.log", dict(os.environ))
            try:
                for _ in range(2):
                    launch(daemon, scratch, harness="command", command=["sh", "-c", writer])
                time.sleep(rng.uniform(0.0, 0.4))  # a random moment of the writing
            finally:
                daemon.stop(signal.SIGKILL)
            if round_ % 10 == 9:
                _check_store(home / "coven-trio.sqlite3")
        last = DaemonProcess(home, scratch / "last.log", dict(os.environ))
        try:
            listed = call(last, "GET", "/api/v1/sessions?limit=1000")["sessions"]
            assert len(listed) == 100 and {r["status"] for r in listed} == {"orphaned"}
        finally:
            last.stop()
        sessions, events = _check_store(home / "coven-trio.sqlite3")
        assert sessions == 100 and events > 100
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

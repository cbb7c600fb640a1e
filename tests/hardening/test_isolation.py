"""One failure stays one failure: an exception at any stage of one session's life ends
that session (``internal_error``, its processes gone) and nothing else — the daemon and a
second session go on streaming."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from coven_trio.daemon import Daemon
from coven_trio.harness.claude import ClaudeDriver
from coven_trio.harness.codex import CodexDriver
from coven_trio.harness.command import CommandDriver
from coven_trio.sessions import SessionState
from coven_trio.sessions._events import ProcessExited
from coven_trio.sessions._interaction import Interaction
from coven_trio.sessions._supervisor import Supervisor

from ..sessions_util import kinds, launch, live_pids_in_group, payload, wait_for_kind

pytestmark = pytest.mark.usefixtures("fakes_on_path")


class Injected(Exception):
    """The fault a test puts into one session."""


def inject(monkeypatch: pytest.MonkeyPatch, cls: type, name: str, hit: Callable[..., bool]) -> None:
    """Make ``cls.name`` raise :class:`Injected` whenever ``hit(self, *args)`` is true."""
    original = getattr(cls, name)

    def faulty(self: Any, *args: Any, **kwargs: Any) -> Any:
        if hit(self, *args):
            raise Injected(f"fault in {cls.__name__}.{name}")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, faulty)


async def calm_session(client: httpx.AsyncClient, root: Path) -> str:
    sid: str = (await launch(client, root, harness="claude", prompt="calm"))["id"]
    await wait_for_kind(client, sid, "session.waiting")
    return sid


async def still_streaming(client: httpx.AsyncClient, sid: str) -> None:
    turns = (await client.get(f"/api/v1/sessions/{sid}")).json()["turns"]
    response = await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "still there?"})
    assert response.status_code == 202
    seen = await wait_for_kind(client, sid, "session.waiting", count=turns + 1)
    assert payload(seen[-1])["wait"] == "next-user-message"
    assert (await client.get("/api/v1/health")).json()["ok"] is True


async def failed_inside(client: httpx.AsyncClient, sid: str, pid: int | None) -> None:
    seen = await wait_for_kind(client, sid, "session.failed")
    last = payload(seen[-1])
    assert last["code"] == "internal_error"
    assert "Injected" in last["message"]
    record = (await client.get(f"/api/v1/sessions/{sid}")).json()
    assert record["status"] == "failed"
    if pid is not None:
        assert live_pids_in_group(pid) == []
    assert kinds(seen).count("session.failed") == 1


async def test_a_fault_translating_output(
    client: httpx.AsyncClient, daemon: Daemon, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calm = await calm_session(client, tmp_short)
    armed: list[object] = []  # readers bind translate at start: patch first, arm later
    inject(monkeypatch, ClaudeDriver, "translate", lambda self, line: self in armed)
    record = await launch(client, tmp_short, harness="claude", prompt="first")
    await wait_for_kind(client, record["id"], "session.waiting")
    armed.append(daemon.sessions.get(record["id"]).driver)
    response = await client.post(f"/api/v1/sessions/{record['id']}/input", json={"data": "x"})
    assert response.status_code == 202  # delivered; the fault comes with the answer
    await failed_inside(client, record["id"], record["pid"])
    await still_streaming(client, calm)


async def test_a_fault_translating_stderr(
    client: httpx.AsyncClient, daemon: Daemon, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calm = await calm_session(client, tmp_short)
    script = "read x; echo oops >&2; sleep 30"
    inject(monkeypatch, CommandDriver, "translate_stderr", lambda self, line: True)
    record = await launch(client, tmp_short, harness="command", command=["sh", "-c", script])
    await client.post(f"/api/v1/sessions/{record['id']}/input", json={"data": "go\n"})
    await failed_inside(client, record["id"], record["pid"])
    await still_streaming(client, calm)


async def test_a_fault_ending_a_turn(
    client: httpx.AsyncClient, daemon: Daemon, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calm = await calm_session(client, tmp_short)
    record = await launch(client, tmp_short, harness="claude", prompt="first")
    await wait_for_kind(client, record["id"], "session.waiting")
    target = daemon.sessions.get(record["id"]).state.interaction
    inject(monkeypatch, Interaction, "turn_end", lambda self, *a: self is target)
    await client.post(f"/api/v1/sessions/{record['id']}/input", json={"data": "x"})
    await failed_inside(client, record["id"], record["pid"])
    await still_streaming(client, calm)


async def test_a_fault_when_the_process_exits(
    client: httpx.AsyncClient, daemon: Daemon, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calm = await calm_session(client, tmp_short)
    record = await launch(client, tmp_short, harness="command", command=["sh", "-c", "read x"])
    target = daemon.sessions.get(record["id"]).state

    def at_exit(self: SessionState, event: object) -> bool:
        return self is target and isinstance(event, ProcessExited)

    inject(monkeypatch, SessionState, "handle", at_exit)
    await client.post(f"/api/v1/sessions/{record['id']}/input", json={"data": "bye\n"})
    await failed_inside(client, record["id"], record["pid"])
    await still_streaming(client, calm)


async def test_a_fault_starting_a_follow_up_process(
    client: httpx.AsyncClient, daemon: Daemon, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calm = await calm_session(client, tmp_short)
    sid = (await launch(client, tmp_short, harness="codex", prompt="first"))["id"]
    await wait_for_kind(client, sid, "session.waiting")
    target = daemon.sessions.get(sid).driver
    inject(monkeypatch, CodexDriver, "next_argv", lambda self, prompt: self is target)
    response = await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "again"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    await failed_inside(client, sid, None)
    await still_streaming(client, calm)


async def test_a_fault_delivering_a_follow_up(
    client: httpx.AsyncClient, daemon: Daemon, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calm = await calm_session(client, tmp_short)
    record = await launch(client, tmp_short, harness="claude", prompt="first")
    await wait_for_kind(client, record["id"], "session.waiting")
    target = daemon.sessions.get(record["id"]).driver
    inject(monkeypatch, ClaudeDriver, "turn_input", lambda self, text: self is target)
    response = await client.post(f"/api/v1/sessions/{record['id']}/input", json={"data": "x"})
    assert (response.status_code, response.json()["error"]["code"]) == (500, "internal_error")
    await failed_inside(client, record["id"], record["pid"])
    await still_streaming(client, calm)


async def test_a_fault_while_launching_leaves_nothing(
    client: httpx.AsyncClient, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calm = await calm_session(client, tmp_short)
    inject(monkeypatch, Supervisor, "run", lambda self, *a: True)
    response = await client.post(
        "/api/v1/sessions",
        json={"projectRoot": str(tmp_short), "harness": "command", "command": ["true"]},
    )
    assert (response.status_code, response.json()["error"]["code"]) == (500, "internal_error")
    monkeypatch.undo()
    assert [r["id"] for r in (await client.get("/api/v1/sessions")).json()] == [calm]
    await still_streaming(client, calm)

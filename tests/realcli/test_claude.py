"""The real Claude Code CLI under the daemon, against the fake Anthropic API."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from coven_trio.daemon import Daemon

from .conftest import of, start, until
from .fake_models import FakeAnthropic, last_user_text

pytestmark = [pytest.mark.slow, pytest.mark.realcli, pytest.mark.timeout(120)]


async def test_one_turn(client: httpx.AsyncClient, real: Daemon, project: Path) -> None:
    sid = await start(client, project, harness="claude", prompt="hello one")
    seen = await until(client, sid, {"session.waiting", "session.failed"})
    assert [m["content"] for m in of(seen, "message.appended")] == ["echo: hello one"]
    deltas = "".join(d["text"] for d in of(seen, "agent.content.delta"))
    assert deltas == "echo: hello one"
    assert [r["kind"] for r in seen][-2:] == ["turn.completed", "session.waiting"]
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_two_turns(
    client: httpx.AsyncClient, real: Daemon, project: Path, anthropic: FakeAnthropic
) -> None:
    sid = await start(client, project, harness="claude", prompt="first")
    await until(client, sid, {"session.waiting"})
    await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "second"})
    seen = await until(client, sid, {"session.waiting"}, count=2)
    said = [m["content"] for m in of(seen, "message.appended")]
    assert said == ["echo: first", "echo: second"]
    assert [s["sequence"] for s in of(seen, "turn.started")] == [0, 1]
    assert len(anthropic.requests) == 2
    # the second request carries the whole conversation, the same process answered
    assert last_user_text(anthropic.requests[1]) == "second"
    assert "echo: first" in json.dumps(anthropic.requests[1]["messages"])
    await client.post(f"/api/v1/sessions/{sid}/kill")

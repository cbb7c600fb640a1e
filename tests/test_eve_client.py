"""Real-client conformance: the published eve@0.18.2 client (the seed's generation,
pinned in tests/eveseed with the undici that gives it a Unix-socket agent) drives the
daemon: ``tests/eveseed/conformance.mjs`` prints what the client saw, asserted here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

import coven_trio
from coven_trio.daemon import Daemon

from .conftest import FAST

SCRIPT = Path(__file__).parent / "eveseed" / "conformance.mjs"

pytestmark = [pytest.mark.usefixtures("fakes_on_path"), pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def eve_modules(npm_pins: Callable[[str], Path]) -> Path:
    return npm_pins("eveseed")


async def test_published_eve_client_conformance(
    daemon: Daemon, eve_modules: Path, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_short / "proj"
    project.mkdir()
    monkeypatch.chdir(project)
    env = {**os.environ, "COVEN_SOCKET": str(daemon.socket_path)}
    with trio.fail_after(120):  # its imports resolve from tests/eveseed/node_modules
        result = await trio.run_process(
            ["node", str(SCRIPT)], env=env, capture_stdout=True, capture_stderr=True, check=False
        )
    assert result.returncode == 0, result.stderr.decode()
    out = json.loads(result.stdout)
    assert out["health"]["ok"] is True and out["health"]["status"] == "ready"
    assert out["info"]["agent"]["name"] == "assistant"
    # the seed's document: its client process runs eve 0.18 (today's gets agent-info v5)
    assert isinstance(out["info"]["agent"]["model"], str)
    assert isinstance(out["info"]["tools"], list) and out["info"]["connections"] == []
    assert out["firstSessionId"].startswith("ses_")
    assert out["first"]["status"] == "waiting"
    assert out["first"]["types"][0] == "session.started"
    assert out["first"]["types"][-1] == "session.waiting"
    # result().message reads eve's message.completed, which the spec's vocabulary does not
    # have (it journals message.appended {id, role, content}); docs/eve.md says so.
    assert out["first"]["message"] is None
    assert out["streamIndexAfterFirst"] == len(out["first"]["types"])
    assert out["secondToken"] != out["firstToken"]  # rotated, and the client adopted it
    assert out["stateToken"] == out["secondToken"]
    assert out["second"]["status"] == "waiting"
    assert out["second"]["types"][0] == "turn.started"
    assert out["second"]["data"] == {"answer": "give me JSON"}
    assert out["streamIndexAfterSecond"] == len(out["first"]["types"]) + len(out["second"]["types"])
    assert out["replayIdentical"] is True
    assert out["staleStatus"] == 409
    assert out["unknownStatus"] == 404
    assert out["endedStatus"] == 410


async def _node(script: str, socket: Path, *args: str, **env: str) -> dict[str, Any]:
    full = {**os.environ, "COVEN_SOCKET": str(socket), **env}
    with trio.fail_after(120):
        done = await trio.run_process(
            ["node", str(SCRIPT.parent / script), *args],
            env=full,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()
    out: dict[str, Any] = json.loads(done.stdout)
    return out


async def test_the_seed_client_across_a_daemon_restart(
    eve_modules: Path, home: Path, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_short)
    async with coven_trio.open_daemon(home=home, **FAST) as daemon:
        before = await _node("restart.mjs", daemon.socket_path, "before")
    assert before["status"] == "waiting"
    async with coven_trio.open_daemon(home=home, **FAST) as daemon:
        state = json.dumps(before["state"])
        after = await _node("restart.mjs", daemon.socket_path, "after", EVE_STATE=state)
        record = daemon.sessions.store
        assert after["after"] == 410  # the session ended with the daemon: the seed's answer
        stored = await record.get(before["state"]["sessionId"])
        assert stored is not None and stored.record["eve_stream_version"] == "16"

"""Today's published eve client (0.80.1, pinned in tests/eveclient with the Node 24 it
needs) drives the daemon's eve mount over the Unix socket, through every operation it
has: each scenario of ``tests/eveclient/drive.mjs`` runs against the fake claude.

The ``npm_pins`` fixture installs them (``npm ci``) once per run. Without node and npm these
tests are skipped with that reason, unless ``CI`` is set (then they fail).
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

HERE = Path(__file__).parent / "eveclient"
NODE = HERE / "node_modules" / ".bin" / "node"

pytestmark = [
    pytest.mark.usefixtures("fakes_on_path"),
    pytest.mark.slow,
    pytest.mark.timeout(180),
]


@pytest.fixture
def node(npm_pins: Callable[[str], Path]) -> Path:
    npm_pins("eveclient")
    return NODE


async def drive(
    daemon: Daemon, node: Path, scenario: str, tmp_short: Path, **env: str
) -> dict[str, Any]:
    project = tmp_short / "proj"
    project.mkdir(exist_ok=True)
    full = {**os.environ, "COVEN_SOCKET": str(daemon.socket_path), **env}
    with trio.fail_after(150):
        done = await trio.run_process(
            [str(node), str(HERE / "drive.mjs"), scenario],
            env=full,
            cwd=project,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def test_sessions_turns_replays_and_controls(
    daemon: Daemon, node: Path, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_short)
    out = await drive(daemon, node, "basics", tmp_short)
    assert out["health"] == {"ok": True, "status": "ready", "workflowId": "wf_compat"}
    assert out["info"] == {"kind": "eve-agent-info", "name": "assistant", "model": "claude"}
    assert out["first"]["status"] == "waiting"
    assert out["first"]["message"] == "Echo: hello"
    assert out["first"]["types"][-1] == "session.waiting"
    assert "message.appended" in out["first"]["types"]  # deltas, then
    assert "message.completed" in out["first"]["types"]  # the whole message
    assert out["second"]["message"] == "Echo: again"
    assert out["second"]["types"][0] == "turn.started"
    assert out["messages"] == [
        {"role": "user", "text": "hello"},
        {"role": "assistant", "text": "Echo: hello"},
        {"role": "user", "text": "again"},
        {"role": "assistant", "text": "Echo: again"},
    ]
    assert out["replayIdentical"] and out["replayIds"]
    assert out["bounded"]["count"] == out["bounded"]["total"] - 2
    assert out["snapshot"]["count"] == out["streamIndex"]
    assert len(out["resumed"]) == out["streamIndex"] - 3  # from its cursor to the tail
    assert out["resumed"][-1] == "session.waiting"
    assert out["fromTail"] == ["session.waiting"]
    assert out["clear"]["status"] == "accepted"
    assert "context.cleared" in out["third"]["types"] or out["third"]["message"]
    assert out["third"]["message"] == "Echo: after clear"
    assert out["compact"]["ok"] and out["compact"]["value"]["status"] == "accepted"
    assert out["fourth"]["message"] == "Echo: after compact"
    assert out["reset"]["status"] == "reset"
    for refused in (out["afterReset"], out["unknown"]):
        assert (refused["ok"], refused["status"], refused["code"]) == (
            False,
            409,
            "session_not_active",
        )
    assert out["prewarm"]["types"][0] == "turn.started"
    assert out["prewarm"]["message"] == "Echo: first words"


@pytest.mark.parametrize("mode", ["normal", "bad_json"])
async def test_output_schema(
    daemon: Daemon,
    node: Path,
    tmp_short: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", mode)
    out = await drive(daemon, node, "schema", tmp_short)
    if mode == "normal":
        assert out["result"]["data"] == {"answer": "give me JSON"}
        assert "result.completed" in out["result"]["types"]
    else:
        assert out["result"].get("data") is None  # undefined: no result
        assert "turn.failed" in out["result"]["types"]


@pytest.mark.parametrize(("answer", "status"), [("approve", "completed"), ("deny", "rejected")])
async def test_approval(
    daemon: Daemon,
    node: Path,
    tmp_short: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    status: str,
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "permission")
    out = await drive(daemon, node, "approval", tmp_short, EVE_ANSWER=answer)
    assert out["parked"] == {
        "status": "waiting",
        "kinds": ["tool-approval"],
        "options": ["approve", "deny"],
    }
    assert out["answered"]["results"] == [status]
    assert out["answered"]["open"] == 0  # input.resolved settled the request
    assert "input.resolved" in out["answered"]["types"]
    word = "(allowed)" if answer == "approve" else "(denied)"
    assert out["answered"]["message"].endswith(word)


async def test_streams_with_reconnects_off_get_todays_version(
    daemon: Daemon, node: Path, tmp_short: Path
) -> None:
    out = await drive(daemon, node, "noReconnect", tmp_short)
    assert out["first"] == {"status": "waiting", "message": "Echo: hello"}
    assert out["second"] == {"status": "waiting", "message": "Echo: again"}


async def test_clear_then_the_stream_reaches_session_waiting(
    daemon: Daemon, node: Path, tmp_short: Path
) -> None:
    out = await drive(daemon, node, "clearWait", tmp_short)
    assert out["clear"]["status"] == "accepted"
    assert out["afterClear"] == ["context.cleared", "session.waiting"]
    assert out["next"] == "Echo: fresh start"


async def test_todays_client_across_a_daemon_restart(
    home: Path, node: Path, tmp_short: Path
) -> None:
    async with coven_trio.open_daemon(home=home, **FAST) as daemon:
        before = await drive(daemon, node, "restartBefore", tmp_short)
    assert before["before"] == "Echo: before"
    async with coven_trio.open_daemon(home=home, **FAST) as daemon:
        after = await drive(
            daemon, node, "restartAfter", tmp_short, EVE_SESSION=before["sessionId"]
        )
        stored = await daemon.sessions.store.get(before["sessionId"])
    assert (after["after"]["status"], after["after"]["code"]) == (409, "session_not_active")
    assert after["replay"][0] == "session.started" and "message.completed" in after["replay"]
    assert stored is not None and stored.record["eve_stream_version"] == "26"


async def test_send_during_a_turn_and_cancel(
    daemon: Daemon, node: Path, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "slow")
    monkeypatch.setenv("FAKE_DELAY", "0.05")
    out = await drive(daemon, node, "busy", tmp_short)
    assert out["queuedAccepted"]
    assert out["first"] == "Echo: a long answer"
    assert out["second"] == {"message": "Echo: queued behind it", "status": "waiting"}
    assert out["cancel"]["status"] == "accepted"
    assert "turn.cancelled" in out["cancelled"]
    assert out["cancelled"][-1] == "session.waiting"
    assert out["noTurn"] == {"status": "no_active_turn"}
    assert out["after"] == "Echo: still here?"

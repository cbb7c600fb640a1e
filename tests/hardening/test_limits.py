"""Bounded resources: session and connection limits answered clearly, the journal cap."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from coven_trio.daemon import Daemon

from ..rawhttp import connect, exchange, get
from ..sessions_util import launch, payload, wait_for_kind


@pytest.mark.parametrize("daemon_options", [{"max_sessions": 2}])
async def test_max_sessions_is_503_with_retry_after(
    client: httpx.AsyncClient, tmp_short: Path
) -> None:
    for _ in range(2):
        await launch(client, tmp_short, harness="command", command=["sleep", "300"])
    refused = await client.post(
        "/api/v1/sessions",
        json={"projectRoot": str(tmp_short), "harness": "command", "command": ["true"]},
    )
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "capacity_exhausted"
    assert refused.headers["retry-after"] == "1"
    assert len((await client.get("/api/v1/sessions")).json()) == 2
    await client.post("/api/v1/actions", json={"action": "coven.sessions.killAll"})


@pytest.mark.parametrize("daemon_options", [{"max_connections": 5}])
async def test_max_connections_is_503_with_retry_after(daemon: Daemon) -> None:
    held = [await connect(daemon.socket_path) for _ in range(5)]
    with trio.fail_after(30):
        while daemon.connections < 5:
            await trio.sleep(0.01)
    refused = await exchange(daemon.socket_path, get("/api/v1/health"))
    assert refused.status == 503
    assert refused.json()["error"]["code"] == "capacity_exhausted"
    assert refused.headers["retry-after"] == "1"
    for stream in held:
        await stream.aclose()
    with trio.fail_after(30):
        while daemon.connections:
            await trio.sleep(0.01)
    assert (await exchange(daemon.socket_path, get("/api/v1/health"))).status == 200


@pytest.mark.parametrize("daemon_options", [{"journal_max_bytes": 16_384}])
async def test_journal_cap_drops_output_and_says_so(
    client: httpx.AsyncClient, daemon: Daemon, tmp_short: Path
) -> None:
    script = "i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; exit 3"
    sid = (await launch(client, tmp_short, harness="command", command=["sh", "-c", script]))["id"]
    seen = await wait_for_kind(client, sid, "session.failed")
    kinds = [r["kind"] for r in seen]
    truncated = [payload(r) for r in seen if r["kind"] == "output_truncated"]
    assert len(truncated) == 1 and truncated[0]["droppedBytes"] > 0
    assert kinds[-3:] == ["output_truncated", "exit", "turn.failed"] or kinds[-2:] == [
        "turn.failed",
        "session.failed",
    ]
    assert "exit" in kinds and kinds[-1] == "session.failed"  # control entries land
    assert payload(next(r for r in seen if r["kind"] == "exit"))["exitCode"] == 3
    assert daemon.journal(sid).nbytes < 16_384 + 4096
    # what was kept is the start of the output, without gaps (one read may get it all)
    text = "".join(payload(r)["data"] for r in seen if r["kind"] == "output")
    everything = "".join(f"line {n}\n" for n in range(2000))
    assert everything.startswith(text) and len(text) < len(everything)


@pytest.mark.parametrize("daemon_options", [{"max_retained_sessions": 2, "store": "memory"}])
async def test_without_a_store_only_the_newest_ended_sessions_are_kept(
    client: httpx.AsyncClient, tmp_short: Path
) -> None:
    ids = []
    for _ in range(4):
        sid = (await launch(client, tmp_short, harness="command", command=["true"]))["id"]
        await wait_for_kind(client, sid, "session.completed")
        ids.append(sid)
    live = (await launch(client, tmp_short, harness="command", command=["sleep", "300"]))["id"]
    listed = [r["id"] for r in (await client.get("/api/v1/sessions")).json()]
    assert listed == [live, ids[3], ids[2]]  # live ones are never forgotten
    assert (await client.get(f"/api/v1/sessions/{ids[0]}")).status_code == 404
    await client.post(f"/api/v1/sessions/{live}/kill")

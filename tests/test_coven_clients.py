"""Coven's own clients' main flows, driven as they drive them (with the fake CLIs):
the OpenClaw runtime (no launchMode, poll, render ``output``, stop at a terminal status)
and the chat TUI (``nonInteractive`` with a conversation, read pages until ``exit``);
and the Coven routes beyond the seed they and Coven's CLI call."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from coven_trio.daemon import Daemon

#: The statuses the OpenClaw runtime knows (anything else aborts its turn).
OPENCLAW_STATUSES = {"created", "running", "idle", "completed", "failed", "killed", "orphaned"}
TERMINAL = {"completed", "failed", "killed", "orphaned"}


@pytest.fixture
def project(tmp_short: Path, fakes_on_path: Path) -> Path:
    root = tmp_short / "proj"
    root.mkdir()
    return root


async def openclaw_turn(client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[str, dict]:
    """What packages/openclaw-coven/src/runtime.ts does for one turn: launch, then poll
    events after the last id seen and the session, until its status is terminal."""
    response = await client.post("/api/v1/sessions", json=body)
    assert response.status_code == 201, response.text
    sid = response.json()["id"]
    text, last = "", None
    with trio.fail_after(20):
        while True:
            params = {"sessionId": sid, **({"afterEventId": last} if last else {})}
            page = (await client.get("/api/v1/events", params=params)).json()
            for event in page["events"]:
                last = event["id"]
                if event["kind"] == "output":
                    text += json.loads(event["payload_json"])["data"]
            session = (await client.get(f"/api/v1/sessions/{sid}")).json()
            assert session["status"] in OPENCLAW_STATUSES
            if session["status"] in TERMINAL:
                return text, session
            await trio.sleep(0.05)


@pytest.mark.parametrize("harness", ["claude", "codex"])
async def test_openclaw_runtime_turn_runs_to_completion(
    client: httpx.AsyncClient, project: Path, harness: str
) -> None:
    body = {
        "projectRoot": str(project),
        "cwd": str(project),
        "harness": harness,
        "prompt": "fix the tests",
        "title": "fix the tests",
    }
    text, session = await openclaw_turn(client, body)
    assert session["status"] == "completed" and session["exit_code"] == 0
    assert session["launch_mode"] == "nonInteractive"
    assert "Echo: fix the tests" in text  # the answer, as terminal text
    kinds = [
        e["kind"]
        for e in (await client.get(f"/api/v1/events?sessionId={session['id']}")).json()["events"]
    ]
    assert kinds[-1] == "session.completed" and "exit" in kinds


async def test_openclaw_sees_tool_activity_as_text(
    client: httpx.AsyncClient, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "tool")
    body = {"projectRoot": str(project), "harness": "claude", "prompt": "look around"}
    text, _ = await openclaw_turn(client, body)
    assert "→ Bash ls\n" in text
    assert text.endswith("Echo: look around\n")


async def test_chat_tui_turns_continue_one_conversation(
    client: httpx.AsyncClient, project: Path, monkeypatch: pytest.MonkeyPatch, tmp_short: Path
) -> None:
    """crates/coven-cli/src/tui/chat/client.rs: nonInteractive, conversation init then
    resume (with conversationId), pages of events read until ``exit``."""
    monkeypatch.setenv("FAKE_STATE_DIR", str(tmp_short / "conversations"))
    conversation = str(uuid.uuid4())
    said = []
    for n, mode in enumerate(("init", "resume")):
        body = {
            "projectRoot": str(project),
            "cwd": str(project),
            "harness": "claude",
            "launchMode": "nonInteractive",
            "prompt": f"message {n}",
            "title": f"message {n}",
            "conversation": {"mode": mode, "id": conversation},
            "conversationId": conversation,
        }
        response = await client.post("/api/v1/sessions", json=body)
        assert response.status_code == 201, response.text
        record = response.json()
        assert record["conversation_id"] == conversation
        text, after = "", 0
        with trio.fail_after(20):
            while "exit" not in text:
                page = (
                    await client.get(
                        "/api/v1/events",
                        params={"sessionId": record["id"], "afterSeq": after, "limit": 50},
                    )
                ).json()
                for event in page["events"]:
                    if event["kind"] == "output":
                        said.append(json.loads(event["payload_json"])["data"])
                    if event["kind"] == "exit":
                        text += "exit"
                if page["nextCursor"]:
                    after = page["nextCursor"]["afterSeq"]
                await trio.sleep(0.02)
    assert said[0] == "Echo: message 0\n"
    assert said[-1] == "Echo: message 1 (remembering 1 earlier messages)\n"


async def test_conversation_id_alone_starts_that_conversation(
    client: httpx.AsyncClient, project: Path
) -> None:
    conversation = str(uuid.uuid4())
    body = {"projectRoot": str(project), "harness": "claude", "prompt": "hi"}
    record = (
        await client.post("/api/v1/sessions", json={**body, "conversationId": conversation})
    ).json()
    assert record["conversation_id"] == conversation
    clash = await client.post(
        "/api/v1/sessions",
        json={
            **body,
            "conversationId": conversation,
            "conversation": {"mode": "init", "id": str(uuid.uuid4())},
        },
    )
    assert clash.status_code == 400
    not_uuid = await client.post("/api/v1/sessions", json={**body, "conversationId": "abc-123"})
    assert "UUID" in not_uuid.json()["error"]["message"]
    familiar = await client.post("/api/v1/sessions", json={**body, "familiarId": "astra"})
    assert familiar.json()["error"] == {
        "code": "unknown_familiar",
        "message": "unknown familiar `astra`; coven-trio has no familiars",
        "details": {"familiarId": "astra"},
    }


async def test_no_mode_without_prompt_is_an_interactive_terminal(
    client: httpx.AsyncClient, project: Path
) -> None:
    response = await client.post(
        "/api/v1/sessions", json={"projectRoot": str(project), "harness": "claude"}
    )
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["launch_mode"] == "interactive" and record["status"] == "running"
    await client.post(f"/api/v1/sessions/{record['id']}/kill")
    with trio.fail_after(30):
        while (await client.get(f"/api/v1/sessions/{record['id']}")).json()["status"] != "killed":
            await trio.sleep(0.05)
    assert (await client.get(f"/api/v1/sessions/{record['id']}")).json()["exit_code"] is None


async def test_external_sessions_are_listed_and_completed(
    client: httpx.AsyncClient, project: Path
) -> None:
    body = {"id": "editor-7", "projectRoot": str(project), "harness": "claude", "labels": ["ide"]}
    created = await client.post("/sessions/external", json=body)
    assert created.status_code == 201
    record = created.json()
    assert (record["external"], record["status"], record["title"]) == (
        True,
        "running",
        "External session",
    )
    again = await client.post("/api/v1/sessions/external", json=body)
    assert again.status_code == 200 and again.json()["created_at"] == record["created_at"]
    assert [r["id"] for r in (await client.get("/api/v1/sessions")).json()] == ["editor-7"]
    assert (await client.get("/api/v1/events?sessionId=editor-7")).json()["events"] == []
    done = await client.post("/api/v1/sessions/editor-7/complete", json={"exitCode": 2})
    assert (done.json()["status"], done.json()["exit_code"]) == ("failed", 2)
    bad = await client.post("/api/v1/sessions/external", json={**body, "id": "a/b"})
    assert bad.status_code == 400


async def test_complete_is_for_external_sessions_only(
    client: httpx.AsyncClient, project: Path
) -> None:
    sid = (
        await client.post(
            "/api/v1/sessions",
            json={"projectRoot": str(project), "harness": "command", "command": ["true"]},
        )
    ).json()["id"]
    refused = await client.post(f"/api/v1/sessions/{sid}/complete", json={})
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "not_external_session")
    clash = await client.post(
        "/api/v1/sessions/external",
        json={"id": sid, "projectRoot": str(project), "harness": "claude"},
    )
    assert (clash.status_code, clash.json()["error"]["code"]) == (409, "session_id_conflict")


async def test_session_log_is_coven_shaped(client: httpx.AsyncClient, project: Path) -> None:
    sid = (
        await client.post(
            "/api/v1/sessions",
            json={
                "projectRoot": str(project),
                "harness": "command",
                "command": ["sh", "-c", "echo hello; echo boom >&2; exit 1"],
            },
        )
    ).json()["id"]
    with trio.fail_after(30):
        while (await client.get(f"/sessions/{sid}")).json()["status"] == "running":
            await trio.sleep(0.05)
    log = (await client.get(f"/api/v1/sessions/{sid}/log")).json()
    assert {"info", "error"} <= {line["level"] for line in log}
    assert any(line["message"] == "hello\n" for line in log)
    assert all(set(line) == {"ts", "level", "message"} for line in log)
    missing = await client.get("/api/v1/sessions/nope/log")
    assert missing.json()["error"]["code"] == "session_not_found"


async def test_harness_capabilities(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_short: Path
) -> None:
    (tmp_short / "codex-home").mkdir()
    (tmp_short / "codex-home" / "AGENTS.md").write_text("be kind\n")
    monkeypatch.setenv("CODEX_HOME", str(tmp_short / "codex-home"))
    every = (await client.get("/capabilities/harnesses")).json()
    assert {c["harness_id"] for c in every["harness_capabilities"]} >= {"claude", "codex"}
    codex = (await client.get("/api/v1/capabilities/codex")).json()
    assert codex["global_instructions"] == {
        "present": True,
        "path": str(tmp_short / "codex-home" / "AGENTS.md"),
        "byte_count": 8,
    }
    unknown = await client.get("/api/v1/capabilities/nope")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "harness_not_found")


async def test_lifecycle_shutdown_stops_only_the_daemon_it_names(
    client: httpx.AsyncClient, daemon: Daemon
) -> None:
    me = (await client.get("/health")).json()["daemon"]
    named = {"pid": me["pid"], "startedAt": me["startedAt"], "socket": me["socket"]}
    stranger = {"apiVersion": "coven.daemon.v1", "daemon": {**named, "pid": 1}}
    refused = await client.post("/api/v1/internal/lifecycle/shutdown", json=stranger)
    assert (refused.status_code, refused.json()["error"]["code"]) == (
        409,
        "daemon_identity_mismatch",
    )
    body = {"apiVersion": "coven.daemon.v1", "daemon": named}
    accepted = await client.post("/api/v1/internal/lifecycle/shutdown", json=body)
    assert accepted.status_code == 202 and accepted.json()["daemon"] == named
    with trio.fail_after(30):
        await daemon.stopped.wait()


async def test_input_to_a_one_shot_run_is_accepted_and_journaled_as_not_run(
    client: httpx.AsyncClient, project: Path, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 202 is a promise: input to a run that already took its only prompt is journaled
    (as Coven journals what it writes to the closed stdin), saying it was not run."""
    gate = tmp_short / "gate"
    monkeypatch.setenv("FAKE_HARNESS_MODE", "gate")  # the turn runs until the gate opens
    monkeypatch.setenv("FAKE_GATE", str(gate))
    body = {"projectRoot": str(project), "harness": "claude", "prompt": "a long task"}
    launched = await client.post("/api/v1/sessions", json={**body, "launchMode": "nonInteractive"})
    sid = launched.json()["id"]
    for text in ("also this", "and this"):
        answer = await client.post(f"/api/v1/sessions/{sid}/input", json={"data": text})
        assert (answer.status_code, answer.json()) == (202, {"ok": True, "accepted": True})
    gate.touch()
    with trio.fail_after(30):
        while (await client.get(f"/api/v1/sessions/{sid}")).json()["status"] != "completed":
            await trio.sleep(0.05)
    events = (await client.get(f"/api/v1/events?sessionId={sid}")).json()["events"]
    kinds = [e["kind"] for e in events]
    inputs = [json.loads(e["payload_json"]) for e in events if e["kind"] == "input"]
    assert [(i["data"], i["delivered"]) for i in inputs] == [
        ("also this", False),
        ("and this", False),
    ]
    assert "nonInteractive" in inputs[0]["reason"]
    assert kinds.count("turn.started") == 1 and kinds[-1] == "session.completed"


async def test_coven_benchmark_event_tails_flow(
    client: httpx.AsyncClient, project: Path, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenCoven's ``scripts/benchmark-cli.mjs`` (``measureEventTails``): a codex that
    reads its prompt and idles, 1,100 inputs one after another (each 202), the events
    read back in pages of 1,000, then kill."""
    bin_dir = tmp_short / "bin"
    bin_dir.mkdir()
    codex = bin_dir / "codex"
    codex.write_text("#!/bin/sh\ncat >/dev/null\nwhile :; do sleep 1; done\n")
    codex.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    launched = await client.post(
        "/api/v1/sessions",
        json={
            "projectRoot": str(project),
            "cwd": str(project),
            "harness": "codex",
            "launchMode": "nonInteractive",
            "prompt": "Benchmark fixture prompt",
            "title": "Benchmark harness fixture",
        },
    )
    assert launched.status_code == 201
    sid, count = launched.json()["id"], 1100
    for n in range(1, count + 1):
        body = {"data": f"Benchmark event {n:06d}\n"}
        answer = await client.post(f"/api/v1/sessions/{sid}/input", json=body)
        assert answer.status_code == 202, answer.text
    seen: list[dict[str, Any]] = []
    after: int | None = None
    while len(seen) < count:
        limit = min(count - len(seen), 1000)
        params = {"limit": str(limit), **({"afterSeq": str(after)} if after is not None else {})}
        page = (await client.get(f"/api/v1/sessions/{sid}/events", params=params)).json()
        assert len(page["events"]) == limit
        assert isinstance(page["nextCursor"]["afterSeq"], int)
        after = page["nextCursor"]["afterSeq"]
        seen += page["events"]
    inputs = [json.loads(e["payload_json"]) for e in seen if e["kind"] == "input"]
    assert inputs[0]["data"] == "Benchmark event 000001\n"
    assert (await client.post(f"/api/v1/sessions/{sid}/kill")).status_code == 202
    everything = (await client.get(f"/api/v1/sessions/{sid}/events")).json()["events"]
    journaled = [json.loads(e["payload_json"]) for e in everything if e["kind"] == "input"]
    assert [i["data"] for i in journaled] == [f"Benchmark event {n:06d}\n" for n in range(1, 1101)]

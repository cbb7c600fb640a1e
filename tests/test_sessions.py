"""Sessions end to end: the real daemon, the real socket, fake agent CLIs as real processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
import trio

import coven_trio
from coven_trio import LaunchRequest
from coven_trio.daemon import Daemon

from .conftest import FAST
from .sessions_util import (
    argv_log,
    events,
    follow_bytes,
    kinds,
    launch,
    live_pids_in_group,
    payload,
    pid_alive,
    wait_for_kind,
)

pytestmark = pytest.mark.usefixtures("fakes_on_path")


@pytest.fixture
def project(tmp_short: Path) -> Path:
    root = tmp_short / "proj"
    (root / "src").mkdir(parents=True)
    return root


async def test_launch_claude_stream_and_replay_equals_live_tail(
    client: httpx.AsyncClient, project: Path, fakes_on_path: Path
) -> None:
    record = await launch(client, project, harness="claude", prompt="hello there")
    assert record["status"] == "running"
    assert record["launch_mode"] == "stream"
    assert record["project_root"] == str(project)
    assert record["id"].startswith("ses_") and len(record["id"]) == 30
    sid = record["id"]
    live = b""
    async with trio.open_nursery() as nursery:

        async def tail() -> None:
            nonlocal live
            live = await follow_bytes(client, sid)

        nursery.start_soon(tail)
        await wait_for_kind(client, sid, "session.waiting")
        assert (await client.get(f"/api/v1/sessions/{sid}")).json()["status"] == "idle"
        assert (await client.post(f"/api/v1/sessions/{sid}/kill")).status_code == 202
    replay = await follow_bytes(client, sid, after=0)
    assert replay == live
    lines = [json.loads(line) for line in live.splitlines()]
    page = await events(client, sid)
    assert page["events"] == lines
    assert page["hasMore"] is False
    assert page["nextCursor"] == {"afterSeq": len(lines)}
    assert [r["seq"] for r in lines] == list(range(1, len(lines) + 1))
    assert [r["id"] for r in lines] == [f"{sid}:{i}" for i in range(len(lines))]
    assert kinds(lines)[:3] == ["session.started", "turn.started", "message.received"]
    assert payload(lines[0]) == {
        "sessionId": sid,
        "harness": "claude",
        "projectRoot": str(project),
        "cwd": str(project),
    }
    text = "".join(payload(r)["text"] for r in lines if r["kind"] == "agent.content.delta")
    assert text == "Echo: hello there"
    appended = [payload(r) for r in lines if r["kind"] == "message.appended"]
    assert appended[0]["content"] == "Echo: hello there"
    assert appended[0]["turnId"] == "turn_0"
    waiting = payload(next(r for r in lines if r["kind"] == "session.waiting"))
    assert waiting["wait"] == "next-user-message"
    assert waiting["continuationToken"].startswith("tok_")
    # kill precedes exit; the journal ends with exactly one terminal entry
    order = kinds(lines)
    assert order.index("kill") < order.index("exit")
    assert order[-1] == "session.failed"
    assert payload(lines[-1])["code"] == "killed"
    # the recorded argv is the real one
    argv = argv_log(fakes_on_path)[0]["argv"]
    # the daemon named the conversation, so resuming it never depends on the output;
    # ``--print`` goes last (claude starts sooner that way)
    assert argv == [
        "--permission-prompt-tool",  # questions to a person attached, else denied
        "stdio",
        "--session-id",
        record["conversation_id"],
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
        "--include-partial-messages",
        "--print",
    ]


async def test_a_launch_answers_the_record_as_launched_however_fast_the_process_ends(
    client: httpx.AsyncClient, project: Path
) -> None:
    """The 201 waits for the store to commit the launch; a process may end meanwhile.
    The answer is the record as launched (Coven's is, too): running, then the events."""
    records: list[dict[str, object]] = []

    async def one() -> None:
        records.append(await launch(client, project, harness="command", command=["true"]))

    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(one)
    assert [r["status"] for r in records] == ["running"] * 10
    for record in records:
        await wait_for_kind(client, str(record["id"]), "session.completed")
        answer = await client.get(f"/api/v1/sessions/{record['id']}")
        assert answer.json()["status"] == "completed"


async def test_input_to_claude_stream_starts_a_new_turn(
    client: httpx.AsyncClient, project: Path, fakes_on_path: Path
) -> None:
    sid = (await launch(client, project, harness="claude", prompt="one"))["id"]
    await wait_for_kind(client, sid, "session.waiting")
    response = await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "two"})
    assert response.status_code == 202
    assert response.json() == {"ok": True, "accepted": True}
    seen = await wait_for_kind(client, sid, "session.waiting", count=2)
    started = [payload(r) for r in seen if r["kind"] == "turn.started"]
    assert [s["sequence"] for s in started] == [0, 1]
    received = [payload(r)["message"] for r in seen if r["kind"] == "message.received"]
    assert received == ["one", "two"]
    assert "input" in kinds(seen)
    second = [payload(r) for r in seen if r["kind"] == "message.appended"][-1]
    assert second == {
        "id": second["id"],
        "role": "assistant",
        "content": "Echo: two",
        "turnId": "turn_1",
    }
    assert len(argv_log(fakes_on_path)) == 1  # the same process took the follow-up
    record = (await client.get(f"/api/v1/sessions/{sid}")).json()
    assert record["turns"] == 2
    assert record["conversation_id"] is not None


@pytest.mark.parametrize("harness", ["claude", "codex"])
async def test_input_mid_turn_is_accepted_and_becomes_the_next_turn(
    client: httpx.AsyncClient, project: Path, monkeypatch: pytest.MonkeyPatch, harness: str
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "slow")
    sid = (await launch(client, project, harness=harness, prompt="a long answer"))["id"]
    await wait_for_kind(client, sid, "turn.started")
    for text in ("more", "and more"):  # as Coven does: 202, queued behind the turn
        response = await client.post(f"/api/v1/sessions/{sid}/input", json={"data": text})
        assert response.status_code == 202, response.text
    seen = await wait_for_kind(client, sid, "session.waiting", count=3, timeout=30)
    said = [payload(r)["content"] for r in seen if r["kind"] == "message.appended"]
    assert said == ["Echo: a long answer", "Echo: more", "Echo: and more"]
    started = [payload(r)["sequence"] for r in seen if r["kind"] == "turn.started"]
    assert started == [0, 1, 2]
    # each queued input is journaled where its turn begins
    order = kinds(seen)
    assert order.count("input") == 2
    assert order[order.index("input") + 1] == "turn.started"
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_a_full_input_queue_is_409_turn_active(
    client: httpx.AsyncClient, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "gate")  # the turn runs until the kill
    monkeypatch.setenv("FAKE_GATE", str(project / "never"))
    sid = (await launch(client, project, harness="codex", prompt="a long answer"))["id"]
    await wait_for_kind(client, sid, "turn.started")
    codes = [
        (await client.post(f"/api/v1/sessions/{sid}/input", json={"data": f"q{n}"})).status_code
        for n in range(17)
    ]
    assert codes == [202] * 16 + [409]
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_codex_follow_up_resumes_the_thread(
    client: httpx.AsyncClient, project: Path, fakes_on_path: Path
) -> None:
    record = await launch(client, project, harness="codex", prompt="list files")
    assert record["launch_mode"] == "nonInteractive"
    sid = record["id"]
    seen = await wait_for_kind(client, sid, "session.waiting")
    thread = next(payload(r)["native"] for r in seen if r["kind"] == "harness.event")
    thread_id = thread["thread_id"]
    assert "exit" in kinds(seen)
    session = (await client.get(f"/api/v1/sessions/{sid}")).json()
    assert session["status"] == "idle"
    assert session["conversation_id"] == thread_id
    assert session["pid"] is None
    response = await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "and again"})
    assert response.status_code == 202
    seen = await wait_for_kind(client, sid, "session.waiting", count=2)
    calls = argv_log(fakes_on_path)
    policy = ["--sandbox", "workspace-write", "--ask-for-approval", "never"]
    assert calls[0]["argv"] == [
        *policy,
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--color",
        "never",
        "--",
        "-",
    ]
    assert calls[1]["argv"] == [
        *policy,
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--color",
        "never",
        "resume",
        thread_id,
        "--",
        "-",
    ]
    texts = [payload(r)["content"] for r in seen if r["kind"] == "message.appended"]
    assert texts == ["Echo: list files", "Echo: and again"]
    order = kinds(seen)
    assert "actions.requested" in order and "action.result" in order
    result = next(payload(r) for r in seen if r["kind"] == "action.result")
    assert result["status"] == "completed"
    assert result["result"]["output"] == "README.md\n"


async def test_kill_reaps_the_whole_group_including_grandchild(
    client: httpx.AsyncClient,
    project: Path,
    tmp_short: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid_file = tmp_short / "grandchild.pid"
    monkeypatch.setenv("FAKE_HARNESS_MODE", "grandchild")
    monkeypatch.setenv("FAKE_GRANDCHILD_PID", str(pid_file))
    record = await launch(client, project, harness="claude", prompt="spawn")
    sid, pid = record["id"], record["pid"]
    await wait_for_kind(client, sid, "session.waiting")
    grandchild = int(pid_file.read_text())
    assert pid_alive(grandchild)
    assert pid in live_pids_in_group(pid)
    response = await client.post(f"/api/v1/sessions/{sid}/kill")
    assert response.status_code == 202
    assert response.json() == {"ok": True, "accepted": True}
    assert (await client.get(f"/api/v1/sessions/{sid}")).json()["status"] == "killed"
    seen = await wait_for_kind(client, sid, "session.failed")
    order = kinds(seen)
    assert order.index("kill") < order.index("exit") < order.index("session.failed")
    assert live_pids_in_group(pid) == []
    assert not pid_alive(grandchild)
    again = await client.post(f"/api/v1/sessions/{sid}/kill")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "session_not_live"
    response = await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "x"})
    assert response.status_code == 409


async def test_harness_ignoring_sigterm_is_sigkilled_within_the_grace(
    client: httpx.AsyncClient, project: Path, daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "ignore_sigterm")
    record = await launch(client, project, harness="claude", prompt="stubborn")
    sid = record["id"]
    await wait_for_kind(client, sid, "session.waiting")
    await client.post(f"/api/v1/sessions/{sid}/kill")
    seen = await wait_for_kind(client, sid, "exit", timeout=60)
    exit_data = payload(seen[-1])
    # the escalation ran to its end: SIGTERM was ignored, SIGKILL was not
    assert exit_data == {"exitCode": None, "signal": "SIGKILL", "status": "failed"}
    assert live_pids_in_group(record["pid"]) == []


async def test_crash_mid_turn_fails_the_session_with_exit_code(
    client: httpx.AsyncClient, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "crash")
    sid = (await launch(client, project, harness="claude", prompt="crash please"))["id"]
    seen = await wait_for_kind(client, sid, "session.failed")
    order = kinds(seen)
    assert order[-3:] == ["exit", "turn.failed", "session.failed"]
    assert payload(seen[-3]) == {"exitCode": 3, "status": "failed"}
    assert payload(seen[-1])["exitCode"] == 3
    assert payload(seen[-1])["code"] == "harness_exited"
    stderr = [payload(r)["text"] for r in seen if r["kind"] == "stderr"]
    assert stderr == ["fatal: the fake crashed mid-turn"]
    record = (await client.get(f"/api/v1/sessions/{sid}")).json()
    assert (record["status"], record["exit_code"]) == ("failed", 3)


async def test_a_20_mib_line_is_truncated_not_fatal(
    client: httpx.AsyncClient, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "huge_line")
    sid = (await launch(client, project, harness="claude", prompt="big"))["id"]
    seen = await wait_for_kind(client, sid, "session.waiting")
    truncated = [payload(r) for r in seen if r["kind"] == "output_truncated"]
    assert len(truncated) == 1
    assert truncated[0]["droppedBytes"] > 20 * 1024 * 1024
    assert "Echo: big" in [payload(r).get("content") for r in seen]
    assert (await client.get("/api/v1/health")).status_code == 200
    await client.post(f"/api/v1/sessions/{sid}/kill")


@pytest.mark.parametrize("escape", ["..", "src/../..", "link"])
async def test_cwd_outside_root_is_refused(
    client: httpx.AsyncClient, project: Path, tmp_short: Path, escape: str
) -> None:
    (project / "link").symlink_to(tmp_short)
    response = await client.post(
        "/api/v1/sessions",
        json={"projectRoot": str(project), "cwd": escape, "harness": "claude", "prompt": "x"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "session.cwd_outside_root"
    assert error["details"] == {"projectRoot": str(project), "cwd": str(tmp_short)}
    assert (await client.get("/api/v1/sessions")).json() == []
    inside = await client.post(
        "/api/v1/sessions",
        json={"projectRoot": str(project), "cwd": "src", "harness": "command", "command": ["true"]},
    )
    assert inside.status_code == 201
    assert inside.json()["cwd"] == str(project / "src")


async def test_launch_validation_errors(client: httpx.AsyncClient, project: Path) -> None:
    async def post(body: object) -> httpx.Response:
        return await client.post("/api/v1/sessions", json=body)

    bad = await client.post("/api/v1/sessions", content=b"{oops")
    assert bad.status_code == 400
    assert bad.json()["error"] == {
        "code": "invalid_request",
        "message": "failed to parse request body",
    }
    missing_root = await post({"harness": "claude", "prompt": "x"})
    assert missing_root.json()["error"]["code"] == "invalid_request"
    no_root = await post({"projectRoot": "/no/such/dir", "harness": "claude", "prompt": "x"})
    assert no_root.json()["error"]["message"] == "failed to resolve projectRoot"
    unknown = await post({"projectRoot": str(project), "harness": "gpt9", "prompt": "x"})
    assert unknown.status_code == 400
    error = unknown.json()["error"]
    assert error["code"] == "harness.unsupported"
    assert error["details"]["harness"] == "gpt9"
    assert {"claude", "codex", "command"} <= set(error["details"]["configured"])
    mode = await post(
        {"projectRoot": str(project), "harness": "claude", "prompt": "x", "launchMode": "x"}
    )
    assert mode.json()["error"]["code"] == "invalid_request"
    codex_stream = await post(
        {"projectRoot": str(project), "harness": "codex", "prompt": "x", "launchMode": "stream"}
    )
    assert "does not support stream" in codex_stream.json()["error"]["message"]
    blank = {"projectRoot": str(project), "harness": "claude", "prompt": "  "}
    no_prompt = await post({**blank, "launchMode": "stream"})
    assert no_prompt.json()["error"]["code"] == "invalid_request"
    wrong_type = await post({"projectRoot": str(project), "harness": 5, "prompt": "x"})
    assert wrong_type.status_code == 400
    assert wrong_type.json()["error"]["details"]["errors"]
    model = await post(
        {"projectRoot": str(project), "harness": "claude", "prompt": "x", "model": "x/a..b"}
    )
    assert model.status_code == 400
    assert (await client.get("/api/v1/sessions")).json() == []


async def test_harness_not_on_path_is_harness_not_found(
    client: httpx.AsyncClient, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    response = await client.post(
        "/api/v1/sessions",
        json={"projectRoot": str(project), "harness": "codex", "prompt": "x"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "harness.not_found"
    assert (await client.get("/api/v1/sessions")).json() == []


async def test_unknown_session_is_404(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/v1/sessions/ses_nope"),
        ("POST", "/api/v1/sessions/ses_nope/input"),
        ("POST", "/api/v1/sessions/ses_nope/kill"),
        ("GET", "/api/v1/sessions/ses_nope/events"),
        ("GET", "/api/v1/events?sessionId=ses_nope"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 404, path
        assert response.json()["error"] == {
            "code": "session_not_found",
            "message": "Session was not found.",
            "details": {"sessionId": "ses_nope"},
        }
    missing = await client.get("/api/v1/events")
    assert missing.status_code == 400
    assert missing.json()["error"]["message"] == "sessionId query parameter is required."


async def test_command_harness_raw_output_input_and_exit(
    client: httpx.AsyncClient, project: Path
) -> None:
    script = 'read line; echo "got $line"; echo oops >&2; exit 4'
    record = await launch(client, project, harness="command", command=["sh", "-c", script])
    sid = record["id"]
    assert record["launch_mode"] == "nonInteractive"
    response = await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "ping\n"})
    assert response.status_code == 202
    seen = await wait_for_kind(client, sid, "session.failed")
    assert "".join(payload(r)["data"] for r in seen if r["kind"] == "output") == "got ping\n"
    assert [payload(r)["text"] for r in seen if r["kind"] == "stderr"] == ["oops"]
    assert payload(next(r for r in seen if r["kind"] == "input")) == {"data": "ping\n"}
    assert payload(next(r for r in seen if r["kind"] == "exit"))["exitCode"] == 4


async def test_interactive_pty_session(client: httpx.AsyncClient, project: Path) -> None:
    record = await launch(client, project, harness="claude", prompt="hi", launchMode="interactive")
    sid = record["id"]
    await wait_for_kind(client, sid, "output")
    await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "ping\r"})
    await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "exit\r"})
    seen = await wait_for_kind(client, sid, "session.completed")
    text = "".join(payload(r)["data"] for r in seen if r["kind"] == "output")
    assert "claude (fake)" in text and "you said: ping" in text
    assert payload(next(r for r in seen if r["kind"] == "exit"))["exitCode"] == 0


async def test_events_paging_limit_cursor_and_event_id(
    client: httpx.AsyncClient, project: Path
) -> None:
    sid = (await launch(client, project, harness="command", command=["sh", "-c", "seq 5"]))["id"]
    seen = await wait_for_kind(client, sid, "session.completed")
    total = len(seen)
    first = await events(client, sid, limit=2)
    assert [r["seq"] for r in first["events"]] == [1, 2]
    assert first["hasMore"] is True
    assert first["nextCursor"] == {"afterSeq": 2}
    rest = await events(client, sid, afterSeq=2, limit=5000)
    assert rest["events"][0]["seq"] == 3
    assert rest["hasMore"] is False
    assert len(rest["events"]) == total - 2
    empty = await events(client, sid, afterSeq=total)
    assert empty == {"events": [], "nextCursor": None, "hasMore": False}
    by_id = await events(client, sid, afterEventId=f"{sid}:0")
    assert by_id["events"][0]["seq"] == 2
    unknown_id = await events(client, sid, afterEventId="bogus")
    assert unknown_id["events"][0]["seq"] == 1
    alias = (await client.get(f"/api/v1/sessions/{sid}/events", params={"limit": 1})).json()
    assert alias["events"] == first["events"][:1]
    bad = await client.get("/api/v1/events", params={"sessionId": sid, "afterSeq": "x"})
    assert bad.json()["error"] == {
        "code": "invalid_request",
        "message": "afterSeq must be an integer.",
        "details": {"afterSeq": "x"},
    }


async def test_session_list_pagination(client: httpx.AsyncClient, project: Path) -> None:
    ids = []
    for _ in range(3):
        ids.append((await launch(client, project, harness="command", command=["true"]))["id"])
    listed = (await client.get("/api/v1/sessions")).json()
    assert [r["id"] for r in listed] == ids[::-1]
    page = (await client.get("/api/v1/sessions", params={"limit": 2})).json()
    assert [r["id"] for r in page["sessions"]] == ids[:0:-1]
    assert page["next_cursor"]
    rest = (
        await client.get("/api/v1/sessions", params={"limit": 2, "cursor": page["next_cursor"]})
    ).json()
    assert [r["id"] for r in rest["sessions"]] == ids[:1]
    assert rest["next_cursor"] is None
    bad = await client.get("/api/v1/sessions", params={"cursor": "!!"})
    assert bad.status_code == 400
    assert bad.json()["error"]["details"]["cursor"] == "!!"
    limit = await client.get("/api/v1/sessions", params={"limit": "0"})
    assert limit.json()["error"]["details"] == {"limit": "0"}


async def test_100_concurrent_readers_receive_every_entry_in_order(
    daemon: Daemon, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "slow")
    monkeypatch.setenv("FAKE_DELAY", "0.02")
    transport = httpx.AsyncHTTPTransport(
        uds=str(daemon.socket_path), limits=httpx.Limits(max_connections=200)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://c", timeout=60) as client:
        prompt = "a reasonably long prompt so the answer streams in many deltas"
        sid = (await launch(client, project, harness="claude", prompt=prompt))["id"]
        received: list[bytes] = []

        async def reader() -> None:
            received.append(await follow_bytes(client, sid))

        async with trio.open_nursery() as nursery:
            for _ in range(100):
                nursery.start_soon(reader)
            await wait_for_kind(client, sid, "session.waiting")
            await client.post(f"/api/v1/sessions/{sid}/kill")
        full = await follow_bytes(client, sid)
    assert len(received) == 100
    assert all(r == full for r in received)
    seqs = [json.loads(line)["seq"] for line in full.splitlines()]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) > 20


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_a_stopped_daemon_refuses_a_launch_as_a_stopping_one_does(
    home: Path, project: Path
) -> None:
    """Its session machinery loads with the first request for it, even one that comes
    after the daemon stopped: a 503 ``capacity_exhausted``, never a crash."""
    from coven_trio.errors import CapacityExhausted, SessionNotFound

    async with coven_trio.open_daemon(home=home, **FAST) as daemon:
        pass  # asked nothing: its sessions never loaded
    with pytest.raises(CapacityExhausted, match="shutting down"):
        await daemon.launch(
            LaunchRequest(project_root=str(project), harness="command", command=["true"])
        )
    with pytest.raises(SessionNotFound):
        daemon.journal("ses_nothing")


async def test_shutdown_stops_sessions_and_leaves_no_process(
    home: Path, project: Path, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import coven_trio

    monkeypatch.setenv("FAKE_HARNESS_MODE", "grandchild")
    monkeypatch.setenv("FAKE_GRANDCHILD_PID", str(tmp_short / "gc.pid"))
    async with coven_trio.open_daemon(
        home=home, stdin_grace=0.5, term_grace=0.5, linger_timeout=0.5
    ) as daemon:
        codex = await daemon.launch(
            LaunchRequest(project_root=str(project), harness="codex", prompt="x")
        )
        claude = await daemon.launch(
            LaunchRequest(project_root=str(project), harness="claude", prompt="y")
        )
        journal = daemon.journal(claude.id)
        await journal.wait_past(5)
        pids = [claude.pid]
        sessions = [daemon.sessions.get(claude.id), daemon.sessions.get(codex.id)]
        grandchildren = tmp_short / "gc.pid"
        with trio.fail_after(30):  # both harnesses started theirs
            while len(_lines(grandchildren)) < 2:
                await trio.sleep(0.02)
    assert not (home / "coven.sock").exists()
    for pid in pids:
        assert pid is not None and live_pids_in_group(pid) == []
    assert not any(pid_alive(int(pid)) for pid in _lines(grandchildren))
    assert sessions[0].status in ("completed", "failed")
    assert sessions[1].journal.closed
    assert os.path.exists(home)


async def test_a_graceful_shutdown_cancelled_at_once_still_ends_cleanly(
    home: Path, project: Path
) -> None:
    """An embedding program asks for a graceful stop and cancels straight away: the
    sessions' stops meet supervisors already being cancelled; ``serve`` still returns
    cleanly and no harness process is left."""
    import coven_trio

    async with trio.open_nursery() as nursery:
        daemon = await nursery.start(coven_trio.serve, coven_trio.Config(home=home, **FAST))
        record = await daemon.launch(
            LaunchRequest(project_root=str(project), harness="claude", prompt="hi")
        )
        await daemon.journal(record.id).wait_past(3)
        pid = daemon.sessions.get(record.id).pid
        daemon.shutdown()
        nursery.cancel_scope.cancel()
    assert pid is not None and live_pids_in_group(pid) == []
    assert not (home / "coven.sock").exists()


async def test_retention_forgets_the_oldest_ended_not_the_oldest_launched(
    home: Path, project: Path
) -> None:
    options = {"max_retained_sessions": 1, "store": "memory", **FAST}
    async with coven_trio.open_daemon(home=home, **options) as daemon:
        first = await daemon.launch(
            LaunchRequest(project_root=project, harness="command", command=["sleep", "30"])
        )
        second = await daemon.launch(
            LaunchRequest(project_root=project, harness="command", command=["true"])
        )
        await daemon.sessions.get(second.id).done.wait()
        await daemon.sessions.kill(first.id)  # launched first, ends last
        await daemon.sessions.get(first.id).done.wait()
        assert [s.id for s in daemon.sessions.ordered()] == [first.id]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ({"afterSeq": "9" * 5000}, "invalid_request"),
        ({"afterSeq": "\u0661\u0662"}, "invalid_request"),  # Arabic-Indic digits
        ({"afterSeq": "²"}, "invalid_request"),
        ({"limit": "0x10"}, "invalid_request"),
    ],
)
async def test_garbage_integers_are_400_not_500(
    client: httpx.AsyncClient, project: Path, raw: dict[str, str], code: str
) -> None:
    sid = (await launch(client, project, harness="command", command=["true"]))["id"]
    response = await client.get("/api/v1/events", params={"sessionId": sid, **raw})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    odd_id = await client.get(
        "/api/v1/events", params={"sessionId": sid, "afterEventId": sid + ":²"}
    )
    assert odd_id.status_code == 200  # an unknown event id reads from the start (Rust rule)
    assert odd_id.json()["events"][0]["seq"] == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"harness": "codex", "permissionMode": "ask"}, "permissionMode is claude's"),
        ({"harness": "claude", "permissionMode": "yolo"}, "permissionMode must be one of"),
        (
            {"harness": "claude", "permissionMode": "ask", "launchMode": "nonInteractive"},
            "needs launchMode `stream`",
        ),
        ({"harness": "claude", "sandbox": "read-only"}, "sandbox is codex's"),
        ({"harness": "codex", "sandbox": "everything"}, "sandbox must be one of"),
        ({"harness": "codex", "approval": "sometimes"}, "approval must be one of"),
    ],
)
async def test_launch_policies_are_checked_per_harness(
    client: httpx.AsyncClient, project: Path, fields: dict[str, str], message: str
) -> None:
    body = {"projectRoot": str(project), "prompt": "x", **fields}
    response = await client.post("/api/v1/sessions", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert (await client.get("/api/v1/sessions")).json() == []


async def test_bypass_permissions_as_root_is_a_clear_launch_error(
    client: httpx.AsyncClient, project: Path, fakes_on_path: Path
) -> None:
    body = {"projectRoot": str(project), "prompt": "x", "harness": "claude"}
    response = await client.post(
        "/api/v1/sessions", json={**body, "permissionMode": "bypassPermissions"}
    )
    if os.geteuid() == 0:  # claude itself would exit 1 with a line in its stderr
        assert response.status_code == 400
        assert "refuses bypassPermissions when run as root" in response.json()["error"]["message"]
    else:
        assert response.status_code == 201
        await client.post(f"/api/v1/sessions/{response.json()['id']}/kill")

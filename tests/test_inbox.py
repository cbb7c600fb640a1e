"""What waits for a person, through the daemon: the inbox across sessions and the answer
that releases each, a question with nobody to ask, a person who follows the session,
and the notifications (a follower's NDJSON, a command notifier, a webhook that hangs).

The fake claude asks before its Bash tool (``FAKE_HARNESS_MODE=permission``)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from coven_trio.daemon import Daemon

from .sessions_util import launch, wait_for_kind
from .test_notify import HANG, Receiver

pytestmark = [pytest.mark.usefixtures("fakes_on_path"), pytest.mark.timeout(60)]

#: A command notifier that appends ``<event> <session>`` to $NOTE_LOG (quiet while a
#: person follows the session, by default).
NOTE_SCRIPT = (
    "import os; open(os.environ['NOTE_LOG'], 'a')"
    ".write(os.environ['COVEN_EVENT'] + ' ' + os.environ['COVEN_SESSION'] + '\\n')"
)


@pytest.fixture
def note_log(tmp_short: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_short / "notes.log"
    monkeypatch.setenv("NOTE_LOG", str(log))
    return log


@pytest.fixture
async def notify_toml(request: pytest.FixtureRequest) -> str:
    """A command notifier; ``webhook`` (indirect parameter): a webhook to a receiver on
    127.0.0.1 that never answers (``request.node.receiver``)."""
    if getattr(request, "param", None) == "webhook":
        receiver = Receiver([HANG])
        request.node.receiver = receiver
        return f"[[notifier]]\ntype='webhook'\nname='hook'\nurl='{receiver.url}'\nsecret='s'\n"
    command = json.dumps([sys.executable, "-c", NOTE_SCRIPT])
    return f"[[notifier]]\ntype = 'command'\nname = 'log'\ncommand = {command}\n"


@pytest.fixture
async def home(tmp_short: Path, notify_toml: str, note_log: Path) -> Path:
    home = tmp_short / "home"
    home.mkdir(mode=0o700)
    (home / "notify.toml").write_text(notify_toml)
    os.chmod(home / "notify.toml", 0o600)
    return home


async def ask(client: httpx.AsyncClient, project: Path, **body: Any) -> str:
    """A claude session whose turn stops at a tool approval (the launch asks clients)."""
    record = await launch(
        client, project, harness="claude", prompt="list files", permissionMode="ask", **body
    )
    await wait_for_kind(client, record["id"], "input.requested")
    return str(record["id"])


async def respond(client: httpx.AsyncClient, sid: str, **body: Any) -> httpx.Response:
    return await client.post(f"/api/v1/sessions/{sid}/respond", json=body)


async def inbox(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/inbox")
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_the_inbox_lists_what_waits_oldest_first_and_each_answer_releases_its_session(
    client: httpx.AsyncClient, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "permission")
    first = await ask(client, project, title="first")
    second = await ask(client, project, title="second")
    items = await inbox(client)
    assert [(i["number"], i["sessionId"], i["title"]) for i in items] == [
        (1, first, "first"),
        (2, second, "second"),
    ]
    item = items[0]
    assert (item["kind"], item["tool"], item["detail"]) == ("tool-approval", "Bash", "ls")
    assert item["project"] == str(project) and item["harness"] == "claude"
    assert [o["id"] for o in item["options"]] == ["approve", "deny"]
    assert item["waitingSeconds"] >= 0 and item["since"].endswith("Z")
    assert item["attached"] is False

    answered = await respond(client, first, requestId=item["requestId"], optionId="yes")
    assert answered.status_code == 202
    done = await wait_for_kind(client, first, "session.waiting", 2)  # parked, then done
    [result] = [json.loads(r["payload_json"]) for r in done if r["kind"] == "action.result"]
    assert result["status"] == "completed"
    assert [i["sessionId"] for i in await inbox(client)] == [second]

    await respond(client, second, requestId=items[1]["requestId"], optionId="no")
    done = await wait_for_kind(client, second, "session.waiting", 2)
    results = [json.loads(r["payload_json"]) for r in done if r["kind"] == "action.result"]
    assert results[0]["status"] == "rejected"
    assert await inbox(client) == []


async def test_an_answer_the_session_cannot_take_is_refused_with_its_code(
    client: httpx.AsyncClient, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "permission")
    sid = await ask(client, project)
    cases = [
        ({"requestId": "req_nope", "optionId": "yes"}, 400, "invalid_input_responses"),
        ({"optionId": "yes"}, 400, "invalid_request"),
        ({"requestId": "req_1"}, 400, "invalid_request"),
    ]
    for body, status, code in cases:
        response = await respond(client, sid, **body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    missing = await respond(client, "ses_nope", requestId="req_1", optionId="yes")
    assert missing.status_code == 404
    await client.post(f"/api/v1/sessions/{sid}/kill")
    await wait_for_kind(client, sid, "session.failed")
    ended = await respond(client, sid, requestId="req_1", optionId="yes")
    assert (ended.status_code, ended.json()["error"]["code"]) == (409, "session_not_live")
    assert await inbox(client) == []


async def test_a_question_with_nobody_attached_is_denied_by_the_launchs_own_rule(
    client: httpx.AsyncClient, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "permission")
    # no permissionMode: claude's own default asks a person, and no person is attached
    record = await launch(client, project, harness="claude", prompt="list files")
    seen = await wait_for_kind(client, record["id"], "session.waiting")
    kinds = [r["kind"] for r in seen]
    assert "input.requested" not in kinds
    [result] = [json.loads(r["payload_json"]) for r in seen if r["kind"] == "action.result"]
    assert result["status"] == "rejected"
    assert "no person was attached" in result["error"]["message"]
    messages = [json.loads(r["payload_json"]) for r in seen if r["kind"] == "message.appended"]
    assert messages[-1]["content"].endswith("(denied)")
    assert await inbox(client) == []


async def follow_notifications(
    client: httpx.AsyncClient, send: trio.MemorySendChannel[dict[str, Any]]
) -> None:
    async with client.stream("GET", "/api/v1/notifications", params={"follow": "1"}) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"] == "application/x-ndjson"
        async for line in stream.aiter_lines():
            if line.strip():
                await send.send(json.loads(line))


@pytest.fixture
async def notes(client: httpx.AsyncClient) -> AsyncIterator[trio.MemoryReceiveChannel[Any]]:
    send, receive = trio.open_memory_channel[dict[str, Any]](100)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(follow_notifications, client, send)
        yield receive
        nursery.cancel_scope.cancel()


async def test_a_person_following_is_asked_and_the_notifiers_stay_quiet(
    client: httpx.AsyncClient,
    daemon: Daemon,
    project: Path,
    note_log: Path,
    notes: trio.MemoryReceiveChannel[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "permission")
    ready = project / "person-attached"
    monkeypatch.setenv("FAKE_ASK_GATE", str(ready))  # asked with nobody there: denied
    record = await launch(client, project, harness="claude", prompt="list files")
    sid = record["id"]
    person = {"coven-attach": "person"}
    async with client.stream(
        "GET", f"/eve/v1/session/{sid}/stream", headers=person
    ) as stream:  # a chat: the question comes to it
        lines = stream.aiter_lines()
        await anext(lines)  # the stream's body has begun: the person is counted
        ready.touch()
        async for line in lines:
            if line and json.loads(line)["type"] == "input.requested":
                break
        [item] = await inbox(client)
        assert item["attached"] is True
        needs = await notes.receive()
        assert (needs["kind"], needs["sessionId"]) == ("needs_you", sid)
        assert needs["summary"] == "Approve Bash: ls"
        assert needs["details"]["requestId"] == item["requestId"]
        await daemon.notifications.flushed()
        assert not note_log.exists()  # quiet: the person is right there
        await respond(client, sid, requestId=item["requestId"], optionId="approve")
        finished = await notes.receive()
        assert (finished["kind"], finished["seq"]) == ("finished", needs["seq"] + 1)
    await daemon.notifications.flushed()
    assert not note_log.exists()
    health = (await client.get("/api/v1/health")).json()["notify"]
    assert health["notifiers"]["log"]["delivered"] == 0
    assert health["lastSeq"] == finished["seq"]


async def test_what_needs_you_finishes_or_fails_is_told_to_followers_and_notifiers(
    client: httpx.AsyncClient,
    daemon: Daemon,
    project: Path,
    note_log: Path,
    notes: trio.MemoryReceiveChannel[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "permission")
    sid = await ask(client, project)
    assert (await notes.receive())["kind"] == "needs_you"
    await respond(client, sid, requestId="req_1", optionId="approve")
    assert (await notes.receive())["kind"] == "finished"
    await client.post(f"/api/v1/sessions/{sid}/kill")  # asked for: nothing to tell
    failing = await launch(client, project, harness="command", command=["sh", "-c", "exit 3"])
    failed = await notes.receive()
    assert (failed["kind"], failed["sessionId"]) == ("failed", failing["id"])
    assert failed["details"]["exitCode"] == 3
    await daemon.notifications.flushed()
    told = note_log.read_text().splitlines()
    assert told == [f"needs_you {sid}", f"finished {sid}", f"failed {failing['id']}"]
    recent = (await client.get("/api/v1/notifications")).json()
    assert [n["kind"] for n in recent["notifications"]] == ["needs_you", "finished", "failed"]
    after = recent["notifications"][0]["seq"]
    later = (await client.get("/api/v1/notifications", params={"afterSeq": after})).json()
    assert [n["kind"] for n in later["notifications"]] == ["finished", "failed"]


@pytest.mark.parametrize("notify_toml", ["webhook"], indirect=True)
async def test_a_webhook_that_hangs_never_holds_up_a_turn(
    client: httpx.AsyncClient,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "permission")
    hanging: Receiver = request.node.receiver
    async with trio.open_nursery() as nursery:
        await nursery.start(hanging.serve)
        sid = await ask(client, project)
        arrived = await hanging.arrivals.receive()  # needs_you: its answer never comes
        assert json.loads(arrived.body)["kind"] == "needs_you"
        await respond(client, sid, requestId="req_1", optionId="approve")
        await wait_for_kind(client, sid, "session.waiting", 2)  # the turn went on
        hook = (await client.get("/api/v1/health")).json()["notify"]["notifiers"]["hook"]
        assert hook["delivered"] == 0 and hook["queued"] == 2  # one hanging, one waiting
        nursery.cancel_scope.cancel()


async def test_the_daemons_own_stop_is_not_news_and_followers_do_not_hold_it_up(
    home: Path, project: Path, note_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping the daemon ends its idle sessions without a `finished` for each, and a
    client following the notifications is let go at once, not at the end of the grace."""
    import coven_trio

    from .conftest import FAST

    async with coven_trio.open_daemon(home=home, **{**FAST, "shutdown_grace": 30.0}) as daemon:
        transport = httpx.AsyncHTTPTransport(uds=str(daemon.socket_path))
        async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
            record = await launch(client, project, harness="claude", prompt="hi")
            await wait_for_kind(client, record["id"], "session.waiting")
            told = [
                n["kind"]
                for n in (await client.get("/api/v1/notifications")).json()["notifications"]
            ]
            assert told == ["finished"]  # the turn
            async with client.stream(
                "GET", "/api/v1/notifications", params={"follow": "1", "afterSeq": "1"}
            ) as stream:
                with trio.fail_after(20):  # well inside the 30 s grace
                    daemon.shutdown()
                    async for _ in stream.aiter_lines():
                        pass  # ends when the daemon lets its followers go
                    await daemon.stopped.wait()
    assert [n.kind for n in daemon.notifications.snapshot()] == ["finished"]

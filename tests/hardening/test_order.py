"""Order of effects: nothing is journaled (or a token spent) before the harness has it;
a failed delivery leaves the session as it was; kill never waits behind a write."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from coven_trio.daemon import Daemon
from coven_trio.sessions import _supervisor

from ..eve_util import create, follow_up, read_turn
from ..sessions_util import events, kinds, launch, wait_for_kind

pytestmark = pytest.mark.usefixtures("fakes_on_path")


async def test_kill_does_not_wait_behind_a_blocked_write(
    client: httpx.AsyncClient, daemon: Daemon, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The write would block "forever": only a kill that cancels it can end this test.
    monkeypatch.setattr(_supervisor, "INPUT_TIMEOUT", 10_000)
    sid = (await launch(client, tmp_short, harness="command", command=["sleep", "60"]))["id"]
    answers: list[httpx.Response] = []

    async def stuck_input() -> None:
        body = {"data": "x" * 1_000_000}
        answers.append(await client.post(f"/api/v1/sessions/{sid}/input", json=body))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stuck_input)
        runner = daemon.sessions.get(sid).runner
        with trio.fail_after(30):  # the write fills the pipe and blocks
            while not runner.writing:
                await trio.sleep(0.01)
        assert (await client.post(f"/api/v1/sessions/{sid}/kill")).status_code == 202
    assert answers[0].status_code == 409
    assert answers[0].json()["error"]["code"] == "session_not_live"
    seen = await wait_for_kind(client, sid, "session.failed")
    assert "input" not in kinds(seen)  # it never reached the harness


async def test_a_failed_raw_write_journals_nothing_and_keeps_the_session(
    client: httpx.AsyncClient, tmp_short: Path
) -> None:
    script = "exec 0<&-; echo closed; sleep 60"  # closes stdin, says so, stays alive
    sid = (await launch(client, tmp_short, harness="command", command=["sh", "-c", script]))["id"]
    await wait_for_kind(client, sid, "output")
    before = len((await events(client, sid))["events"])
    response = await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "lost\n"})
    assert (response.status_code, response.json()["error"]["code"]) == (500, "send_input_failed")
    after = await events(client, sid)
    assert len(after["events"]) == before
    assert (await client.get(f"/api/v1/sessions/{sid}")).json()["status"] == "running"
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_a_failed_follow_up_keeps_the_token_and_the_state(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "deaf")
    created = await create(client, message="one")
    sid, token = created["sessionId"], created["continuationToken"]
    await read_turn(client, sid)
    before = (await events(client, sid))["events"]
    failed = await follow_up(client, sid, token, message="two")
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "send_input_failed"
    assert (await events(client, sid))["events"] == before  # nothing journaled
    record = (await client.get(f"/api/v1/sessions/{sid}")).json()
    assert record["status"] == "idle"
    again = await follow_up(client, sid, token, message="two")  # the token is still good
    assert again.status_code == 500
    stale = await follow_up(client, sid, "tok_other", message="two")
    assert stale.status_code == 409
    await client.post(f"/api/v1/sessions/{sid}/kill")


@pytest.mark.parametrize("attempt", range(5))
async def test_a_harness_that_exits_before_its_prompt_is_a_normal_session(
    client: httpx.AsyncClient, tmp_short: Path, attempt: int
) -> None:
    record = await launch(
        client, tmp_short, harness="command", command=["true"], prompt="p" * 300_000
    )
    seen = await wait_for_kind(client, record["id"], "session.completed")
    assert kinds(seen)[-3:] == ["exit", "turn.completed", "session.completed"]

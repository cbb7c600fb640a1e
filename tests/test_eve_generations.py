"""Each eve session speaks one client generation, decided by the first request that
shows it and kept with its record: the seed's (stream v16, 404/410 on a send to an
unknown or ended session) or today's (stream v26, 409 ``session_not_active``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

import coven_trio
from coven_trio.api._eve_generation import Generation, stream_says, stream_shows
from coven_trio.http import Request

from .conftest import FAST
from .eve_util import EVE, create, follow_up, read_turn

pytestmark = pytest.mark.usefixtures("fakes_on_path")

#: What today's client's fetch (``cache: "no-store"``) adds to every stream request.
NO_STORE = {"pragma": "no-cache", "cache-control": "no-cache"}


def request(target: str, **headers: str) -> Request:
    return Request.from_head("GET", target, headers)


def test_what_a_stream_request_says_and_shows() -> None:
    assert stream_says(request("/s?streamControlVersion=1"), 0) is Generation.CURRENT
    assert stream_says(request("/s?follow=false"), 0) is Generation.CURRENT
    assert stream_says(request("/s?includeTailIndex=1"), 0) is Generation.CURRENT
    assert stream_says(request("/s?startIndex=-1"), -1) is Generation.CURRENT
    assert stream_says(request("/s?startIndex=4"), 4) is None  # says nothing
    assert stream_shows(request("/s", **NO_STORE)) is Generation.CURRENT
    assert stream_shows(request("/s", pragma="no-cache")) is Generation.CURRENT
    assert stream_shows(request("/s")) is Generation.SEED


async def stream_version(client: httpx.AsyncClient, sid: str, **options: Any) -> str:
    headers = options.pop("headers", {})
    async with client.stream(
        "GET", f"{EVE}/session/{sid}/stream", params=options, headers=headers
    ) as response:
        assert response.status_code == 200
        return response.headers["x-eve-stream-version"]


async def record(client: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    found: dict[str, Any] = (await client.get(f"/api/v1/sessions/{sid}")).json()
    return found


async def test_a_seed_session_is_decided_by_its_first_stream_and_keeps_v16(
    client: httpx.AsyncClient,
) -> None:
    created = await create(client, message="hello")
    sid = created["sessionId"]
    assert (await record(client, sid))["eve_stream_version"] is None  # nothing shown yet
    await read_turn(client, sid)  # the seed's client: a bare GET
    assert (await record(client, sid))["eve_stream_version"] == "16"
    assert await stream_version(client, sid, follow="false") == "26"  # explicit: for itself
    assert await stream_version(client, sid, startIndex="2", follow="false") == "26"
    assert (await record(client, sid))["eve_stream_version"] == "16"  # still the seed's
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_todays_session_gets_v26_even_on_a_bare_stream_request(
    client: httpx.AsyncClient,
) -> None:
    """eve 0.80 with ``streamReconnectPolicy: {reconnect: false}`` sends no
    ``streamControlVersion``: its fetch's no-cache headers show who it is, and the
    session remembers."""
    sid = (await create(client, message="hello"))["sessionId"]
    async with client.stream("GET", f"{EVE}/session/{sid}/stream", headers=NO_STORE) as r:
        assert r.headers["x-eve-stream-version"] == "26"
        async for line in r.aiter_lines():
            if '"session.waiting"' in line:
                break
    assert (await record(client, sid))["eve_stream_version"] == "26"
    assert await stream_version(client, sid, follow="false") == "26"
    async with client.stream("GET", f"{EVE}/session/{sid}/stream") as bare:
        assert bare.headers["x-eve-stream-version"] == "26"  # the session's, not a guess
    await client.post(f"/api/v1/sessions/{sid}/kill")


async def test_a_create_shows_its_generation_when_it_can(client: httpx.AsyncClient) -> None:
    prewarmed = (await client.post(f"{EVE}/session")).json()["sessionId"]
    assert (await record(client, prewarmed))["eve_stream_version"] == "26"
    token_only = (
        await client.post(f"{EVE}/session", json={"message": "hi", "continuationToken": "t"})
    ).json()["sessionId"]
    assert (await record(client, token_only))["eve_stream_version"] == "16"
    for sid in (prewarmed, token_only):
        await client.post(f"/api/v1/sessions/{sid}/kill")


async def _ended(client: httpx.AsyncClient, generation: Generation) -> dict[str, Any]:
    created = await create(client, message="once")
    headers = NO_STORE if generation is Generation.CURRENT else {}
    await read_turn(client, created["sessionId"], headers=headers)
    await client.post(f"/api/v1/sessions/{created['sessionId']}/kill")
    with trio.fail_after(30):
        while (await record(client, created["sessionId"]))["status"] != "killed":
            await trio.sleep(0.02)
    return created


async def send(client: httpx.AsyncClient, sid: str, token: str | None) -> tuple[int, str]:
    body = {"message": "more", **({"continuationToken": token} if token else {})}
    response = await client.post(f"{EVE}/session/{sid}", json=body)
    answer: dict[str, Any] = response.json()
    assert answer["ok"] is False and answer["error"]["code"] == answer["code"]
    return response.status_code, answer["code"]


async def test_every_send_error_in_both_generations(client: httpx.AsyncClient) -> None:
    # unknown: only the request can say (a token: the seed's)
    assert await send(client, "ses_nope", "tok") == (404, "session_not_found")
    assert await send(client, "ses_nope", None) == (409, "session_not_active")
    seed = await _ended(client, Generation.SEED)
    assert await send(client, seed["sessionId"], seed["continuationToken"]) == (
        410,
        "session_terminal",
    )
    assert await send(client, seed["sessionId"], None) == (410, "session_terminal")
    today = await _ended(client, Generation.CURRENT)
    assert await send(client, today["sessionId"], None) == (409, "session_not_active")
    # a token says the seed's client is asking, whatever the session speaks
    assert await send(client, today["sessionId"], "tok") == (410, "session_terminal")


@pytest.mark.parametrize("generation", [Generation.SEED, Generation.CURRENT])
async def test_a_session_keeps_its_generation_across_a_restart(
    home: Path, generation: Generation
) -> None:
    headers = NO_STORE if generation is Generation.CURRENT else {}
    async with coven_trio.open_daemon(home=home, **FAST) as daemon:
        transport = httpx.AsyncHTTPTransport(uds=str(daemon.socket_path))
        async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
            created = await create(client, message="before")
            sid, token = created["sessionId"], created["continuationToken"]
            await read_turn(client, sid, headers=headers)
            await daemon.sessions.store.flush()
    async with coven_trio.open_daemon(home=home, **FAST) as daemon:
        transport = httpx.AsyncHTTPTransport(uds=str(daemon.socket_path))
        async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
            found = await record(client, sid)
            assert found["eve_stream_version"] == str(generation)
            assert await stream_version(client, sid) == str(generation)  # a bare request
            if generation is Generation.SEED:
                answer = await follow_up(client, sid, token, message="after")
                assert (answer.status_code, answer.json()["code"]) == (410, "session_terminal")
            else:
                answer = await client.post(f"{EVE}/session/{sid}", json={"message": "after"})
                assert (answer.status_code, answer.json()["code"]) == (409, "session_not_active")


async def test_info_is_the_document_the_asking_process_reads(
    client: httpx.AsyncClient, daemon: Any, tmp_short: Path
) -> None:
    """The stock clients ask for /info identically; the daemon answers the process: one
    that runs eve 0.18 (its package says so) gets the seed's document, today's the v5."""
    seed_app = tmp_short / "seedapp"
    (seed_app / "node_modules" / "eve").mkdir(parents=True)
    (seed_app / "node_modules" / "eve" / "package.json").write_text('{"version": "0.18.2"}')
    script = seed_app / "info.py"
    script.write_text(
        "import json, socket, sys\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "s.sendall(b'GET /eve/v1/info HTTP/1.1\\r\\nhost: c\\r\\nconnection: close\\r\\n\\r\\n')\n"
        "data = b''\n"
        "while chunk := s.recv(65536): data += chunk\n"
        "print(data.partition(b'\\r\\n\\r\\n')[2].decode())\n"
    )
    done = await trio.run_process(
        [sys.executable, str(script), str(daemon.socket_path)], capture_stdout=True
    )
    seed = json.loads(done.stdout)
    assert seed["agent"]["name"] == "assistant" and isinstance(seed["agent"]["model"], str)
    assert isinstance(seed["tools"], list) and seed["connections"] == []
    assert {"name", "description", "parameters"} <= set(seed["tools"][0])
    today = (await client.get(f"{EVE}/info")).json()  # this process runs no eve package
    assert (today["version"], today["tools"]) == (5, {"dynamic": [], "static": []})

"""The trio client and the embedding API, in one trio run with the daemon (no
subprocess): typed calls, errors as ClientError, and tail() resuming after a cut."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import trio

import coven_trio
from coven_trio import LaunchRequest
from coven_trio.client import BadResponse, Client, ClientError, ClientTimeout, DaemonUnreachable
from coven_trio.daemon import Daemon

pytestmark = pytest.mark.usefixtures("fakes_on_path")


async def test_embedding_launch_and_journal_cursor(home: Path, tmp_short: Path) -> None:
    async with coven_trio.open_daemon(home=home, stdin_grace=0.5, term_grace=0.5) as daemon:
        record = await daemon.launch(
            LaunchRequest(
                project_root=tmp_short, harness="claude", prompt="embedded", launch_mode="stream"
            )
        )
        types = []
        async for entry in daemon.journal(record.id).entries():
            types.append(entry.type)
            if entry.type == "session.waiting":
                break
        assert types[0] == "session.started"
        assert daemon.sessions.get(record.id).status == "idle"
        pid = daemon.sessions.get(record.id).pid
        assert pid is not None
    # leaving the block stopped the session and removed the socket
    assert not daemon.socket_path.exists()
    assert daemon.sessions.get(record.id).journal.closed
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


async def test_serve_with_nursery_start(home: Path) -> None:
    async with trio.open_nursery() as nursery:
        daemon: Daemon = await nursery.start(coven_trio.serve, coven_trio.Config(home=home))
        # ready means the socket accepts: connect at once
        health = await Client(daemon.socket_path).health()
        assert health["daemon"]["pid"] == daemon.pid
        daemon.shutdown()
    assert not (home / "coven.sock").exists()


async def test_client_methods_and_errors(daemon: Daemon, tmp_short: Path) -> None:
    client = Client(daemon.socket_path)
    assert (await client.health())["ok"] is True
    assert (await client.api_version())["apiVersion"] == "v1"
    assert (await client.capabilities())["capabilities"]
    assert (await client.action("coven.capabilities.refresh"))["status"] == "completed"
    record = await client.launch(
        project_root=tmp_short,
        harness="codex",
        prompt="hi",
        launch_mode="nonInteractive",
        follow_ups=True,
    )
    sid = record["id"]
    assert (await client.session(sid))["harness"] == "codex"
    assert [s["id"] for s in await client.sessions()] == [sid]
    assert (await client.sessions(limit=1))["next_cursor"] is None
    entries = []
    async for entry in client.tail(sid):
        entries.append(entry)
        if entry["type"] == "session.waiting":
            break
    assert entries[0]["type"] == "session.started"
    page = await client.events(sid, after_seq=0, limit=2)
    assert [e["seq"] for e in page["events"]] == [1, 2]
    assert (await client.send_input(sid, "more")) == {"ok": True, "accepted": True}
    assert (await client.kill(sid)) == {"ok": True, "accepted": True}
    with pytest.raises(ClientError) as error:
        await client.session("ses_nope")
    assert (error.value.status, error.value.code) == (404, "session_not_found")
    assert error.value.details == {"sessionId": "ses_nope"}
    with pytest.raises(ClientError) as error:
        await client.launch(project_root=tmp_short, harness="nope", prompt="x")
    assert error.value.code == "harness.unsupported"
    with pytest.raises(DaemonUnreachable):
        await Client(tmp_short / "nothing.sock").health()


async def test_eve_methods(
    daemon: Daemon, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_short)
    client = Client(daemon.socket_path)
    assert (await client.eve_health())["status"] == "ready"
    assert (await client.eve_info())["agent"]["name"] == "assistant"
    created = await client.eve_create("hello")
    sid = created["sessionId"]
    first = []
    async for entry in client.tail(sid):
        first.append(entry)
        if entry["type"] == "session.waiting":
            break
    followed = await client.eve_send(sid, created["continuationToken"], "again")
    assert followed["continuationToken"] != created["continuationToken"]
    with pytest.raises(ClientError) as error:
        await client.eve_send(sid, created["continuationToken"], "stale")
    assert (error.value.status, error.value.code) == (409, "stale_continuation_token")
    await client.kill(sid)
    everything = [e async for e in client.tail(sid)]
    assert everything[: len(first)] == first
    assert everything[-1]["type"] == "session.failed"


class _CuttingProxy:
    """A Unix-socket proxy in front of the daemon whose connections the test can cut."""

    def __init__(self, target: Path, path: Path) -> None:
        self.target = target
        self.path = path
        self.scopes: list[trio.CancelScope] = []
        self.connections = 0

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        await sock.bind(str(self.path))
        sock.listen(16)
        listener = trio.SocketListener(sock)
        task_status.started()
        await trio.serve_listeners(self._pipe, [listener])

    async def _pipe(self, downstream: trio.SocketStream) -> None:
        self.connections += 1
        upstream = await trio.open_unix_socket(str(self.target))
        with trio.CancelScope() as scope:
            self.scopes.append(scope)
            async with trio.open_nursery() as nursery:

                async def copy(a: trio.SocketStream, b: trio.SocketStream) -> None:
                    while data := await a.receive_some(65536):
                        await b.send_all(data)
                    nursery.cancel_scope.cancel()

                nursery.start_soon(copy, downstream, upstream)
                nursery.start_soon(copy, upstream, downstream)
        await trio.aclose_forcefully(upstream)
        await trio.aclose_forcefully(downstream)

    def cut(self) -> None:
        for scope in self.scopes:
            scope.cancel()


async def test_tail_resumes_after_a_cut_without_gaps_or_duplicates(
    daemon: Daemon, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_HARNESS_MODE", "slow")
    monkeypatch.setenv("FAKE_DELAY", "0.01")
    direct = Client(daemon.socket_path)
    prompt = "x" * 200  # about 50 deltas, 10 ms apart
    sid = (
        await direct.launch(
            project_root=tmp_short, harness="claude", prompt=prompt, launch_mode="stream"
        )
    )["id"]
    proxy = _CuttingProxy(daemon.socket_path, tmp_short / "proxy.sock")
    seen: list[dict[str, Any]] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(proxy.serve)
        client = Client(proxy.path)
        with trio.fail_after(30):
            async for entry in client.tail(sid):
                seen.append(entry)
                if len(seen) in (5, 20, 35):
                    proxy.cut()  # mid-stream, three times
                if entry["type"] == "session.waiting":
                    break
        nursery.cancel_scope.cancel()
    await direct.kill(sid)
    assert proxy.connections >= 4
    assert [e["streamIndex"] for e in seen] == list(range(len(seen)))
    journal = daemon.journal(sid)
    assert [e["type"] for e in seen] == [journal.type_of(i) for i in range(len(seen))]


async def _fake_server(path: Path, answer: bytes | None, nursery: trio.Nursery) -> None:
    """A socket that accepts, then answers ``answer`` (or nothing at all)."""
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(str(path))
    sock.listen(8)

    async def serve() -> None:
        async with trio.SocketListener(sock) as listener:
            while True:
                stream = await listener.accept()
                if answer is not None:
                    await stream.receive_some(65536)
                    await stream.send_all(answer)
                    await stream.aclose()

    nursery.start_soon(serve)


@pytest.mark.parametrize(
    ("answer", "error", "code"),
    [
        (b"SSH-2.0-OpenSSH\r\n", BadResponse, "bad_response"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nnope!", BadResponse, "bad_response"),
        (None, ClientTimeout, "timeout"),
    ],
)
async def test_client_errors_are_its_own_never_h11s(
    tmp_short: Path, answer: bytes | None, error: type[ClientError], code: str
) -> None:
    path = tmp_short / "odd.sock"
    async with trio.open_nursery() as nursery:
        await _fake_server(path, answer, nursery)
        client = Client(path, timeout=0.5)
        with pytest.raises(error) as raised:
            await client.health()
        assert raised.value.code == code
        with pytest.raises(error):  # the tail's connect is bounded too
            async for _ in client.tail("ses_x", reconnect_attempts=0):
                pass
        nursery.cancel_scope.cancel()

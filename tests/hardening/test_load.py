"""Slowloris and a disconnect storm against the in-process daemon: normal clients are
still served, and nothing (task, fd, connection, parked reader) is left behind."""

from __future__ import annotations

import gc
import os
import statistics
import tracemalloc
from pathlib import Path

import httpx
import pytest
import trio

from coven_trio.daemon import Daemon

from ..rawhttp import connect, get, read_response
from ..sessions_util import launch, wait_for_kind

pytestmark = pytest.mark.usefixtures("fakes_on_path")


def _count_tasks() -> int:
    def walk(task: trio.lowlevel.Task) -> int:
        return 1 + sum(walk(t) for n in task.child_nurseries for t in n.child_tasks)

    return walk(trio.lowlevel.current_root_task())


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("daemon_options", [{"head_timeout": 2.0, "linger_timeout": 0.2}])
async def test_slowloris_does_not_starve_normal_clients(daemon: Daemon) -> None:
    lorises = 200
    closed_after: list[float] = []
    answers: list[int] = []

    async def loris() -> None:
        start = trio.current_time()
        stream = await connect(daemon.socket_path)
        async with stream:
            head = get("/api/v1/health", "x-slow: " + "a" * 30)
            try:
                for byte in head:
                    await stream.send_all(bytes([byte]))
                    with trio.move_on_after(1.0):
                        data = await stream.receive_some(65536)
                        answers.append(int(data.split(b" ", 2)[1]) if data else 0)
                        break
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
        closed_after.append(trio.current_time() - start)

    latencies: list[float] = []
    async with trio.open_nursery() as nursery:
        for _ in range(lorises):
            nursery.start_soon(loris)
        with trio.fail_after(60):  # every loris is connected and dribbling
            while daemon.connections < lorises:
                await trio.sleep(0.02)
        stream = await connect(daemon.socket_path)
        async with stream:
            for _ in range(50):
                start = trio.current_time()
                await stream.send_all(get("/api/v1/health"))
                # read_response expects a fresh h11 client per call here (one response)
                response = await read_response(stream)
                latencies.append(trio.current_time() - start)
                assert response.status == 200
                await trio.sleep(0.02)
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    print(
        f"\nslowloris: {lorises} slow connections; normal p50 "
        f"{statistics.median(latencies) * 1000:.2f} ms, p99 {p99:.2f} ms; "
        f"lorises closed after {min(closed_after):.2f}-{max(closed_after):.2f} s"
    )
    assert len(closed_after) == lorises
    assert answers.count(408) == lorises  # each one was told why, at the head timeout
    # the head timeout (2 s), not the dribble (a byte a second: ~70 s), ended them
    assert max(closed_after) < 30


async def test_disconnect_storm_leaves_nothing_behind(
    daemon: Daemon, client: httpx.AsyncClient, tmp_short: Path
) -> None:
    sid = (await launch(client, tmp_short, harness="claude", prompt="storm"))["id"]
    await wait_for_kind(client, sid, "session.waiting")
    await client.aclose()  # its pooled connections would count as open
    journal = daemon.journal(sid)
    targets = [
        f"/api/v1/events?sessionId={sid}&follow=1",
        f"/eve/v1/session/{sid}/stream",
        f"/eve/v1/session/{sid}/stream?startIndex=3",
    ]

    async def tailer(i: int) -> None:
        stream = await connect(daemon.socket_path)
        await stream.send_all(get(targets[i % len(targets)]))
        await stream.receive_some(256)  # mid-stream: headers and some entries
        if i % 2:
            stream.socket.close()  # vanish without a FIN handshake of our own
        else:
            await trio.aclose_forcefully(stream)

    # one of each first: what the first request loads (the eve mount's modules, caches)
    # is the daemon's for good, not a storm's leak
    for i in range(len(targets)):
        await tailer(i)
    with trio.fail_after(30):
        while daemon_connections(daemon):
            await trio.sleep(0.01)
    await trio.testing.wait_all_tasks_blocked()
    gc.collect()  # what an earlier test left for the collector closes now, not later
    tasks, fds = _count_tasks(), _open_fds()
    tracemalloc.start()
    memory = tracemalloc.get_traced_memory()[0]
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for i in range(1000):
                nursery.start_soon(tailer, i)
        while daemon_connections(daemon):
            await trio.sleep(0.01)
    await trio.testing.wait_all_tasks_blocked()
    gc.collect()
    leaked = tracemalloc.get_traced_memory()[0] - memory
    ours_filter = [tracemalloc.Filter(True, "*/coven_trio/*")]
    ours = sum(
        stat.size
        for stat in tracemalloc.take_snapshot().filter_traces(ours_filter).statistics("filename")
    )
    tracemalloc.stop()
    wakeup = journal._wakeup
    parked = wakeup.statistics().tasks_waiting if wakeup is not None else 0
    print(
        f"\ndisconnect storm: 1000 tailers; tasks {tasks}->{_count_tasks()}, "
        f"fds {fds}->{_open_fds()}, parked readers {parked}, "
        f"memory still allocated {leaked / 1024:.1f} KiB (by coven_trio: {ours} B; the rest "
        "is trio's epoll and run-queue tables at their high-water mark)"
    )
    assert parked == 0
    assert daemon_connections(daemon) == 0
    assert _count_tasks() == tasks
    assert _open_fds() == fds
    assert ours < 4096  # 1000 connections: one leaked object each would show here


def daemon_connections(daemon: Daemon) -> int:
    return daemon.connections

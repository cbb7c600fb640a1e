"""14: what ended sessions cost: memory held by many long ended sessions, and the time to
read one back, with the durable store (journals leave memory once stored; a bounded
cache of recently read ones) against the memory-only store (every journal stays).

Each session's journal is appended in the daemon's process (as the replay benchmark
does) in steps the store's writer keeps up with, so the store holds every line whole.
A reader process reads the whole session (``/api/v1/events`` pages) three times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

import coven_trio
from coven_trio import LaunchRequest
from coven_trio._json import loads_request
from coven_trio.daemon import Daemon

from ._util import rss_bytes, scratch

MIB = 1 << 20
#: ~250 bytes per journal line, as the other journal benchmarks.
PAYLOAD = {"data": "x" * 170}


async def _ended_session(daemon: Daemon, root: Path, size: int) -> str:
    record = await daemon.launch(
        LaunchRequest(project_root=root, harness="command", command=["sleep", "600"])
    )
    journal = daemon.journal(record.id)
    while journal.nbytes < size:
        for _ in range(20_000):  # ~5 MB, then let the writer catch up
            journal.append("output", PAYLOAD)
        await daemon.sessions.store.flush()
    daemon.sessions.get(record.id).kill()
    await daemon.sessions.get(record.id).done.wait()
    await daemon.sessions.store.flush()
    return record.id


async def _read_all(daemon: Daemon, session_id: str) -> tuple[float, int]:
    """Seconds to read every event of the session over the socket, and how many."""
    stream = await trio.open_unix_socket(str(daemon.socket_path))
    count, after, began = 0, 0, trio.current_time()
    async with stream:
        while True:
            target = f"/api/v1/events?sessionId={session_id}&limit=1000&afterSeq={after}"
            await stream.send_all(f"GET {target} HTTP/1.1\r\nhost: b\r\n\r\n".encode())
            body = await _response_body(stream)
            page = loads_request(body)
            count += len(page["events"])
            if not page["hasMore"]:
                return trio.current_time() - began, count
            after = page["nextCursor"]["afterSeq"]


async def _response_body(stream: trio.SocketStream) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive_some(1 << 16)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += await stream.receive_some(1 << 16)
    return body


async def _run(tmp: Path, store: str, sessions: int, size: int) -> dict[str, Any]:
    root = tmp / "proj"
    root.mkdir(exist_ok=True)
    options: dict[str, Any] = {
        "journals_max_bytes": 4 << 30,
        "max_retained_sessions": 1000,
        "stdin_grace": 0.1,
        "term_grace": 0.5,
    }
    async with coven_trio.open_daemon(home=tmp / store, store=store, **options) as daemon:
        before = rss_bytes()
        ids = [await _ended_session(daemon, root, size) for _ in range(sessions)]
        daemon.sessions.retention.retain()
        held = rss_bytes() - before
        reads = [await _read_all(daemon, ids[0]) for _ in range(3)]
    return {"held": held, "reads": [r[0] for r in reads], "events": reads[0][1]}


async def run_all(smoke: bool) -> list[dict[str, Any]]:
    sessions, size = (2, 2 * MIB) if smoke else (20, 40 * MIB)
    with scratch() as tmp:
        durable = await _run(tmp, "sqlite", sessions, size)
        memory = await _run(tmp, "memory", sessions, size)
    case = f"{sessions} ended sessions x {size // MIB} MiB journal"
    cold, warm = durable["reads"][0], min(durable["reads"][1:])
    first, later = memory["reads"][0], min(memory["reads"][1:])
    return [
        {
            "bench": "ended sessions",
            "case": f"{case}: RSS held, durable store",
            "value": durable["held"] / MIB,
            "unit": f"MiB (memory-only store: {memory['held'] / MIB:,.0f} MiB)",
            "goal_max": 64.0 + 16.0,  # the ended cache, and the allocator's slack
        },
        {
            "bench": "ended sessions",
            "case": f"read one back ({durable['events']:,} events), first read / from memory",
            "value": cold / first,
            "unit": f"x ({cold:.2f} s vs {first:.2f} s)",
            "goal_max": 2.0,
        },
        {
            "bench": "ended sessions",
            "case": "read one back, later reads / from memory",
            "value": warm / later,
            "unit": f"x ({warm:.2f} s vs {later:.2f} s)",
            "goal_max": 2.0,
        },
    ]


def run(smoke: bool) -> list[dict[str, Any]]:
    return trio.run(run_all, smoke)

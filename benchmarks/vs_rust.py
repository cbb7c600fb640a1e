"""13: the sessions' own work, coven-trio beside the Rust Coven daemon 0.4.6 in one run.

Both daemons get the same launch body (``harness: claude``, ``launchMode: interactive``:
the CLI in a terminal, Coven's default) and the same stand-in ``claude`` on PATH, which
prints stream-json lines (``_emitter.py``) or, for a prompt of ``BENCHCAT``, reads its
terminal until killed. Each measures, interleaved, median of the reps:

* burst: 50 sessions launched at once, each printing 2,000 lines, until every one has
  ended: lines/s and the daemon's own CPU (``/proc/<pid>/stat``; children not counted);
* input: 1,000 ``POST …/input`` to one live session, a new connection each (the Rust
  daemon closes every connection after one answer), and CPU per input;
* read-back: every event of the burst's 50 sessions through ``/api/v1/events`` pages.

Each daemon records what its terminal gives it (chunks, not lines), so event counts
differ; the rows say how many each stored.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

from . import people
from ._util import python, scratch

HERE = Path(__file__).parent
_cpu_seconds = people._cpu_seconds


def _stand_in(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    claude = folder / "claude"
    claude.write_text(
        "#!/bin/sh\n"
        'case "$*" in *BENCHCAT*) exec cat >/dev/null;; esac\n'
        f"exec {python()} {HERE / '_emitter.py'}\n"
    )
    claude.chmod(0o755)
    return str(folder)


def _launch(sock: Path, project: Path, prompt: str) -> str:
    body = {
        "projectRoot": str(project),
        "harness": "claude",
        "prompt": prompt,
        "launchMode": "interactive",
    }
    record: dict[str, Any] = people._request(sock, "POST", "/api/v1/sessions", body)
    return str(record["id"])


def _burst(daemon: people.Daemon, project: Path, sessions: int) -> dict[str, float]:
    assert daemon.process is not None
    sock = daemon.home / "coven.sock"
    cpu = _cpu_seconds(daemon.process.pid)
    began = time.perf_counter()
    ids = {_launch(sock, project, "BENCHLINES") for _ in range(sessions)}
    while True:
        listed = people._request(sock, "GET", "/api/v1/sessions")
        ended = {r["id"] for r in listed if r["id"] in ids and r["status"] != "running"}
        if len(ended) == len(ids):
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - began
    failed = [r["status"] for r in listed if r["id"] in ids and r["status"] != "completed"]
    assert not failed, f"{daemon.name}: sessions ended {failed}"
    used = _cpu_seconds(daemon.process.pid) - cpu
    began = time.perf_counter()
    events = 0
    for sid in ids:
        after = 0
        while True:
            page = people._request(
                sock, "GET", f"/api/v1/events?sessionId={sid}&afterSeq={after}&limit=1000"
            )
            events += len(page["events"])
            if not page["hasMore"] or not page["events"]:
                break
            after = page["events"][-1]["seq"]
    return {
        "burst_s": elapsed,
        "burst_cpu": used,
        "read_s": time.perf_counter() - began,
        "events": events,
    }


def _inputs(daemon: people.Daemon, project: Path, count: int) -> dict[str, float]:
    assert daemon.process is not None
    sock = daemon.home / "coven.sock"
    sid = _launch(sock, project, "BENCHCAT")
    time.sleep(0.3)  # the terminal is up
    cpu = _cpu_seconds(daemon.process.pid)
    began = time.perf_counter()
    for i in range(count):
        people._request(sock, "POST", f"/api/v1/sessions/{sid}/input", {"data": f"{i}\n"})
    elapsed = time.perf_counter() - began
    used = _cpu_seconds(daemon.process.pid) - cpu
    people._request(sock, "POST", f"/api/v1/sessions/{sid}/kill")
    return {"input_s": elapsed, "input_cpu": used}


def run(smoke: bool) -> list[dict[str, Any]]:
    sessions, lines, inputs, reps = (5, 200, 50, 1) if smoke else (50, 2_000, 1_000, 3)
    with scratch() as root:
        env_path = _stand_in(root / "bin")
        (root / "proj").mkdir()
        daemons, rows = people._daemons(root)
        daemons = [d for d in daemons if d.name != "trio+h11 (bare)"]
        if len(daemons) < 2:
            return rows
        for daemon in daemons:
            daemon.env = {
                **daemon.env,
                "PATH": f"{env_path}{os.pathsep}{os.environ['PATH']}",
                "BENCH_LINES": str(lines),
                "BENCH_PAD": "100",
            }
        results: dict[str, list[dict[str, float]]] = {d.name: [] for d in daemons}
        for _ in range(reps):  # interleaved, a fresh daemon each time
            for daemon in daemons:
                daemon.start()
                try:
                    result = _burst(daemon, root / "proj", sessions)
                    result.update(_inputs(daemon, root / "proj", inputs))
                finally:
                    daemon.stop()
                results[daemon.name].append(result)

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    ours, theirs = (d.name for d in daemons)
    total = sessions * lines
    for name in (ours, theirs):
        rows += [
            {
                "bench": "vs Coven: burst",
                "case": f"{name}: {sessions} sessions x {lines:,} lines",
                "value": total / median(name, "burst_s"),
                "unit": "lines/s",
            },
            {
                "bench": "vs Coven: burst",
                "case": f"{name}: daemon CPU for the burst",
                "value": median(name, "burst_cpu") * 1000,
                "unit": "ms",
            },
            {
                "bench": "vs Coven: input",
                "case": f"{name}: POST /input, a new connection each",
                "value": inputs / median(name, "input_s"),
                "unit": "req/s",
            },
            {
                "bench": "vs Coven: input",
                "case": f"{name}: daemon CPU per input",
                "value": median(name, "input_cpu") / inputs * 1e6,
                "unit": "us",
            },
            {
                "bench": "vs Coven: read-back",
                "case": f"{name}: every event of the burst ({median(name, 'events'):,.0f})",
                "value": median(name, "read_s") * 1000,
                "unit": "ms",
            },
        ]
    for key, label in (  # theirs / ours: ≥ 1 means coven-trio leads
        ("burst_s", "burst lines/s"),
        ("burst_cpu", "burst CPU (≥ 1: we use less)"),
        ("input_s", "/input req/s"),
        ("input_cpu", "CPU per input (≥ 1: we use less)"),
        ("read_s", "read-back speed"),
    ):
        rows.append(
            {
                "bench": "vs Coven ratio",
                "case": f"{label}, coven-trio vs Coven",
                "value": median(theirs, key) / max(median(ours, key), 1e-9),
            }
        )
    return rows

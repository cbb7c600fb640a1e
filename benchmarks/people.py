"""9-11: what a person feels, side by side, interleaved, medians of several runs:

9. startup to the first health 200, idle RSS, a one-shot client command — coven-trio vs
   the Rust Coven daemon 0.4.6 (its npm package, installed and patched by
   ``tests/coven_rust.py`` into the benchmark's cache);
10. health over a fresh connection per request (the only way Coven's own clients talk)
    — coven-trio vs Coven;
11. a real Claude Code turn (2.1.197 from tests/realcli, against the fake Anthropic API
    of the test suite): the bare CLI with ``--print`` first and last, and the same turn
    launched through coven-trio.

Peers that cannot run here are skipped with the reason in the table.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._util import python, scratch

ROOT = Path(__file__).parent.parent
CACHE = Path.home() / ".cache" / "coven-trio"
CLAUDE = ROOT / "tests" / "realcli" / "node_modules" / ".bin" / "claude"


def _environ() -> dict[str, str]:
    """This environment, with Python's bytecode cache on: a person's machine keeps
    ``__pycache__``; a CI image that sets ``PYTHONDONTWRITEBYTECODE`` would make every
    start compile every module from source (~130 ms here)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [python(), "-m", "compileall", "-q", str(ROOT / "coven_trio"), str(ROOT / "benchmarks")],
        env=env,
        capture_output=True,
    )
    subprocess.run(
        [python(), "-c", "import coven_trio.main, coven_trio.cli, coven_trio.daemon"], env=env
    )
    return env


def _health(sock: Path) -> dict[str, Any] | None:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(2)
            conn.connect(str(sock))
            conn.sendall(b"GET /api/v1/health HTTP/1.1\r\nhost: b\r\nconnection: close\r\n\r\n")
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return None
    try:
        value: dict[str, Any] = json.loads(body)
    except ValueError:
        return None
    return value


def _cpu_seconds(pid: int) -> float:
    """The process's own CPU time so far (utime + stime; children not counted)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Daemon:
    """One daemon under test: how to start it in the foreground on a home."""

    def __init__(self, name: str, argv: list[str], home: Path, env: dict[str, str]) -> None:
        self.name, self.argv, self.home, self.env = name, argv, home, env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Seconds from spawn to the first health 200."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        began = time.perf_counter()
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        while _health(self.home / "coven.sock") is None:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            time.sleep(0.002)
        return time.perf_counter() - began

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        (self.home / "coven.sock").unlink(missing_ok=True)


def _daemons(root: Path) -> tuple[list[Daemon], list[dict[str, Any]]]:
    env = _environ()
    ours = Daemon(
        "coven-trio",
        [python(), "-m", "coven_trio", "serve", "--home", str(root / "t")],
        root / "t",
        env,
    )
    # The floor of any trio daemon: the interpreter, trio and h11, and one answer.
    body = root / "health.json"
    body.write_bytes(b'{"ok":true}')
    bare = Daemon(
        "trio+h11 (bare)",
        [python(), "-m", "benchmarks.peers", "bare", str(root / "b" / "coven.sock"), str(body)],
        root / "b",
        env,
    )
    daemons, skipped = [ours, bare], []
    sys.path.insert(0, str(ROOT))
    try:
        from tests import coven_rust, npm_pins

        npm_pins.ensure("realcli")  # the pinned npm package
        binary = coven_rust.binary(CACHE / "coven-reference")
    except Exception as exc:
        skipped.append(
            {
                "bench": "vs Coven",
                "case": "Rust daemon skipped",
                "value": 0.0,
                "unit": str(exc)[:80],
            }
        )
    else:
        rust_env = {**env, "COVEN_HOME": str(root / "r")}
        daemons.append(
            Daemon("Coven 0.4.6", [str(binary), "daemon", "serve"], root / "r", rust_env)
        )
    return daemons, skipped


def _timed(run: Callable[[], Any], reps: int) -> list[float]:
    times = []
    for _ in range(reps):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return times


def _spread(values: list[float], scale: float = 1000.0) -> dict[str, Any]:
    return {"min": min(values) * scale, "max": max(values) * scale}


def startup_and_commands(smoke: bool) -> list[dict[str, Any]]:
    reps = 1 if smoke else 5
    rows: list[dict[str, Any]] = []
    with scratch() as root:
        daemons, rows = _daemons(root)
        starts: dict[str, list[float]] = {d.name: [] for d in daemons}
        rss: dict[str, list[int]] = {d.name: [] for d in daemons}
        per_request: dict[str, list[float]] = {d.name: [] for d in daemons}
        cpu_per: dict[str, list[float]] = {d.name: [] for d in daemons}
        for _ in range(reps):  # interleaved: a noisy moment hits both
            for daemon in daemons:
                starts[daemon.name].append(daemon.start())
                time.sleep(0.3 if smoke else 1.0)
                assert daemon.process is not None
                rss[daemon.name].append(_rss_kib(daemon.process.pid))
                sock = daemon.home / "coven.sock"
                count = 20 if smoke else 200
                cpu = _cpu_seconds(daemon.process.pid)
                per_request[daemon.name] += _timed(lambda s=sock: _health(s), count)
                cpu_per[daemon.name].append((_cpu_seconds(daemon.process.pid) - cpu) / count)
                daemon.stop()
        for name, values in starts.items():
            rows.append(
                {
                    "bench": "startup",
                    "case": f"{name}: spawn to first health 200",
                    "value": statistics.median(values) * 1000,
                    "unit": "ms",
                    **_spread(values),
                }
            )
        for name, kib in rss.items():
            rows.append(
                {
                    "bench": "idle RSS",
                    "case": name,
                    "value": statistics.median(kib) / 1024,
                    "unit": "MiB",
                }
            )
        for name, values in per_request.items():
            rows.append(
                {
                    "bench": "health, new connection each",
                    "case": name,
                    "value": 1 / statistics.median(values),
                    "unit": "req/s",
                }
            )
            rows.append(
                {
                    "bench": "health, new connection each",
                    "case": f"{name}: daemon CPU per request",
                    "value": statistics.median(cpu_per[name]) * 1e6,
                    "unit": "us",
                }
            )
        ours = daemons[0].name
        for peer in daemons[1:]:
            rows.append(
                {
                    "bench": "startup ratio",
                    "case": f"{peer.name} / coven-trio (≥ 1: we lead)",
                    "value": statistics.median(starts[peer.name]) / statistics.median(starts[ours]),
                }
            )
            rows.append(
                {
                    "bench": "health ratio, new connection each",
                    "case": f"coven-trio / {peer.name} (≥ 1: we lead)",
                    "value": statistics.median(per_request[peer.name])
                    / statistics.median(per_request[ours]),
                }
            )
        rows += _commands(root, reps)
    return rows


def _commands(root: Path, reps: int) -> list[dict[str, Any]]:
    """A one-shot client command end to end (a fresh process, as a shell runs it)."""
    home = root / "c"
    env = {**_environ(), "COVEN_HOME": str(home)}
    ours = Daemon("coven-trio", [python(), "-m", "coven_trio", "serve"], home, env)
    ours.start()
    rows = []
    try:
        for case in (["status"], ["sessions", "--json"]):
            argv = [python(), "-m", "coven_trio", *case]
            values = _timed(
                lambda a=argv: subprocess.run(a, env=env, capture_output=True), reps * 3
            )
            rows.append(
                {
                    "bench": "client command",
                    "case": "coven-trio " + " ".join(case),
                    "value": statistics.median(values) * 1000,
                    "unit": "ms",
                    "goal_max": 100.0,
                    **_spread(values),
                }
            )
    finally:
        ours.stop()
    return rows


def _claude_env(root: Path, api_url: str) -> dict[str, str]:
    """A home, a project and the environment for the real CLI against the fake API."""
    (root / "user").mkdir()
    (root / "proj").mkdir()
    return {
        **_environ(),
        "HOME": str(root / "user"),
        "ANTHROPIC_BASE_URL": api_url,
        "ANTHROPIC_API_KEY": "sk-fake",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "PATH": f"{CLAUDE.parent}{os.pathsep}{os.environ['PATH']}",
        "COVEN_HOME": str(root / "h"),
    }


def _claude_turn(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    began = time.perf_counter()
    subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL, timeout=60
    )
    return time.perf_counter() - began


def claude_turns(smoke: bool) -> list[dict[str, Any]]:
    if not CLAUDE.exists():
        return [
            {
                "bench": "claude turn",
                "case": "skipped: npm ci --prefix tests/realcli",
                "value": 0.0,
                "unit": "",
            }
        ]
    sys.path.insert(0, str(ROOT))
    from tests.realcli.fake_models import FakeAnthropic

    reps = 1 if smoke else 6
    api = FakeAnthropic()
    api.start()
    rows: list[dict[str, Any]] = []
    with scratch() as root:
        env = _claude_env(root, api.url)
        tail = ["--output-format", "stream-json", "--verbose"]
        first = [str(CLAUDE), "--print", *tail, "--", "hi"]
        last = [str(CLAUDE), *tail, "--print", "--", "hi"]
        daemon = Daemon("coven-trio", [python(), "-m", "coven_trio", "serve"], root / "h", env)
        daemon.start()
        sock = root / "h" / "coven.sock"
        results: dict[str, list[float]] = {"first": [], "last": [], "daemon": []}
        try:
            for _ in range(reps):
                results["first"].append(_claude_turn(first, env, root / "proj"))
                results["last"].append(_claude_turn(last, env, root / "proj"))
                results["daemon"].append(_daemon_turn(sock, root / "proj"))
        finally:
            daemon.stop()
            api.stop()
    median = {k: statistics.median(v) * 1000 for k, v in results.items()}
    rows += [
        {
            "bench": "claude turn",
            "case": "bare CLI, --print first",
            "value": median["first"],
            "unit": "ms",
            **_spread(results["first"]),
        },
        {
            "bench": "claude turn",
            "case": "bare CLI, --print last (coven-trio's argv)",
            "value": median["last"],
            "unit": "ms",
            **_spread(results["last"]),
        },
        {
            "bench": "claude turn",
            "case": "through coven-trio (launch to session completed)",
            "value": median["daemon"],
            "unit": "ms",
            **_spread(results["daemon"]),
        },
        {
            "bench": "claude turn",
            "case": "coven-trio overhead vs the bare CLI (same argv)",
            "value": median["daemon"] - median["last"],
            "unit": "ms",
        },
    ]
    return rows


def _request(sock: Path, method: str, target: str, body: Any = None) -> Any:
    sys.path.insert(0, str(ROOT))
    from coven_trio.client import _wire

    return _wire.request(sock, method, target, body)


def _daemon_turn(sock: Path, project: Path) -> float:
    """Launch, then follow the session's events until the daemon ends the stream (the
    session completed): how a client waits, without polling."""
    body = {"projectRoot": str(project), "harness": "claude", "prompt": "hi"}
    began = time.perf_counter()
    record = _request(sock, "POST", "/api/v1/sessions", body)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(60)
        conn.connect(str(sock))
        conn.sendall(
            b"GET /api/v1/events?sessionId=%s&follow=1 HTTP/1.1\r\nhost: b\r\n"
            b"connection: close\r\n\r\n" % record["id"].encode()
        )
        while conn.recv(65536):
            pass
    elapsed = time.perf_counter() - began
    status = _request(sock, "GET", f"/api/v1/sessions/{record['id']}")["status"]
    assert status == "completed", status
    return elapsed


def _follow_until(conn: socket.socket, kind: bytes, count: int, seen: list[bytes]) -> None:
    """Read a follow=1 stream until ``count`` entries of ``kind`` have arrived."""
    marker = b'"kind":"' + kind + b'"'
    while seen[0].count(marker) < count:
        chunk = conn.recv(65536)
        if not chunk:
            raise RuntimeError("the stream ended early")
        seen[0] += chunk


def _daemon_two_turns(sock: Path, project: Path) -> tuple[float, float]:
    """A stream-mode claude session through coven-trio: launch to the first turn's end,
    then ``/input`` to the second's, as a client following the events sees them."""
    body = {"projectRoot": str(project), "harness": "claude", "launchMode": "stream"}
    began = time.perf_counter()
    record = _request(sock, "POST", "/api/v1/sessions", {**body, "prompt": "hi"})
    seen = [b""]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(60)
        conn.connect(str(sock))
        conn.sendall(
            b"GET /api/v1/events?sessionId=%s&follow=1 HTTP/1.1\r\nhost: b\r\n\r\n"
            % record["id"].encode()
        )
        _follow_until(conn, b"turn.completed", 1, seen)
        first = time.perf_counter() - began
        began = time.perf_counter()
        _request(sock, "POST", f"/api/v1/sessions/{record['id']}/input", {"data": "again"})
        _follow_until(conn, b"turn.completed", 2, seen)
        second = time.perf_counter() - began
    _request(sock, "POST", f"/api/v1/sessions/{record['id']}/kill")
    return first, second


def _two_turns(module: str, env: dict[str, str], *args: Path) -> tuple[float, float] | None:
    """Two turns timed by a client process of its own (``benchmarks._coven_turns`` or
    ``benchmarks._sdk_turns``), so neither client shares a process with the fake API;
    None if it failed."""
    result = subprocess.run(
        [python(), "-m", module, *map(str, args)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    if result.returncode != 0:
        return None
    times = json.loads(result.stdout.decode().splitlines()[-1])
    return times["turn1"], times["turn2"]


def stream_turns(smoke: bool) -> list[dict[str, Any]]:
    """Turn 1 and the follow-up turn on one CLI process: coven-trio's stream mode vs
    claude-agent-sdk driving the same CLI."""
    if not CLAUDE.exists():
        return []
    import importlib.util

    if importlib.util.find_spec("claude_agent_sdk") is None:
        sdk_missing = "claude-agent-sdk not installed (pip install claude-agent-sdk)"
    else:
        sdk_missing = ""
    sys.path.insert(0, str(ROOT))
    from tests.realcli.fake_models import FakeAnthropic

    reps = 1 if smoke else 6
    api = FakeAnthropic()
    api.start()
    results: dict[str, list[float]] = {"ours1": [], "ours2": [], "sdk1": [], "sdk2": []}
    with scratch() as root:
        env = _claude_env(root, api.url)
        daemon = Daemon("coven-trio", [python(), "-m", "coven_trio", "serve"], root / "h", env)
        daemon.start()
        try:
            for _ in range(reps):
                ours = _two_turns(
                    "benchmarks._coven_turns", env, root / "h" / "coven.sock", root / "proj"
                )
                assert ours is not None, "the coven-trio client failed"
                first, second = ours
                results["ours1"].append(first)
                results["ours2"].append(second)
                sdk = (
                    None
                    if sdk_missing
                    else _two_turns("benchmarks._sdk_turns", env, CLAUDE, root / "proj")
                )
                if sdk is None and not sdk_missing:
                    sdk_missing = "claude-agent-sdk failed to run the CLI"
                if sdk is not None:
                    results["sdk1"].append(sdk[0])
                    results["sdk2"].append(sdk[1])
        finally:
            daemon.stop()
            api.stop()
    rows: list[dict[str, Any]] = []
    for key, case in (
        ("ours1", "turn 1 through coven-trio (stream mode)"),
        ("sdk1", "turn 1 through claude-agent-sdk"),
        ("ours2", "follow-up turn through coven-trio (/input)"),
        ("sdk2", "follow-up turn through claude-agent-sdk"),
    ):
        if results[key]:
            rows.append(
                {
                    "bench": "claude stream turns",
                    "case": case,
                    "value": statistics.median(results[key]) * 1000,
                    "unit": "ms",
                    **_spread(results[key]),
                }
            )
    if sdk_missing:
        rows.append(
            {
                "bench": "claude stream turns",
                "case": f"skipped: {sdk_missing}",
                "value": 0.0,
                "unit": "",
            }
        )
    else:
        for n in ("1", "2"):
            rows.append(
                {
                    "bench": "claude stream turns",
                    "case": f"turn {n}: coven-trio - claude-agent-sdk",
                    "value": (
                        statistics.median(results["ours" + n])
                        - statistics.median(results["sdk" + n])
                    )
                    * 1000,
                    "unit": "ms",
                }
            )
    return rows


def run(smoke: bool) -> list[dict[str, Any]]:
    return startup_and_commands(smoke) + claude_turns(smoke) + stream_turns(smoke)

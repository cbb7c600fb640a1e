"""15: a webhook that never answers must not slow a session down. Two daemons run side
by side, one with a webhook notifier whose receiver accepts each request and then hangs
for 30 s (every turn's end is a ``finished`` notification for it), one without; turns of
a claude stream session (the suite's fake CLI) alternate between them, each timed from
``POST …/input`` to its ``session.waiting`` on the follow stream.
"""

from __future__ import annotations

import os
import socket
import statistics
from pathlib import Path
from typing import Any

import trio

import coven_trio
from coven_trio.client import Client

from ._util import scratch

FAKES = Path(__file__).parent.parent / "tests" / "fakes"
#: How long the receiver holds each request before it lets go (it never answers).
HANG_SECONDS = 30.0


async def _hang(stream: trio.SocketStream) -> None:
    async with stream:
        await stream.receive_some(65536)
        await trio.sleep(HANG_SECONDS)


def _receiver() -> tuple[socket.socket, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


def _home(path: Path, url: str | None) -> Path:
    path.mkdir(mode=0o700)
    if url is not None:
        toml = f"[[notifier]]\ntype='webhook'\nname='hang'\nurl='{url}'\nsecret='s'\n"
        (path / "notify.toml").write_text(toml + f"timeout={HANG_SECONDS}\n")
        os.chmod(path / "notify.toml", 0o600)
    return path


async def _turn(client: Client, session_id: str, start: int) -> tuple[float, int]:
    """Seconds from the input to the turn's ``session.waiting``; the next start index."""
    began = trio.current_time()
    await client.send_input(session_id, "again")
    async for entry in client.tail(session_id, start):
        start = entry["streamIndex"] + 1
        if entry["type"] == "session.waiting":
            return trio.current_time() - began, start
    raise RuntimeError("the session ended")


async def _first(client: Client, session_id: str) -> int:
    async for entry in client.tail(session_id, 0):
        if entry["type"] == "session.waiting":
            return int(entry["streamIndex"]) + 1
    raise RuntimeError("the session ended")


async def run_all(smoke: bool) -> list[dict[str, Any]]:
    turns = 4 if smoke else 200
    sock, url = _receiver()
    listener = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
    path = os.environ["PATH"]
    os.environ.update(PATH=f"{FAKES}{os.pathsep}{path}", FAKE_DELAY="0.01")
    times: dict[str, list[float]] = {"hanging webhook": [], "no notifier": []}
    try:
        with scratch() as tmp:
            root = tmp / "proj"
            root.mkdir()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trio.serve_listeners, _hang, [listener])
                homes = {"hanging webhook": url, "no notifier": None}
                daemons = {}
                for n, (name, hook) in enumerate(homes.items()):
                    config = coven_trio.Config(home=_home(tmp / f"h{n}", hook))
                    daemons[name] = await nursery.start(coven_trio.serve, config)
                sessions = {}
                for name, daemon in daemons.items():
                    client = Client(daemon.socket_path)
                    record = await client.launch(
                        project_root=root, harness="claude", prompt="hi", launch_mode="stream"
                    )
                    sessions[name] = (client, record["id"], await _first(client, record["id"]))
                for _ in range(turns):
                    for name, (client, sid, start) in sessions.items():
                        took, start = await _turn(client, sid, start)
                        sessions[name] = (client, sid, start)
                        times[name].append(took)
                hook = daemons["hanging webhook"].notifications.health()["notifiers"]["hang"]
                for daemon in daemons.values():
                    daemon.shutdown()
                nursery.cancel_scope.cancel()
    finally:
        os.environ["PATH"] = path
        os.environ.pop("FAKE_DELAY", None)
    with_hook = statistics.median(times["hanging webhook"])
    without = statistics.median(times["no notifier"])
    undelivered = hook["queued"] + hook["dropped"]
    return [
        {
            "bench": "notify",
            "case": f"turn latency, a webhook that hangs {HANG_SECONDS:.0f} s / no notifier "
            f"({turns} turns each, medians; {undelivered} notifications held or dropped)",
            "value": with_hook / without,
            "unit": f"x ({with_hook * 1000:.1f} ms vs {without * 1000:.1f} ms)",
            "goal_max": 1.1,
        }
    ]


def run(smoke: bool) -> list[dict[str, Any]]:
    return trio.run(run_all, smoke)


if __name__ == "__main__":
    from .__main__ import table

    print(table(run(False)))

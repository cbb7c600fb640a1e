"""What a daemon loads before its first answer: not the surfaces a request may never ask
for (the web dashboard, the eve mount, git worktrees, the fleet, the notifiers, cattrs,
TOML), nor the session machinery, the API models and the harness adapters behind the
health check. Each is imported with its first use; the startup benchmark
(benchmarks/people.py) has the figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

#: Started, asked for its health, then: which of these were imported.
PROBE = """
import json, sys, trio
import coven_trio
from coven_trio.config import Config

LAZY = ("coven_trio.web", "coven_trio.worktrees", "coven_trio.fleet", "coven_trio.cli",
        "coven_trio.api.eve_v1", "coven_trio.agents", "coven_trio.sessions",
        "coven_trio.api.coven_v1", "coven_trio.api.websocket", "coven_trio.harness.claude",
        "coven_trio.harness.codex", "coven_trio.launch", "coven_trio.models",
        "coven_trio.notify.moments",
        "coven_trio.notify.webhook", "coven_trio.notify.command", "coven_trio.notify.config",
        "cattrs", "tomllib")

async def main():
    async with trio.open_nursery() as nursery:
        daemon = await nursery.start(coven_trio.serve, Config(home=sys.argv[1]))
        stream = await trio.open_unix_socket(str(daemon.socket_path))
        await stream.send_all(b"GET /api/v1/health HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n")
        assert (await stream.receive_some(100)).startswith(b"HTTP/1.1 200")
        print(json.dumps(sorted(m for m in sys.modules if m.startswith(LAZY))))
        daemon.shutdown()

trio.run(main)
"""


def test_the_daemon_answers_before_loading_what_no_request_asked_for(tmp_short: Path) -> None:
    probe = [sys.executable, "-c", PROBE, str(tmp_short / "home")]
    done = subprocess.run(probe, capture_output=True, text=True, timeout=50, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == []

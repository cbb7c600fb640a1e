"""The real Claude Code and Codex CLIs (pinned in ``package.json`` here), run by the real
daemon against fake model APIs of our own on 127.0.0.1.

The ``npm_pins`` fixture installs them (``npm ci``) once, whichever test asks first;
without node and npm the tests are skipped with the reason — unless ``CI`` is set,
where a missing CLI fails.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from coven_trio.daemon import Daemon
from coven_trio.harness._tree import marked

from ..sessions_util import launch, payload
from .fake_models import FakeAnthropic, FakeOpenAI

HERE = Path(__file__).parent
BIN = HERE / "node_modules" / ".bin"
VERSIONS = json.loads((HERE / "package.json").read_text())["dependencies"]

pytestmark = [pytest.mark.slow, pytest.mark.realcli]


@pytest.fixture(scope="session")
def real_clis(npm_pins: Callable[[str], Path]) -> Path:
    npm_pins("realcli")
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    return BIN


@pytest.fixture
def anthropic() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def real_env(
    real_clis: Path,
    anthropic: FakeAnthropic,
    openai: FakeOpenAI,
    tmp_short: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """The daemon's environment, which its harnesses inherit: the real CLIs first on
    PATH, a scratch HOME, both pointed at the fake APIs and kept off the network."""
    home = tmp_short / "user"
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True)
    (codex_home / "config.toml").write_text(
        f"""model = "gpt-5.1-codex"
model_provider = "fake"
check_for_update_on_startup = false
[analytics]
enabled = false
[model_providers.fake]
name = "fake"
base_url = "{openai.url}/v1"
wire_api = "responses"
env_key = "FAKE_OPENAI_KEY"
request_max_retries = 1
stream_max_retries = 1
"""
    )
    env = {
        "PATH": f"{real_clis}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": anthropic.url,
        "ANTHROPIC_API_KEY": "sk-fake",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_MAX_RETRIES": "1",
        "CODEX_HOME": str(codex_home),
        "FAKE_OPENAI_KEY": "sk-fake",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return home


@pytest.fixture
async def real(real_env: Path, daemon: Daemon) -> AsyncIterator[Daemon]:
    """A daemon whose harnesses are the real CLIs (the daemon fixture, after real_env)."""
    yield daemon


async def until(
    client: httpx.AsyncClient, sid: str, kinds: set[str], count: int = 1, timeout: float = 60
) -> list[dict[str, Any]]:
    """Every record of a session up to the ``count``-th whose kind is in ``kinds``."""
    seen: list[dict[str, Any]] = []
    with trio.move_on_after(timeout):
        async with client.stream(
            "GET", "/api/v1/events", params={"sessionId": sid, "follow": "1"}, timeout=None
        ) as response:
            async for line in response.aiter_lines():
                if line:
                    seen.append(json.loads(line))
                    if sum(r["kind"] in kinds for r in seen) >= count:
                        return seen
        raise AssertionError(f"the session ended first: {[r['kind'] for r in seen]}")
    raise AssertionError(f"no {count} x {kinds} in {timeout} s: {[r['kind'] for r in seen]}")


async def start(client: httpx.AsyncClient, project: Path, **body: Any) -> str:
    sid: str = (await launch(client, project, **body))["id"]
    return sid


def of(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [payload(r) for r in records if r["kind"] == kind]


async def leftovers(sid: str, within: float = 30.0) -> list[int]:
    """The session's processes still running ``within`` seconds from now (none, we hope)."""
    with trio.move_on_after(within):
        while marked(sid):
            await trio.sleep(0.05)
    return marked(sid)

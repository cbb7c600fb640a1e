"""eve ``outputSchema`` with the real CLIs: passed natively where the CLI takes it per
turn (``claude --print --json-schema``, ``codex exec --output-schema``), still checked."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from coven_trio.daemon import Daemon

from ..eve_util import create, events, read_turn
from .fake_models import FakeAnthropic, FakeOpenAI, Reply

pytestmark = [pytest.mark.slow, pytest.mark.realcli, pytest.mark.timeout(120)]

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


@pytest.fixture
def profiles(home: Path) -> Path:
    """Per-turn agents (written before the daemon starts: list this before ``real``)."""
    home.mkdir(mode=0o700)
    (home / "agents.toml").write_text(
        '[claude-print]\nharness = "claude"\nlaunchMode = "nonInteractive"\n'
        '[codex]\nharness = "codex"\n'
    )
    return home


async def test_claude_json_schema(
    profiles: Path, client: httpx.AsyncClient, real: Daemon, anthropic: FakeAnthropic
) -> None:
    call = {"type": "tool_use", "name": "StructuredOutput", "input": {"answer": "forty-two"}}
    anthropic.replies.append(Reply([call]))
    created = await create(client, message="the answer?", agent="claude-print", outputSchema=SCHEMA)
    turn = events(await read_turn(client, created["sessionId"], timeout=60))
    [result] = [e["data"] for e in turn if e["type"] == "result.completed"]
    assert result["result"] == {"answer": "forty-two"}
    tools = [t["name"] for t in anthropic.requests[0].get("tools", [])]
    assert "StructuredOutput" in tools  # the CLI was given the schema
    await client.post(f"/api/v1/sessions/{created['sessionId']}/kill")


async def test_codex_output_schema(
    profiles: Path, client: httpx.AsyncClient, real: Daemon, openai: FakeOpenAI
) -> None:
    openai.replies.append(Reply([{"type": "text", "text": json.dumps({"answer": "yes"})}]))
    created = await create(client, message="the answer?", agent="codex", outputSchema=SCHEMA)
    turn = events(await read_turn(client, created["sessionId"], timeout=60))
    [result] = [e["data"] for e in turn if e["type"] == "result.completed"]
    assert result["result"] == {"answer": "yes"}
    sent = openai.requests[0]["text"]["format"]
    assert sent["type"] == "json_schema" and sent["schema"]["required"] == ["answer"]
    await client.post(f"/api/v1/sessions/{created['sessionId']}/kill")

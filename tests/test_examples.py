"""The examples a newcomer runs: the echo agent registered by its manifest."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from .sessions_util import kinds, launch, payload, wait_for_kind

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture
def daemon_options(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.setenv("COVEN_HARNESS_ADAPTER_DIRS", str(EXAMPLES / "adapters"))
    return {}


async def test_echo_agent_manifest_session(client: httpx.AsyncClient, tmp_short: Path) -> None:
    health = (await client.get("/api/v1/health")).json()
    assert "echo" in health["capabilities"]["harnesses"]
    record = await launch(client, tmp_short, harness="echo", prompt="hello", launchMode="stream")
    assert record["launch_mode"] == "stream"
    sid = record["id"]
    seen = await wait_for_kind(client, sid, "session.waiting")
    assert [payload(r)["content"] for r in seen if r["kind"] == "message.appended"] == [
        "You said: hello"
    ]
    await client.post(f"/api/v1/sessions/{sid}/input", json={"data": "again"})
    seen = await wait_for_kind(client, sid, "session.waiting", count=2)
    assert kinds(seen).count("turn.completed") == 2
    await client.post(f"/api/v1/sessions/{sid}/kill")
    once = await launch(
        client, tmp_short, harness="echo", prompt="one shot", launchMode="nonInteractive"
    )
    done = await wait_for_kind(client, once["id"], "session.completed")
    assert "".join(payload(r)["data"] for r in done if r["kind"] == "output") == (
        "You said: one shot\n"
    )


async def test_the_readme_health_example_is_what_the_daemon_prints(
    client: httpx.AsyncClient,
) -> None:
    readme = (EXAMPLES.parent / "README.md").read_text()
    block = readme.split("/api/v1/health\n```\n\n```json\n", 1)[1].split("```", 1)[0]
    shown = json.loads(block)
    live = (await client.get("/api/v1/health")).json()

    def shape(value: object) -> object:
        if isinstance(value, dict):
            return {key: shape(item) for key, item in value.items()}
        return type(value).__name__

    assert shape(shown) == shape(live)  # every key, and the type of every value
    stable = ("ok", "apiVersion", "covenVersion")
    assert {k: shown[k] for k in stable} == {k: live[k] for k in stable}
    drop = "harnesses"
    assert {k: v for k, v in shown["capabilities"].items() if k != drop} == {
        k: v for k, v in live["capabilities"].items() if k != drop
    }
    assert (shown["eventWriter"]["state"], shown["storage"]["status"]) == (
        live["eventWriter"]["state"],
        live["storage"]["status"],
    )

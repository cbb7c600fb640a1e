"""Side by side with the real Rust Coven daemon (0.4.6): the same requests to both, with
the same fake harnesses on PATH; equal status codes, equal error codes and the same
JSON shapes (every field Coven returns, with its JSON type — ours may add fields).

What differs on purpose is listed in ``docs/coven-compat.md`` (the rows whose first
cell names a facet): this test reads that table, so a difference is either fixed or
written down with its reason.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from . import coven_rust
from .conftest import FAKES
from .hardening.daemon_proc import DaemonProcess, exchange

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

DOCS = Path(__file__).parent.parent / "docs" / "coven-compat.md"
TERMINAL = {"completed", "failed", "killed", "orphaned"}


def documented_deviations() -> dict[str, str]:
    """Facet name → the reason, from the deviations table of docs/coven-compat.md."""
    rows = re.findall(r"^\| `([a-z0-9.:-]+)` \|(.*)\|\s*$", DOCS.read_text(), re.MULTILINE)
    return {name: rest for name, rest in rows}


@attrs.frozen
class Facet:
    """One request. ``{project}`` and ``{sid:NAME}`` in the path or body are filled per
    daemon; ``save`` keeps the launched session's id as NAME; ``settle`` waits for NAME
    to end (or ``seconds``) before the request."""

    name: str
    method: str
    path: str
    body: Any = None
    raw: bytes | None = None
    save: str | None = None
    settle: str | None = None
    kinds_of: str | None = None


def launch(name: str, save: str, **fields: Any) -> Facet:
    body = {"projectRoot": "{project}", "harness": "claude", "prompt": "hello", **fields}
    return Facet(name, "POST", "/api/v1/sessions", body, save=save)


FACETS: list[Facet] = [
    # handshake and discovery, prefixed and not
    Facet("health", "GET", "/api/v1/health"),
    Facet("health.unprefixed", "GET", "/health"),
    Facet("api-version", "GET", "/api/v1/api-version"),
    Facet("api-version.unprefixed", "GET", "/api-version"),
    Facet("capabilities", "GET", "/api/v1/capabilities"),
    Facet("capabilities.unprefixed", "GET", "/capabilities"),
    Facet("capabilities.harnesses", "GET", "/api/v1/capabilities/harnesses"),
    Facet("capabilities.claude", "GET", "/api/v1/capabilities/claude"),
    Facet("capabilities.unknown", "GET", "/api/v1/capabilities/nope"),
    Facet("sessions.empty", "GET", "/api/v1/sessions"),
    Facet("sessions.empty.unprefixed", "GET", "/sessions"),
    Facet("sessions.page.empty", "GET", "/api/v1/sessions?limit=5"),
    # routing
    Facet("version.unsupported", "GET", "/api/v2/health"),
    Facet("route.unknown", "GET", "/api/v1/nope"),
    Facet("route.unknown.unprefixed", "GET", "/nope"),
    Facet("method.wrong", "DELETE", "/api/v1/sessions"),
    # launch validation
    Facet("launch.empty-body", "POST", "/api/v1/sessions", raw=b""),
    Facet("launch.not-json", "POST", "/api/v1/sessions", raw=b"{nope"),
    Facet("launch.array", "POST", "/api/v1/sessions", [1, 2]),
    Facet("launch.no-root", "POST", "/api/v1/sessions", {"harness": "claude", "prompt": "x"}),
    Facet(
        "launch.no-harness", "POST", "/api/v1/sessions", {"projectRoot": "{project}", "prompt": "x"}
    ),
    Facet(
        "launch.unknown-harness",
        "POST",
        "/api/v1/sessions",
        {"projectRoot": "{project}", "harness": "nope", "prompt": "x"},
    ),
    Facet(
        "launch.missing-root",
        "POST",
        "/api/v1/sessions",
        {"projectRoot": "/nonexistent/coven", "harness": "claude", "prompt": "x"},
    ),
    Facet(
        "launch.cwd-outside",
        "POST",
        "/api/v1/sessions",
        {"projectRoot": "{project}", "cwd": "/", "harness": "claude", "prompt": "x"},
    ),
    Facet(
        "launch.bad-mode",
        "POST",
        "/api/v1/sessions",
        {"projectRoot": "{project}", "harness": "claude", "prompt": "x", "launchMode": "warp"},
    ),
    Facet(
        "launch.bad-conversation",
        "POST",
        "/api/v1/sessions",
        {
            "projectRoot": "{project}",
            "harness": "claude",
            "prompt": "x",
            "launchMode": "nonInteractive",
            "conversation": {"mode": "forge", "id": "a"},
        },
    ),
    Facet(
        "launch.conversation-not-object",
        "POST",
        "/api/v1/sessions",
        {
            "projectRoot": "{project}",
            "harness": "claude",
            "prompt": "x",
            "launchMode": "nonInteractive",
            "conversation": "abc",
        },
    ),
    Facet(
        "launch.conversation-bad-id",
        "POST",
        "/api/v1/sessions",
        {
            "projectRoot": "{project}",
            "harness": "claude",
            "prompt": "x",
            "launchMode": "nonInteractive",
            "conversation": {"mode": "resume", "id": "a b"},
        },
    ),
    Facet(
        "launch.unknown-familiar",
        "POST",
        "/api/v1/sessions",
        {"projectRoot": "{project}", "harness": "claude", "prompt": "x", "familiarId": "nobody"},
    ),
    Facet(
        "launch.prompt-not-string",
        "POST",
        "/api/v1/sessions",
        {"projectRoot": "{project}", "harness": "claude", "prompt": 5},
    ),
    Facet(
        "launch.harness-not-string",
        "POST",
        "/api/v1/sessions",
        {"projectRoot": "{project}", "harness": ["claude"], "prompt": "x"},
    ),
    Facet(
        "launch.root-not-string",
        "POST",
        "/api/v1/sessions",
        {"projectRoot": 7, "harness": "claude", "prompt": "x"},
    ),
    Facet(
        "launch.mode-not-string",
        "POST",
        "/api/v1/sessions",
        {"projectRoot": "{project}", "harness": "claude", "prompt": "x", "launchMode": 1},
    ),
    Facet(
        "launch.missing-cwd",
        "POST",
        "/api/v1/sessions",
        {"projectRoot": "{project}", "cwd": "nope", "harness": "claude", "prompt": "x"},
    ),
    Facet(
        "launch.codex-stream",
        "POST",
        "/api/v1/sessions",
        {"projectRoot": "{project}", "harness": "codex", "prompt": "x", "launchMode": "stream"},
    ),
    # the lifecycle of each launch mode
    launch("launch.no-mode", "plain"),
    launch("launch.non-interactive", "print", launchMode="nonInteractive"),
    launch("launch.stream", "stream", launchMode="stream"),
    launch("launch.interactive", "pty", launchMode="interactive"),
    launch("launch.codex", "codex", harness="codex"),
    launch(
        "launch.codex.non-interactive", "codexprint", harness="codex", launchMode="nonInteractive"
    ),
    launch("launch.title", "titled", launchMode="nonInteractive", title="A title"),
    launch(
        "launch.conversation-init",
        "init",
        launchMode="nonInteractive",
        conversation={"mode": "init", "id": "9b2f7f38-4a48-4d59-9d1b-6d1f0a3e2c11"},
    ),
    launch(
        "launch.conversation-resume",
        "resume",
        launchMode="nonInteractive",
        conversation={"mode": "resume", "id": "9b2f7f38-4a48-4d59-9d1b-6d1f0a3e2c11"},
    ),
    launch("launch.cwd-inside", "inside", launchMode="nonInteractive", cwd="."),
    Facet("session.codex.ended", "GET", "/api/v1/sessions/{sid:codex}", settle="codex"),
    Facet("events.codex", "GET", "/api/v1/events?sessionId={sid:codex}", kinds_of="codex"),
    Facet("session.codex-print.ended", "GET", "/sessions/{sid:codexprint}", settle="codexprint"),
    Facet("session.titled", "GET", "/api/v1/sessions/{sid:titled}", settle="titled"),
    Facet("session.init", "GET", "/api/v1/sessions/{sid:init}", settle="init"),
    Facet("session.resume", "GET", "/api/v1/sessions/{sid:resume}", settle="resume"),
    Facet("session.inside", "GET", "/api/v1/sessions/{sid:inside}", settle="inside"),
    Facet("session.no-mode.ended", "GET", "/api/v1/sessions/{sid:plain}", settle="plain"),
    Facet("events.no-mode", "GET", "/api/v1/events?sessionId={sid:plain}", kinds_of="plain"),
    Facet("session.non-interactive.ended", "GET", "/api/v1/sessions/{sid:print}", settle="print"),
    Facet("events.non-interactive", "GET", "/api/v1/events?sessionId={sid:print}"),
    Facet("session.stream", "GET", "/api/v1/sessions/{sid:stream}"),
    Facet("session.interactive", "GET", "/api/v1/sessions/{sid:pty}"),
    Facet("session.unprefixed", "GET", "/sessions/{sid:pty}"),
    Facet("events.interactive", "GET", "/api/v1/sessions/{sid:pty}/events"),
    Facet("log.interactive", "GET", "/api/v1/sessions/{sid:pty}/log"),
    Facet("input.interactive", "POST", "/api/v1/sessions/{sid:pty}/input", {"data": "more\n"}),
    Facet("input.no-data", "POST", "/api/v1/sessions/{sid:pty}/input", {}),
    Facet("input.stream", "POST", "/api/v1/sessions/{sid:stream}/input", {"data": "again"}),
    Facet("input.ended", "POST", "/api/v1/sessions/{sid:print}/input", {"data": "x"}),
    Facet("kill.interactive", "POST", "/api/v1/sessions/{sid:pty}/kill"),
    Facet("kill.stream", "POST", "/sessions/{sid:stream}/kill"),
    Facet("session.interactive.killed", "GET", "/api/v1/sessions/{sid:pty}", settle="pty"),
    Facet("kill.ended", "POST", "/api/v1/sessions/{sid:pty}/kill"),
    Facet("complete.managed", "POST", "/api/v1/sessions/{sid:print}/complete", {}),
    # events paging
    Facet("events.page", "GET", "/api/v1/events?sessionId={sid:print}&limit=1"),
    Facet("events.after-seq", "GET", "/api/v1/events?sessionId={sid:print}&afterSeq=1&limit=1"),
    Facet("events.after-id", "GET", "/api/v1/events?sessionId={sid:print}&afterEventId=nope"),
    Facet("events.bad-limit", "GET", "/api/v1/events?sessionId={sid:print}&limit=x"),
    Facet("events.bad-after-seq", "GET", "/api/v1/events?sessionId={sid:print}&afterSeq=-x"),
    Facet("events.no-session-id", "GET", "/api/v1/events"),
    Facet("events.unknown-session", "GET", "/api/v1/events?sessionId=nope"),
    Facet("events.unprefixed", "GET", "/events?sessionId={sid:print}&limit=2"),
    # session lists and lookups
    Facet("sessions.list", "GET", "/api/v1/sessions"),
    Facet("sessions.page", "GET", "/api/v1/sessions?limit=2"),
    Facet("sessions.bad-limit", "GET", "/api/v1/sessions?limit=0"),
    Facet("sessions.bad-cursor", "GET", "/api/v1/sessions?limit=2&cursor=%%%"),
    Facet("sessions.page.two", "GET", "/api/v1/sessions?limit=1&includeArchived=true"),
    Facet("sessions.bad-archived", "GET", "/api/v1/sessions?limit=1&includeArchived=maybe"),
    Facet("sessions.huge-limit", "GET", "/api/v1/sessions?limit=100000"),
    Facet("sessions.text-limit", "GET", "/api/v1/sessions?limit=ten"),
    Facet("session.unknown", "GET", "/api/v1/sessions/nope"),
    Facet("session.unknown.unprefixed", "GET", "/sessions/nope"),
    Facet("events.unknown.alias", "GET", "/api/v1/sessions/nope/events"),
    Facet("events.far-after-seq", "GET", "/api/v1/events?sessionId={sid:print}&afterSeq=99999"),
    Facet("events.huge-limit", "GET", "/api/v1/events?sessionId={sid:print}&limit=99999"),
    Facet("events.zero-limit", "GET", "/api/v1/events?sessionId={sid:print}&limit=0"),
    Facet(
        "events.own-id", "GET", "/api/v1/events?sessionId={sid:print}&afterEventId={sid:print}:0"
    ),
    Facet("input.not-json", "POST", "/api/v1/sessions/{sid:stream}/input", raw=b"{x"),
    Facet("input.data-number", "POST", "/api/v1/sessions/{sid:stream}/input", {"data": 5}),
    Facet("kill.unknown.unprefixed", "POST", "/sessions/nope/kill"),
    Facet("input.unknown.unprefixed", "POST", "/sessions/nope/input", {"data": "x"}),
    Facet("log.unknown", "GET", "/api/v1/sessions/nope/log"),
    Facet("input.unknown", "POST", "/api/v1/sessions/nope/input", {"data": "x"}),
    Facet("kill.unknown", "POST", "/api/v1/sessions/nope/kill"),
    # external sessions
    Facet("external.empty", "POST", "/api/v1/sessions/external", {}),
    Facet(
        "external.register",
        "POST",
        "/api/v1/sessions/external",
        {"id": "ext-1", "projectRoot": "{project}", "harness": "claude", "title": "Outside"},
    ),
    Facet(
        "external.again",
        "POST",
        "/sessions/external",
        {"id": "ext-1", "projectRoot": "{project}", "harness": "claude"},
    ),
    Facet("external.get", "GET", "/api/v1/sessions/ext-1"),
    Facet("external.events", "GET", "/api/v1/events?sessionId=ext-1"),
    Facet("external.complete", "POST", "/api/v1/sessions/ext-1/complete", {"exitCode": 3}),
    Facet("external.unknown-complete", "POST", "/api/v1/sessions/nope/complete", {}),
    # actions
    Facet("actions.empty", "POST", "/api/v1/actions", {}),
    Facet("actions.unknown", "POST", "/api/v1/actions", {"action": "coven.nope"}),
    Facet("actions.refresh", "POST", "/api/v1/actions", {"action": "coven.capabilities.refresh"}),
    Facet("actions.not-json", "POST", "/api/v1/actions", raw=b"nope"),
    Facet("actions.kill-no-id", "POST", "/api/v1/actions", {"action": "coven.sessions.kill"}),
    Facet(
        "actions.kill-unknown",
        "POST",
        "/api/v1/actions",
        {"action": "coven.sessions.kill", "args": {"sessionId": "nope"}},
    ),
    Facet("actions.unprefixed", "POST", "/actions", {"action": "coven.capabilities.refresh"}),
    Facet(
        "external.bad-labels",
        "POST",
        "/api/v1/sessions/external",
        {"id": "ext-2", "projectRoot": "{project}", "harness": "codex", "labels": "x"},
    ),
    Facet(
        "external.managed-id",
        "POST",
        "/api/v1/sessions/external",
        {"id": "{sid:print}", "projectRoot": "{project}", "harness": "claude"},
    ),
    Facet("external.log", "GET", "/api/v1/sessions/ext-1/log"),
    Facet("external.list", "GET", "/api/v1/sessions?limit=50"),
    Facet("log.ended", "GET", "/api/v1/sessions/{sid:print}/log"),
    # the lifecycle route refuses a stranger
    Facet("lifecycle.no-body", "POST", "/api/v1/internal/lifecycle/shutdown", raw=b""),
    Facet(
        "lifecycle.stranger",
        "POST",
        "/api/v1/internal/lifecycle/shutdown",
        {"apiVersion": "coven.daemon.v1", "daemon": {"pid": 1, "startedAt": "x", "socket": "/x"}},
    ),
]


@attrs.define
class Side:
    """One daemon and what its answers named (session ids)."""

    socket_path: Path
    project: Path
    ids: dict[str, str] = attrs.field(factory=dict)

    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            value = value.replace("{project}", str(self.project))
            return re.sub(r"\{sid:(\w+)\}", lambda m: self.ids.get(m[1], "missing"), value)
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value

    def send(self, facet: Facet) -> tuple[int, Any]:
        payload = facet.raw
        if payload is None:
            payload = b"" if facet.body is None else json.dumps(self.fill(facet.body)).encode()
        target = self.fill(facet.path)
        head = (
            f"{facet.method} {target} HTTP/1.1\r\nhost: coven\r\n"
            f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
        )
        answer = exchange(self.socket_path, head.encode() + payload)
        assert answer is not None, f"{facet.name}: no response"
        status, _, body = answer
        try:
            return status, json.loads(body) if body else None
        except ValueError:
            return status, body.decode(errors="replace")

    def settle(self, name: str, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            _, record = self.send(Facet("", "GET", f"/api/v1/sessions/{self.ids.get(name)}"))
            if isinstance(record, dict) and record.get("status") in TERMINAL:
                return
            time.sleep(0.1)

    def kinds(self, name: str) -> set[str]:
        _, page = self.send(Facet("", "GET", f"/api/v1/events?sessionId={self.ids.get(name)}"))
        return {e["kind"] for e in page["events"]} if isinstance(page, dict) else set()


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "null" if value is None else type(value).__name__


def differences(rust: Any, ours: Any, where: str = "") -> list[str]:
    """Where ``ours`` lacks a field of ``rust``, or has it with another JSON type."""
    if isinstance(rust, dict):
        if not isinstance(ours, dict):
            return [f"{where or '.'}: object vs {shape(ours)}"]
        found = []
        for key, value in rust.items():
            if key not in ours:
                found.append(f"{where}.{key}: missing")
            else:
                found += differences(value, ours[key], f"{where}.{key}")
        return found
    if isinstance(rust, list):
        if not isinstance(ours, list):
            return [f"{where or '.'}: array vs {shape(ours)}"]
        if rust and ours:
            return differences(rust[0], ours[0], f"{where}[0]")
        return []
    if shape(rust) != shape(ours) and "null" not in (shape(rust), shape(ours)):
        return [f"{where or '.'}: {shape(rust)} vs {shape(ours)}"]
    return []


def compare(facet: Facet, rust: tuple[int, Any], ours: tuple[int, Any]) -> list[str]:
    found = []
    if rust[0] != ours[0]:
        found.append(f"status {rust[0]} vs {ours[0]}")
    if isinstance(rust[1], dict) and isinstance(rust[1].get("error"), dict):
        theirs = rust[1]["error"].get("code")
        mine = ours[1].get("error", {}).get("code") if isinstance(ours[1], dict) else None
        if theirs != mine:
            found.append(f"error code {theirs} vs {mine}")
    found += differences(rust[1], ours[1])
    statuses = [r.get("status") for r in (rust[1], ours[1]) if isinstance(r, dict)]
    if len(statuses) == 2 and all(isinstance(x, str) for x in statuses):
        over = [x in TERMINAL for x in statuses]
        if over[0] != over[1]:  # a client polls until a terminal status
            found.append(f"status {statuses[0]} vs {statuses[1]}: one is terminal")
    return found


@attrs.frozen
class Pair:
    rust: Side
    ours: Side


@pytest.fixture(scope="module")
def pair(npm_pins: Callable[[str], Path]) -> Iterator[Pair]:
    npm_pins("realcli")
    root = Path(tempfile.mkdtemp(prefix="cvd", dir="/tmp"))
    try:
        executable = coven_rust.binary(root / "bin")
    except coven_rust.Unavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    project = root / "proj"
    project.mkdir()
    env = coven_rust.rust_env(FAKES)
    rust = coven_rust.RustDaemon(executable, root / "r", env)
    rust.start()
    ours = DaemonProcess(root / "t", root / "t.log", env)
    try:
        yield Pair(Side(rust.socket_path, project), Side(ours.socket_path, project))
    finally:
        rust.stop()
        ours.stop()


def test_the_deviations_table_names_real_facets() -> None:
    known = {f.name for f in FACETS}
    assert set(documented_deviations()) <= known, set(documented_deviations()) - known


def test_coven_and_coven_trio_answer_alike(pair: Pair) -> None:
    allowed = documented_deviations()
    report = []
    for facet in FACETS:
        for side in (pair.rust, pair.ours):
            if facet.settle:
                side.settle(facet.settle)
        rust, ours = pair.rust.send(facet), pair.ours.send(facet)
        if facet.save:
            for side, (_, record) in ((pair.rust, rust), (pair.ours, ours)):
                if isinstance(record, dict) and "id" in record:
                    side.ids[facet.save] = record["id"]
        found = compare(facet, rust, ours)
        if facet.kinds_of:
            missing = pair.rust.kinds(facet.kinds_of) - pair.ours.kinds(facet.kinds_of)
            found += [f"event kinds only Coven journals: {sorted(missing)}"] if missing else []
        if found and facet.name not in allowed:
            report.append(
                f"{facet.name} ({facet.method} {facet.path}): {'; '.join(found)}\n"
                f"    rust {rust[0]} {json.dumps(rust[1])[:400]}\n"
                f"    ours {ours[0]} {json.dumps(ours[1])[:400]}"
            )
    print(f"\n{len(FACETS)} facets, {len(allowed)} documented deviations")
    assert not report, "\n".join(report)

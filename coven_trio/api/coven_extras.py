"""Coven's routes beyond the seed's eleven, which its CLI and clients call: a harness's
capabilities, a session's log, external sessions and the lifecycle shutdown.

Shapes are the Rust daemon's (0.4.6); ``docs/coven-compat.md`` lists what differs.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

from ..errors import DaemonIdentityMismatch, InvalidRequest, UnknownHarness
from ..http import Request, Response
from ..journal import Journal
from ..vocabulary import EntryType, HarnessId
from ._context import ApiContext

#: A log line shows this much of an entry (Coven's preview length).
LOG_PREVIEW_CHARS = 240
#: ``GET /sessions/:id/log`` returns at most the last this many lines.
MAX_LOG_LINES = 10_000
#: Each harness's global instructions file (what ``/capabilities/:id`` reports).
_INSTRUCTIONS: dict[str, tuple[str, str]] = {
    HarnessId.CLAUDE: (".claude", "CLAUDE.md"),
    HarnessId.CODEX: (".codex", "AGENTS.md"),
}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def harness_capabilities(harness: str) -> dict[str, Any]:
    """One harness's manifest: its global instructions file (skills and plugins are not
    scanned: empty lists)."""
    instructions: dict[str, Any] = {"present": False}
    folder, name = _INSTRUCTIONS.get(harness, ("", ""))
    if name:
        base = os.environ.get("CODEX_HOME") if harness == HarnessId.CODEX else None
        path = Path(base) / name if base else Path.home() / folder / name
        try:
            size = path.stat().st_size
        except OSError:
            pass
        else:
            instructions = {"present": True, "path": str(path), "byte_count": size}
    return {
        "harness_id": harness,
        "scanned_at": _now(),
        "global_instructions": instructions,
        "skills": [],
        "plugins": [],
        "warnings": [],
    }


def log_lines(journal: Journal) -> list[dict[str, str]]:
    """The journal as Coven's log: ``{ts, level, message}``, input prefixed ``> ``."""
    start = max(0, len(journal) - MAX_LOG_LINES)
    lines = []
    for index in range(start, len(journal)):
        entry = journal.get(index)
        kind, preview = entry.type, _preview(entry.data)
        level, message = "info", f"{kind}: {preview}"
        if kind == EntryType.OUTPUT:
            message = preview
        elif kind == EntryType.INPUT:
            message = f"> {preview}"
        elif kind in (EntryType.SESSION_FAILED, EntryType.TURN_FAILED, EntryType.STDERR):
            level = "error"
        lines.append({"ts": entry.at, "level": level, "message": message})
    return lines


def _preview(data: Any) -> str:
    if isinstance(data, dict):
        for key in ("data", "content", "message", "text"):
            if isinstance(data.get(key), str):
                data = data[key]
                break
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return text if len(text) <= LOG_PREVIEW_CHARS else text[: LOG_PREVIEW_CHARS - 1] + "…"


class CovenExtras:
    """Handlers of the routes beyond the seed."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def _harness_ids(self) -> list[str]:
        return [h for h in self.ctx.harnesses.configured() if h != HarnessId.COMMAND]

    async def capabilities_harnesses(self, request: Request) -> Response:
        return Response.json(
            {
                "coven_skills": [],
                "harness_capabilities": [harness_capabilities(h) for h in self._harness_ids()],
                "scanned_at": _now(),
            }
        )

    async def capability(self, request: Request) -> Response:
        harness = request.params["id"]
        if harness not in self._harness_ids():
            raise UnknownHarness(
                f"Harness `{harness}` was not found.", details={"harnessId": harness}
            )
        return Response.json(harness_capabilities(harness))

    async def log(self, request: Request) -> Response:
        session = await self.ctx.sessions.find(request.params["id"])
        return Response.json(log_lines(await self.ctx.sessions.journal(session)))

    async def register_external(self, request: Request) -> Response:
        body = request.json_object()
        record, created = await self.ctx.sessions.register_external(body)
        return Response.json(record, status=201 if created else 200)

    async def complete(self, request: Request) -> Response:
        body = request.json()
        code = body.get("exitCode") if isinstance(body, dict) else None
        exit_code = code if isinstance(code, int) and not isinstance(code, bool) else None
        record = await self.ctx.sessions.complete_external(request.params["id"], exit_code)
        return Response.json(record)

    async def shutdown(self, request: Request) -> Response:
        """``POST /api/v1/internal/lifecycle/shutdown`` ``{apiVersion, daemon}``: the
        caller names the daemon it means (as its health reported it), so a request for
        an older run of this socket stops nothing."""
        if not request.body.strip():
            raise InvalidRequest("daemon shutdown request body is required")
        body = request.json_object()
        who = self.ctx.identity
        me = {"pid": who.pid, "startedAt": who.started_at, "socket": str(who.socket_path)}
        if body.get("apiVersion") != "coven.daemon.v1" or body.get("daemon") != me:
            raise DaemonIdentityMismatch(
                "Daemon identity did not match; refusing lifecycle shutdown."
            )
        self.ctx.shutdown()
        return Response.json(
            {
                "ok": True,
                "apiVersion": "coven.daemon.v1",
                "capabilities": {"structuredErrors": True},
                "daemon": me,
            },
            status=202,
        )

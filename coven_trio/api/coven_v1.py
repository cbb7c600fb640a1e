"""coven.daemon.v1 under ``/api/v1``: handshake, capabilities, actions, sessions, events.

Shapes follow the Rust Coven daemon (docs/reference in ``spec/reference/coven-v1.md``)
with the decisions of spec §4; where we differ, ``docs/api.md`` says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import models
from ..errors import ActionRejected
from ..http import Request, Response, Router

if TYPE_CHECKING:
    from ..daemon import Daemon

API_VERSION = "coven.daemon.v1"
PREFIX = "/api/v1"

#: The fixed capability catalog (the Rust daemon's shape; only what we serve).
_ACTIONS = ("coven.capabilities.refresh", "coven.sessions.kill", "coven.sessions.killAll")
CAPABILITY_CATALOG: list[dict[str, Any]] = [
    {
        "id": "coven.sessions",
        "label": "Project-scoped harness sessions",
        "adapter": "coven-daemon",
        "status": "available",
        "policy": "allow",
        "actions": [],
    },
    {
        "id": "coven.control.actions",
        "label": "Coven control-plane action router",
        "adapter": "coven-daemon",
        "status": "available",
        "policy": "allow",
        "actions": list(_ACTIONS),
    },
    {
        "id": "coven.eve",
        "label": "eve-compatible session API",
        "adapter": "coven-daemon",
        "status": "available",
        "policy": "allow",
        "actions": [],
    },
]


class CovenV1:
    """Handlers of ``/api/v1``; each reads the daemon it was built for."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    # --- handshake -----------------------------------------------------------------------

    def health_body(self) -> dict[str, Any]:
        d = self.daemon
        health = models.Health(
            ok=True,
            api_version=API_VERSION,
            coven_version=d.version,
            capabilities=models.Capabilities(
                sessions=True,
                events=True,
                actions=True,
                harnesses=d.harnesses.available(),
            ),
            daemon=models.DaemonInfo(
                pid=d.pid,
                uptime=round(d.uptime, 3),
                started_at=d.started_at,
                socket=str(d.socket_path),
            ),
        )
        body: dict[str, Any] = models.unstructure(health)
        return body

    async def health(self, request: Request) -> Response:
        return Response.json(self.health_body())

    async def api_version(self, request: Request) -> Response:
        return Response.json({"apiVersion": "v1", "supportedApiVersions": ["v1"]})

    async def capabilities(self, request: Request) -> Response:
        return Response.json({"capabilities": CAPABILITY_CATALOG})

    # --- actions -------------------------------------------------------------------------

    async def actions(self, request: Request) -> Response:
        try:
            body = request.json()
        except Exception:
            raise ActionRejected("failed to parse request body", action="(unknown)") from None
        if not isinstance(body, dict):
            raise ActionRejected("request body must be a JSON object", action="(unknown)")
        action = body.get("action")
        if not isinstance(action, str) or not action.strip():
            raise ActionRejected("request body requires string field `action`", action="")
        action = action.strip()
        args = body.get("args")
        args = args if isinstance(args, dict) else {}
        if action == "coven.capabilities.refresh":
            self.daemon.harnesses.refresh()
            payload: dict[str, Any] = {
                "capabilities": len(CAPABILITY_CATALOG),
                "harnesses": self.daemon.harnesses.available(),
            }
            kind = "capabilities.refreshed"
        elif action == "coven.sessions.kill":
            session_id = args.get("sessionId")
            if not isinstance(session_id, str) or not session_id:
                raise ActionRejected("args requires string field `sessionId`", action=action)
            try:
                await self.daemon.sessions.kill(session_id)
            except Exception as exc:
                raise ActionRejected(str(exc), action=action) from None
            payload, kind = {"sessionId": session_id}, "session.killed"
        elif action == "coven.sessions.killAll":
            killed = await self.daemon.sessions.kill_all()
            payload, kind = {"sessionIds": killed}, "sessions.killed"
        else:
            raise ActionRejected(f"unknown action `{action}`", action=action)
        event: dict[str, Any] = {"kind": kind, "action": action}
        for key in ("origin", "intentId"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                event[key] = value.strip()
        event["payload"] = payload
        return Response.json(
            {"ok": True, "accepted": True, "action": action, "status": "completed", "event": event}
        )


def install(router: Router, daemon: Daemon) -> CovenV1:
    api = CovenV1(daemon)
    router.add("GET", "/health", api.health)
    router.add("GET", f"{PREFIX}/health", api.health)
    router.add("GET", f"{PREFIX}/api-version", api.api_version)
    router.add("GET", f"{PREFIX}/capabilities", api.capabilities)
    router.add("POST", f"{PREFIX}/actions", api.actions)
    return api

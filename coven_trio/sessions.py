"""Session registry (placeholder until the session supervisor lands)."""

from __future__ import annotations

import trio

from .config import Config
from .errors import SessionNotFound
from .harness import HarnessCatalog
from .journal import Journal
from .models import LaunchRequest, SessionRecord


class Session:
    journal: Journal

    def record(self) -> SessionRecord:
        raise NotImplementedError


class SessionRegistry:
    def __init__(self, config: Config, harnesses: HarnessCatalog) -> None:
        self.config = config
        self.harnesses = harnesses

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep_forever()

    async def stop_all(self) -> None:
        return

    async def launch(self, request: LaunchRequest) -> Session:
        raise NotImplementedError

    def get(self, session_id: str) -> Session:
        raise SessionNotFound("Session was not found.", details={"sessionId": session_id})

    async def kill(self, session_id: str) -> None:
        self.get(session_id)

    async def kill_all(self) -> list[str]:
        return []

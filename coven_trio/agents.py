"""Agent profiles for the eve API: ``<home>/agents.toml`` maps a name to a harness.

```toml
[assistant]                       # the default agent
harness = "claude"
model = "claude-sonnet-4-6"       # optional
launchMode = "stream"             # optional; the harness's default otherwise
systemPrompt = "Be brief."        # optional; claude --append-system-prompt
permissionMode = "ask"            # optional; claude (ask: questions come to the client)
# sandbox = "workspace-write"     # optional; codex (and approval = "never")
projectRoot = "/home/me/project"  # optional; the daemon's working folder otherwise

[[assistant.tools]]               # optional; shown by GET {mount}/info
name = "Bash"
description = "Run a shell command"
parameters = { type = "object" }
```

Without the file (or without an ``assistant`` entry) the default agent is
``assistant`` → ``claude``. A broken file is reported at startup and ignored.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import attrs

from ._home import distrust
from .vocabulary import HarnessId

log = logging.getLogger("coven_trio.agents")

DEFAULT_AGENT = "assistant"
AGENTS_FILE = "agents.toml"


@attrs.frozen
class AgentProfile:
    name: str
    harness: str = HarnessId.CLAUDE
    model: str | None = None
    launch_mode: str | None = None
    system_prompt: str | None = None
    project_root: str | None = None
    tools: tuple[dict[str, Any], ...] = ()
    #: claude's ``permissionMode`` (default for eve: ``ask``, in stream mode).
    permission_mode: str | None = None
    #: codex's ``sandbox`` and ``approval``.
    sandbox: str | None = None
    approval: str | None = None


def _profile(name: str, raw: Any) -> AgentProfile:
    if not isinstance(raw, dict):
        raise ValueError(f"agent `{name}` must be a table")

    def text(key: str) -> str | None:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"agent `{name}`: `{key}` must be a string")
        return value

    tools = raw.get("tools", [])
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise ValueError(f"agent `{name}`: `tools` must be an array of tables")
    return AgentProfile(
        name=name,
        harness=text("harness") or HarnessId.CLAUDE,
        model=text("model"),
        launch_mode=text("launchMode"),
        system_prompt=text("systemPrompt"),
        project_root=text("projectRoot"),
        permission_mode=text("permissionMode"),
        sandbox=text("sandbox"),
        approval=text("approval"),
        tools=tuple(
            {
                "name": str(t.get("name", "")),
                "description": str(t.get("description", "")),
                "parameters": t.get("parameters", {"type": "object"}),
            }
            for t in tools
        ),
    )


def load_agents(home: Path) -> dict[str, AgentProfile]:
    """Profiles by name; ``assistant`` is always present."""
    agents: dict[str, AgentProfile] = {}
    path = home / AGENTS_FILE
    try:
        reason = distrust(path) if path.exists() else None
        if reason is not None:
            raise ValueError(f"not loaded: {reason}")
        text = path.read_text()
        import tomllib  # only with an agents.toml to read

        data = tomllib.loads(text)
        agents = {name: _profile(name, raw) for name, raw in data.items()}
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.error("ignoring %s: %s", path, exc)
    agents.setdefault(DEFAULT_AGENT, AgentProfile(name=DEFAULT_AGENT))
    return agents


def default_project_root() -> str:
    """Where an eve session works when its profile names no ``projectRoot``."""
    return os.getcwd()

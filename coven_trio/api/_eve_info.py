"""``GET /eve/v1/info``: an agent profile as eve's agent-info object (version 5, the one
today's client validates strictly: ``kind: "eve-agent-info"``).

An eve agent is a project of source files; ours is a profile in ``agents.toml``, so each
part is described as an application-owned source under that file. ``agent.name`` stays
where the seed's v16 readers look for it.
"""

from __future__ import annotations

from typing import Any

from ..agents import AgentProfile
from ..vocabulary import HarnessId

#: The model provider each built-in harness talks to.
_PROVIDERS: dict[str, str] = {HarnessId.CLAUDE: "anthropic", HarnessId.CODEX: "openai"}
_OWNER = {"kind": "application"}


def _source(path: str, source_id: str, kind: str = "markdown") -> dict[str, Any]:
    return {"logicalPath": path, "owner": _OWNER, "sourceId": source_id, "sourceKind": kind}


def agent_info(profile: AgentProfile, home: str) -> dict[str, Any]:
    path = f"agents.toml#{profile.name}"
    binding = {
        "backing": {"externalDependencies": [], "kind": "filesystem", "sourcePath": path},
        "logicalPath": path,
        "owner": _OWNER,
    }
    model_id = profile.model or profile.harness
    provider = _PROVIDERS.get(profile.harness, profile.harness)
    tools = [
        {
            **_source(f"{path}/tools/{tool['name']}", f"tool:{tool['name']}"),
            "name": str(tool["name"]),
            "description": str(tool.get("description", "")),
            "hasAuth": False,
            "hasExecute": False,
            "hasModelOutputProjection": False,
            "hasOutputSchema": False,
            "inputSchema": tool.get("parameters", {"type": "object"}),
            "requiresApproval": False,
        }
        for tool in profile.tools
    ]
    instructions = (
        [
            {
                **_source(f"{path}/systemPrompt", "instructions:system"),
                "name": "systemPrompt",
                "content": profile.system_prompt,
                "role": "system",
            }
        ]
        if profile.system_prompt
        else []
    )
    return {
        "agent": {
            "agentRoot": home,
            "appRoot": home,
            "config": {**_source(path, f"agent:{profile.name}", "module"), "binding": binding},
            "model": {"id": model_id, "routing": {"kind": "external", "provider": provider}},
            "name": profile.name,
            "nodeId": profile.name,
        },
        "capabilities": {"devRoutes": False},
        "channels": {"routes": [], "shadowed": []},
        "composition": {"disabled": [], "shadowed": []},
        "connections": [],
        "diagnostics": {"discoveryErrors": 0, "discoveryWarnings": 0},
        "hooks": [],
        "instructions": {"dynamic": [], "static": instructions},
        "kernelEffects": [],
        "kind": "eve-agent-info",
        "memories": [],
        "mode": "production",
        "remoteAgents": {"entries": [], "total": 0},
        "sandbox": {**_source(f"{path}/harness", "sandbox"), "revisionHash": profile.harness},
        "schedules": [],
        "skills": {"dynamic": [], "static": []},
        "subagents": {"local": [], "total": 0},
        "tools": {"dynamic": [], "static": tools},
        "version": 5,
        "workspace": {"resourceRoot": None, "rootEntries": []},
    }

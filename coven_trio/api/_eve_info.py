"""``GET /eve/v1/info``: an agent profile as each eve client generation reads it.

Today's client validates eve's agent-info object strictly (version 5, ``kind:
"eve-agent-info"``): :func:`agent_info`. An eve agent is a project of source files; ours
is a profile in ``agents.toml``, so each part is described as an application-owned
source under that file. The seed's clients read the seed's document (:func:`seed_info`):
``{agent: {name, model}, tools: [{name, description, parameters}], connections: []}``,
the model the harness runs and the tools it has (the profile's, else the harness's own
built-in tools as its pinned CLI reports them).
"""

from __future__ import annotations

from typing import Any

from ..agents import AgentProfile
from ..vocabulary import HarnessId

#: The model provider each built-in harness talks to.
_PROVIDERS: dict[str, str] = {HarnessId.CLAUDE: "anthropic", HarnessId.CODEX: "openai"}
_OWNER = {"kind": "application"}


#: The built-in tools each harness's pinned CLI reports (Claude Code 2.1.197's init line;
#: Codex 0.171's exec tools), shown when a profile names none.
_BUILT_IN: dict[str, tuple[tuple[str, str], ...]] = {
    HarnessId.CLAUDE: (
        ("Bash", "Run a shell command in the project"),
        ("Read", "Read a file"),
        ("Edit", "Edit a file in place"),
        ("Write", "Write a file"),
        ("NotebookEdit", "Edit a Jupyter notebook cell"),
        ("WebFetch", "Fetch a web page"),
        ("WebSearch", "Search the web"),
        ("Task", "Run a subagent on a task"),
        ("Skill", "Use a skill"),
    ),
    HarnessId.CODEX: (
        ("exec_command", "Run a shell command in the sandbox"),
        ("write_stdin", "Write to a running command"),
        ("apply_patch", "Apply a patch to files"),
    ),
}


def seed_info(profile: AgentProfile) -> dict[str, Any]:
    """The seed's ``/info`` document."""
    tools = [
        {
            "name": str(tool["name"]),
            "description": str(tool.get("description", "")),
            "parameters": tool.get("parameters", {"type": "object"}),
        }
        for tool in profile.tools
    ] or [
        {"name": name, "description": text, "parameters": {"type": "object"}}
        for name, text in _BUILT_IN.get(profile.harness, ())
    ]
    model = profile.model or profile.harness
    return {"agent": {"name": profile.name, "model": model}, "tools": tools, "connections": []}


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

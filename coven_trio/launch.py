"""Launch validation: is this request acceptable, and what exactly will run?

Checked in the order of spec §4 / Coven's launch route, before anything exists, so a
refused launch creates no session and no process: paths (``projectRoot`` canonical,
``cwd`` inside it after symlinks and ``..``) → harness configured → ``launchMode`` →
``prompt`` (or ``command`` for the ``command`` harness) → executable found → ``model``.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import attrs

from .errors import (
    CwdOutsideRoot,
    HarnessNotFound,
    HarnessUnsupported,
    InvalidRequest,
    UnknownFamiliar,
)
from .harness import HarnessCatalog, HarnessSpec, claude, codex, model_id
from .models import Conversation, LaunchRequest
from .vocabulary import HarnessId, LaunchMode


@attrs.frozen
class LaunchPlan:
    """A validated launch: everything needed to start the harness."""

    project_root: str
    cwd: str
    harness: str
    spec: HarnessSpec
    mode: LaunchMode
    prompt: str
    executable: str
    model: str | None
    command: list[str] | None
    #: ``(mode, id)`` of a validated ``conversation``.
    conversation: tuple[str, str] | None = None
    permission_mode: str | None = None
    sandbox: str | None = None
    approval: str | None = None
    #: The session ends when its first turn's process exits (Coven's nonInteractive).
    one_shot: bool = False
    #: ``isolation``: a worktree of its own, from this base (None: the project's HEAD).
    worktree: Isolation | None = None


@attrs.frozen
class Isolation:
    """A launch's ``isolation: "worktree"`` / ``{"worktree": {"base": "<ref>"}}``."""

    base: str | None = None


def _isolation(value: Any) -> Isolation | None:
    """The launch's ``isolation``, or a 400 that shows the two shapes it may take."""
    if value is None or value == "none":
        return None
    if value == "worktree":
        return Isolation()
    inner = value.get("worktree", False) if isinstance(value, dict) and len(value) == 1 else 0
    if inner is None or inner == {}:
        return Isolation()
    if isinstance(inner, dict) and set(inner) == {"base"}:
        base = inner["base"]
        if base is None or (isinstance(base, str) and base.strip() and "\0" not in base):
            return Isolation(base.strip() if base else None)
    raise InvalidRequest(
        '`isolation` must be "worktree" or {"worktree": {"base": "<branch, tag or commit>"}}',
        details={"field": "isolation"},
    )


def _mode(request: LaunchRequest, spec: HarnessSpec) -> LaunchMode:
    """The launch mode. A Coven client that names none gets what its clients can finish:
    the prompt run to completion (``nonInteractive``), or without a prompt an interactive
    terminal. (Coven's own default is a PTY for both, which leaves a prompt's turn
    hanging with the real CLIs: ``docs/coven-compat.md``.) ``command`` keeps its own."""
    if request.launch_mode:
        try:
            return LaunchMode(request.launch_mode)
        except ValueError:
            raise InvalidRequest(
                "launchMode must be `interactive`, `nonInteractive`, or `stream`, "
                f"got `{request.launch_mode}`",
                details={"launchMode": request.launch_mode},
            ) from None
    if spec.id == HarnessId.COMMAND:
        return spec.default_mode
    if not (request.prompt or "").strip():
        return LaunchMode.INTERACTIVE
    if LaunchMode.NON_INTERACTIVE in spec.modes:
        return LaunchMode.NON_INTERACTIVE
    return spec.default_mode


def plan_launch(
    request: LaunchRequest, harnesses: HarnessCatalog, *, prewarm: bool = False
) -> LaunchPlan:
    """Validate ``request``; raises the client-facing error of the first problem.
    ``prewarm``: no prompt yet (eve's bodyless create; the first message brings it)."""
    root, cwd = resolve_paths(request.project_root, request.cwd)
    harness_id = (request.harness or "").strip()
    if not harness_id:
        raise InvalidRequest("request body requires string field `harness`")
    spec = harnesses.get(harness_id)
    if spec is None:
        configured = harnesses.configured()
        raise HarnessUnsupported(
            f"unsupported harness `{harness_id}`. Configured harnesses: " + ", ".join(configured),
            details={"harness": harness_id, "configured": configured},
        )
    mode = _mode(request, spec)
    # As in Coven, a nonInteractive session is one run; ``followUps`` (ours, and eve's
    # sessions) keeps it idle between turns, each follow-up a resumed process.
    one_shot = mode is LaunchMode.NON_INTERACTIVE and not request.follow_ups
    if mode not in spec.modes:
        raise InvalidRequest(
            f"harness `{harness_id}` does not support {mode}-mode launches; "
            f"use launchMode `{spec.default_mode}` instead",
            details={"harness": harness_id, "launchMode": mode},
        )
    prompt = (request.prompt or "").strip()
    command = request.command
    if harness_id == HarnessId.COMMAND:
        if not command or not all(isinstance(a, str) and a for a in command):
            raise InvalidRequest(
                "harness `command` requires `command`: a non-empty list of strings"
            )
        found = _which(command[0], cwd)
        if found is None:
            raise HarnessNotFound(
                f"command `{command[0]}` was not found",
                details={"harness": harness_id, "executable": command[0]},
            )
        command = [found, *command[1:]]
    else:
        if not prompt and mode is not LaunchMode.INTERACTIVE and not prewarm:
            raise InvalidRequest("request body requires string field `prompt`")
        found = spec.resolve()
        if found is None:
            raise HarnessNotFound(
                f"harness `{harness_id}` is not installed: `{spec.executable}` "
                "was not found on PATH",
                details={"harness": harness_id, "executable": spec.executable},
            )
    conversation = _conversation(request, harness_id, mode)
    _policies(request, harness_id, mode)
    return LaunchPlan(
        worktree=_isolation(request.isolation),
        one_shot=one_shot,
        conversation=conversation,
        permission_mode=request.permission_mode,
        sandbox=request.sandbox,
        approval=request.approval,
        project_root=root,
        cwd=cwd,
        harness=harness_id,
        spec=spec,
        mode=mode,
        prompt=prompt,
        executable=found,
        model=model_id(request.model),
        command=command,
    )


_CONVERSATION_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")
#: Where a conversation can be started with a chosen id or continued (Coven's table).
_CONVERSATIONS = {
    (HarnessId.CLAUDE, LaunchMode.STREAM),
    (HarnessId.CLAUDE, LaunchMode.NON_INTERACTIVE),
    (HarnessId.CODEX, LaunchMode.NON_INTERACTIVE),
}


def _conversation(request: LaunchRequest, harness: str, mode: LaunchMode) -> tuple[str, str] | None:
    """``conversation {mode, id}`` (and Coven's ``conversationId``, which names the
    conversation a launch starts) checked against what the harness can do."""
    if request.familiar_id is not None:
        raise UnknownFamiliar(
            f"unknown familiar `{request.familiar_id}`; coven-trio has no familiars",
            details={"familiarId": request.familiar_id},
        )
    conversation = request.conversation
    named = (request.conversation_id or "").strip() or None
    if conversation is None and named is not None:
        conversation = Conversation("init", named)
    elif conversation is not None and named is not None and named != conversation.id.strip():
        raise InvalidRequest(
            "conversationId and conversation.id name different conversations",
            details={"fields": ["conversationId", "conversation.id"]},
        )
    if conversation is None:
        return None
    if conversation.mode not in ("init", "resume"):
        raise InvalidRequest(
            f"conversation.mode must be `init` or `resume`, got `{conversation.mode}`",
            details={"conversation": {"mode": conversation.mode}},
        )
    conversation_id = conversation.id.strip()
    if not _CONVERSATION_ID.fullmatch(conversation_id):
        raise InvalidRequest(
            "conversation.id must be 1-200 characters of A-Z a-z 0-9 . _ -",
            details={"conversation": {"id": conversation.id}},
        )
    if (harness, mode) not in _CONVERSATIONS:
        raise InvalidRequest(
            f"harness `{harness}` in {mode} mode cannot start or resume a conversation",
            details={"harness": harness, "launchMode": mode},
        )
    if harness == HarnessId.CODEX and conversation.mode == "init":
        return None  # codex mints its own thread id (as Coven ignores init for it)
    if harness == HarnessId.CLAUDE and conversation.mode == "init":
        try:
            uuid.UUID(conversation_id)
        except ValueError:  # claude refuses a --session-id that is not one
            raise InvalidRequest(
                "claude starts a conversation only with a UUID as its id",
                details={"conversation": {"id": conversation_id}},
            ) from None
    return conversation.mode, conversation_id


def _policies(request: LaunchRequest, harness: str, mode: LaunchMode) -> None:
    """``permissionMode`` is claude's, ``sandbox``/``approval`` codex's; each checked
    here, so a refusal is a clear 400 rather than a CLI exiting 1 in the log."""
    permission = request.permission_mode
    bypass = permission == "bypassPermissions" or (
        permission is None and harness == HarnessId.CLAUDE and claude.bypass_from_env()
    )
    if permission is not None:
        if harness != HarnessId.CLAUDE:
            raise InvalidRequest(
                f"permissionMode is claude's; harness `{harness}` has none",
                details={"harness": harness, "permissionMode": permission},
            )
        if permission not in claude.PERMISSION_MODES:
            raise InvalidRequest(
                "permissionMode must be one of " + ", ".join(claude.PERMISSION_MODES),
                details={"permissionMode": permission},
            )
        if permission == "ask" and mode is not LaunchMode.STREAM:
            raise InvalidRequest(
                "permissionMode `ask` needs launchMode `stream` (questions come back on stdin)",
                details={"permissionMode": permission, "launchMode": mode},
            )
    if bypass and harness == HarnessId.CLAUDE and os.geteuid() == 0:
        raise InvalidRequest(
            "claude refuses bypassPermissions when run as root; run the daemon as a normal "
            "user, or choose another permissionMode",
            details={"harness": harness, "permissionMode": "bypassPermissions"},
        )
    for name, value, allowed in (
        ("sandbox", request.sandbox, codex.SANDBOXES),
        ("approval", request.approval, codex.APPROVALS),
    ):
        if value is None:
            continue
        if harness != HarnessId.CODEX:
            raise InvalidRequest(
                f"{name} is codex's; harness `{harness}` has none",
                details={"harness": harness, name: value},
            )
        if value not in allowed:
            raise InvalidRequest(
                f"{name} must be one of " + ", ".join(allowed), details={name: value}
            )


def resolve_paths(project_root: str | None, cwd: str | None) -> tuple[str, str]:
    """Canonical ``(root, cwd)``; ``cwd`` must stay inside ``root`` after symlinks."""
    if project_root is None or not project_root.strip():
        raise InvalidRequest("request body requires string field `projectRoot`")
    root = os.path.realpath(project_root.strip())
    if not os.path.isdir(root):
        raise InvalidRequest("failed to resolve projectRoot", details={"projectRoot": project_root})
    if cwd is None:
        return root, root
    resolved = os.path.realpath(os.path.join(root, cwd))
    if not os.path.isdir(resolved):
        raise InvalidRequest("cwd does not exist or is not a directory", details={"cwd": cwd})
    if os.path.commonpath([root, resolved]) != root:
        raise CwdOutsideRoot(
            "cwd is outside the Coven project root",
            details={"projectRoot": root, "cwd": resolved},
        )
    return root, resolved


def _which(program: str, cwd: str) -> str | None:
    """A ``command`` program: a path (relative to ``cwd``) or a name on PATH."""
    if "/" in program:
        path = Path(cwd, program)
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(program)

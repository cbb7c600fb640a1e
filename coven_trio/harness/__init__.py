"""Harness adapters: which agent CLIs exist, how to start them, how to read them.

The catalog knows the built-in ids (``claude``, ``codex``, ``command``) and Coven-style
manifests (``manifest.py``); :func:`make_driver` builds the per-session driver that
turns a launch into argv and native output into journal entries.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import attrs

from ..vocabulary import HarnessId, LaunchMode
from ._driver import Driver, model_id
from .manifest import Manifest, load_manifests


@attrs.frozen
class HarnessSpec:
    """What the daemon knows about one harness id."""

    id: str
    #: Program to find on PATH (or a path); None for ``command``, whose argv is per launch.
    executable: str | None
    default_mode: LaunchMode
    modes: tuple[LaunchMode, ...]
    manifest: Manifest | None = None

    def resolve(self) -> str | None:
        """The executable's full path, or None if it cannot be found."""
        if self.executable is None:
            return None
        return shutil.which(self.executable)


_PTY_AND_PIPES = (LaunchMode.INTERACTIVE, LaunchMode.NON_INTERACTIVE)
BUILT_IN = (
    HarnessSpec(
        HarnessId.CLAUDE, "claude", LaunchMode.STREAM, (*_PTY_AND_PIPES, LaunchMode.STREAM)
    ),
    HarnessSpec(HarnessId.CODEX, "codex", LaunchMode.NON_INTERACTIVE, _PTY_AND_PIPES),
    HarnessSpec(HarnessId.COMMAND, None, LaunchMode.NON_INTERACTIVE, _PTY_AND_PIPES),
)


def _manifest_spec(manifest: Manifest) -> HarnessSpec:
    modes: tuple[LaunchMode, ...] = _PTY_AND_PIPES
    if manifest.stream:
        modes += (LaunchMode.STREAM,)
    default = LaunchMode.STREAM if manifest.stream else LaunchMode.NON_INTERACTIVE
    return HarnessSpec(manifest.id, manifest.executable, default, modes, manifest)


class HarnessCatalog:
    """Built-ins plus manifests; :meth:`refresh` re-reads manifests and PATH."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._specs: dict[str, HarnessSpec] = {}
        self._available: list[str] = []
        self.errors: list[str] = []
        self.refresh()

    def refresh(self) -> None:
        specs = {spec.id: spec for spec in BUILT_IN}
        manifests, self.errors = load_manifests(self.home)
        for manifest in manifests:
            if manifest.id in specs:
                self.errors.append(f"{manifest.path}: `{manifest.id}` is built in; skipped")
                continue
            specs[manifest.id] = _manifest_spec(manifest)
        self._specs = specs
        self._available = [
            spec.id for spec in specs.values() if spec.executable is None or spec.resolve()
        ]

    def get(self, harness_id: str) -> HarnessSpec | None:
        return self._specs.get(harness_id)

    def configured(self) -> list[str]:
        return list(self._specs)

    def available(self) -> list[str]:
        """Ids whose executable was found at the last refresh (``command`` always is)."""
        return list(self._available)


@attrs.frozen
class Options:
    """What a launch asks of its harness beyond argv (validated by ``launch.py``)."""

    model: str | None = None
    #: An agent profile's instructions: claude ``--append-system-prompt``, codex
    #: ``-c developer_instructions=``; other harnesses get them before the prompt.
    system_prompt: str | None = None
    #: claude: ``ask`` (permission questions to the client) or a ``--permission-mode``.
    permission_mode: str | None = None
    #: codex: ``--sandbox`` and ``--ask-for-approval``.
    sandbox: str | None = None
    approval: str | None = None
    #: ``(mode, id)``: start (``init``) or continue (``resume``) that conversation.
    conversation: tuple[str, str] | None = None


def make_driver(
    spec: HarnessSpec,
    *,
    executable: str,
    mode: LaunchMode,
    command: list[str] | None,
    options: Options,
) -> Driver:
    """The driver for one session of ``spec`` (inputs already validated). The adapters
    load with the session machinery (``launch.py``), not with the daemon's start."""
    from .claude import ClaudeDriver

    model, conversation = options.model, options.conversation
    if spec.manifest is not None:
        if mode is LaunchMode.STREAM:
            flag = spec.manifest.model_flag
            return ClaudeDriver(
                executable=executable,
                mode=mode,
                model=model if flag else None,
                stream_args=spec.manifest.stream_args,
                model_flag=flag or "--model",
            )
        from .manifest import ManifestDriver

        return ManifestDriver(executable=executable, mode=mode, model=model, manifest=spec.manifest)
    resume = conversation is not None and conversation[0] == "resume"
    if spec.id == HarnessId.CLAUDE:
        import uuid

        named = mode is not LaunchMode.INTERACTIVE
        # The daemon names every new conversation itself (a uuid, as claude wants).
        chosen = str(uuid.uuid4()) if named else None
        return ClaudeDriver(
            executable=executable,
            mode=mode,
            model=model,
            system_prompt=options.system_prompt,
            permission_mode=options.permission_mode,
            conversation_flags=named,
            conversation_id=conversation[1] if conversation else chosen,
            resume=resume,
        )
    if spec.id == HarnessId.CODEX:
        from .codex import CodexDriver

        return CodexDriver(
            executable=executable,
            mode=mode,
            model=model,
            system_prompt=options.system_prompt,
            sandbox=options.sandbox,
            approval=options.approval,
            conversation_id=conversation[1] if conversation else None,
            resume=resume,
        )
    from .command import CommandDriver

    return CommandDriver(executable=executable, mode=mode, argv=tuple(command or ()))


__all__ = [
    "Driver",
    "HarnessCatalog",
    "HarnessSpec",
    "Options",
    "make_driver",
    "model_id",
]

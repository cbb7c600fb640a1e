"""Coven-style harness manifests: ``<home>/adapters/*.json`` plus every ``*.json`` in the
folders of ``COVEN_HARNESS_ADAPTER_DIRS`` (``:``-separated). A broken manifest is
reported at launch and in logs, never fatal; built-in ids cannot be overridden.

Shape (Coven's, ``reference/coven-v1.md`` §6.6): ``{"adapters": [{…}]}`` or one adapter
object. Fields read: ``id``, ``label``, ``executable``,
``interactive_prompt_prefix_args``, ``non_interactive_prompt_prefix_args``,
``model_flag``, ``capabilities.stream``, ``stream_args.prefix_args``, ``install_hint``
(camelCase aliases accepted). One extension: ``executable`` may be a path relative to the
manifest's folder (``./echo_agent.py``), so a manifest can ship with its agent.

A manifest names a program the daemon will run, so only files owned by the daemon's
user and not writable by others are loaded; any other is reported and skipped.

argv: ``exe [model_flag M] PREFIX… -- PROMPT`` (interactive/nonInteractive), or
``exe [model_flag M] STREAM_PREFIX…`` with the prompt as a stream-json user line
(``stream``: driven exactly like claude).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import attrs

from .._home import distrust
from ._driver import Driver

_ID = re.compile(r"^[a-z0-9._-]+$")


@attrs.frozen
class Manifest:
    id: str
    path: Path
    executable: str
    label: str = ""
    interactive_args: tuple[str, ...] = ()
    non_interactive_args: tuple[str, ...] = ()
    model_flag: str | None = None
    stream: bool = False
    stream_args: tuple[str, ...] = ()
    install_hint: str = ""


def _field(data: dict[str, Any], snake: str) -> Any:
    head, *rest = snake.split("_")
    camel = head + "".join(p.title() for p in rest)
    return data.get(snake, data.get(camel))


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"`{name}` must be a list of strings")
    return tuple(value)


def parse_adapter(path: Path, data: Any) -> Manifest:
    """Validate one adapter object; raises ValueError with a reason."""
    if not isinstance(data, dict):
        raise ValueError("adapter must be a JSON object")
    harness_id = data.get("id")
    if not isinstance(harness_id, str) or not _ID.match(harness_id):
        raise ValueError("`id` must match [a-z0-9._-]+")
    executable = data.get("executable")
    if not isinstance(executable, str) or not executable.strip():
        raise ValueError("`executable` must be a non-empty string")
    if "/" in executable:
        executable = os.path.normpath(path.parent / executable)
    capabilities = data.get("capabilities") or {}
    stream = bool(capabilities.get("stream")) if isinstance(capabilities, dict) else False
    stream_spec = _field(data, "stream_args") or {}
    if not isinstance(stream_spec, dict):
        raise ValueError("`stream_args` must be an object")
    stream_args = _strings(_field(stream_spec, "prefix_args"), "stream_args.prefix_args")
    if stream and not stream_args:
        raise ValueError("`stream_args.prefix_args` is required when capabilities.stream")
    model_flag = _field(data, "model_flag")
    label = data.get("label")
    hint = data.get("install_hint")
    return Manifest(
        id=harness_id,
        path=path,
        executable=executable,
        label=label if isinstance(label, str) else harness_id,
        interactive_args=_strings(
            _field(data, "interactive_prompt_prefix_args"), "interactive_prompt_prefix_args"
        ),
        non_interactive_args=_strings(
            _field(data, "non_interactive_prompt_prefix_args"),
            "non_interactive_prompt_prefix_args",
        ),
        model_flag=model_flag if isinstance(model_flag, str) else None,
        stream=stream,
        stream_args=stream_args,
        install_hint=hint if isinstance(hint, str) else "",
    )


def _manifest_dirs(home: Path) -> list[Path]:
    dirs = [home / "adapters"]
    extra = os.environ.get("COVEN_HARNESS_ADAPTER_DIRS", "")
    return dirs + [Path(part) for part in extra.split(os.pathsep) if part]


def load_manifests(home: Path) -> tuple[list[Manifest], list[str]]:
    """Every valid adapter (first definition of an id wins), and one message per
    problem."""
    manifests: list[Manifest] = []
    errors: list[str] = []
    seen: set[str] = set()
    for folder in _manifest_dirs(home):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            reason = distrust(path)
            if reason is not None:
                errors.append(f"{path}: not loaded: {reason}")
                continue
            try:
                data = json.loads(path.read_text())
                items = data.get("adapters") if isinstance(data, dict) else None
                for item in items if isinstance(items, list) else [data]:
                    manifest = parse_adapter(path, item)
                    if manifest.id in seen:
                        errors.append(f"{path}: duplicate adapter id `{manifest.id}` skipped")
                        continue
                    seen.add(manifest.id)
                    manifests.append(manifest)
            except (OSError, ValueError) as exc:
                errors.append(f"{path}: {exc}")
    return manifests, errors


@attrs.define
class ManifestDriver(Driver):
    """A plain manifest harness: prompt after ``--``, raw output."""

    manifest: Manifest | None = None

    def _head(self) -> list[str]:
        assert self.manifest is not None
        head = [self.executable]
        if self.model and self.manifest.model_flag:
            head += [self.manifest.model_flag, self.model]
        return head

    def first_argv(self, prompt: str) -> list[str]:
        assert self.manifest is not None
        if self.use_pty:
            prefix = self.manifest.interactive_args
        else:
            prefix = self.manifest.non_interactive_args
        return [*self._head(), *prefix, *(["--", prompt] if prompt else [])]

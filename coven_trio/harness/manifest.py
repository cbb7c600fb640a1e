"""Coven-style harness manifests: ``<home>/adapters/*.json`` (and the folders named in
``COVEN_HARNESS_ADAPTER_DIRS``), each registering one custom harness.

Fields read (Coven's names): ``id`` (required), ``label``, ``executable`` (required: a
bare name looked up on PATH, or a path relative to the manifest's folder), ``args``
(argv before the prompt), ``promptMode`` (``argument`` — prompt as the last argument,
the default — or ``stdin``), ``stream`` (true: speaks Claude's stream-json both ways,
so follow-ups go on stdin). A broken manifest is reported, never fatal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs


@attrs.frozen
class Manifest:
    id: str
    path: Path
    executable: str
    label: str = ""
    args: tuple[str, ...] = ()
    prompt_mode: str = "argument"
    stream: bool = False


def _manifest_dirs(home: Path) -> list[Path]:
    dirs = [home / "adapters"]
    extra = os.environ.get("COVEN_HARNESS_ADAPTER_DIRS", "")
    dirs += [Path(part) for part in extra.split(os.pathsep) if part]
    return dirs


def parse_manifest(path: Path, data: object) -> Manifest:
    """Validate one manifest's JSON; raises ValueError with a reason."""
    if not isinstance(data, dict):
        raise ValueError("manifest must be a JSON object")
    harness_id = data.get("id")
    if not isinstance(harness_id, str) or not harness_id.strip():
        raise ValueError("`id` must be a non-empty string")
    executable = data.get("executable")
    if not isinstance(executable, str) or not executable.strip():
        raise ValueError("`executable` must be a non-empty string")
    if "/" in executable:
        executable = os.path.normpath(path.parent / executable)
    args = data.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ValueError("`args` must be a list of strings")
    prompt_mode = data.get("promptMode", "argument")
    if prompt_mode not in ("argument", "stdin"):
        raise ValueError("`promptMode` must be `argument` or `stdin`")
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise ValueError("`stream` must be a boolean")
    label = data.get("label", "")
    return Manifest(
        id=harness_id.strip(),
        path=path,
        executable=executable,
        label=label if isinstance(label, str) else "",
        args=tuple(args),
        prompt_mode=prompt_mode,
        stream=stream,
    )


def load_manifests(home: Path) -> tuple[list[Manifest], list[str]]:
    """Every valid manifest, and one message per broken file."""
    manifests: list[Manifest] = []
    errors: list[str] = []
    for folder in _manifest_dirs(home):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            try:
                manifests.append(parse_manifest(path, json.loads(path.read_text())))
            except (OSError, ValueError) as exc:
                errors.append(f"{path}: {exc}")
    return manifests, errors

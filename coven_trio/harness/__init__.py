"""Harness adapters: which agent CLIs exist, how to start them, how to read them.

The catalog knows the built-in ids (``claude``, ``codex``, ``command``) and the
Coven-style manifests under ``<home>/adapters``; each adapter module builds argv (pure,
unit-tested) and translates native output lines into journal entries.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import attrs

from .manifest import Manifest, load_manifests

#: Launch modes of spec §4, in the order the error message lists them.
LAUNCH_MODES = ("interactive", "nonInteractive", "stream")


@attrs.frozen
class HarnessSpec:
    """What the daemon needs to know about one harness id."""

    id: str
    #: Program to find on PATH (or a path); None for ``command``, whose argv is per launch.
    executable: str | None
    default_mode: str
    modes: tuple[str, ...]
    manifest: Manifest | None = None

    def resolve(self) -> str | None:
        """The executable's full path, or None if it cannot be found."""
        if self.executable is None:
            return None
        return shutil.which(self.executable)


BUILT_IN = (
    HarnessSpec("claude", "claude", "stream", ("interactive", "nonInteractive", "stream")),
    HarnessSpec("codex", "codex", "nonInteractive", ("interactive", "nonInteractive")),
    HarnessSpec("command", None, "nonInteractive", ("interactive", "nonInteractive")),
)


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
                self.errors.append(f"{manifest.path}: id {manifest.id!r} is built in; ignored")
                continue
            modes = ("nonInteractive", "stream") if manifest.stream else ("nonInteractive",)
            specs[manifest.id] = HarnessSpec(
                manifest.id,
                manifest.executable,
                "stream" if manifest.stream else "nonInteractive",
                ("interactive", *modes),
                manifest,
            )
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

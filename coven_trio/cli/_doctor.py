"""``coven-trio doctor``: what this machine and home need for sessions to run, each
problem with the exact fix. Credentials are checked for presence only, never printed.

A *blocking* problem (an unsafe home, a socket path too long, no agent CLI at all)
makes the exit code 1.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import attrs

from .._defaults import MAX_SOCKET_PATH_BYTES, SOCKET_NAME

#: Each agent CLI: its executable, where its credentials live, and the variables that
#: can hold them instead.
_HARNESSES = {
    "claude": (
        "claude",
        ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"),
        (".claude/.credentials.json", ".claude.json"),
        "npm install -g @anthropic-ai/claude-code, then `claude` once to sign in",
    ),
    "codex": (
        "codex",
        ("OPENAI_API_KEY", "CODEX_API_KEY"),
        (".codex/auth.json",),
        "npm install -g @openai/codex, then `codex login`",
    ),
}


@attrs.frozen
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    blocking: bool = False

    def as_json(self) -> dict[str, object]:
        return attrs.asdict(self)


def _version(executable: str) -> str | None:
    # Blocking on purpose: `doctor` is a one-shot command with no trio loop to stall (the
    # one-shot commands import neither trio nor the daemon: tests/test_cli_client.py).
    try:
        done = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0] if done.returncode == 0 and first else None


def _home(home: Path) -> list[Check]:
    if not home.exists():
        return [Check("home", True, f"{home} does not exist yet (created at first start)")]
    info = home.lstat()
    checks = []
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        fix = f"rm {home}  (it must be a directory of your own)"
        checks.append(Check("home", False, f"{home} is not a directory", fix, True))
    elif info.st_uid != os.geteuid():
        fix = f"sudo chown {os.geteuid()} {home}"
        detail = f"{home} is owned by uid {info.st_uid}, not you ({os.geteuid()})"
        checks.append(Check("home", False, detail, fix, True))
    elif info.st_mode & 0o022:
        mode = oct(info.st_mode & 0o777)
        fix = f"chmod 700 {home}"
        checks.append(Check("home", False, f"{home} is writable by others ({mode})", fix, True))
    else:
        checks.append(Check("home", True, f"{home} (mode {oct(info.st_mode & 0o777)})"))
    return checks


def _socket(home: Path, health: dict[str, object] | None) -> list[Check]:
    path = home / SOCKET_NAME
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        fix = "use a shorter home: COVEN_HOME=~/.coven (or any short path)"
        detail = f"{path} is longer than a Unix socket allows ({MAX_SOCKET_PATH_BYTES} bytes)"
        return [Check("socket", False, detail, fix, True)]
    if health is not None:
        daemon = health.get("daemon")
        pid = daemon.get("pid") if isinstance(daemon, dict) else "?"
        return [Check("daemon", True, f"running (pid {pid}) on {path}")]
    if path.exists():
        fix = "coven-trio daemon start  (the stale socket is replaced)"
        return [Check("daemon", False, f"{path} exists but no daemon answers", fix)]
    return [Check("daemon", False, "not running", "coven-trio daemon start")]


def _harnesses(home_dir: Path) -> list[Check]:
    checks, found = [], 0
    for name, (executable, variables, files, install) in _HARNESSES.items():
        path = shutil.which(executable)
        if path is None:
            checks.append(Check(name, False, f"`{executable}` is not on PATH", install))
            continue
        found += 1
        version = _version(path)
        checks.append(Check(name, version is not None, f"{path}: {version or 'does not run'}"))
        have = [v for v in variables if os.environ.get(v)] + [
            f for f in files if (home_dir / f).exists()
        ]
        if have:
            checks.append(Check(f"{name} credentials", True, "present (" + ", ".join(have) + ")"))
        else:
            fix = f"set {variables[0]}, or sign in: {install.split(', then ')[-1]}"
            checks.append(Check(f"{name} credentials", False, "none found", fix))
    if found == 0:
        checks.append(
            Check(
                "agents",
                False,
                "no agent CLI is installed",
                "install Claude Code or Codex (above); `command` sessions work meanwhile",
                True,
            )
        )
    node = shutil.which("node")
    version = _version(node) if node else None
    if version is None:
        checks.append(Check("node", False, "node is not on PATH", "install Node.js 18 or newer"))
    else:
        major = int(version.lstrip("v").split(".")[0] or 0)
        fix = "" if major >= 18 else "install Node.js 18 or newer (the agent CLIs need it)"
        checks.append(Check("node", major >= 18, f"{node}: {version}", fix))
    return checks


def diagnose(home: Path, health: dict[str, object] | None) -> list[Check]:
    """Every check, in the order a person would fix them."""
    return [*_home(home), *_socket(home, health), *_harnesses(Path.home())]

"""Access: foreign peers, socket and home modes, unsafe homes, path escapes."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
import trio

from coven_trio.daemon import Daemon

NOBODY = 65534
PEER_SCRIPT = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"GET /api/v1/health HTTP/1.1\\r\\nhost: c\\r\\n\\r\\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
sys.stdout.write(data.decode())
"""


def _can_switch_uid() -> str | None:
    if os.geteuid() != 0:
        return "needs root to run a client as another uid"
    if shutil.which("setpriv") is None:
        return "setpriv is not installed"
    return None


@pytest.mark.skipif(_can_switch_uid() is not None, reason=str(_can_switch_uid()))
async def test_peer_with_another_uid_is_refused(daemon: Daemon) -> None:
    # Open the way on purpose (the socket is 0600 in a 0700 home), so the connection
    # reaches the daemon and only SO_PEERCRED stands between.
    home = daemon.config.home
    os.chmod(home.parent, 0o711)  # mkdtemp made it 0700
    os.chmod(home, 0o711)
    os.chmod(daemon.socket_path, 0o666)
    argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    argv += [sys.executable, "-c", PEER_SCRIPT, str(daemon.socket_path)]
    with trio.fail_after(30):
        result = await trio.run_process(argv, capture_stdout=True, capture_stderr=True, check=False)
    os.chmod(home, 0o700)
    assert result.returncode == 0, result.stderr
    answer = result.stdout.decode()
    assert answer.startswith("HTTP/1.1 403 ")
    assert '"code":"peer_uid_mismatch"' in answer


def test_socket_is_0600_from_its_first_moment() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="cvs", dir="/tmp"))
    home = scratch / "h"
    path = home / "coven.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "coven_trio", "serve", "--home", str(home)],
        stderr=subprocess.DEVNULL,
    )
    first_mode = None
    try:
        for _ in range(5_000_000):  # stat as fast as we can until the socket appears
            try:
                first_mode = stat.S_IMODE(os.lstat(path).st_mode)
                break
            except FileNotFoundError:
                if proc.poll() is not None:
                    break
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(scratch, ignore_errors=True)
    assert first_mode == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the home to another uid")
def test_home_owned_by_someone_else_is_refused(tmp_short: Path) -> None:
    home = tmp_short / "theirs"
    home.mkdir(mode=0o700)
    os.chown(home, NOBODY, NOBODY)
    result = subprocess.run(
        [sys.executable, "-m", "coven_trio", "serve", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert f"owned by uid {NOBODY}" in result.stderr


def test_symlinked_home_is_refused(tmp_short: Path) -> None:
    (tmp_short / "real").mkdir(mode=0o700)
    (tmp_short / "link").symlink_to(tmp_short / "real")
    result = subprocess.run(
        [sys.executable, "-m", "coven_trio", "serve", "--home", str(tmp_short / "link")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1 and "symlink" in result.stderr


@pytest.mark.parametrize(
    "cwd", ["..", "../..", "src/../../..", "escape", "escape/deeper", "/proc/self/cwd", "/etc"]
)
async def test_cwd_escapes_are_refused(
    client: httpx.AsyncClient, tmp_short: Path, cwd: str
) -> None:
    root = tmp_short / "proj"
    (root / "src").mkdir(parents=True)
    (tmp_short / "outside" / "deeper").mkdir(parents=True)
    (root / "escape").symlink_to(tmp_short / "outside")
    response = await client.post(
        "/api/v1/sessions",
        json={"projectRoot": str(root), "cwd": cwd, "harness": "command", "command": ["true"]},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "session.cwd_outside_root"
    assert error["details"]["projectRoot"] == str(root)
    assert (await client.get("/api/v1/sessions")).json() == []


async def test_project_root_through_a_symlink_is_canonical(
    client: httpx.AsyncClient, tmp_short: Path
) -> None:
    (tmp_short / "real" / "sub").mkdir(parents=True)
    (tmp_short / "alias").symlink_to(tmp_short / "real")
    response = await client.post(
        "/api/v1/sessions",
        json={
            "projectRoot": str(tmp_short / "alias"),
            "cwd": "sub",
            "harness": "command",
            "command": ["true"],
        },
    )
    assert response.status_code == 201
    record = response.json()
    assert record["project_root"] == str(tmp_short / "real")
    assert record["cwd"] == str(tmp_short / "real" / "sub")


def _serve(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``coven-trio serve`` on ``home``, for homes it must refuse at startup."""
    return subprocess.run(
        [sys.executable, "-m", "coven_trio", "serve", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_a_home_others_may_write_is_refused_not_chmodded(tmp_short: Path, mode: int) -> None:
    home = tmp_short / "shared"
    home.mkdir()
    os.chmod(home, mode)
    result = _serve(home)
    assert result.returncode == 1
    assert "writable by" in result.stderr and f"chmod 700 {home}" in result.stderr
    assert stat.S_IMODE(os.stat(home).st_mode) == mode  # left as it was, for its owner
    assert not (home / "daemon-serve.lock").exists()


async def test_a_home_only_others_may_read_is_tightened(tmp_short: Path) -> None:
    import coven_trio

    home = tmp_short / "readable"
    home.mkdir()
    os.chmod(home, 0o755)
    async with coven_trio.open_daemon(home=home):
        assert stat.S_IMODE(os.stat(home).st_mode) == 0o700


def test_a_symlinked_lock_is_not_followed(tmp_short: Path) -> None:
    home = tmp_short / "home"
    home.mkdir(mode=0o700)
    outside = tmp_short / "precious"
    outside.write_text("do not touch")
    (home / "daemon-serve.lock").symlink_to(outside)
    result = _serve(home)
    assert result.returncode == 1
    assert "daemon-serve.lock: it is a symlink" in result.stderr
    assert outside.read_text() == "do not touch"


async def test_a_planted_daemon_json_symlink_is_replaced_not_followed(tmp_short: Path) -> None:
    import coven_trio

    home = tmp_short / "home"
    home.mkdir(mode=0o700)
    outside = tmp_short / "precious"
    outside.write_text("do not touch")
    (home / "daemon.json").symlink_to(outside)
    async with coven_trio.open_daemon(home=home):
        assert not (home / "daemon.json").is_symlink()
        assert outside.read_text() == "do not touch"


@pytest.mark.parametrize("who", ["others-writable", "someone-else"])
async def test_manifests_and_agents_others_could_have_written_are_not_loaded(
    tmp_short: Path, who: str
) -> None:
    import coven_trio

    if who == "someone-else" and os.geteuid() != 0:
        pytest.skip("needs root to give a file to another uid")
    home = tmp_short / "home"
    (home / "adapters").mkdir(parents=True, mode=0o700)
    os.chmod(home, 0o700)
    planted = home / "adapters" / "evil.json"
    planted.write_text('{"id": "evil", "executable": "/bin/sh"}')
    agents = home / "agents.toml"
    agents.write_text('[assistant]\nharness = "evil"\n')
    for path in (planted, agents):
        if who == "someone-else":
            os.chown(path, NOBODY, NOBODY)
        else:
            os.chmod(path, 0o666)
    async with coven_trio.open_daemon(home=home) as daemon:
        assert daemon.harnesses.get("evil") is None
        assert any("evil.json: not loaded" in e for e in daemon.harnesses.errors)
        transport = httpx.AsyncHTTPTransport(uds=str(daemon.socket_path))
        async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
            info = (await client.get("/eve/v1/info")).json()
    assert info["agent"]["model"]["id"] == "claude"  # the default profile, not the planted one

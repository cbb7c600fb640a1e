"""Real-client conformance: the published eve@0.18.2 client drives the daemon.

The package is fetched from the npm registry once into a cache outside the repository
(``$COVEN_EVE_CACHE``, default ``~/.cache/coven-trio/eve-0.18.2``) with ``npm pack`` and
unpacked; ``eve/client`` has no bare imports, and undici supplies the Unix-socket agent
(reference/eve-http.md §8). Skipped, with the reason, when node/npm are absent or the
registry cannot be reached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import trio

from coven_trio.daemon import Daemon

PACKAGES = {"eve": "0.18.2", "undici": "6.21.0"}
SCRIPT = Path(__file__).parent / "eve_conformance.mjs"

pytestmark = [pytest.mark.usefixtures("fakes_on_path"), pytest.mark.slow, pytest.mark.timeout(300)]


def _cache() -> Path:
    default = Path.home() / ".cache" / "coven-trio" / f"eve-{PACKAGES['eve']}"
    return Path(os.environ.get("COVEN_EVE_CACHE", default))


def _install(cache: Path) -> Path:
    modules = cache / "node_modules"
    if all((modules / name / "package.json").exists() for name in PACKAGES):
        return modules
    cache.mkdir(parents=True, exist_ok=True)
    specs = [f"{name}@{version}" for name, version in PACKAGES.items()]
    result = subprocess.run(
        ["npm", "pack", "--silent", *specs],
        cwd=cache,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        pytest.skip(f"npm could not fetch {specs}: {result.stderr.strip()[:300]}")
    for name, version in PACKAGES.items():
        target = modules / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        with tarfile.open(cache / f"{name}-{version}.tgz") as tar:
            for member in tar.getmembers():
                member.name = member.name.partition("/")[2]
                if member.name:
                    tar.extract(member, target, filter="data")
    return modules


@pytest.fixture
def eve_modules() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run the published eve client")
    return _install(_cache())


async def test_published_eve_client_conformance(
    daemon: Daemon, eve_modules: Path, tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_short / "proj"
    project.mkdir()
    monkeypatch.chdir(project)
    runner = tmp_short / "run"
    runner.mkdir()
    # ESM resolves bare imports from the script's folder upwards: link the cache there.
    (runner / "node_modules").symlink_to(eve_modules)
    script = runner / "conformance.mjs"
    shutil.copy(SCRIPT, script)
    env = {**os.environ, "COVEN_SOCKET": str(daemon.socket_path)}
    with trio.fail_after(120):
        result = await trio.run_process(
            ["node", str(script)], env=env, capture_stdout=True, capture_stderr=True, check=False
        )
    assert result.returncode == 0, result.stderr.decode()
    out = json.loads(result.stdout)
    assert out["health"]["ok"] is True and out["health"]["status"] == "ready"
    assert out["info"]["agent"]["name"] == "assistant"
    assert out["firstSessionId"].startswith("ses_")
    assert out["first"]["status"] == "waiting"
    assert out["first"]["types"][0] == "session.started"
    assert out["first"]["types"][-1] == "session.waiting"
    # result().message reads eve's message.completed, which the spec's vocabulary does not
    # have (it journals message.appended {id, role, content}); docs/eve.md says so.
    assert out["first"]["message"] is None
    assert out["streamIndexAfterFirst"] == len(out["first"]["types"])
    assert out["secondToken"] != out["firstToken"]  # rotated, and the client adopted it
    assert out["stateToken"] == out["secondToken"]
    assert out["second"]["status"] == "waiting"
    assert out["second"]["types"][0] == "turn.started"
    assert out["second"]["data"] == {"answer": "give me JSON"}
    assert out["streamIndexAfterSecond"] == len(out["first"]["types"]) + len(out["second"]["types"])
    assert out["replayIdentical"] is True
    assert out["staleStatus"] == 409

"""Sessions in worktrees, through the daemon and its API, with real git: three command
sessions edit the same file at once, each in its own worktree; the main checkout does not
change until a merge; a conflict is a 409 that changes nothing; discard removes the
worktree and its branch; a restarted daemon still diffs; a non-git project is a 400."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

import coven_trio
from coven_trio.daemon import Daemon

from .conftest import FAST
from .sessions_util import launch, wait_for_kind
from .test_worktrees import SHARED, branches, git, make_repo, picture, plain_git  # noqa: F401

pytestmark = pytest.mark.timeout(60)


def edit(line: int, text: str) -> list[str]:
    """A command harness that edits one line of shared.txt (as an agent's tool would)."""
    return ["sed", "-i", f"{line}s/.*/{text}/", "shared.txt"]


async def run_in_worktree(
    client: httpx.AsyncClient, repo: Path, command: list[str], **body: Any
) -> dict[str, Any]:
    record = await launch(
        client, repo, harness="command", command=command, isolation="worktree", **body
    )
    await wait_for_kind(client, record["id"], "session.completed")
    return record


async def post(client: httpx.AsyncClient, sid: str, what: str, **body: Any) -> httpx.Response:
    return await client.post(f"/api/v1/sessions/{sid}/{what}", json=body)


async def test_three_sessions_edit_one_file_and_the_project_changes_only_by_merging(
    client: httpx.AsyncClient, tmp_short: Path, home: Path
) -> None:
    repo = make_repo(tmp_short)
    before = picture(repo)
    edits = [edit(1, "line 1 by one"), edit(10, "line 10 by two"), edit(1, "line 1 by three")]
    async with trio.open_nursery() as nursery:  # at once
        records: list[dict[str, Any]] = [{}, {}, {}]

        async def one(n: int) -> None:
            records[n] = await run_in_worktree(client, repo, edits[n])

        for n in range(3):
            nursery.start_soon(one, n)
    assert picture(repo) == before  # the project has not changed
    for record in records:
        wt = record["worktree"]
        assert wt["path"].startswith(str(home / "worktrees"))
        assert wt["branch"].startswith("coven/") and wt["repo"] == str(repo)
        assert record["cwd"] == wt["path"] and record["project_root"] == str(repo)
    ids = [r["id"] for r in records]
    assert sorted(branches(repo)) == sorted(r["worktree"]["branch"] for r in records)

    for sid, mine in zip(ids, ["line 1 by one", "line 10 by two", "line 1 by three"], strict=True):
        found = (await client.get(f"/api/v1/sessions/{sid}/diff")).json()
        [change] = found["stat"]["files"]
        assert (change["path"], change["insertions"], change["deletions"]) == ("shared.txt", 1, 1)
        patch = await client.get(f"/api/v1/sessions/{sid}/diff", params={"format": "patch"})
        assert patch.headers["content-type"].startswith("text/x-diff")
        added = [row for row in patch.text.splitlines() if row.startswith("+") and "line" in row]
        assert added == [f"+{mine}"]  # its own change, nobody else's

    assert (await post(client, ids[0], "merge")).json()["merged"] is True
    merged = await post(client, ids[1], "merge", strategy="rebase")
    assert merged.status_code == 200 and merged.json()["merged"] is True
    text = (repo / "shared.txt").read_text().splitlines()
    assert (text[0], text[9]) == ("line 1 by one", "line 10 by two")
    after_two, third = picture(repo), picture(records[2]["worktree"]["path"])

    conflict = await post(client, ids[2], "merge")
    assert conflict.status_code == 409
    error = conflict.json()["error"]
    assert (error["code"], error["details"]["files"]) == ("worktree.conflict", ["shared.txt"])
    assert picture(repo) == after_two  # nothing changed, anywhere
    assert picture(records[2]["worktree"]["path"]) == third

    unmerged = await post(client, ids[2], "discard")
    assert (unmerged.status_code, unmerged.json()["error"]["code"]) == (409, "worktree.unmerged")
    gone = await post(client, ids[2], "discard", force=True)
    assert gone.status_code == 200 and gone.json()["deletedBranch"]
    assert not Path(records[2]["worktree"]["path"]).exists()
    assert records[2]["worktree"]["branch"] not in branches(repo)
    assert (await client.get(f"/api/v1/sessions/{ids[2]}")).json()["worktree"] is None
    again = await client.get(f"/api/v1/sessions/{ids[2]}/diff")
    assert (again.status_code, again.json()["error"]["code"]) == (400, "worktree.none")


async def test_a_restarted_daemon_keeps_worktrees_and_their_diffs(
    tmp_short: Path, home: Path
) -> None:
    repo = make_repo(tmp_short)
    async with coven_trio.open_daemon(home=home, **FAST) as daemon, _http(daemon) as client:
        record = await run_in_worktree(client, repo, edit(3, "line 3 changed"))
        first = (await client.get(f"/api/v1/sessions/{record['id']}/diff")).json()
    async with coven_trio.open_daemon(home=home, **FAST) as daemon, _http(daemon) as client:
        stored = (await client.get(f"/api/v1/sessions/{record['id']}")).json()
        assert stored["worktree"] == record["worktree"]
        again = (await client.get(f"/api/v1/sessions/{record['id']}/diff")).json()
        assert again["stat"] == first["stat"]
        pruned = await client.post(
            "/api/v1/actions", json={"action": "coven.store.prune", "args": {"olderThanDays": 0}}
        )
        assert pruned.status_code == 200, pruned.text
        # the store keeps a session whose worktree is still there
        assert (await client.get(f"/api/v1/sessions/{record['id']}")).status_code == 200
        assert (await post(client, record["id"], "discard", force=True)).status_code == 200
        await client.post(
            "/api/v1/actions", json={"action": "coven.store.prune", "args": {"olderThanDays": 0}}
        )
        assert (await client.get(f"/api/v1/sessions/{record['id']}")).status_code == 404


def _http(daemon: Daemon) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(uds=str(daemon.socket_path))
    return httpx.AsyncClient(transport=transport, base_url="http://coven", timeout=30)


async def test_a_live_session_is_discarded_only_with_kill(
    client: httpx.AsyncClient, tmp_short: Path
) -> None:
    repo = make_repo(tmp_short)
    record = await launch(
        client, repo, harness="command", command=["sleep", "600"], isolation="worktree"
    )
    live = await post(client, record["id"], "discard", force=True)
    assert (live.status_code, live.json()["error"]["code"]) == (409, "worktree.session_live")
    done = await post(client, record["id"], "discard", force=True, kill=True)
    assert done.status_code == 200
    after = (await client.get(f"/api/v1/sessions/{record['id']}")).json()
    assert (after["status"], after["worktree"]) == ("killed", None)
    assert branches(repo) == []


async def test_discard_with_kill_of_a_session_already_ending_waits_for_its_end(
    client: httpx.AsyncClient, tmp_short: Path
) -> None:
    repo = make_repo(tmp_short)
    record = await launch(
        client, repo, harness="command", command=["sleep", "600"], isolation="worktree"
    )
    assert (await client.post(f"/api/v1/sessions/{record['id']}/kill")).status_code == 202
    done = await post(client, record["id"], "discard", force=True, kill=True)
    assert done.status_code == 200, done.text
    assert (await client.get(f"/api/v1/sessions/{record['id']}")).json()["worktree"] is None


@pytest.mark.parametrize(
    ("isolation", "code"),
    [
        ("worktree", "worktree.not_a_repository"),
        ({"worktree": {"base": "main"}}, "worktree.not_a_repository"),
        ("elsewhere", "invalid_request"),
        ({"worktree": {"base": ""}}, "invalid_request"),
        ({"worktree": {"branch": "x"}}, "invalid_request"),
    ],
)
async def test_a_project_that_is_not_a_repository_or_a_bad_isolation_is_a_400(
    client: httpx.AsyncClient, tmp_short: Path, home: Path, isolation: Any, code: str
) -> None:
    plain = tmp_short / "plain"
    plain.mkdir()
    body = {"projectRoot": str(plain), "harness": "command", "command": ["true"]}
    response = await client.post("/api/v1/sessions", json={**body, "isolation": isolation})
    assert (response.status_code, response.json()["error"]["code"]) == (400, code)
    assert (await client.get("/api/v1/sessions")).json() == []
    assert not (home / "worktrees").exists() or not any((home / "worktrees").iterdir())


async def test_a_session_without_a_worktree_has_nothing_to_diff_merge_or_discard(
    client: httpx.AsyncClient, tmp_short: Path
) -> None:
    record = await launch(client, tmp_short, harness="command", command=["true"])
    assert record["worktree"] is None
    for method, what in (("GET", "diff"), ("POST", "merge"), ("POST", "discard")):
        answer = await client.request(method, f"/api/v1/sessions/{record['id']}/{what}")
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "worktree.none")


async def test_the_command_line_runs_diffs_merges_and_discards(
    daemon: Daemon, tmp_short: Path, home: Path
) -> None:
    repo = make_repo(tmp_short)

    def cli(command: str, *args: str) -> str:
        argv = [sys.executable, "-m", "coven_trio", command, "--home", str(home), *args]
        return subprocess.run(argv, cwd=repo, check=True, capture_output=True, text=True).stdout

    launched = await trio.to_thread.run_sync(
        cli, "launch", "--harness", "command", "--worktree", "--", *edit(2, "line 2 new")
    )
    sid = launched.strip()
    async with _http(daemon) as client:
        await wait_for_kind(client, sid, "session.completed")
    shown = await trio.to_thread.run_sync(cli, "diff", sid)
    assert "shared.txt | +1 -1" in shown and "+line 2 new" in shown
    assert "line 2 new" not in (repo / "shared.txt").read_text()
    listed = await trio.to_thread.run_sync(cli, "sessions")
    assert "coven/" in listed
    merged = await trio.to_thread.run_sync(cli, "merge", sid)
    assert "merged into the project" in merged
    assert "line 2 new" in (repo / "shared.txt").read_text()
    discarded = await trio.to_thread.run_sync(cli, "discard", sid)
    assert "discarded" in discarded and branches(repo) == []

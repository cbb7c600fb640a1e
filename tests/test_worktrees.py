"""A git worktree per session, against real repositories: the main checkout stays as it
was until a merge, a conflict or a refusal changes nothing anywhere, and whatever a
person removed by hand is either recovered or named in a clear error."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import trio

from coven_trio import worktrees as wts
from coven_trio.worktrees import Strategy, Worktree

SESSIONS = [f"ses_01JAAAAAAAAAAAAAAAAAAAA00{n}" for n in (1, 2, 3)]
SHARED = "".join(f"line {n}\n" for n in range(1, 11))


@pytest.fixture(autouse=True)
def plain_git(monkeypatch: pytest.MonkeyPatch, tmp_short: Path) -> None:
    """git as on a machine with no configuration: no identity, no user or system config."""
    monkeypatch.setenv("HOME", str(tmp_short))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_short / "no-gitconfig"))
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME"):
        monkeypatch.delenv(var, raising=False)
    for var in ("GIT_COMMITTER_EMAIL", "EMAIL", "GIT_DIR", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)


def git(cwd: Path | str, *args: str) -> str:
    """The test's own git, as a person would run it (with an identity for commits)."""
    env = {**os.environ, "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
    argv = ["git", "-c", "user.name=harness", "-c", "user.email=harness@example.com", *args]
    done = subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)
    return done.stdout.decode()


def make_repo(tmp: Path, name: str = "project") -> Path:
    repo = tmp / name
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "shared.txt").write_text(SHARED)
    (repo / "README.md").write_text("# project\n")
    (repo / ".gitignore").write_text("*.log\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


def branches(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/coven/").split()


def edit_line(path: Path, n: int, text: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[n - 1] = text + "\n"
    path.write_text("".join(lines))


def picture(checkout: Path | str) -> dict[str, Any]:
    """Everything a merge could change in a checkout: status, HEAD, branch, index, files."""
    root = Path(checkout)
    files = {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
    index = Path(root, git(root, "rev-parse", "--git-path", "index").strip())
    return {
        "status": git(root, "status", "--porcelain=v1", "-uall"),
        "head": git(root, "rev-parse", "HEAD"),
        "branch": git(root, "symbolic-ref", "HEAD"),
        "index": index.read_bytes(),
        "files": files,
    }


async def three_sessions(tmp: Path) -> tuple[Path, list[Worktree]]:
    """Three sessions of one project, each changing line 2 or 9 of shared.txt as a
    harness would: by writing files (one also commits; one leaves untracked files)."""
    repo = make_repo(tmp)
    made = [await wts.create(tmp / "home", str(repo), sid) for sid in SESSIONS]
    one, two, three = (Path(wt.path) for wt in made)
    edit_line(one / "shared.txt", 2, "line 2 by one")
    (one / "notes").mkdir()
    (one / "notes" / "one.md").write_text("# notes\nfrom one\n")
    (one / "debug.log").write_text("ignored\n")
    edit_line(two / "shared.txt", 9, "line 9 by two")
    git(two, "commit", "-q", "-am", "two: line 9")
    (two / "image.bin").write_bytes(b"\x89PNG\0\0\x01binary")
    edit_line(three / "shared.txt", 2, "line 2 by three")
    return repo, made


async def test_create_starts_a_branch_from_head_in_a_folder_the_daemon_owns(
    tmp_short: Path,
) -> None:
    repo = make_repo(tmp_short)
    head = git(repo, "rev-parse", "HEAD").strip()
    wt = await wts.create(tmp_short / "home", str(repo / "."), SESSIONS[0])
    key = wts.project_key(str(repo))
    assert key.startswith("project-") and len(key) == len("project-") + 12
    assert wt.path == str(tmp_short / "home" / "worktrees" / key / SESSIONS[0])
    assert (wt.branch, wt.base, wt.base_ref) == ("coven/aaaaa001", head, "refs/heads/main")
    assert wt.repo == str(repo)
    assert git(wt.path, "symbolic-ref", "HEAD").strip() == "refs/heads/coven/aaaaa001"
    assert Path(wt.path, "shared.txt").read_text() == SHARED
    assert git(repo, "status", "--porcelain=v1", "-uall") == ""
    assert await wts.exists(wt)
    assert wt.cwd_for(str(repo / "sub")) == os.path.join(wt.path, "sub")


async def test_create_from_a_base_branch_or_a_tag(tmp_short: Path) -> None:
    repo = make_repo(tmp_short)
    first = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "tag", "v1")
    git(repo, "branch", "release")
    (repo / "README.md").write_text("# project, later\n")
    git(repo, "commit", "-q", "-am", "later")
    on_branch = await wts.create(tmp_short / "home", str(repo), SESSIONS[0], base="release")
    on_tag = await wts.create(tmp_short / "home", str(repo), SESSIONS[1], base="v1")
    assert (on_branch.base, on_branch.base_ref) == (first, "refs/heads/release")
    assert (on_tag.base, on_tag.base_ref) == (first, None)
    assert Path(on_tag.path, "README.md").read_text() == "# project\n"
    with pytest.raises(wts.BaseNotCheckedOut) as refused:
        await wts.merge(on_tag)
    assert refused.value.status == 409 and "not from a branch" in refused.value.message


@pytest.mark.parametrize("kind", ["plain", "bare", "empty", "missing"])
async def test_a_project_that_is_not_a_checkout_with_a_commit_is_a_400(
    tmp_short: Path, kind: str
) -> None:
    root = tmp_short / kind
    if kind != "missing":
        root.mkdir()
    if kind == "bare":
        git(root, "init", "-q", "--bare")
    elif kind == "empty":
        git(root, "init", "-q")
    with pytest.raises(wts.NotARepository) as refused:
        await wts.create(tmp_short / "home", str(root), SESSIONS[0])
    reason = {"plain": "not in a git repository", "bare": "bare repository"}
    reason.update(empty="no commits yet", missing="not a folder")
    assert refused.value.status == 400
    assert refused.value.code == "worktree.not_a_repository"
    assert reason[kind] in refused.value.message
    assert not (tmp_short / "home").exists()


async def test_an_unknown_base_is_a_400_and_a_taken_session_a_409(tmp_short: Path) -> None:
    repo = make_repo(tmp_short)
    for base in ("no-such-branch", "--output=x"):
        with pytest.raises(wts.UnknownBase) as unknown:
            await wts.create(tmp_short / "home", str(repo), SESSIONS[0], base=base)
        assert unknown.value.status == 400
    await wts.create(tmp_short / "home", str(repo), SESSIONS[0])
    with pytest.raises(wts.WorktreeExists) as taken:
        await wts.create(tmp_short / "home", str(repo), SESSIONS[0])
    assert taken.value.status == 409


async def test_sessions_leave_the_main_checkout_untouched_until_merged(tmp_short: Path) -> None:
    repo = make_repo(tmp_short)
    before = picture(repo)
    made = [await wts.create(tmp_short / "home", str(repo), sid) for sid in SESSIONS]
    for n, wt in enumerate(made):
        edit_line(Path(wt.path, "shared.txt"), 2, f"line 2 by {n}")
    assert picture(repo) == before


async def test_diff_shows_each_sessions_own_changes_uncommitted_and_untracked_included(
    tmp_short: Path,
) -> None:
    _, (one, two, three) = await three_sessions(tmp_short)
    before = picture(one.path)
    first = await wts.diff(one, patch=True)
    assert picture(one.path) == before  # the worktree's index was not touched
    assert (first.stat.files_changed, first.stat.insertions, first.stat.deletions) == (2, 3, 1)
    assert [(f.path, f.change, f.insertions, f.deletions) for f in first.stat.files] == [
        ("notes/one.md", "added", 2, 0),
        ("shared.txt", "modified", 1, 1),
    ]
    assert first.patch is not None
    assert "-line 2\n+line 2 by one\n" in first.patch
    assert "+++ b/notes/one.md\n" in first.patch and "+from one\n" in first.patch
    assert "debug.log" not in first.patch  # ignored files are not the session's work

    second = await wts.diff(two, patch=True)
    files = {f.path: f for f in second.stat.files}
    assert set(files) == {"image.bin", "shared.txt"}
    assert (files["image.bin"].binary, files["image.bin"].insertions) == (True, None)
    assert (files["shared.txt"].insertions, files["shared.txt"].deletions) == (1, 1)
    assert second.patch is not None and "+line 9 by two\n" in second.patch
    assert "Binary files /dev/null and b/image.bin differ" in second.patch
    assert "line 2 by" not in second.patch

    third = await wts.diff(three)
    assert [f.path for f in third.stat.files] == ["shared.txt"] and third.patch is None


async def test_two_sessions_merge_and_the_third_conflicts_changing_nothing(
    tmp_short: Path,
) -> None:
    repo, (one, two, three) = await three_sessions(tmp_short)
    assert (repo / "shared.txt").read_text() == SHARED  # untouched until merged
    assert git(repo, "status", "--porcelain=v1", "-uall") == ""
    merged = await wts.merge(one, Strategy.MERGE)
    assert merged.merged and merged.checkout and merged.session_commit is not None
    assert merged.files == ["notes/one.md", "shared.txt"]
    assert git(repo, "rev-parse", "HEAD").strip() == merged.commit
    assert git(repo, "log", "-1", "--format=%s%n%P").split("\n")[:2] == [
        f"Merge coven session {SESSIONS[0]} (coven/aaaaa001)",
        f"{merged.previous} {merged.session_commit}",
    ]
    assert git(one.path, "status", "--porcelain=v1", "-uall") == ""  # its changes committed
    assert git(one.path, "log", "-1", "--format=%s|%an <%ae>").strip() == (
        f"coven: work of session {SESSIONS[0]}|coven-trio <coven-trio@localhost>"
    )

    rebased = await wts.merge(two, Strategy.REBASE)
    assert rebased.merged and rebased.previous == merged.commit
    assert git(repo, "log", "-3", "--format=%an|%s").splitlines() == [
        f"coven-trio|coven: work of session {SESSIONS[1]}",
        "harness|two: line 9",
        f"coven-trio|Merge coven session {SESSIONS[0]} (coven/aaaaa001)",
    ]
    assert "line 2 by one" in (repo / "shared.txt").read_text()
    assert "line 9 by two" in (repo / "shared.txt").read_text()
    assert (repo / "image.bin").read_bytes() == b"\x89PNG\0\0\x01binary"
    assert git(repo, "status", "--porcelain=v1", "-uall") == ""

    main_before, third_before = picture(repo), picture(three.path)
    for strategy in Strategy:
        with pytest.raises(wts.MergeConflict) as conflict:
            await wts.merge(three, strategy)
        assert conflict.value.status == 409 and conflict.value.code == "worktree.conflict"
        assert conflict.value.details is not None
        assert conflict.value.details["files"] == ["shared.txt"]
        assert picture(repo) == main_before
        assert picture(three.path) == third_before
    assert "line 2 by three" in Path(three.path, "shared.txt").read_text()

    assert [await wts.is_merged(wt) for wt in (one, two, three)] == [True, True, False]
    assert (await wts.discard(two)).deleted_branch is not None  # rebased: nothing is lost


async def test_a_dirty_main_checkout_is_refused_and_left_as_it_is(tmp_short: Path) -> None:
    repo, (one, _, _) = await three_sessions(tmp_short)
    (repo / "README.md").write_text("# edited by the user\n")
    main_before, one_before = picture(repo), picture(one.path)
    with pytest.raises(wts.MainCheckoutDirty) as dirty:
        await wts.merge(one)
    assert dirty.value.status == 409 and dirty.value.details is not None
    assert dirty.value.details["files"] == ["README.md"]
    assert picture(repo) == main_before and picture(one.path) == one_before
    assert git(repo, "stash", "list") == ""


async def test_a_merge_that_fails_midway_is_rolled_back(tmp_short: Path) -> None:
    repo, (one, _, _) = await three_sessions(tmp_short)
    main_before, one_before = picture(repo), picture(one.path)
    lock = repo / ".git" / "index.lock"  # as a person's git would hold it
    lock.touch()
    with pytest.raises(wts.GitFailed) as failed:
        await wts.merge(one)
    assert failed.value.status == 500 and "index.lock" in failed.value.message
    lock.unlink()
    assert picture(repo) == main_before and picture(one.path) == one_before
    assert (await wts.merge(one)).merged


async def test_an_untracked_file_where_the_merge_writes_is_refused(tmp_short: Path) -> None:
    repo, (one, _, _) = await three_sessions(tmp_short)
    (repo / "notes").mkdir()
    (repo / "notes" / "one.md").write_text("the user's own notes\n")
    one_before = picture(one.path)
    with pytest.raises(wts.MainCheckoutDirty) as dirty:
        await wts.merge(one)
    assert dirty.value.details is not None and dirty.value.details["files"] == ["notes/one.md"]
    assert (repo / "notes" / "one.md").read_text() == "the user's own notes\n"
    assert picture(one.path) == one_before


async def test_a_session_with_nothing_to_merge_is_a_no_op(tmp_short: Path) -> None:
    repo = make_repo(tmp_short)
    wt = await wts.create(tmp_short / "home", str(repo), SESSIONS[0])
    head = git(repo, "rev-parse", "HEAD").strip()
    for strategy in Strategy:
        result = await wts.merge(wt, strategy)
        assert (result.merged, result.commit, result.files) == (False, head, [])
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert await wts.is_merged(wt)


async def test_only_the_ref_moves_when_the_base_branch_is_checked_out_nowhere(
    tmp_short: Path,
) -> None:
    repo, (one, _, _) = await three_sessions(tmp_short)
    git(repo, "switch", "-q", "-c", "elsewhere")
    before = picture(repo)
    result = await wts.merge(one)
    assert result.merged and not result.checkout
    assert git(repo, "rev-parse", "main").strip() == result.commit
    assert picture(repo) == before
    git(repo, "switch", "-q", "--detach")
    git(one.path, "switch", "-q", "--detach")
    with pytest.raises(wts.WorktreeMissing):  # the session's folder left its branch
        await wts.merge(one)


async def test_discard_refuses_unmerged_work_until_forced(tmp_short: Path) -> None:
    repo, (one, two, _) = await three_sessions(tmp_short)
    for wt, reason in ((one, "uncommitted changes"), (two, "commits not in refs/heads/main")):
        with pytest.raises(wts.Unmerged) as refused:
            await wts.discard(wt)
        assert refused.value.status == 409 and reason in refused.value.message
        assert Path(wt.path).is_dir() and await wts.exists(wt)
    gone = await wts.discard(one, force=True)
    assert gone.removed_folder and gone.deleted_branch is not None
    assert not Path(one.path).exists()
    assert one.branch not in branches(repo)
    assert one.path not in git(repo, "worktree", "list", "--porcelain")
    assert not await wts.exists(one)


async def test_discard_of_a_merged_session_needs_no_force(tmp_short: Path) -> None:
    repo, (one, _, _) = await three_sessions(tmp_short)
    await wts.merge(one)
    tip = git(repo, "rev-parse", one.branch).strip()
    assert await wts.discard(one) == wts.Discarded(removed_folder=True, deleted_branch=tip)
    assert branches(repo) == ["coven/aaaaa002", "coven/aaaaa003"]


async def test_discard_after_the_folder_was_deleted_by_hand(tmp_short: Path) -> None:
    repo, (one, two, _) = await three_sessions(tmp_short)
    for wt in (one, two):
        subprocess.run(["rm", "-rf", wt.path], check=True)
    state = await wts.state(two)
    assert (state.folder, state.registered, state.branch is not None) == (False, True, True)
    with pytest.raises(wts.Unmerged):  # its branch still holds a commit
        await wts.discard(two)
    assert (await wts.discard(two, force=True)).removed_folder is False
    # one's work was all in the folder: with it gone, nothing is left to lose
    gone = await wts.discard(one)
    assert (gone.removed_folder, gone.deleted_branch) == (False, one.base)
    listing = git(repo, "worktree", "list", "--porcelain")
    assert one.path not in listing and two.path not in listing and "prunable" not in listing
    assert branches(repo) == ["coven/aaaaa003"]


async def test_diff_after_the_folder_is_gone_is_a_clear_error(tmp_short: Path) -> None:
    _, (one, _, _) = await three_sessions(tmp_short)
    subprocess.run(["rm", "-rf", one.path], check=True)
    with pytest.raises(wts.WorktreeMissing) as gone:
        await wts.diff(one)
    assert gone.value.status == 409 and gone.value.code == "worktree.missing"
    assert f"its folder {one.path} was removed" in gone.value.message
    assert gone.value.details is not None
    assert (gone.value.details["folder"], gone.value.details["branchExists"]) == (False, True)


async def test_restore_brings_back_a_folder_or_a_branch_removed_by_hand(tmp_short: Path) -> None:
    repo, (one, two, _) = await three_sessions(tmp_short)
    subprocess.run(["rm", "-rf", two.path], check=True)
    assert (await wts.restore(two)).complete
    assert "line 9 by two" in Path(two.path, "shared.txt").read_text()  # committed work

    git(repo, "update-ref", "-d", f"refs/heads/{one.branch}")
    with pytest.raises(wts.WorktreeMissing) as gone:
        await wts.merge(one)
    assert "branch coven/aaaaa001 was deleted" in gone.value.message
    assert (await wts.diff(one)).stat.files_changed == 2  # the files are still the work
    assert (await wts.restore(one)).complete
    assert git(repo, "rev-parse", one.branch).strip() == one.base
    assert [f.path for f in (await wts.diff(one)).stat.files] == ["notes/one.md", "shared.txt"]


async def test_concurrent_merges_into_one_repository_are_serialized(tmp_short: Path) -> None:
    repo = make_repo(tmp_short)
    made = [await wts.create(tmp_short / "home", str(repo), sid) for sid in SESSIONS]
    for n, wt in enumerate(made):
        Path(wt.path, f"file{n}.txt").write_text(f"from session {n}\n")
    results: list[wts.MergeResult] = []

    async def merge(wt: Worktree, strategy: Strategy) -> None:
        results.append(await wts.merge(wt, strategy))

    async with trio.open_nursery() as nursery:
        for wt, strategy in zip(
            made, [Strategy.MERGE, Strategy.REBASE, Strategy.MERGE], strict=True
        ):
            nursery.start_soon(merge, wt, strategy)
    assert all(r.merged for r in results)
    assert [r.previous for r in results[1:]] == [r.commit for r in results[:-1]]
    assert sorted(p.name for p in repo.glob("file*.txt")) == ["file0.txt", "file1.txt", "file2.txt"]
    assert git(repo, "status", "--porcelain=v1", "-uall") == ""
    git(repo, "fsck", "--no-dangling")


async def test_the_record_round_trips_through_json_and_works_after_a_restart(
    tmp_short: Path,
) -> None:
    _, (one, _, _) = await three_sessions(tmp_short)
    data = one.to_json()
    assert set(data) == {"sessionId", "repo", "path", "branch", "base", "baseRef"}
    assert data["baseRef"] == "refs/heads/main" and data["branch"] == "coven/aaaaa001"
    again = Worktree.from_json(data)
    assert again == one
    assert (await wts.diff(again)).stat.files_changed == 2


async def test_commits_use_the_configured_identity_when_there_is_one(tmp_short: Path) -> None:
    repo, (one, _, _) = await three_sessions(tmp_short)
    git(repo, "config", "user.name", "Ada")
    git(repo, "config", "user.email", "ada@example.com")
    result = await wts.merge(one)
    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn", result.commit).strip() == (
        "Ada <ada@example.com>|Ada"
    )

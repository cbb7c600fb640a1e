"""Two daemons (two homes, hosts ``alpha`` and ``beta``) export to a real 3-node
JetStream cluster; the fleet commands read it back and launch across it; nodes die and
the whole cluster goes away for ten seconds, and nothing is lost or sent twice."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from coven_trio.cli import parse
from coven_trio.fleet import commands
from coven_trio.fleet._link import open_link
from coven_trio.fleet._subjects import entries_subject
from coven_trio.main import _fleet as fleet_commands

from .helpers import (
    Out,
    args,
    exported,
    fleet_daemon,
    http,
    launch_command,
    print_lines,
    raw_indexes,
    replay,
    settings_of,
    slow_lines,
    until,
    write_fleet,
)
from .nats_cluster import PASSWORD, NatsCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def lines(data: bytes) -> int:
    return data.count(b"\n")


def printed(journal: bytes) -> str:
    """What the session's process printed, joined from the journal's output entries."""
    entries = [json.loads(line) for line in journal.splitlines()]
    return "".join(json.loads(e["payload_json"])["data"] for e in entries if e["kind"] == "output")


async def test_two_hosts_export_and_any_host_reads_any_journal_byte_for_byte(
    cluster: NatsCluster, tmp_short: Path
) -> None:
    homes = {h: tmp_short / h for h in ("alpha", "beta")}
    for host, home in homes.items():
        write_fleet(home, cluster, host)
    async with (
        fleet_daemon(homes["alpha"]) as (alpha, alpha_health),
        fleet_daemon(homes["beta"]) as (beta, beta_health),
        http(alpha) as a_client,
        http(beta) as b_client,
        open_link(settings_of(homes["alpha"]), name="t", forever=False) as link,
    ):
        a_sid = await launch_command(a_client, tmp_short, print_lines(300))
        b_sid = await launch_command(b_client, tmp_short, slow_lines(200, 0.001))
        a_replay, b_replay = await replay(a_client, a_sid), await replay(b_client, b_sid)
        b_from_seven = await replay(b_client, b_sid, after=7)
        counts = {a_sid: lines(a_replay), b_sid: lines(b_replay)}
        assert counts[b_sid] > 20  # lines arrive in a few reads each when the VM is busy
        a_subject = entries_subject("coven", "alpha", a_sid)
        await exported(alpha_health, link, a_subject, counts[a_sid])
        await exported(beta_health, link, entries_subject("coven", "beta", b_sid), counts[b_sid])
        eve = (await b_client.get(f"/eve/v1/session/{b_sid}/stream?startIndex=0")).content
        records: dict[str, Any] = {}
        for client in (a_client, b_client):
            records.update({r["id"]: r for r in (await client.get("/api/v1/sessions")).json()})

        # alpha's home reads beta's session from JetStream, as beta itself serves it
        out = Out()
        tail = args(homes["alpha"], host="beta", session=b_sid, start=0, no_follow=False, eve=False)
        assert await commands.tail(tail, out=out) == 0
        assert out.getvalue() == b_replay

        out = Out()
        tail = args(homes["alpha"], host="beta", session=b_sid, start=7, no_follow=True, eve=False)
        assert await commands.tail(tail, out=out) == 0
        assert out.getvalue() == b_from_seven

        out = Out()
        tail = args(homes["beta"], host="beta", session=b_sid, start=0, no_follow=True, eve=True)
        assert await commands.tail(tail, out=out) == 0
        assert out.getvalue() == eve

        found = await listed(homes["beta"], {a_sid, b_sid})
        assert found[a_sid]["host"] == "alpha" and found[b_sid]["host"] == "beta"
        for sid in (a_sid, b_sid):
            assert found[sid]["status"] == records[sid]["status"] == "completed"
            assert found[sid]["event_count"] == counts[sid]
        assert await raw_indexes(link, a_subject) == list(range(counts[a_sid]))
        # the same from the command line a person types
        argv = [sys.executable, "-m", "coven_trio", "fleet", "sessions", "--json"]
        typed = await trio.run_process([*argv, "--home", str(homes["beta"])], capture_stdout=True)
        assert {r["id"] for r in json.loads(typed.stdout)} >= {a_sid, b_sid}


async def listed(home: Path, ended: set[str]) -> dict[str, Any]:
    """``fleet sessions --json`` by id, once it lists the sessions ``ended`` as ended: a
    record is put beside the entries, at most every RECORD_INTERVAL, so its last state
    may reach the bucket after the last entry reached the stream."""
    with trio.fail_after(30):
        while True:
            listing = Out()
            assert await commands.sessions(args(home, json=True, host=None), out=listing) == 0
            found = {r["id"]: r for r in json.loads(listing.getvalue())}
            if all(found.get(sid, {}).get("status") == "completed" for sid in ended):
                return found
            await trio.sleep(0.05)


def launch_args(home: Path, root: Path, host: str, harness: str, *words: str) -> Any:
    """``coven-trio fleet launch …`` as the command line parses it."""
    argv = ["fleet", "launch", "--home", str(home), "--json", "--project-root", str(root)]
    return parse([*argv, host, harness, *words], fleet_commands)


async def test_fleet_launch_runs_on_the_chosen_host_and_is_refused_as_the_socket_api_refuses(
    cluster: NatsCluster, tmp_short: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    homes = {h: tmp_short / h for h in ("alpha", "beta")}
    for host, home in homes.items():
        write_fleet(home, cluster, host)
    async with (
        fleet_daemon(homes["alpha"]) as (alpha, _),
        fleet_daemon(homes["beta"]) as (beta, beta_health),
        http(alpha) as a_client,
        http(beta) as b_client,
        open_link(settings_of(homes["alpha"]), name="t", forever=False) as link,
    ):
        await until(lambda: beta_health.launches.serving)
        out = Out()
        launch = launch_args(homes["alpha"], tmp_short, "beta", "command", "--", "echo", "hi")
        assert await commands.launch(launch, out=out) == 0
        record = json.loads(out.getvalue())
        assert (await b_client.get(f"/api/v1/sessions/{record['id']}")).status_code == 200
        assert (await a_client.get(f"/api/v1/sessions/{record['id']}")).status_code == 404
        assert b'"hi' in await replay(b_client, record["id"])

        # the same bodies refused: the same status and envelope, byte for byte
        for body in (
            json.dumps({"projectRoot": str(tmp_short), "harness": "nope", "prompt": "x"}),
            json.dumps({"projectRoot": "relative", "harness": "command"}),
            "{not json",
            "[1]",
        ):
            over_socket = await b_client.post("/api/v1/sessions", content=body.encode())
            status, answer = await link.request("coven.launch.beta", body.encode(), 10.0)
            assert over_socket.status_code >= 400
            assert (status, answer) == (over_socket.status_code, over_socket.content)

        refused = launch_args(homes["alpha"], tmp_short, "beta", "nope", "hello")
        refused.json = False
        assert await commands.launch(refused, out=Out()) == 1
        assert "harness" in capsys.readouterr().err
        nobody = launch_args(homes["alpha"], tmp_short, "gamma", "command", "true")
        nobody.json = False
        assert await commands.launch(nobody, out=Out()) == 3
        assert "fleet_no_host" in capsys.readouterr().err
        assert beta_health.launches.served == 1 and beta_health.launches.refused == 5


async def test_wrong_credentials_are_refused(
    cluster: NatsCluster, tmp_short: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from coven_trio.fleet._health import LaunchStats
    from coven_trio.fleet._launch import serve_launches
    from coven_trio.fleet._nats import FleetRefused

    wrong = tmp_short / "wrong"
    write_fleet(wrong, cluster, "alpha", password="not-the-password")
    assert await commands.sessions(args(wrong, host=None), out=Out()) == 1
    assert "fleet_refused" in capsys.readouterr().err

    # alpha's credentials, configured as host beta: NATS will not let it serve beta
    impostor = tmp_short / "impostor"
    write_fleet(impostor, cluster, "beta", user="alpha", password=PASSWORD.format(user="alpha"))

    async def never(body: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("no launch may reach an impostor")

    async with open_link(settings_of(impostor), name="t", forever=False) as link:
        with pytest.raises(FleetRefused, match=r"coven\.launch\.beta"):
            await serve_launches(link, never, LaunchStats())
    async with fleet_daemon(impostor) as (_, health):
        await until(lambda: (health.launches.last_error or "").startswith("refused"))
        assert not health.launches.serving


async def test_a_nats_node_killed_mid_stream_loses_nothing(
    cluster: NatsCluster, tmp_short: Path
) -> None:
    home = tmp_short / "alpha"
    write_fleet(home, cluster, "alpha")
    async with fleet_daemon(home) as (daemon, health), http(daemon) as client:
        sid = await launch_command(client, tmp_short, slow_lines(600, 0.004))
        await until(lambda: health.export.exported_entries >= 60)
        async with open_link(settings_of(home), name="t", forever=False) as link:
            leader = (await link.stream_state())["leader"]
        await trio.to_thread.run_sync(cluster.kill, cluster.node_named(leader))
        journal = await replay(client, sid)  # the whole session: all 600 lines were printed
        # every printed line is there, in as many output entries as reads took (a busy
        # machine coalesces reads, and a read may end mid-line)
        assert printed(journal) == "".join(f"line {i}\n" for i in range(600))
        count = lines(journal)
        async with open_link(settings_of(home), name="t", forever=False) as link:
            subject = entries_subject("coven", "alpha", sid)
            await exported(health, link, subject, count)
            assert (await link.stream_state())["leader"] != leader
            assert await raw_indexes(link, subject) == list(range(count))


async def test_nats_stopped_for_ten_seconds_then_the_backlog_drains_every_entry_once(
    cluster: NatsCluster, tmp_short: Path
) -> None:
    home = tmp_short / "alpha"
    write_fleet(home, cluster, "alpha")
    async with fleet_daemon(home) as (daemon, health), http(daemon) as client:
        sid = await launch_command(client, tmp_short, slow_lines(500, 0.004))
        await until(lambda: health.export.exported_entries >= 40)
        await trio.to_thread.run_sync(cluster.stop)
        stopped = trio.current_time()
        await until(lambda: health.link is not None and health.link.state != "connected")
        other = await launch_command(client, tmp_short, slow_lines(50, 0.001))
        counts = {sid: lines(await replay(client, sid)), other: lines(await replay(client, other))}
        await until(lambda: health.export.backlog_entries > 0)  # sessions went on meanwhile
        assert health.body()["export"]["state"] == "waiting"
        assert trio.current_time() - stopped < 10.0
        await trio.sleep(10.0 - (trio.current_time() - stopped))  # the outage itself
        await trio.to_thread.run_sync(cluster.start)
        async with open_link(settings_of(home), name="t", forever=False) as link:
            for session_id, count in counts.items():
                subject = entries_subject("coven", "alpha", session_id)
                await exported(health, link, subject, count)
                assert await raw_indexes(link, subject) == list(range(count))


async def test_a_restarted_daemon_resumes_and_sends_nothing_twice(
    cluster: NatsCluster, tmp_short: Path
) -> None:
    home = tmp_short / "alpha"
    write_fleet(home, cluster, "alpha")
    async with (
        fleet_daemon(home) as (daemon, health),
        http(daemon) as client,
        open_link(settings_of(home), name="t", forever=False) as link,
    ):
        first = await launch_command(client, tmp_short, slow_lines(80, 0.001))
        count = lines(await replay(client, first))
        await exported(health, link, entries_subject("coven", "alpha", first), count)
    # Even with its cursor file gone, the next daemon asks the stream before sending.
    (home / "fleet-export.sqlite3").unlink()
    async with (
        fleet_daemon(home) as (daemon, health),
        http(daemon) as client,
        open_link(settings_of(home), name="t", forever=False) as link,
    ):
        second = await launch_command(client, tmp_short, slow_lines(30, 0.001))
        second_count = lines(await replay(client, second))
        await exported(health, link, entries_subject("coven", "alpha", second), second_count)
        assert health.export.exported_entries == second_count
        assert health.export.duplicate_acks == 0
        subject = entries_subject("coven", "alpha", first)
        assert await raw_indexes(link, subject) == list(range(count))

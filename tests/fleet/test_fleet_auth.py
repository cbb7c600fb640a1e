"""The fleet over TLS with an nkey login, against a real (one-node) JetStream server: the
way a fleet reaches servers beyond this machine. The certificate comes from the
``openssl`` program (as the dashboard's does), the nkey from the ``nkeys`` package that
the fleet extra brings."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from coven_trio.fleet import commands
from coven_trio.fleet._link import open_link
from coven_trio.fleet._subjects import entries_subject

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
    write_fleet,
)
from .nats_cluster import ClusterOptions, NatsCluster, running_cluster

pytestmark = pytest.mark.timeout(120)


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed (.ci/run installs it)")
    folder.mkdir(parents=True)
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, request = folder / "server.pem", folder / "server.key", folder / "server.csr"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = [openssl, "req", *ec, "-x509", "-days", "2", "-subj", "/CN=coven test CA"]
    subprocess.run([*run, "-keyout", ca_key, "-out", ca], check=True, capture_output=True)
    run = [openssl, "req", *ec, "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", request]
    subprocess.run(run, check=True, capture_output=True)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    sign = [openssl, "x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key]
    sign += ["-CAcreateserial", "-days", "2", "-extfile", folder / "san.ext", "-out", cert]
    subprocess.run(sign, check=True, capture_output=True)
    return ca, cert, key


def _nkey(path: Path) -> str:
    """A new user nkey: its seed written to ``path`` (0600), its public key returned."""
    import nkeys

    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(seed + b"\n")
    path.chmod(0o600)
    return str(nkeys.from_seed(bytearray(seed)).public_key.decode())


@pytest.fixture
def secured(tmp_short: Path) -> Iterator[tuple[NatsCluster, Path, Path]]:
    """One JetStream node on TLS only, where host ``alpha`` logs in with an nkey: the
    node, alpha's seed file and the CA."""
    ca, cert, key = _certificates(tmp_short / "pki")
    seed = tmp_short / "keys" / "alpha.nk"
    options = ClusterOptions(size=1, tls=(cert, key), nkeys={"alpha": _nkey(seed)})
    with running_cluster(["alpha"], options) as cluster:
        yield cluster, seed, ca


def _fleet_file(home: Path, cluster: NatsCluster, seed: Path, ca: Path | None) -> None:
    extra = {"ca_file": str(ca)} if ca is not None else {"connect_timeout": 1.0}
    login = {"user": None, "password": None, "nkey_seed": str(seed)}
    write_fleet(home, cluster, "alpha", replicas=1, **login, **extra)


async def test_a_host_exports_over_tls_with_an_nkey_login(
    secured: tuple[NatsCluster, Path, Path], tmp_short: Path
) -> None:
    cluster, seed, ca = secured
    assert all(url.startswith("tls://") for url in cluster.urls)
    home = tmp_short / "alpha"
    _fleet_file(home, cluster, seed, ca)
    async with fleet_daemon(home) as (daemon, health), http(daemon) as client:
        sid = await launch_command(client, tmp_short, print_lines(50))
        count = (await replay(client, sid)).count(b"\n")
        async with open_link(settings_of(home), name="t", forever=False) as link:
            subject = entries_subject("coven", "alpha", sid)
            await exported(health, link, subject, count)
            assert await raw_indexes(link, subject) == list(range(count))
        body = health.body()
        assert body["connection"] == "connected" and body["server"].startswith("tls://")


async def test_a_server_certificate_from_an_unknown_ca_or_a_foreign_nkey_is_refused(
    secured: tuple[NatsCluster, Path, Path],
    tmp_short: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster, seed, ca = secured
    # the right nkey, but only the system's CAs: nats-py never finishes such a connect
    # (it only reports the error); the command says why within its connect timeout
    untrusting = tmp_short / "untrusting"
    _fleet_file(untrusting, cluster, seed, None)
    assert await commands.sessions(args(untrusting, host=None), out=Out()) == 3
    assert "fleet_unreachable" in (err := capsys.readouterr().err)
    assert "CERTIFICATE_VERIFY_FAILED" in err

    stranger = tmp_short / "stranger"  # a trusted server, an nkey it does not know
    _fleet_file(stranger, cluster, tmp_short / "keys" / "stranger.nk", ca)
    _nkey(tmp_short / "keys" / "stranger.nk")
    assert await commands.sessions(args(stranger, host=None), out=Out()) == 1
    assert "fleet_refused" in capsys.readouterr().err

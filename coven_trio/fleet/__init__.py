"""Beyond one machine: the sessions of many hosts on NATS JetStream (docs/fleet.md).

A session journal is an append-only, replayable log — a JetStream stream; session
records are a KV bucket; launching on a host is a request/reply service. This package
exports a daemon's journals and records (behind its SQLite store), serves launches
addressed to its host, and gives the ``coven-trio fleet`` commands.

Off unless ``<home>/fleet.toml`` exists. Importing this package loads only the
configuration (no asyncio, no nats-py); :mod:`coven_trio.fleet.service` (the daemon's
task) and :mod:`coven_trio.fleet.commands` (the CLI) load the rest when used.
"""

from __future__ import annotations

from ._config import FLEET_FILE, FleetConfigError, FleetSettings, load_settings, parse_settings

__all__ = ["FLEET_FILE", "FleetConfigError", "FleetSettings", "load_settings", "parse_settings"]

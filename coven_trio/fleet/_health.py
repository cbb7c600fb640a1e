"""What the fleet reports in the daemon's health: the connection, the export backlog and
lag, the launch service. One object the exporter and the launch service update and the
health view reads (all on trio's thread, except the link's state, which nats-py's
callbacks write as plain attributes)."""

from __future__ import annotations

import time
from collections import deque
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ._link import FleetLink

#: Export lag samples kept for the percentiles (the most recent acks).
LAG_SAMPLES = 20_000


class ExportState(StrEnum):
    """Where the exporter is."""

    OFF = "off"  # export = false, or the store is in memory
    STARTING = "starting"
    EXPORTING = "exporting"  # connected; the backlog drains as it grows
    WAITING = "waiting"  # NATS is unreachable; the backlog waits in the store
    FAILED = "failed"  # stopped on an error it cannot retry (see lastError)


@attrs.define(eq=False)
class ExportStats:
    state: ExportState = ExportState.STARTING
    exported_entries: int = 0
    duplicate_acks: int = 0
    records_put: int = 0
    failed_windows: int = 0
    backlog_entries: int = 0
    backlog_sessions: int = 0
    #: Entries the store pruned before they could be exported (NATS down that long).
    lost_entries: int = 0
    last_ack_at: float | None = None
    last_error: str | None = None
    cursor_file: str | None = None
    lags: deque[float] = attrs.field(factory=lambda: deque(maxlen=LAG_SAMPLES))

    def lag_ms(self) -> dict[str, float | int | None]:
        """p50, p99 and max of the export lag (journal timestamp → publish ack), in ms."""
        if not self.lags:
            return {"p50": None, "p99": None, "max": None, "samples": 0}
        ordered = sorted(self.lags)

        def at(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

        return {"p50": at(0.5), "p99": at(0.99), "max": at(1.0), "samples": len(ordered)}


@attrs.define(eq=False)
class LaunchStats:
    subject: str | None = None
    serving: bool = False
    served: int = 0
    refused: int = 0
    last_error: str | None = None


@attrs.define(eq=False)
class FleetHealth:
    """The ``fleet`` object of the health handshake."""

    host: str
    link: FleetLink | None = None
    export: ExportStats = attrs.field(factory=ExportStats)
    launches: LaunchStats = attrs.field(factory=LaunchStats)
    error: str | None = None

    def body(self) -> dict[str, Any]:
        link = self.link
        export = self.export
        state = export.state
        if state is ExportState.EXPORTING and (link is None or link.state != "connected"):
            state = ExportState.WAITING  # the exporter notices at its next window
        return {
            "host": self.host,
            "connection": link.state if link is not None else "off",
            "server": link.connected_url if link is not None else None,
            "lastError": self.error or (link.last_error if link is not None else None),
            "export": {
                "state": state.value,
                "exportedEntries": export.exported_entries,
                "duplicateAcks": export.duplicate_acks,
                "recordsPut": export.records_put,
                "backlogEntries": export.backlog_entries,
                "backlogSessions": export.backlog_sessions,
                "lostEntries": export.lost_entries,
                "failedWindows": export.failed_windows,
                "lagMs": export.lag_ms(),
                "lastAckAgeSeconds": (
                    None
                    if export.last_ack_at is None
                    else round(max(0.0, time.time() - export.last_ack_at), 3)
                ),
                "lastError": export.last_error,
                "cursorFile": export.cursor_file,
            },
            "launches": {
                "subject": self.launches.subject,
                "serving": self.launches.serving,
                "served": self.launches.served,
                "refused": self.launches.refused,
                "lastError": self.launches.last_error,
            },
        }

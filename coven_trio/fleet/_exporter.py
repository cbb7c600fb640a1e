"""The exporter: every committed journal entry to the stream, every session record to
the KV bucket, behind the store and never in a session's way.

It reads only what the store has committed (``_cursor.StoreReader``), so the daemon's
hot path does not know it exists: no queue of its own, nothing added per entry. The
backlog is the store; what was exported is the cursor file. A loop:

1. wait until the store's ``data_version`` moves (polled every :data:`POLL`), and look
   at the sessions that are new or not yet settled (ended, fully exported, record put);
2. take a window — up to :data:`WINDOW_ENTRIES` entries / :data:`WINDOW_BYTES` across
   sessions, oldest entries of each first, plus any record due — and publish it all in
   flight at once; wait for the acks;
3. advance each session's cursor over what was acknowledged, in one small transaction.

Exactly once: each entry carries ``Nats-Msg-Id`` (JetStream drops a re-send within the
stream's duplicate window), and an entry whose ack did not come is never simply sent
again: its session is first *checked* — the stream leader is asked for the subject's
messages past the last sequence known good — and only entries the stream lacks are sent.
So an outage of any length, or a restart between an ack and the cursor's commit, sends
nothing twice. Readers order by index, so a re-sent entry landing after a later one (an
election mid-window) still reads in order.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import trio

from .._json import dumps
from ..journal import line_at
from ._cursor import CursorFile, Row, Saved, StoreReader
from ._health import ExportState, ExportStats
from ._link import FleetLink
from ._subjects import entries_subject, index_of, msg_id, record_key
from ._track import Outcome, Track

log = logging.getLogger("coven_trio.fleet")

#: How often the store is asked whether anything was committed (one cheap pragma).
POLL = 0.02
#: Every session is compared with the store this often, settled ones included.
FULL_SCAN = 30.0
#: What one publish window holds at most.
WINDOW_ENTRIES = 1024
WINDOW_BYTES = 4 << 20
#: How long a window waits for its acks (nats-py's own JetStream publish timeout): an
#: entry sent to a stream leader that died is never acknowledged, so this is how long an
#: election can hold a window before its session is checked and the rest re-sent.
ACK_TIMEOUT = 5.0
#: A record whose only change is its event count is put at most this often (a busy
#: session's record would otherwise be put at every window).
RECORD_INTERVAL = 5.0
#: After a failed window (no leader yet, a refused publish, a missing stream), before the
#: next try; doubled after each failure in a row, up to MAX_RETRY_DELAY.
RETRY_DELAY = 0.1
MAX_RETRY_DELAY = 2.0


def _epoch(line: bytes) -> float:
    return datetime.fromisoformat(line_at(line)).timestamp()


class Exporter:
    def __init__(self, link: FleetLink, home: Path, store_path: Path, stats: ExportStats) -> None:
        self.link = link
        self.settings = link.settings
        self.home = home
        self.store_path = store_path
        self.stats = stats
        self.tracks: dict[str, Track] = {}
        #: The tracks not settled: the only ones a window or a scan looks at.
        self.active: dict[str, Track] = {}
        self.max_num = 0
        self._limiter = trio.CapacityLimiter(1)  # one sqlite call at a time
        self._dirty: set[str] = set()
        self._forget: list[str] = []
        self._reader: StoreReader | None = None
        self._cursor: CursorFile | None = None
        self._failures = 0  # windows failed in a row

    async def _thread(self, fn: Any, *args: Any) -> Any:
        return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    # --- the store side ------------------------------------------------------------------

    def _see(self, row: Row, saved: Saved | None, *, new: bool) -> None:
        track = self.tracks.get(row.session_id)
        if track is None:
            subject = entries_subject(self.settings.prefix, self.settings.host, row.session_id)
            track = Track(row.session_id, row.num, subject, checked=new and saved is None)
            if saved is not None:
                track.exported, track.seq, track.record_sig = (
                    saved.exported,
                    saved.seq,
                    saved.record,
                )
            self.tracks[row.session_id] = track
        track.num, track.count = row.num, row.count
        track.status, track.updated_at = row.status, row.updated_at
        if not track.settled:
            self.active[row.session_id] = track
        self.max_num = max(self.max_num, row.num)

    def _gone(self, session_id: str) -> None:
        track = self.tracks.pop(session_id)
        self.active.pop(session_id, None)
        if track.behind:
            lost = track.count - track.exported
            self.stats.lost_entries += lost
            log.warning(
                "fleet: session %s left the store with %d entries not exported", session_id, lost
            )
        self._forget.append(session_id)

    async def _full_scan(self, saved: dict[str, Saved] | None = None) -> None:
        assert self._reader is not None
        rows: list[Row] = await self._thread(self._reader.all)
        seen = {row.session_id for row in rows}
        for row in rows:
            self._see(row, (saved or {}).get(row.session_id), new=saved is None)
        for session_id in [s for s in self.tracks if s not in seen]:
            self._gone(session_id)
        if saved is not None:
            self._forget += [s for s in saved if s not in seen]

    async def _scan(self) -> bool:
        """Look at what changed since the last look; True if anything did."""
        assert self._reader is not None
        reader = self._reader
        active = {t.num: t.session_id for t in self.active.values()}
        after = self.max_num

        def look() -> list[Row] | None:
            return reader.some(after, list(active)) if reader.changed() else None

        rows: list[Row] | None = await self._thread(look)
        if rows is None:
            return False
        seen = set()
        for row in rows:
            self._see(row, None, new=row.session_id not in self.tracks)
            seen.add(row.num)
        for num, session_id in active.items():
            if num not in seen and session_id in self.tracks:
                self._gone(session_id)
        return True

    def _update_backlog(self) -> None:
        behind = [t for t in self.active.values() if t.behind]
        self.stats.backlog_sessions = len(behind)
        self.stats.backlog_entries = sum(t.count - t.exported for t in behind)

    def _next_record_due(self) -> float:
        pending = [t.record_due for t in self.active.values() if t.record_sig != t.sig]
        return min(pending, default=float("inf"))

    # --- the stream side -----------------------------------------------------------------

    async def _check(self, track: Track) -> None:
        """Ask the stream which of the track's entries it already has."""
        for seq, message_id in await self.link.subject_after(track.subject, track.seq):
            index = index_of(message_id or "")
            if index is not None and index >= track.exported:
                track.present.add(index)
            track.seq = max(track.seq, seq)
        track.advance()
        track.checked = True
        self._dirty.add(track.session_id)

    async def _window(self) -> Outcome:
        """Publish one window."""
        assert self._reader is not None
        reader = self._reader
        now = time.monotonic()
        behind = sorted((t for t in self.active.values() if t.behind), key=lambda t: t.num)
        for track in behind:
            if not track.checked:
                await self._check(track)
        wanted = [t for t in behind if t.behind]
        records = [t for t in self.active.values() if t.record_wanted(now)]
        if not wanted and not records:
            return Outcome.IDLE
        share = max(64, WINDOW_ENTRIES // max(1, len(wanted)))  # every session moves

        def read() -> tuple[list[tuple[Track, int, bytes]], list[tuple[Track, str, bytes]]]:
            entries: list[tuple[Track, int, bytes]] = []
            budget = WINDOW_BYTES
            for track in wanted:
                room = min(share, WINDOW_ENTRIES - len(entries))
                if room <= 0 or budget <= 0:
                    break
                stop = min(track.count, track.exported + room + len(track.present))
                for idx, line in reader.lines(track.num, track.exported, stop, budget):
                    if idx not in track.present:
                        entries.append((track, idx, line))
                        budget -= len(line)
            puts = []
            for track in records:
                record = reader.record(track.num)
                if record is not None:
                    record["host"] = self.settings.host
                    puts.append((track, track.sig, dumps(record)))
            return entries, puts

        entries, puts = await self._thread(read)
        host, bucket = self.settings.host, self.settings.bucket
        items: list[tuple[str, bytes, str | None]] = [
            (t.subject, line, msg_id(host, t.session_id, idx)) for t, idx, line in entries
        ]
        items += [
            (f"$KV.{bucket}.{record_key(host, t.session_id)}", value, None) for t, _, value in puts
        ]
        if not items:
            return Outcome.IDLE
        seqs, acked, duplicates = await self.link.publish_window(items, ACK_TIMEOUT)
        self._settle(entries, puts, seqs, acked, duplicates)
        return Outcome.FAILED if None in seqs else Outcome.PUBLISHED

    def _settle(
        self,
        entries: list[tuple[Track, int, bytes]],
        puts: list[tuple[Track, str, bytes]],
        seqs: list[int | None],
        acked: list[float],
        duplicates: int,
    ) -> None:
        stats = self.stats
        failed: set[str] = set()
        for (track, idx, line), seq, when in zip(entries, seqs, acked, strict=False):
            if seq is None:
                failed.add(track.session_id)
                track.checked = False
                continue
            track.present.add(idx)
            if track.session_id not in failed:
                track.seq = max(track.seq, seq)  # known good only up to the first failure
            stats.exported_entries += 1
            stats.last_ack_at = when
            stats.lags.append(max(0.0, when - _epoch(line)))
            self._dirty.add(track.session_id)
        for track in {t for t, _, _ in entries}:
            track.advance()
        now = time.monotonic()
        for (track, sig, _), seq in zip(puts, seqs[len(entries) :], strict=False):
            if seq is not None:
                track.record_sig, track.record_due = sig, now + RECORD_INTERVAL
                stats.records_put += 1
                self._dirty.add(track.session_id)
        for track in {t for t, _, _ in entries} | {t for t, _, _ in puts}:
            if track.settled:
                self.active.pop(track.session_id, None)
        stats.duplicate_acks += duplicates
        if None in seqs:
            stats.failed_windows += 1
            stats.last_error = self.link.last_error or "a publish was not acknowledged in time"

    async def _save(self) -> None:
        assert self._cursor is not None
        if not self._dirty and not self._forget:
            return
        rows = [
            (t.session_id, t.exported, t.seq, t.record_sig)
            for sid in self._dirty
            if (t := self.tracks.get(sid)) is not None
        ]
        forget, self._dirty, self._forget = self._forget, set(), []
        await self._thread(self._cursor.save, rows, forget)

    # --- the loop ------------------------------------------------------------------------

    async def _ready(self) -> None:
        """Connected, with the stream and the bucket there."""
        while True:
            self.stats.state = ExportState.WAITING
            await self.link.wait_connected()
            try:
                stream = await self.link.ensure_stream()
                bucket = await self.link.ensure_bucket()
            except Exception as exc:  # a refusal, a timeout: said in health, retried
                self.stats.last_error = f"cannot use the stream or the bucket: {exc}"
                log.warning("fleet: %s", self.stats.last_error)
                await trio.sleep(RETRY_DELAY)
                continue
            log.info(
                "fleet: exporting as %s (stream %s: %s, bucket %s: %s)",
                self.settings.host,
                self.settings.stream,
                stream,
                self.settings.bucket,
                bucket,
            )
            self.stats.state = ExportState.EXPORTING
            return

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        settings = self.settings
        target = {
            "servers": ",".join(sorted(settings.servers)),
            "stream": settings.stream,
            "bucket": settings.bucket,
            "host": settings.host,
            "prefix": settings.prefix,
        }
        self._reader = await trio.to_thread.run_sync(StoreReader, self.store_path)
        self._cursor = await trio.to_thread.run_sync(CursorFile, self.home, target)
        self.stats.cursor_file = str(self._cursor.path)
        try:
            saved = await self._thread(self._cursor.load)
            await self._full_scan(saved)
            self._update_backlog()
            task_status.started()
            await self._loop()
        finally:
            with trio.CancelScope(shield=True):
                await self._save()
                await self._thread(self._reader.close)
                await self._thread(self._cursor.close)

    async def _loop(self) -> None:
        await self._ready()
        last_full = time.monotonic()
        while True:
            if self.link.state != "connected":
                await self._ready()
            try:
                outcome = await self._window()
            except Exception as exc:  # the link broke mid-check: wait, then go on
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                outcome = Outcome.FAILED
            await self._save()
            self._update_backlog()
            if outcome is Outcome.FAILED:
                self._failures += 1
                if self._failures == 1 or self._failures % 100 == 0:
                    log.warning("fleet: export paused: %s", self.stats.last_error)
                await trio.sleep(min(MAX_RETRY_DELAY, RETRY_DELAY * 2 ** min(self._failures, 8)))
                if self._failures % 10 == 0:
                    await self._ready()  # the stream or the bucket may be gone: make them
                continue
            if self._failures:
                log.info("fleet: export resumed after %d failed windows", self._failures)
                self._failures = 0
            if outcome is Outcome.PUBLISHED:
                continue
            due = self._next_record_due()
            while not await self._scan():
                if time.monotonic() - last_full >= FULL_SCAN:
                    await self._full_scan()
                    last_full = time.monotonic()
                    break
                if time.monotonic() >= due:
                    break
                await trio.sleep(POLL)
            self._update_backlog()


async def run_exporter(
    link: FleetLink,
    home: Path,
    store_path: Path,
    stats: ExportStats,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Export ``store_path``'s journals and records over ``link`` until cancelled."""
    await Exporter(link, home, store_path, stats).run(task_status=task_status)

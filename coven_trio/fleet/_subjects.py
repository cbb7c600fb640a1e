"""Names in the fleet: subjects, message ids, KV keys.

* a journal entry: subject ``<prefix>.<host>.<session>.entries``, payload the entry's
  exact eve NDJSON line (as the store holds it), header ``Nats-Msg-Id`` =
  ``<host>:<session>:<index>`` (the entry id, with its host): a re-send is a duplicate
  JetStream drops;
* a session record: KV key ``<host>.<session>`` in the bucket;
* a launch: request to ``<prefix>.launch.<host>``.

Session ids are ``ses_`` + a ULID, already subject tokens. Any other id (an external
session's, chosen by a client) becomes ``x`` + 32 hex digits of its SHA-256: the token
stays valid and the real id is in the record and the message id.
"""

from __future__ import annotations

import hashlib
import re

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")
MSG_ID = "Nats-Msg-Id"
#: The reply header that carries the HTTP status of a launch answer.
STATUS_HEADER = "Coven-Status"

_LINE_HEAD = len(b'{"type":"')


def token(session_id: str) -> str:
    """``session_id`` as one subject token (and KV key part)."""
    if _TOKEN.fullmatch(session_id):
        return session_id
    return "x" + hashlib.sha256(session_id.encode()).hexdigest()[:32]


def entries_subject(prefix: str, host: str, session_id: str) -> str:
    return f"{prefix}.{host}.{token(session_id)}.entries"


def stream_subjects(prefix: str) -> list[str]:
    """What the journal stream captures: every host's every session."""
    return [f"{prefix}.*.*.entries"]


def launch_subject(prefix: str, host: str) -> str:
    return f"{prefix}.launch.{host}"


def record_key(host: str, session_id: str) -> str:
    return f"{host}.{token(session_id)}"


def msg_id(host: str, session_id: str, index: int) -> str:
    return f"{host}:{session_id}:{index}"


def index_of(message_id: str) -> int | None:
    """The entry index of a message id (None if it is not one of ours)."""
    _, _, raw = message_id.rpartition(":")
    return int(raw) if raw.isdigit() else None


def line_type(line: bytes) -> str:
    """The entry type of an eve line (``{"type":"T",...``)."""
    return line[_LINE_HEAD : line.index(b'"', _LINE_HEAD)].decode()

"""Names in the fleet: subjects, keys, message ids, and the type cut from a line."""

from __future__ import annotations

import pytest

from coven_trio.fleet._subjects import (
    entries_subject,
    index_of,
    line_type,
    msg_id,
    record_key,
    token,
)
from coven_trio.journal import Journal
from coven_trio.vocabulary import EntryType

pytestmark = pytest.mark.timeout(20)


def test_the_type_of_an_exported_line_is_cut_from_it() -> None:
    journal = Journal("ses_01TEST", max_bytes=1 << 30)
    journal.append(EntryType.SESSION_STARTED, {"harness": "command"})
    journal.append(EntryType.TURN_STARTED)  # no data at all
    journal.append(EntryType.OUTPUT, {"data": 'a "quoted" type: \\"x\\"'})
    journal.append(EntryType.SESSION_COMPLETED, {"exitCode": 0})
    for index in range(len(journal)):
        assert line_type(journal.line(index)) == journal.type_of(index)


def test_session_ids_become_subject_tokens() -> None:
    assert token("ses_01M87ABC") == "ses_01M87ABC"
    odd = token("my run.with dots*")
    assert odd.startswith("x") and len(odd) == 33 and odd == token("my run.with dots*")
    assert entries_subject("coven", "alpha", "ses_1") == "coven.alpha.ses_1.entries"
    assert record_key("alpha", "ses_1") == "alpha.ses_1"


def test_a_message_id_names_host_session_and_entry() -> None:
    assert msg_id("alpha", "ses_1", 42) == "alpha:ses_1:42"
    assert index_of(msg_id("alpha", "odd:id", 7)) == 7
    assert index_of("not ours") is None

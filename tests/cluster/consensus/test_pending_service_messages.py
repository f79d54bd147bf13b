"""Service messages into the log (cluster.md §4.11): ids, leader append and sweep, follower
sweep from the log, rollback of what was appended but not committed."""

from __future__ import annotations

import struct

from aeronpy.cluster.codecs import T
from aeronpy.cluster.consensus.pending_service_messages import (
    PendingServiceMessageTracker,
    service_id_from_session_id,
    service_session_id,
)
from aeronpy.protocol import sbe


def message(payload: bytes, service_id: int = 1) -> bytes:
    return sbe.encode(T.SessionMessageHeader, leadership_term_id=0, cluster_session_id=service_id, timestamp=0) + payload


def sid(buf: bytes | bytearray) -> int:
    return int(struct.unpack_from("<q", buf, 16)[0])


def test_ids_are_negative_and_name_the_service() -> None:
    s = service_session_id(3, 5)
    assert s < 0 and service_id_from_session_id(s) == 3 and s & 0xFFFF == 5


def test_leader_appends_in_order_and_sweeps_committed() -> None:
    t = PendingServiceMessageTracker(1)
    for p in (b"a", b"b", b"c"):
        t.enqueue(message(p))
    appended: list[int] = []
    positions = iter([100, 200, -1])

    def append(buf: bytearray) -> int:
        position = next(positions)
        if position > 0:
            appended.append(sid(buf))
        return position

    assert t.poll(append) == 2
    assert appended == [service_session_id(1, 1), service_session_id(1, 2)]
    t.sweep_leader_messages(150)
    assert [bytes(m[32:]) for m in t.pending] == [b"b", b"c"]
    t.restore_uncommitted()
    assert t.log_service_session_id == service_session_id(1, 1)
    again: list[int] = []
    t.poll(lambda b: again.append(sid(b)) or 300)
    assert again == [service_session_id(1, 2), service_session_id(1, 3)]


def test_follower_drops_what_the_log_shows_was_appended() -> None:
    t = PendingServiceMessageTracker(0)
    for p in (b"x", b"y", b"z"):
        t.enqueue(message(p, 0))
    t.sweep_follower_messages(service_session_id(0, 2))
    assert [bytes(m[32:]) for m in t.pending] == [b"z"]
    assert t.log_service_session_id == service_session_id(0, 2)

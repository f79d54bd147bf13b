"""EgressDispatcher/EgressAdapter: in-place session-message reads agree with the SBE tables."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aeronpy.cluster.client import ClusterError, EgressAdapter, EgressListener
from aeronpy.cluster.codecs import AdminRequestType, AdminResponseCode, EventCode, T
from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.protocol import sbe

i64 = st.integers(-(1 << 63), (1 << 63) - 1)
i32 = st.integers(-(1 << 31), (1 << 31) - 1)


class Collect(EgressListener):
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_message(self, cluster_session_id: int, timestamp: int, buffer: Any, offset: int, length: int,
                   header: Any) -> None:
        self.calls.append(("message", cluster_session_id, timestamp, buffer.get_bytes(offset, length)))

    def on_session_event(self, *args: Any) -> None:
        self.calls.append(("event", *args))

    def on_new_leader(self, *args: Any) -> None:
        self.calls.append(("new_leader", *args))

    def on_admin_response(self, *args: Any) -> None:
        self.calls.append(("admin", *args))


class StubHeader:
    context = None


def deliver(adapter: EgressAdapter, message: bytes, at: int) -> None:
    buffer = AtomicBuffer(bytearray(at + len(message) + 8))
    buffer.put_bytes(at, message)
    adapter.dispatch(buffer, at, len(message), StubHeader())


@given(session=i64, term=i64, timestamp=i64, payload=st.binary(max_size=200), at=st.integers(0, 64), other=i64)
def test_session_messages_match_the_codec(session: int, term: int, timestamp: int, payload: bytes, at: int,
                                          other: int) -> None:
    listener = Collect()
    adapter = EgressAdapter(listener, session, subscription=None)
    message = sbe.encode(T.SessionMessageHeader, leadership_term_id=term, cluster_session_id=session,
                         timestamp=timestamp) + payload
    deliver(adapter, message, at)
    decoded = sbe.decode(sbe.Schema(111, 17, (T.SessionMessageHeader,)), message)
    assert decoded is not None
    assert listener.calls == [("message", decoded.get_int("cluster_session_id"), decoded.get_int("timestamp"), payload)]
    if other != session:
        deliver(adapter, sbe.encode(T.SessionMessageHeader, leadership_term_id=term, cluster_session_id=other,
                                    timestamp=timestamp) + payload, at)
        assert len(listener.calls) == 1


@given(session=i64, corr=i64, term=i64, leader=i32, code=st.sampled_from(list(EventCode)),
       detail=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=50), at=st.integers(0, 16))
def test_session_events_match_the_codec(session: int, corr: int, term: int, leader: int, code: EventCode,
                                        detail: str, at: int) -> None:
    listener = Collect()
    adapter = EgressAdapter(listener, session, subscription=None)
    deliver(adapter, sbe.encode(T.SessionEvent, cluster_session_id=session, correlation_id=corr,
                                leadership_term_id=term, leader_member_id=leader, code=code, detail=detail), at)
    assert listener.calls == [("event", corr, session, term, leader, code, detail)]


def test_new_leader_and_admin_response() -> None:
    listener = Collect()
    adapter = EgressAdapter(listener, 9, subscription=None)
    deliver(adapter, sbe.encode(T.NewLeaderEvent, leadership_term_id=3, cluster_session_id=9, leader_member_id=2,
                                ingress_endpoints="0=a:1,2=c:3"), 0)
    deliver(adapter, sbe.encode(T.AdminResponse, cluster_session_id=9, correlation_id=5,
                                request_type=AdminRequestType.SNAPSHOT, response_code=AdminResponseCode.OK,
                                message="ok", payload=b"pp"), 0)
    deliver(adapter, sbe.encode(T.AdminResponse, cluster_session_id=8, correlation_id=5,
                                request_type=AdminRequestType.SNAPSHOT, response_code=AdminResponseCode.OK), 0)
    assert listener.calls == [
        ("new_leader", 9, 3, 2, "0=a:1,2=c:3"),
        ("admin", 9, 5, AdminRequestType.SNAPSHOT, AdminResponseCode.OK, "ok", b"pp"),
    ]


def test_older_session_event_without_the_newer_fields() -> None:
    # a version-5 SessionEvent: block of 32 bytes (no version, no heartbeat timeout)
    listener = Collect()
    adapter = EgressAdapter(listener, 4, subscription=None)
    block = sbe.encode(T.SessionEvent, cluster_session_id=4, correlation_id=1, leadership_term_id=2,
                       leader_member_id=0, code=EventCode.CLOSED, detail="TIMEOUT")
    old = bytes([32, 0, 2, 0, 111, 0, 5, 0]) + block[8:8 + 32] + block[8 + 44:]
    deliver(adapter, old, 0)
    assert listener.calls == [("event", 1, 4, 2, 0, EventCode.CLOSED, "TIMEOUT")]


def test_malformed_and_unknown_messages_are_skipped() -> None:
    listener = Collect()
    adapter = EgressAdapter(listener, 1, subscription=None)
    event = sbe.encode(T.SessionEvent, cluster_session_id=1, correlation_id=1, leadership_term_id=2,
                       leader_member_id=0, code=EventCode.OK, detail="x")
    deliver(adapter, event[:-3], 0)  # truncated detail
    deliver(adapter, bytes([0, 0, 99, 0, 111, 0, 17, 0]), 0)  # unknown template
    deliver(adapter, b"\x01\x02", 0)  # shorter than a header
    deliver(adapter, sbe.encode(T.SessionMessageHeader, leadership_term_id=1, cluster_session_id=1, timestamp=1)[:20], 0)
    assert listener.calls == []
    with pytest.raises(ClusterError, match="actual=7"):
        deliver(adapter, bytes([0, 0, 1, 0, 7, 0, 1, 0]), 0)


def test_a_listener_with_only_on_message_ignores_the_rest() -> None:
    got: list[bytes] = []

    class OnlyMessages:
        def on_message(self, cluster_session_id: int, timestamp: int, buffer: Any, offset: int, length: int,
                       header: Any) -> None:
            got.append(buffer.get_bytes(offset, length))

    adapter = EgressAdapter(OnlyMessages(), 3, subscription=None)
    deliver(adapter, sbe.encode(T.SessionEvent, cluster_session_id=3, correlation_id=1, leadership_term_id=2,
                                leader_member_id=0, code=EventCode.ERROR, detail="x"), 0)
    deliver(adapter, sbe.encode(T.NewLeaderEvent, leadership_term_id=3, cluster_session_id=3, leader_member_id=2,
                                ingress_endpoints="2=c:3"), 0)
    deliver(adapter, sbe.encode(T.SessionMessageHeader, leadership_term_id=3, cluster_session_id=3, timestamp=1) + b"ok", 0)
    assert got == [b"ok"]

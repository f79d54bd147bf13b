"""The log adapter's decoding and dispatch (cluster.md §2.4), fed encoded messages directly:
every template reaches the listener with its fields; anything else is skipped or a clear error."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.cluster.codecs import CloseReason, ClusterAction, ClusterTimeUnit, T
from aeronpy.cluster.errors import ClusterError
from aeronpy.cluster.service.log_adapter import BoundedLogAdapter
from aeronpy.cluster.service.session_header import pack_session_header, payload_bytes, unpack_session_header
from aeronpy.concurrent.atomic_buffer import AtomicBuffer, PyAtomicBuffer
from aeronpy.protocol import sbe

i64 = st.integers(-(1 << 63), (1 << 63) - 1)
i32 = st.integers(-(1 << 31), (1 << 31) - 1)


def frame_header() -> Any:
    """A frame header whose position is 4096 (term 0, offset 4032, 64 bytes)."""
    from aeronpy.logbuffer.header import Header as FrameHeader

    buf = PyAtomicBuffer(bytearray(32))
    buf.put_int32(0, 64)
    buf.put_int32(8, 4032)
    buf.put_int32(16, 0)
    h = FrameHeader(0, 16)
    h.wrap(buf, 0)
    assert h.position == 4096
    return h


class Listener:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("on_"):
            raise AttributeError(name)

        def record(*args: Any) -> None:
            self.calls.append((name, *[bytes(a.get_bytes(0, a.capacity)) if isinstance(a, AtomicBuffer) else a
                                       for a in args]))
        return record


def feed(message: bytes) -> list[tuple[Any, ...]]:
    listener = Listener()
    adapter = BoundedLogAdapter(listener, 10)  # type: ignore[arg-type]
    buffer = AtomicBuffer(bytearray(b"\xee" * 16 + message + b"\xee" * 16))
    adapter._on_message(buffer, 16, len(message), frame_header())
    return listener.calls


@settings(deadline=None)
@given(i64, i64, i64, st.binary(max_size=300))
def test_session_message(term: int, session: int, ts: int, payload: bytes) -> None:
    [call] = feed(pack_session_header(term, session, ts) + payload)
    name, pos, sid, when, buf, offset, length, _ = call
    assert (name, pos, sid, when) == ("on_session_message", 4096, session, ts)
    assert buf[offset:offset + length] == payload


@settings(deadline=None)
@given(i64, i64, i64)
def test_timer_event(term: int, corr: int, ts: int) -> None:
    assert feed(sbe.encode(T.TimerEvent, leadership_term_id=term, correlation_id=corr, timestamp=ts)) == [
        ("on_timer_event", 4096, corr, ts)]


@settings(deadline=None)
@given(i64, i64, i64, i32, st.text("abc:/?=|", max_size=40), st.binary(max_size=40))
def test_session_open(term: int, sid: int, ts: int, stream: int, channel: str, principal: bytes) -> None:
    msg = sbe.encode(T.SessionOpenEvent, leadership_term_id=term, correlation_id=1, cluster_session_id=sid,
                     timestamp=ts, response_stream_id=stream, response_channel=channel, encoded_principal=principal)
    assert feed(msg) == [("on_session_open", term, 4096, sid, ts, stream, channel, principal)]


@settings(deadline=None)
@given(i64, st.sampled_from(list(CloseReason)))
def test_session_close(sid: int, reason: CloseReason) -> None:
    msg = sbe.encode(T.SessionCloseEvent, leadership_term_id=1, cluster_session_id=sid, timestamp=2, close_reason=reason)
    assert feed(msg) == [("on_session_close", 1, 4096, sid, 2, reason)]


@settings(deadline=None)
@given(st.sampled_from(list(ClusterAction)), st.none() | st.integers(0, 3))
def test_cluster_action(action: ClusterAction, flags: int | None) -> None:
    msg = sbe.encode(T.ClusterActionRequest, leadership_term_id=3, log_position=640, timestamp=9, action=action,
                     flags=flags)
    assert feed(msg) == [("on_service_action", 3, 640, 9, action, 0 if flags is None else flags)]


@settings(deadline=None)
@given(st.none() | st.sampled_from(list(ClusterTimeUnit)))
def test_new_leadership_term_event(unit: ClusterTimeUnit | None) -> None:
    msg = sbe.encode(T.NewLeadershipTermEvent, leadership_term_id=5, log_position=128, timestamp=7,
                     term_base_log_position=64, leader_member_id=2, log_session_id=-9, time_unit=unit,
                     app_version=(1 << 16))
    assert feed(msg) == [("on_new_leadership_term_event", 5, 128, 7, 64, 2, -9,
                          ClusterTimeUnit.MILLIS if unit is None else unit, 1 << 16)]


def test_membership_change_and_unknown_templates_are_skipped() -> None:
    assert feed(sbe.encode(T.MembershipChangeEvent, cluster_members="x")) == []
    assert feed(b"\x00\x00\xe7\x03\x6f\x00\x11\x00") == []  # template 999 of schema 111


def test_other_schema_is_an_error() -> None:
    with pytest.raises(ClusterError, match="expected schemaId=111, actual=101"):
        feed(b"\x08\x00\x01\x00\x65\x00\x0e\x00" + b"\x00" * 8)


@settings(deadline=None)
@given(st.binary(max_size=64))
def test_garbage_is_skipped_or_a_clear_error(data: bytes) -> None:
    try:
        feed(data)
    except (ClusterError, sbe.CodecError, ValueError):
        pass


@settings(deadline=None)
@given(i64, i64, i64)
def test_session_header_round_trip(term: int, session: int, ts: int) -> None:
    assert unpack_session_header(pack_session_header(term, session, ts)) == (term, session, ts)


@settings(deadline=None)
@given(st.binary(max_size=64), st.integers(0, 70), st.integers(-1, 70))
def test_payload_bytes_of_any_buffer(data: bytes, offset: int, length: int) -> None:
    for source in (data, bytearray(data), memoryview(data), PyAtomicBuffer(bytearray(data)),
                   AtomicBuffer(bytearray(data))) if data else (data,):
        end = len(data) if length < 0 else offset + length
        if offset > len(data) or end > len(data) or end < offset:
            with pytest.raises(ValueError):
                payload_bytes(source, offset, length)
        else:
            assert bytes(payload_bytes(source, offset, length)) == data[offset:end]


@settings(deadline=None)
@given(st.integers(0, (1 << 31) - 1), i32, st.integers(16, 30), st.integers(0, 1 << 20), i32,
       st.integers(-1, 1 << 20))
def test_frame_position_equals_header_position(frame_length: int, term_id: int, bits: int, term_offset: int,
                                               initial_term_id: int, fragmented: int) -> None:
    from aeronpy.logbuffer.header import Header as FrameHeader
    from aeronpy.cluster.service.session_header import frame_position

    buf = PyAtomicBuffer(bytearray(64))
    buf.put_int32(8, frame_length)
    buf.put_int32(8 + 8, term_offset)
    buf.put_int32(8 + 16, term_id)
    h = FrameHeader(initial_term_id, bits)
    h.wrap(buf, 8)
    h.fragmented_frame_length = fragmented
    assert frame_position(h) == h.position

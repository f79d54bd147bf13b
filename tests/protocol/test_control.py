"""Control protocol codecs: round trips, byte layouts, malformed records."""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import AtomicBuffer, PyAtomicBuffer
from aeronpy.protocol import control as c
from aeronpy.protocol.control import MalformedCommandError

i64 = st.integers(-(2**63), 2**63 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
u64 = st.integers(0, 2**64 - 1)
i16 = st.integers(-(2**15), 2**15 - 1)
u16 = st.integers(0, 2**16 - 1)
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)
blob = st.binary(max_size=40)

MESSAGES: dict[type[Any], st.SearchStrategy[Any]] = {
    c.CorrelatedMessage: st.builds(c.CorrelatedMessage, i64, i64),
    c.PublicationMessage: st.builds(c.PublicationMessage, i64, i64, i32, text),
    c.RemovePublicationMessage: st.builds(c.RemovePublicationMessage, i64, i64, i64, u64),
    c.SubscriptionMessage: st.builds(c.SubscriptionMessage, i64, i64, i64, i32, text),
    c.RemoveMessage: st.builds(c.RemoveMessage, i64, i64, i64),
    c.DestinationMessage: st.builds(c.DestinationMessage, i64, i64, i64, text),
    c.DestinationByIdMessage: st.builds(c.DestinationByIdMessage, i64, i64, i64, i64),
    c.CounterMessage: st.builds(c.CounterMessage, i64, i64, i32, blob, text),
    c.StaticCounterMessage: st.builds(c.StaticCounterMessage, i64, i64, i64, i32, blob, text),
    c.TerminateDriverMessage: st.builds(c.TerminateDriverMessage, i64, i64, blob),
    c.RejectImageMessage: st.builds(c.RejectImageMessage, i64, i64, i64, i64, text),
    c.GetNextAvailableSessionIdMessage: st.builds(c.GetNextAvailableSessionIdMessage, i64, i64, i32),
    c.ErrorResponse: st.builds(c.ErrorResponse, i64, i32, text),
    c.ImageBuffersReady: st.builds(c.ImageBuffersReady, i64, i32, i32, i64, i32, text, text),
    c.PublicationBuffersReady: st.builds(
        c.PublicationBuffersReady, i64, i64, i32, i32, i32, i32, text
    ),
    c.OperationSucceeded: st.builds(c.OperationSucceeded, i64),
    c.ImageMessage: st.builds(c.ImageMessage, i64, i64, i32, text),
    c.SubscriptionReady: st.builds(c.SubscriptionReady, i64, i32),
    c.CounterUpdate: st.builds(c.CounterUpdate, i64, i32),
    c.ClientTimeout: st.builds(c.ClientTimeout, i64),
    c.PublicationErrorFrame: st.builds(
        c.PublicationErrorFrame,
        i64, i64, i32, i32, i64, i64, i16, u16,
        st.binary(min_size=16, max_size=16),
        i32,
        text,
    ),
    c.NextAvailableSessionId: st.builds(c.NextAvailableSessionId, i64, i32),
}

ALL_TYPES = sorted(MESSAGES, key=lambda t: t.__name__)


def test_every_message_class_is_covered() -> None:
    assert set(MESSAGES) == set(c.COMMAND_TYPES) | set(c.RESPONSE_TYPES)


def test_type_ids() -> None:
    assert (c.ADD_PUBLICATION, c.GET_NEXT_AVAILABLE_SESSION_ID) == (0x01, 0x12)
    assert (c.ON_ERROR, c.ON_NEXT_AVAILABLE_SESSION_ID) == (0x0F01, 0x0F0D)
    assert sorted(c.COMMAND_DECODERS) == list(range(0x01, 0x13))
    assert sorted(c.RESPONSE_DECODERS) == list(range(0x0F01, 0x0F0E))
    assert set(c.COMMAND_NAMES) == set(c.COMMAND_DECODERS)
    assert set(c.RESPONSE_NAMES) == set(c.RESPONSE_DECODERS)
    assert c.CONTROL_PROTOCOL_VERSION == 0x010000
    assert int(c.ErrorCode.PUBLICATION_REVOKED) == 14 and int(c.ErrorCode.STORAGE_SPACE) == 12
    assert c.ErrorCode.from_code(99) is c.ErrorCode.UNKNOWN_CODE_VALUE


def _required_length(msg: Any, encoded: bytes) -> int:
    if isinstance(msg, c.RejectImageMessage):
        return max(40, 36 + len(msg.reason.encode()))
    return len(encoded)


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_round_trip(cls: type[Any], data: st.DataObject) -> None:
    msg = data.draw(MESSAGES[cls])
    encoded = msg.encode()
    assert isinstance(encoded, bytes)
    assert cls.decode(encoded, 0, len(encoded)) == msg
    # embedded at an offset in shared-memory style buffers (both implementations)
    prefix = data.draw(st.integers(0, 16)) * 4
    raw = bytearray(prefix) + bytearray(encoded) + bytearray(8)
    for impl in (AtomicBuffer, PyAtomicBuffer):
        buf = impl(raw)
        assert cls.decode(buf, prefix, len(encoded)) == msg
        buf.release()
    # the dispatch tables agree
    for type_id in cls.TYPE_IDS:
        decoder = c.decode_command if type_id < 0x0F00 else c.decode_response
        assert decoder(type_id, encoded, 0, len(encoded)) == msg


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_truncated_record_is_malformed(cls: type[Any], data: st.DataObject) -> None:
    msg = data.draw(MESSAGES[cls])
    encoded = msg.encode()
    needed = _required_length(msg, encoded)
    cut = data.draw(st.integers(0, needed - 1))
    if cls is c.RemovePublicationMessage and cut == 24:
        return  # the legacy 24-byte form is valid
    with pytest.raises(MalformedCommandError):
        cls.decode(encoded, 0, cut)
    # also with plenty of bytes in the underlying buffer: the declared length rules
    with pytest.raises(MalformedCommandError):
        cls.decode(encoded + bytes(64), 0, cut)


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_record_beyond_buffer_is_malformed(cls: type[Any], data: st.DataObject) -> None:
    msg = data.draw(MESSAGES[cls])
    encoded = msg.encode()
    with pytest.raises(MalformedCommandError):
        cls.decode(encoded[:-1], 0, len(encoded))


# ------------------------------------------------------------------ byte layouts


def test_add_publication_layout() -> None:
    b = c.PublicationMessage(7, 8, 1001, "aeron:ipc").encode()
    assert len(b) == 24 + 9
    assert struct.unpack_from("<qqii", b) == (7, 8, 1001, 9)
    assert b[24:] == b"aeron:ipc"


def test_add_subscription_layout() -> None:
    b = c.SubscriptionMessage(1, 2, -1, 10, "aeron:udp?endpoint=localhost:40123").encode()
    assert struct.unpack_from("<qqqii", b) == (1, 2, -1, 10, 34)
    assert b[32:] == b"aeron:udp?endpoint=localhost:40123"


def test_remove_publication_layout_and_legacy_form() -> None:
    m = c.RemovePublicationMessage(1, 2, 3, c.REMOVE_PUBLICATION_FLAG_REVOKE)
    b = m.encode()
    assert len(b) == 32 and struct.unpack("<qqqQ", b) == (1, 2, 3, 1) and m.revoke
    legacy = struct.pack("<qqq", 1, 2, 3)
    assert c.RemovePublicationMessage.decode(legacy, 0, 24) == c.RemovePublicationMessage(1, 2, 3, 0)
    for n in (23, 25, 31):
        with pytest.raises(MalformedCommandError):
            c.RemovePublicationMessage.decode(b, 0, n)


def test_destination_layout() -> None:
    b = c.DestinationMessage(1, 2, 3, "aeron:udp?endpoint=h:1").encode()
    assert struct.unpack_from("<qqqi", b) == (1, 2, 3, 22)
    assert b[28:] == b"aeron:udp?endpoint=h:1"


def test_add_counter_aligned_key_then_label() -> None:
    b = c.CounterMessage(1, 2, 1001, b"\x01\x02\x03\x04\x05", "my label").encode()
    assert struct.unpack_from("<qqii", b) == (1, 2, 1001, 5)
    assert b[24:29] == b"\x01\x02\x03\x04\x05" and b[29:32] == b"\0\0\0"
    assert struct.unpack_from("<i", b, 32)[0] == 8
    assert b[36:] == b"my label"
    assert len(b) == 28 + 8 + 8


def test_add_static_counter_layout() -> None:
    b = c.StaticCounterMessage(1, 2, 77, 1001, b"\xaa" * 8, "x").encode()
    assert struct.unpack_from("<qqqii", b) == (1, 2, 77, 1001, 8)
    assert struct.unpack_from("<i", b, 40)[0] == 1 and b[44:] == b"x"
    assert len(b) == 36 + 8 + 1


def test_terminate_driver_layout() -> None:
    b = c.TerminateDriverMessage(1, 2, b"tok").encode()
    assert struct.unpack_from("<qqi", b) == (1, 2, 3) and b[20:] == b"tok"


def test_reject_image_min_length_and_nul() -> None:
    b = c.RejectImageMessage(1, 2, 3, 4096, "").encode()
    assert len(b) == 40 and struct.unpack_from("<qqqqi", b) == (1, 2, 3, 4096, 0)
    assert c.RejectImageMessage.decode(b, 0, 40).reason == ""
    with pytest.raises(MalformedCommandError):
        c.RejectImageMessage.decode(b, 0, 36)  # the C driver rejects < sizeof (40)
    long = c.RejectImageMessage(1, 2, 3, 4, "r" * 10).encode()
    assert long[36:46] == b"r" * 10 and long[46] == 0
    assert c.RejectImageMessage.decode(long, 0, 46).reason == "r" * 10


def test_on_available_image_aligned_source_identity() -> None:
    m = c.ImageBuffersReady(5, 6, 7, 8, 9, "/dev/shm/x/images/5.logbuffer", "127.0.0.1:4000")
    b = m.encode()
    f = len(m.log_file_name)  # 29 -> aligned 32
    assert struct.unpack_from("<qiiqii", b) == (5, 6, 7, 8, 9, f)
    assert b[32 : 32 + f] == m.log_file_name.encode()
    assert b[32 + f : 64] == b"\0" * (32 - f)
    assert struct.unpack_from("<i", b, 64)[0] == 14
    assert b[68:] == b"127.0.0.1:4000"
    assert len(b) == 36 + 32 + 14


def test_on_available_image_source_length_must_fit() -> None:
    b = bytearray(c.ImageBuffersReady(1, 2, 3, 4, 5, "ab", "aeron:ipc").encode())
    struct.pack_into("<i", b, 36, 100)  # source length beyond the record
    with pytest.raises(MalformedCommandError):
        c.ImageBuffersReady.decode(b, 0, len(b))


def test_publication_ready_layout() -> None:
    b = c.PublicationBuffersReady(1, 2, 3, 4, 5, -1, "/p/2.logbuffer").encode()
    assert struct.unpack_from("<qqiiiii", b) == (1, 2, 3, 4, 5, -1, 14)
    assert b[36:] == b"/p/2.logbuffer"


def test_error_response_layout() -> None:
    b = c.ErrorResponse(42, c.ErrorCode.INVALID_CHANNEL, "bad").encode()
    assert struct.unpack_from("<qii", b) == (42, 1, 3) and b[16:] == b"bad"


def test_unavailable_image_layout() -> None:
    b = c.ImageMessage(1, 2, 3, "aeron:ipc").encode()
    assert struct.unpack_from("<qqii", b) == (1, 2, 3, 9) and b[24:] == b"aeron:ipc"


def test_fixed_length_responses() -> None:
    assert c.OperationSucceeded(9).encode() == struct.pack("<q", 9)
    assert c.ClientTimeout(9).encode() == struct.pack("<q", 9)
    assert c.SubscriptionReady(9, -1).encode() == struct.pack("<qi", 9, -1)
    assert c.CounterUpdate(9, 3).encode() == struct.pack("<qi", 9, 3)
    assert c.NextAvailableSessionId(9, 1001).encode() == struct.pack("<qi", 9, 1001)
    assert c.GetNextAvailableSessionIdMessage(1, 2, 3).encode() == struct.pack("<qqi", 1, 2, 3)
    assert c.DestinationByIdMessage(1, 2, 3, 4).encode() == struct.pack("<qqqq", 1, 2, 3, 4)


def test_publication_error_layout() -> None:
    m = c.PublicationErrorFrame(1, -1, 3, 4, 5, -1, 1, 40123, b"\x7f\0\0\x01", 13, "rejected")
    assert m.source_address == b"\x7f\0\0\x01" + bytes(12)
    b = m.encode()
    assert len(b) == 68 + 8
    assert struct.unpack_from("<qqiiqqhH", b) == (1, -1, 3, 4, 5, -1, 1, 40123)
    assert b[44:48] == b"\x7f\0\0\x01"
    assert struct.unpack_from("<ii", b, 60) == (13, 8) and b[68:] == b"rejected"
    with pytest.raises(ValueError):
        c.PublicationErrorFrame(1, -1, 3, 4, 5, -1, 1, 1, bytes(17), 0, "")


@pytest.mark.parametrize(
    ("cls", "length_offset", "encoded"),
    [
        (c.PublicationMessage, 20, c.PublicationMessage(1, 2, 3, "x").encode()),
        (c.SubscriptionMessage, 28, c.SubscriptionMessage(1, 2, 3, 4, "x").encode()),
        (c.DestinationMessage, 24, c.DestinationMessage(1, 2, 3, "x").encode()),
        (c.CounterMessage, 20, c.CounterMessage(1, 2, 3, b"k", "l").encode()),
        (c.TerminateDriverMessage, 16, c.TerminateDriverMessage(1, 2, b"t").encode()),
        (c.RejectImageMessage, 32, c.RejectImageMessage(1, 2, 3, 4, "r").encode()),
        (c.ErrorResponse, 12, c.ErrorResponse(1, 2, "m").encode()),
        (c.ImageBuffersReady, 28, c.ImageBuffersReady(1, 2, 3, 4, 5, "f", "s").encode()),
        (c.PublicationBuffersReady, 32, c.PublicationBuffersReady(1, 2, 3, 4, 5, 6, "f").encode()),
        (c.ImageMessage, 20, c.ImageMessage(1, 2, 3, "x").encode()),
    ],
)
def test_negative_declared_length_is_malformed(cls: type[Any], length_offset: int, encoded: bytes) -> None:
    b = bytearray(encoded)
    struct.pack_into("<i", b, length_offset, -1)
    with pytest.raises(MalformedCommandError):
        cls.decode(b, 0, len(b))


def test_invalid_utf8_does_not_raise() -> None:
    b = bytearray(c.PublicationMessage(1, 2, 3, "ab").encode())
    b[24] = 0xFF
    assert c.PublicationMessage.decode(b, 0, len(b)).channel.endswith("b")


# ------------------------------------------------------------------ layouts declared as data


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda t: t.__name__)
def test_each_layout_declares_exactly_the_message_fields_in_order(cls: type[Any]) -> None:
    assert cls.LAYOUT.field_names == tuple(f.name for f in dataclasses.fields(cls))
    if hasattr(cls, "LENGTH"):  # fixed-size messages: the layout's fixed part is all of it
        assert not cls.LAYOUT.var and cls.LAYOUT.fixed_length == cls.LENGTH
    for name in ("CHANNEL_OFFSET", "MESSAGE_OFFSET"):
        if hasattr(cls, name):
            assert getattr(cls, name) == cls.LAYOUT.var_offset(0)


# Golden records written out byte by byte from control-protocol.md §2/§3 (offsets and types).
def _LE8(v: int) -> bytes:  # noqa: N802
    return v.to_bytes(8, "little", signed=True)


def _LE4(v: int) -> bytes:  # noqa: N802
    return v.to_bytes(4, "little", signed=True)


GOLDEN: list[tuple[Any, bytes]] = [
    (c.PublicationMessage(1, 2, 1001, "aeron:ipc"), _LE8(1) + _LE8(2) + _LE4(1001) + _LE4(9) + b"aeron:ipc"),
    (c.SubscriptionMessage(1, 2, -1, 10, "aeron:ipc"),
     _LE8(1) + _LE8(2) + _LE8(-1) + _LE4(10) + _LE4(9) + b"aeron:ipc"),
    (c.RemovePublicationMessage(1, 2, 3, 1), _LE8(1) + _LE8(2) + _LE8(3) + _LE8(1)),
    (c.DestinationMessage(1, 2, 3, "aeron:udp"), _LE8(1) + _LE8(2) + _LE8(3) + _LE4(9) + b"aeron:udp"),
    (c.CounterMessage(1, 2, 7, b"\xaa\xbb", "L"),
     _LE8(1) + _LE8(2) + _LE4(7) + _LE4(2) + b"\xaa\xbb\0\0" + _LE4(1) + b"L"),
    (c.StaticCounterMessage(1, 2, 9, 7, b"\xaa\xbb\xcc\xdd", "L"),
     _LE8(1) + _LE8(2) + _LE8(9) + _LE4(7) + _LE4(4) + b"\xaa\xbb\xcc\xdd" + _LE4(1) + b"L"),
    (c.TerminateDriverMessage(1, 2, b"tk"), _LE8(1) + _LE8(2) + _LE4(2) + b"tk"),
    (c.RejectImageMessage(1, 2, 3, 4, "r"), _LE8(1) + _LE8(2) + _LE8(3) + _LE8(4) + _LE4(1) + b"r\0\0\0"),
    (c.GetNextAvailableSessionIdMessage(1, 2, 1001), _LE8(1) + _LE8(2) + _LE4(1001)),
    (c.ErrorResponse(5, 1, "bad"), _LE8(5) + _LE4(1) + _LE4(3) + b"bad"),
    (c.ImageBuffersReady(5, 6, 7, 8, 9, "ab", "s"),
     _LE8(5) + _LE4(6) + _LE4(7) + _LE8(8) + _LE4(9) + _LE4(2) + b"ab\0\0" + _LE4(1) + b"s"),
    (c.PublicationBuffersReady(1, 2, 3, 4, 5, 6, "f"),
     _LE8(1) + _LE8(2) + _LE4(3) + _LE4(4) + _LE4(5) + _LE4(6) + _LE4(1) + b"f"),
    (c.ImageMessage(1, 2, 3, "ch"), _LE8(1) + _LE8(2) + _LE4(3) + _LE4(2) + b"ch"),
    (c.CounterUpdate(1, 2), _LE8(1) + _LE4(2)),
    (c.PublicationErrorFrame(1, 2, 3, 4, 5, 6, 1, 0x9CBB, b"\x7f\0\0\x01", 13, "no"),
     _LE8(1) + _LE8(2) + _LE4(3) + _LE4(4) + _LE8(5) + _LE8(6) + b"\x01\x00\xbb\x9c"
     + b"\x7f\0\0\x01" + bytes(12) + _LE4(13) + _LE4(2) + b"no"),
]


@pytest.mark.parametrize(("msg", "golden"), GOLDEN, ids=lambda v: type(v).__name__)
def test_golden_records(msg: Any, golden: bytes) -> None:
    assert msg.encode() == golden
    assert type(msg).decode(golden, 0, len(golden)) == msg


def test_golden_records_cover_every_variable_length_layout() -> None:
    with_var = {cls for cls in ALL_TYPES if cls.LAYOUT.var}
    assert with_var <= {type(msg) for msg, _ in GOLDEN}

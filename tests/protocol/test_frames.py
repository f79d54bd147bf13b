"""UDP frame codecs: round trips, byte layouts, validity rules, fuzzing (wire-protocol.md)."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.errors import AeronError
from aeronpy.protocol import frames as f
from aeronpy.protocol.frames import MalformedFrameError

i64 = st.integers(-(2**63), 2**63 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
u16 = st.integers(0, 2**16 - 1)
u8 = st.integers(0, 255)
pytestmark = pytest.mark.timeout(120)  # a non-terminating walk fails instead of hanging
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

data_frames = st.one_of(
    st.builds(f.DataFrame.data, i32, i32, i32, i32, st.binary(max_size=100), u8, i64),
    st.builds(f.DataFrame.heartbeat, i32, i32, i32, i32, st.booleans(), st.booleans()),
    st.builds(f.DataFrame.pad, i32, i32, i32, i32, st.integers(32, 2**31 - 1)),
)
res_entries = st.one_of(
    st.builds(
        f.ResolutionEntry, st.just(1), u16, i32, st.binary(min_size=4, max_size=4),
        st.binary(max_size=60), u8,
    ),
    st.builds(
        f.ResolutionEntry, st.just(2), u16, i32, st.binary(min_size=16, max_size=16),
        st.binary(max_size=60), u8,
    ),
)
FRAMES: dict[type[Any], st.SearchStrategy[Any]] = {
    f.DataFrame: data_frames,
    f.SetupFrame: st.builds(f.SetupFrame, i32, i32, i32, i32, i32, i32, i32, i32, u8),
    f.StatusMessageFrame: st.builds(
        f.StatusMessageFrame, i32, i32, i32, i32, i32, i64, st.none() | i64, u8
    ),
    f.NakFrame: st.builds(f.NakFrame, i32, i32, i32, i32, i32, u8),
    f.ErrorFrame: st.builds(f.ErrorFrame, i32, i32, i64, i32, st.binary(max_size=1023), i64, u8),
    f.RttmFrame: st.builds(f.RttmFrame, i32, i32, i64, i64, i64, u8),
    f.ResponseSetupFrame: st.builds(f.ResponseSetupFrame, i32, i32, i32, u8),
    f.ResolutionFrame: st.builds(
        f.ResolutionFrame, st.lists(res_entries, max_size=4).map(tuple), u8
    ),
}


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("cls", list(FRAMES), ids=lambda c: c.__name__)
@FAST
@given(data=st.data(), prefix=st.integers(0, 9))
def test_round_trip(cls: type[Any], data: st.DataObject, prefix: int) -> None:
    frame = data.draw(FRAMES[cls])
    raw = frame.encode()
    assert cls.decode(raw) == frame
    assert cls.decode(memoryview(raw)) == frame
    assert cls.decode(bytearray(b"\xaa" * prefix) + raw, prefix) == frame
    if cls is not f.DataFrame:
        assert struct.unpack_from("<i", raw)[0] == len(raw) == frame.frame_length
        if len(raw) >= f.MIN_DATAGRAM_LENGTH[struct.unpack_from("<h", raw, 6)[0]]:
            assert f.classify_datagram(raw) == struct.unpack_from("<h", raw, 6)[0]
            assert f.decode_frame(raw) == frame
        else:  # only an empty RES frame (8 bytes < 22)
            assert cls is f.ResolutionFrame and f.classify_datagram(raw) is None


@FAST
@given(st.lists(data_frames.filter(lambda x: not x.is_heartbeat), min_size=1, max_size=6))
def test_iter_data_frames_round_trip(frames_: list[f.DataFrame]) -> None:
    # a PAD that is not last is given exactly its own aligned region so the walk continues
    frames_ = [
        f.DataFrame.pad(x.term_offset, x.session_id, x.stream_id, x.term_id, 32 * (1 + i % 3))
        if x.is_pad and i < len(frames_) - 1 else x
        for i, x in enumerate(frames_)
    ]
    datagram = f.encode_datagram(frames_)
    expected: list[tuple[int, f.DataFrame]] = []
    offset = 0
    for x in frames_:
        if x.is_pad and x is not frames_[-1]:
            datagram = datagram[:offset + 32] + bytes(x.aligned_length - 32) + datagram[offset + 32:]
        expected.append((offset, x))
        offset += x.aligned_length
        if x.is_pad and offset >= len(datagram):
            break
    assert len(datagram) % 32 == 0
    assert f.classify_datagram(datagram) in (f.HDR_TYPE_DATA, f.HDR_TYPE_PAD)
    assert list(f.iter_data_frames(datagram)) == expected


def test_heartbeat_form() -> None:
    hb = f.DataFrame.heartbeat(64, 7, 1001, 5, eos=True)
    raw = hb.encode()
    assert len(raw) == 32
    assert struct.unpack("<ibBhiiiiq", raw) == (0, 0, 0xE0, 1, 64, 7, 1001, 5, 0)
    assert hb.is_heartbeat and hb.is_eos and not hb.is_revoked
    assert f.DataFrame.heartbeat(0, 0, 0, 0, revoked=True).flags == 0xF0
    assert f.DataFrame.heartbeat(0, 0, 0, 0).flags == 0xC0
    assert list(f.iter_data_frames(raw, strict=True)) == [(0, hb)]


def test_data_frame_layout() -> None:
    d = f.DataFrame.data(96, -3, 10, 42, b"hello", flags=f.DATA_BEGIN_FLAG, reserved_value=-9)
    raw = d.encode()
    assert struct.unpack_from("<ibBhiiiiq", raw) == (37, 0, 0x80, 1, 96, -3, 10, 42, -9)
    assert raw[32:] == b"hello"
    assert d.encode_aligned() == raw + bytes(27)
    pad = f.DataFrame.pad(128, 1, 2, 3, 4096)
    assert pad.encode() == struct.pack("<ibBhiiiiq", 4096, 0, 0xC0, 0, 128, 1, 2, 3, 0)


@pytest.mark.parametrize(
    "bad",
    [
        f.DataFrame(33, 0, 0, 0, 0, payload=b""),
        f.DataFrame(0, 0, 0, 0, 0, payload=b"x"),
        f.DataFrame(16, 0, 0, 0, 0, frame_type=f.HDR_TYPE_PAD),
        f.DataFrame(40, 0, 0, 0, 0, frame_type=f.HDR_TYPE_SM),
        f.DataFrame(32, 2**31, 0, 0, 0),
        f.ErrorFrame(0, 0, 0, 0, b"x" * 1024),
        f.ResolutionEntry(1, 0, 0, b"\0" * 16, b"n"),
        f.ResolutionEntry(3, 0, 0, b"\0" * 4, b"n"),
        f.NakFrame(0, 0, 0, 0, 2**31),
    ],
)
def test_encode_rejects_unencodable(bad: Any) -> None:
    with pytest.raises(ValueError):
        bad.encode()


# ---------------------------------------------------------------- byte layouts


def test_setup_layout() -> None:
    raw = f.SetupFrame(
        term_offset=0x40, session_id=-5, stream_id=1001, initial_term_id=7, active_term_id=9,
        term_length=65536, mtu=1408, ttl=3, flags=f.SETUP_SEND_RESPONSE_FLAG | f.SETUP_GROUP_FLAG,
    ).encode()
    assert len(raw) == 40
    assert struct.unpack_from("<i", raw, 0)[0] == 40
    assert raw[4] == 0 and raw[5] == 0xC0
    assert struct.unpack_from("<h", raw, 6)[0] == 5
    fields = {8: 0x40, 12: -5, 16: 1001, 20: 7, 24: 9, 28: 65536, 32: 1408, 36: 3}
    for off, val in fields.items():
        assert struct.unpack_from("<i", raw, off)[0] == val, off


def test_sm_layout_with_group_tag() -> None:
    sm = f.StatusMessageFrame(
        session_id=11, stream_id=22, consumption_term_id=33, consumption_term_offset=0x80,
        receiver_window=131072, receiver_id=0x0102030405060708, group_tag=-2,
        flags=f.SM_SEND_SETUP_FLAG | f.SM_EOS_FLAG,
    )
    raw = sm.encode()
    assert len(raw) == 44
    assert struct.unpack_from("<ibBh", raw, 0) == (44, 0, 0xC0, 3)
    for off, val in {8: 11, 12: 22, 16: 33, 20: 0x80, 24: 131072}.items():
        assert struct.unpack_from("<i", raw, off)[0] == val, off
    assert raw[28:36] == bytes([8, 7, 6, 5, 4, 3, 2, 1])  # unaligned receiver_id at 28
    assert struct.unpack_from("<q", raw, 36)[0] == -2
    assert sm.send_setup and sm.eos
    no_tag = f.StatusMessageFrame(11, 22, 33, 0x80, 131072, 1)
    raw36 = no_tag.encode()
    assert len(raw36) == 36 and struct.unpack_from("<i", raw36)[0] == 36
    assert f.StatusMessageFrame.decode(raw36).group_tag is None


def test_sm_odd_trailing_length_means_no_tag() -> None:
    raw = bytearray(f.StatusMessageFrame(1, 2, 3, 0, 4, 5, group_tag=9).encode() + bytes(4))
    struct.pack_into("<i", raw, 0, 48)
    assert f.StatusMessageFrame.decode(raw).group_tag is None
    struct.pack_into("<i", raw, 0, 35)
    with pytest.raises(MalformedFrameError):
        f.StatusMessageFrame.decode(raw)


def test_nak_layout() -> None:
    raw = f.NakFrame(session_id=1, stream_id=2, term_id=3, term_offset=4096, length=1408).encode()
    assert len(raw) == 28
    assert struct.unpack("<ibBhiiiii", raw) == (28, 0, 0, 2, 1, 2, 3, 4096, 1408)


def test_err_layout() -> None:
    e = f.ErrorFrame.create(5, 6, -7, 13, "image rejected", group_tag=99)
    raw = e.encode()
    assert len(raw) == 40 + 14
    assert struct.unpack_from("<ibBh", raw) == (54, 0, 0x08, 4)
    assert struct.unpack_from("<iiqqii", raw, 8) == (5, 6, -7, 99, 13, 14)
    assert raw[40:] == b"image rejected"
    assert e.has_group_tag and e.effective_group_tag == 99 and e.message == "image rejected"
    plain = f.ErrorFrame.create(5, 6, 7, 13, "x" * 2000)
    assert plain.flags == 0 and plain.effective_group_tag is None
    assert len(plain.encode()) == f.ERR_MAX_FRAME_LENGTH == 1063


def test_err_decode_rules() -> None:
    raw = bytearray(f.ErrorFrame(1, 2, 3, 13, b"abcd").encode())
    struct.pack_into("<i", raw, 36, 5)  # error_length beyond frame_length
    with pytest.raises(MalformedFrameError):
        f.ErrorFrame.decode(raw)
    struct.pack_into("<i", raw, 36, -1)
    with pytest.raises(MalformedFrameError):
        f.ErrorFrame.decode(raw)
    struct.pack_into("<i", raw, 36, 2)  # shorter text than frame: allowed
    assert f.ErrorFrame.decode(raw).error_text == b"ab"
    big = bytearray(40 + 1024)
    struct.pack_into("<ibBhiiqqii", big, 0, len(big), 0, 0, 4, 0, 0, 0, 0, 0, 1024)
    with pytest.raises(MalformedFrameError):
        f.ErrorFrame.decode(big)


def test_rttm_layout() -> None:
    r = f.RttmFrame(session_id=3, stream_id=4, echo_timestamp=2**40 + 5, reception_delta=-1,
                    receiver_id=77, flags=f.RTTM_REPLY_FLAG)
    raw = r.encode()
    assert len(raw) == 40
    assert struct.unpack("<ibBhiiqqq", raw) == (40, 0, 0x80, 6, 3, 4, 2**40 + 5, -1, 77)
    assert r.is_reply_requested


def test_rsp_setup_layout() -> None:
    raw = f.ResponseSetupFrame(1, 2, 3).encode()
    assert struct.unpack("<ibBhiii", raw) == (20, 0, 0, 11, 1, 2, 3)


def test_res_layout() -> None:
    e4 = f.ResolutionEntry(1, 40123, 0, bytes([127, 0, 0, 1]), b"host", f.RES_SELF_FLAG)
    e6 = f.ResolutionEntry(2, 80, 500, bytes(range(16)), b"name-six")
    raw = f.ResolutionFrame((e4, e6)).encode()
    assert e4.encoded_length == 24 and e6.encoded_length == 40
    assert struct.unpack_from("<ibBh", raw) == (8 + 24 + 40, 0, 0, 7)
    assert struct.unpack_from("<bBHi", raw, 8) == (1, 0x80, 40123, 0)
    assert raw[16:20] == bytes([127, 0, 0, 1])
    assert struct.unpack_from("<h", raw, 20)[0] == 4 and raw[22:26] == b"host"
    assert raw[26:32] == bytes(6)
    assert struct.unpack_from("<h", raw, 32 + 24)[0] == 8 and raw[32 + 26:32 + 34] == b"name-six"
    assert e4.is_self and not e6.is_self


# ---------------------------------------------------------------- validity rules


def _hdr(frame_type: int, length: int, frame_length: int | None = None, version: int = 0) -> bytes:
    raw = bytearray(length)
    struct.pack_into("<ibBh", raw, 0, length if frame_length is None else frame_length,
                     version, 0, frame_type)
    return bytes(raw)


VALIDITY_CASES = [
    # (datagram, expected)
    (b"", None),
    (bytes(7), None),
    (_hdr(1, 8), None),
    (_hdr(1, 31, 0), None),
    (_hdr(1, 32, 0), 1),
    (_hdr(0, 32, 4096), 0),
    (_hdr(0, 31, 0), None),
    (_hdr(1, 33, 0), None),
    (_hdr(1, 48, 0), None),
    (_hdr(1, 64, 4096), 1),  # DATA frame_length is not compared with the datagram
    (_hdr(1, 96, 0), 1),
    (_hdr(1, 32, 0, version=1), None),
    (_hdr(1, 32, 0, version=-1), None),
    (_hdr(1, 32, -1), None),
    (_hdr(2, 27, 27), None),
    (_hdr(2, 28), 2),
    (_hdr(2, 28, 29), None),
    (_hdr(2, 28, 0), 2),
    (_hdr(3, 35, 35), None),
    (_hdr(3, 36), 3),
    (_hdr(3, 36, 44), None),
    (_hdr(3, 44), 3),
    (_hdr(3, 100, 36), 3),
    (_hdr(4, 39, 39), None),
    (_hdr(4, 40), 4),
    (_hdr(4, 40, 41), None),
    (_hdr(5, 39, 39), None),
    (_hdr(5, 40), 5),
    (_hdr(5, 40, 41), None),
    (_hdr(5, 40, -40), None),
    (_hdr(6, 39, 39), None),
    (_hdr(6, 40), 6),
    (_hdr(6, 40, 41), None),
    (_hdr(7, 21, 21), None),
    (_hdr(7, 22), 7),
    (_hdr(7, 22, 23), None),
    (_hdr(11, 19, 19), None),
    (_hdr(11, 20), 11),
    (_hdr(11, 20, 21), None),
    (_hdr(8, 64), None),
    (_hdr(9, 64), None),
    (_hdr(10, 64), None),
    (_hdr(12, 64), None),
    (_hdr(-1, 64), None),
    (_hdr(0x7FFF, 64), None),
    (_hdr(5, 40, 0, version=1), None),
]


@pytest.mark.parametrize(("datagram", "expected"), VALIDITY_CASES)
def test_classify_datagram_rules(datagram: bytes, expected: int | None) -> None:
    assert f.classify_datagram(datagram) == expected
    assert f.classify_datagram(memoryview(datagram)) == expected
    assert f.classify_datagram(bytearray(datagram)) == expected


def test_classify_non_bytes_is_invalid() -> None:
    assert f.classify_datagram(12345) is None  # type: ignore[arg-type]
    assert f.classify_datagram(memoryview(bytes(64)).cast("B", (8, 8))) == 0


@pytest.mark.parametrize(
    ("cls", "good"),
    [
        (f.SetupFrame, f.SetupFrame(0, 1, 2, 3, 4, 65536, 1408)),
        (f.StatusMessageFrame, f.StatusMessageFrame(1, 2, 3, 4, 5, 6)),
        (f.NakFrame, f.NakFrame(1, 2, 3, 4, 5)),
        (f.ErrorFrame, f.ErrorFrame(1, 2, 3, 4, b"err")),
        (f.RttmFrame, f.RttmFrame(1, 2, 3, 4, 5)),
        (f.ResponseSetupFrame, f.ResponseSetupFrame(1, 2, 3)),
        (f.DataFrame, f.DataFrame.data(0, 1, 2, 3, b"abc")),
        (f.ResolutionFrame, f.ResolutionFrame((f.ResolutionEntry(1, 1, 1, bytes(4), b"a"),))),
    ],
    ids=lambda x: x.__name__ if isinstance(x, type) else "",
)
def test_decode_rejects_short_wrong_type_bad_version(cls: type[Any], good: Any) -> None:
    raw = good.encode()
    assert cls.decode(raw) == good
    with pytest.raises(MalformedFrameError):
        cls.decode(raw[:-1])
    with pytest.raises(MalformedFrameError):
        cls.decode(raw, 1)
    with pytest.raises(MalformedFrameError):
        cls.decode(raw, -1)
    bad_version = bytearray(raw)
    bad_version[4] = 1
    with pytest.raises(MalformedFrameError):
        cls.decode(bad_version)
    wrong_type = bytearray(raw)
    struct.pack_into("<h", wrong_type, 6, 9)
    with pytest.raises(MalformedFrameError):
        cls.decode(wrong_type)
    assert issubclass(MalformedFrameError, AeronError)


def test_data_decode_length_rules() -> None:
    hdr = bytearray(f.DataFrame.data(0, 1, 2, 3, b"").encode())
    for fl in (1, 31, -1):
        struct.pack_into("<i", hdr, 0, fl)
        with pytest.raises(MalformedFrameError):
            f.DataFrame.decode(hdr)
    struct.pack_into("<i", hdr, 0, 33)  # truncated DATA
    with pytest.raises(MalformedFrameError):
        f.DataFrame.decode(hdr)
    struct.pack_into("<i", hdr, 0, 32)
    assert f.DataFrame.decode(hdr).payload == b""
    struct.pack_into("<ih", hdr, 0, 1 << 20, 0)  # PAD may extend past the bytes present
    hdr[6:8] = b"\0\0"
    assert f.DataFrame.decode(hdr).is_pad


def test_res_decode_rules() -> None:
    good = f.ResolutionFrame((f.ResolutionEntry(1, 1, 1, bytes(4), b"abc"),)).encode()
    bad_type = bytearray(good)
    bad_type[8] = 3
    with pytest.raises(MalformedFrameError):
        f.ResolutionFrame.decode(bad_type)
    neg_name = bytearray(good)
    struct.pack_into("<h", neg_name, 20, -1)
    with pytest.raises(MalformedFrameError):
        f.ResolutionFrame.decode(neg_name)
    long_name = bytearray(good)
    struct.pack_into("<h", long_name, 20, 11)  # aligned entry 32 > 16 in frame
    with pytest.raises(MalformedFrameError):
        f.ResolutionFrame.decode(long_name)
    assert f.ResolutionFrame.decode(_hdr(7, 8)) == f.ResolutionFrame(())


# ---------------------------------------------------------------- iter_data_frames


def _data(term_offset: int, payload: bytes) -> f.DataFrame:
    return f.DataFrame.data(term_offset, 1, 2, 3, payload)


def test_iter_stops_on_malformed() -> None:
    a, b = _data(0, b"a" * 10), _data(64, b"b" * 40)
    good = f.encode_datagram([a, b])
    assert [o for o, _ in f.iter_data_frames(good, strict=True)] == [0, 64]
    # second frame declares a length past the end of the datagram
    bad = bytearray(good)
    struct.pack_into("<i", bad, 64, 200)
    assert list(f.iter_data_frames(bad)) == [(0, a)]
    with pytest.raises(MalformedFrameError):
        list(f.iter_data_frames(bad, strict=True))
    # zero length in the middle: a heartbeat-looking frame ends the walk
    zero = bytearray(good)
    struct.pack_into("<i", zero, 64, 0)
    assert len(list(f.iter_data_frames(zero))) == 2
    with pytest.raises(MalformedFrameError):
        list(f.iter_data_frames(zero, strict=True))
    # wrong type / version in the middle
    for pos, val in ((70, 3), (68, 1)):
        other = bytearray(good)
        other[pos] = val
        assert list(f.iter_data_frames(other)) == [(0, a)]
        with pytest.raises(MalformedFrameError):
            list(f.iter_data_frames(other, strict=True))
    # trailing garbage shorter than a header
    with pytest.raises(MalformedFrameError):
        list(f.iter_data_frames(good + bytes(8), strict=True))
    assert len(list(f.iter_data_frames(good + bytes(8)))) == 2


def test_iter_pad_may_extend_past_datagram() -> None:
    a = _data(0, b"x")
    pad = f.DataFrame.pad(64, 1, 2, 3, 65536 - 64)
    datagram = f.encode_datagram([a, pad])
    assert len(datagram) == 96
    assert list(f.iter_data_frames(datagram, strict=True)) == [(0, a), (64, pad)]
    # a PAD inside the datagram is stepped over by its aligned length
    inner = f.DataFrame.pad(64, 1, 2, 3, 64)
    b = _data(128, b"y" * 32)
    datagram = f.encode_datagram([a, inner]) + bytes(32) + b.encode()
    assert list(f.iter_data_frames(datagram, strict=True)) == [(0, a), (64, inner), (128, b)]


# ---------------------------------------------------------------- fuzzing

DECODERS: list[Any] = [
    f.DataFrame, f.SetupFrame, f.StatusMessageFrame, f.NakFrame, f.ErrorFrame, f.RttmFrame,
    f.ResponseSetupFrame, f.ResolutionFrame, f.ResolutionEntry,
]


def _mutated() -> st.SearchStrategy[bytes]:
    """Random bytes, and valid frames with random bytes overwritten / truncated."""
    frames_ = st.one_of(*FRAMES.values()).map(lambda x: x.encode())

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        raw = bytearray(draw(frames_))
        for _ in range(draw(st.integers(0, 4))):
            if raw:
                raw[draw(st.integers(0, len(raw) - 1))] = draw(u8)
        cut = draw(st.integers(0, len(raw)))
        return bytes(raw[:cut] if draw(st.booleans()) else raw)

    return st.one_of(st.binary(max_size=200), mutate())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blob=_mutated(), offset=st.integers(-2, 40), strict=st.booleans())
def test_fuzz_decoders_never_raise_other_errors(blob: bytes, offset: int, strict: bool) -> None:
    kind = f.classify_datagram(blob)
    assert kind is None or kind in f.MIN_DATAGRAM_LENGTH
    for cls in DECODERS:
        try:
            frame = cls.decode(blob, offset)
        except MalformedFrameError:
            continue
        assert isinstance(frame, cls)
    try:
        f.decode_frame(blob)
    except MalformedFrameError:
        assert True
    count = 0
    try:
        for off, frame in f.iter_data_frames(blob, strict=strict):
            assert off % 32 == 0 and off + 32 <= len(blob)
            assert isinstance(frame, f.DataFrame)
            count += 1
            assert count <= len(blob) // 32
    except MalformedFrameError:
        pass
    for off, frame in f.iter_data_frames(blob):
        assert off % 32 == 0 and off + 32 <= len(blob)


@settings(max_examples=100, deadline=None)
@given(blob=st.binary(min_size=32, max_size=32 * 8))
def test_fuzz_classify_is_total_and_consistent(blob: bytes) -> None:
    kind = f.classify_datagram(blob)
    fl, ver, _, ftype = struct.unpack_from("<ibBh", blob)
    if kind is not None:
        assert ver == 0 and fl >= 0 and kind == ftype
    # every valid data datagram walks without error in non-strict mode and terminates
    assert len(list(f.iter_data_frames(blob))) <= len(blob) // 32

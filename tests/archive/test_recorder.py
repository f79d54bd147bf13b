"""RecordingSession/RecordingWriter against a fake image over in-memory terms: frames land at
``position - segmentBase``, a padding frame writes only its header, segments roll over, CRCs
go into the session-id field, and the position counter follows."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aeronpy.archive.catalog import checksum_function
from aeronpy.archive.recorder import Recorder, RecordingSession, RecordingWriter
from aeronpy.concurrent.atomic_buffer import AtomicBuffer

TERM = 64 * 1024


class Counter:
    def __init__(self, value: int = 0) -> None:
        self.value = value

    def get(self) -> int:
        return self.value

    def set(self, v: int) -> None:
        self.value = v


def _frame(length: int, term_offset: int, term_id: int, ftype: int = 1, session: int = 9) -> bytes:
    hdr = struct.pack("<iBBhiiiiq", length, 0, 0xC0, ftype, term_offset, session, 5, term_id, 77)
    body = bytes((term_offset + i) & 0xFF for i in range(max(0, length - 32))) if ftype == 1 else b""
    return hdr + body


class FakeImage:
    def __init__(self, join: int = 0) -> None:
        self.raw = [bytearray(TERM) for _ in range(3)]
        self.log_buffers = SimpleNamespace(term_buffers=[AtomicBuffer(r) for r in self.raw])
        self.term_buffer_length = TERM
        self.join_position = join
        self.subscriber_position = Counter(join)
        self.is_closed = False
        self.is_end_of_stream = False
        self.end_of_stream_position = 1 << 62

    def append(self, position: int, frame: bytes) -> None:
        term = self.raw[(position // TERM) % 3]
        off = position % TERM
        term[off + 4 : off + len(frame)] = frame[4:]
        term[off : off + 4] = frame[:4]


def _session(tmp: Path, image: FakeImage, segment: int = TERM, checksum: Any = None) -> RecordingSession:
    writer = RecordingWriter(str(tmp), 3, image.join_position, image.join_position, TERM, segment, 0, checksum)
    return RecordingSession(3, image, writer, Counter(), 1 << 20, None, 1, None)


def test_frames_and_padding_land_at_their_positions(tmp_path: Path) -> None:
    img = FakeImage()
    img.append(0, _frame(100, 0, 0))
    img.append(128, _frame(64, 128, 0))
    pad_at = 192
    img.append(pad_at, _frame(TERM - pad_at, pad_at, 0, ftype=0))  # pad to the term end
    s = _session(tmp_path, img, segment=2 * TERM)
    assert s.do_work() == 1 and s.recorded_position == 192  # data block stops before the pad
    assert s.do_work() == 1 and s.recorded_position == TERM  # the pad alone
    assert s.position_counter.get() == TERM and img.subscriber_position.get() == TERM
    data = (tmp_path / "3-0.rec").read_bytes()
    assert len(data) == 2 * TERM  # pre-sized segment
    assert data[:100] == _frame(100, 0, 0) and data[128:192] == _frame(64, 128, 0)
    assert data[pad_at : pad_at + 32] == _frame(TERM - pad_at, pad_at, 0, ftype=0)[:32]
    assert data[pad_at + 32 : TERM] == bytes(TERM - pad_at - 32)  # only the pad header is written
    assert s.do_work() == 0


def test_segment_roll_over_and_base_alignment(tmp_path: Path) -> None:
    join = TERM + 1024  # late join: segments are aligned to the join's term
    img = FakeImage(join)
    img.append(join, _frame(64, 1024, 1))
    s = _session(tmp_path, img, segment=TERM)
    s.do_work()
    assert os.path.exists(tmp_path / f"3-{TERM}.rec")
    assert (tmp_path / f"3-{TERM}.rec").read_bytes()[1024 : 1024 + 64] == _frame(64, 1024, 1)
    img.append(join + 64, _frame(TERM - 1024 - 64, 1024 + 64, 1, ftype=0))
    s.do_work()
    img.append(2 * TERM, _frame(96, 0, 2))
    s.do_work()
    assert (tmp_path / f"3-{2 * TERM}.rec").read_bytes()[:96] == _frame(96, 0, 2)
    assert s.recorded_position == 2 * TERM + 96


def test_crc_goes_into_the_session_id_field(tmp_path: Path) -> None:
    crc = checksum_function("CRC-32")
    img = FakeImage()
    frame = _frame(100, 0, 0)
    img.append(0, frame)
    s = _session(tmp_path, img, checksum=crc)
    s.do_work()
    data = (tmp_path / "3-0.rec").read_bytes()
    stored = struct.unpack_from("<i", data, 12)[0]
    expected = zlib.crc32(frame[32:] + bytes(28))  # payload incl. alignment padding
    assert stored == (expected - (1 << 32) if expected & 0x80000000 else expected)


def test_session_ends_on_end_of_stream_and_recorder_hands_it_back(tmp_path: Path) -> None:
    img = FakeImage()
    img.append(0, _frame(64, 0, 0))
    s = _session(tmp_path, img)
    rec = Recorder()
    rec.added.put(s)
    rec.do_work()
    img.is_end_of_stream = True
    img.end_of_stream_position = 64
    rec.do_work()
    assert s.done and rec.closed.get_nowait() is s

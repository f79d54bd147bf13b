"""ReplaySession against a fake publication: frames keep flags and reserved value, padding is
re-appended as padding, the session closes (not revokes) at the end."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from aeronpy.archive.replayer import ReplaySession
from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from tests.archive.test_recorder import TERM, FakeImage, _frame, _session


class FakePub:
    def __init__(self) -> None:
        self.is_connected = True
        self.frames: list[tuple[int, bytes, int]] = []
        self.channel = "aeron:ipc"
        self.claims: list[Any] = []
        self.closed = False

    def try_claim(self, length: int, claim: Any) -> int:
        buf = AtomicBuffer(bytearray(32 + length))
        self.claims.append(buf)
        claim.wrap(buf, 32, length)
        return 1

    def append_padding(self, length: int) -> int:
        self.frames.append((0, b"", length))
        return 1

    def close(self) -> None:
        self.closed = True

    def revoke(self) -> None:
        self.closed = True


def test_replay_session_copies_flags_reserved_value_and_padding(tmp_path: Path) -> None:
    img = FakeImage()
    img.append(0, _frame(100, 0, 0))
    img.append(128, _frame(TERM - 128, 128, 0, ftype=0))
    s = _session(tmp_path, img)
    s.do_work()
    s.do_work()
    pub = FakePub()
    r = ReplaySession(1 << 32, 1, None, pub, str(tmp_path), 3, 0, 0, TERM, lambda: (TERM, True), TERM, TERM,
                      1 << 20, 10, lambda: 0)
    while not r.done:
        r.do_work()
    committed = [b.get_bytes(0, b.capacity) for b in pub.claims]
    assert len(committed) == 1
    hdr = committed[0]
    assert hdr[5] == 0xC0 and struct.unpack_from("<q", hdr, 24)[0] == 77
    assert hdr[32:100] == _frame(100, 0, 0)[32:] and struct.unpack_from("<i", hdr, 0)[0] == 100
    assert pub.frames == [(0, b"", TERM - 128 - 32)]
    assert pub.closed and r.error is None

"""Snapshot records byte for byte as Aeron's ServiceSnapshotLoader reads them (cluster.md §2.7):
the SnapshotMarker and ClientSession layouts, written through a publication stand-in."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.client import results
from aeronpy.cluster.codecs import ClusterTimeUnit, SnapshotMark
from aeronpy.cluster.errors import ClusterError
from aeronpy.cluster.service.client_session import ClientSession
from aeronpy.cluster.service.snapshot_taker import BLOB_CHUNK_LENGTH, ServiceSnapshotTaker


class Publication:
    """Refuses the first ``refusals`` offers with ``code``, then keeps what it is given."""

    def __init__(self, refusals: int = 0, code: int = results.BACK_PRESSURED) -> None:
        self.refusals = refusals
        self.code = code
        self.messages: list[bytes] = []
        self.term_buffer_length = 65536

    def offer(self, message: bytes) -> int:
        if self.refusals > 0:
            self.refusals -= 1
            return self.code
        self.messages.append(bytes(message))
        return 64 * len(self.messages)


class Idle:
    def __init__(self) -> None:
        self.idles = 0

    def idle(self, work_count: int = 0) -> None:
        self.idles += 1

    def reset(self) -> None:
        pass


def test_marker_bytes() -> None:
    pub = Publication()
    ServiceSnapshotTaker(pub, Idle()).mark_begin(2, 4096, 7, 0, ClusterTimeUnit.NANOS, 0x000102)
    # header: blockLength 40, template 100, schema 111, version 17; then the 40-byte block
    expected = struct.pack("<HHHH", 40, 100, 111, 17) + struct.pack(
        "<qqqiiii", 2, 4096, 7, 0, SnapshotMark.BEGIN, ClusterTimeUnit.NANOS, 0x000102)
    assert pub.messages == [expected]


def test_client_session_bytes() -> None:
    pub = Publication()
    session = ClientSession(42, 102, "aeron:udp?endpoint=localhost:9", b"\x01\x02", None)  # type: ignore[arg-type]
    ServiceSnapshotTaker(pub, Idle()).snapshot_session(session)
    channel = b"aeron:udp?endpoint=localhost:9"
    expected = (struct.pack("<HHHH", 12, 102, 111, 17) + struct.pack("<qi", 42, 102)
                + struct.pack("<I", len(channel)) + channel + struct.pack("<I", 2) + b"\x01\x02")
    assert pub.messages == [expected]


def test_back_pressure_is_retried_with_the_idle_strategy() -> None:
    pub, idle = Publication(refusals=3), Idle()
    ServiceSnapshotTaker(pub, idle).offer(b"x")
    assert (pub.messages, idle.idles) == ([b"x"], 3)


@pytest.mark.parametrize("code, message", [
    (results.NOT_CONNECTED, "not connected"), (results.CLOSED, "closed"), (results.MAX_POSITION_EXCEEDED, "max position"),
])
def test_hopeless_results_are_errors(code: int, message: str) -> None:
    with pytest.raises(ClusterError, match=message):
        ServiceSnapshotTaker(Publication(refusals=1, code=code), Idle()).offer(b"x")


@settings(deadline=None, max_examples=30)
@given(st.binary(max_size=3 * BLOB_CHUNK_LENGTH + 5))
def test_blob_chunks(data: bytes) -> None:
    pub = Publication()
    ServiceSnapshotTaker(pub, Idle()).offer_blob(data)
    head, *chunks = pub.messages
    assert head == b"BLOB" + struct.pack("<q", len(data))
    assert all(len(c) <= BLOB_CHUNK_LENGTH for c in chunks) and b"".join(chunks) == data

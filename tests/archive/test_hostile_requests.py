"""Hostile control traffic: garbage, truncated and fuzzed requests (on a connected session and
as connect requests) never crash the archive; the only errors it logs are AeronErrors (bad
input), never Python bugs, and a well-behaved client keeps working afterwards."""

from __future__ import annotations

import random
import struct
import time
from collections.abc import Callable
from typing import Any

from aeronpy.protocol import sbe
from aeronpy.archive.archive import Archive
from aeronpy.archive.client import AeronArchive, AeronArchiveContext
from aeronpy.archive.codecs import ARCHIVE_SCHEMA, SCHEMA_ID, T
from aeronpy.errors import AeronError
from tests.archive.helpers import collect, message, publish
from tests.conftest import wait_for

_CHANNELS = ["aeron:ipc", "aeron:udp?endpoint=localhost:0", "aeron:bogus", "", "aeron:ipc?term-length=3",
             "aeron:udp?endpoint=999.1.1.1:1", "aeron-spy:aeron:ipc", "x" * 2000, "aeron:ipc?session-id=abc", "aeron:ipc?alias=" + "y" * 3000]


def _random_value(rng: random.Random, f: sbe.Field) -> int:
    if f.enum is not None:  # unknown enum values come from the byte corruption below
        return int(rng.choice([*f.enum, f.null]))
    code = sbe.PRIMITIVES[f.primitive][0]
    bits = struct.calcsize(code) * 8
    pick = rng.choice([0, -1, 1, 32, 1 << 20, (1 << (bits - 1)) - 1, -(1 << (bits - 1)), rng.getrandbits(bits - 1)])
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if code.islower() else (0, (1 << bits) - 1)
    return pick if low <= pick <= high else 0


def _fuzzed(rng: random.Random, control_session_id: int) -> bytes:
    spec = rng.choice(ARCHIVE_SCHEMA.messages)
    values: dict[str, Any] = {f.name: _random_value(rng, f) for f in spec.fields}
    if "control_session_id" in values and rng.random() < 0.8:
        values["control_session_id"] = control_session_id
    for v in spec.var_fields:
        values[v.name] = rng.choice(_CHANNELS) if v.kind == "ascii" else rng.randbytes(rng.randrange(0, 50))
    raw = bytearray(sbe.encode(spec, values))
    action = rng.random()
    if action < 0.2:
        raw = raw[: rng.randrange(0, len(raw) + 1)]
    elif action < 0.35:
        for _ in range(rng.randrange(1, 6)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    elif action < 0.45:
        raw = bytearray(struct.pack("<HHHH", rng.randrange(1 << 16), rng.randrange(1 << 16), SCHEMA_ID, 14)
                        + rng.randbytes(rng.randrange(0, 80)))
    return bytes(raw)


def test_fuzzed_requests_never_crash(archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str) -> None:
    errors: list[BaseException] = []
    archive_factory(error_handler=errors.append, connect_timeout_ns=300_000_000)
    rng = random.Random(20261201)
    with AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron)) as arc:
        pub = arc.publication
        for i in range(1500):
            msg = _fuzzed(rng, arc.control_session_id)
            deadline = time.monotonic() + 5
            while pub.offer(msg) < 0:
                assert time.monotonic() < deadline, "archive stopped consuming control requests"
                time.sleep(0.0005)
            if i % 100 == 0:
                arc.poll_for_recording_signals()
        # Nothing hostile got through as a Python bug.
        bugs = [e for e in errors if not isinstance(e, AeronError)]
        assert not bugs, bugs[:3]
    # A fresh client still gets full service.
    with AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron)) as arc2:
        arc2.start_recording("aeron:ipc?term-length=64k", 4242)
        pub = aeron.add_exclusive_publication("aeron:ipc?term-length=64k", 4242)
        rid = wait_for(lambda: [d.recording_id for d in arc2.list_recordings_for_uri(0, 100, "", 4242)], 10,
                       "recording")[0]  # type: ignore[index]
        end = publish(pub, 10)
        wait_for(lambda: arc2.get_max_recorded_position(rid) >= end, 10, "recorded")
        assert collect(arc2.replay(rid, "aeron:ipc", 4343, 0, 10 * 96), 10) == [message(i) for i in range(10)]
    assert not [e for e in errors if not isinstance(e, AeronError)]


def test_requests_for_unknown_sessions_get_no_answer(archive: Archive, archive_client: AeronArchive) -> None:
    pub = archive_client.publication
    bogus = archive_client.control_session_id + 12345
    msg = sbe.encode(T.ArchiveIdRequest, control_session_id=bogus, correlation_id=77)
    while pub.offer(msg) < 0:
        time.sleep(0.001)
    # The next real request is answered and nothing for correlation 77 ever arrives.
    assert archive_client._request(T.ArchiveIdRequest) == archive.archive_id
    assert all(m.get_int("correlation_id") != 77 for m in archive_client._inbox)


def test_a_raising_error_handler_is_recorded_and_never_stops_the_archive(
    archive_factory: Callable[..., Archive], aeron: Any, aeron_dir: str
) -> None:
    from aeronpy.concurrent.error_log import read_error_log

    calls: list[BaseException] = []

    def handler(ex: BaseException) -> None:
        calls.append(ex)
        raise RuntimeError("handler is broken")

    archive = archive_factory(error_handler=handler, connect_timeout_ns=300_000_000)
    rng = random.Random(7)
    with AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron)) as arc:
        for _ in range(200):
            while arc.publication.offer(_fuzzed(rng, arc.control_session_id)) < 0:
                time.sleep(0.0005)
        wait_for(lambda: calls, 10, "an error reaching the handler")
    assert archive.mark_file is not None
    buffer = archive.mark_file._errors_buffer

    def recorded() -> bool:
        texts: list[str] = []
        read_error_log(buffer, lambda c, f, l, t: texts.append(t))
        return any("error_handler raised RuntimeError" in t for t in texts)

    wait_for(recorded, 10, "the handler's failure recorded in the mark file's error log")
    with AeronArchive.connect(AeronArchiveContext(aeron_dir=aeron_dir, aeron=aeron)) as arc2:
        assert arc2.list_recordings() is not None  # still serving

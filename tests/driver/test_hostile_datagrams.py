"""Hostile UDP datagrams never crash the receiver or the sender's control path.

One embedded driver in INVOKER mode and a client with its own conductor invoker: every duty
cycle runs on the test thread, so each example is deterministic.  Hypothesis sends random bytes
and structured mutations of valid DATA/SETUP/SM/NAK/RTTM frames from a plain socket to a
subscription's data endpoint and to publications' control sockets (the driver runs with
``aeron.driver.connect=false`` so that a connected send socket does not filter them out).
After each batch:

* every datagram ``classify_datagram`` rejects is counted in "Invalid packets" (counter 14),
* the distinct error log holds no new entries,
* a real pub/sub exchange on another channel and stream still delivers,
* ``driver.do_work()`` never raises.

Batches are fenced by sentinel datagrams (3 bytes, always invalid) sent to each target from the
same socket after the batch: loopback delivery per socket pair is in order, so once the sentinels
are counted, the batch before them has been processed.
"""

from __future__ import annotations

import os
import socket
import struct
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context
from aeronpy.concurrent.error_log import read_error_log
from aeronpy.driver.context import DriverContext
from aeronpy.driver.media_driver import MediaDriver
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.protocol.frames import (
    DataFrame,
    NakFrame,
    RttmFrame,
    SetupFrame,
    StatusMessageFrame,
    classify_datagram,
)
from tests.conftest import SHM
from tests.fakes import free_udp_port as _free_port

INVALID = int(SystemCounterId.INVALID_PACKETS)
TARGET_STREAM = 1001
PUB_STREAM = 1002
HEALTH_STREAM = 1003
TERM_LENGTH = 64 * 1024
SENTINEL = b"\x00\x00\x00"
I32 = st.integers(-(2**31), 2**31 - 1)


def _i32(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31


@dataclass
class Env:
    driver: MediaDriver
    aeron: Aeron
    invoker: Any
    target_sub: Any
    target_pub: Any  # publication on the target subscription's channel: gives it an image
    other_pub: Any  # publication to a port nobody listens on
    health_pub: Any
    health_sub: Any
    targets: list[tuple[str, int]]
    sock: socket.socket
    seq: int = 0

    def pump(self) -> None:
        self.driver.do_work()  # raises if an agent's duty cycle fails
        self.invoker.invoke()

    def wait(self, condition: Callable[[], object], what: str, cycles: int = 20_000) -> None:
        for _ in range(cycles):
            if condition():
                return
            self.pump()
        raise AssertionError(f"gave up after {cycles} duty cycles waiting for {what}")

    def invalid_packets(self) -> int:
        return int(self.aeron.counters_reader.get_counter_value(INVALID))

    def errors(self) -> list[str]:
        assert self.driver.cnc is not None
        texts: list[str] = []
        read_error_log(self.driver.cnc.error_log_buffer, lambda c, f, l, t: texts.append(t))
        return texts

    def exchange(self) -> None:
        """A real message over UDP on another channel/stream still arrives."""
        self.seq += 1
        payload = struct.pack("<q", self.seq)
        self.wait(lambda: self.health_pub.offer(payload) > 0, "offer on the health stream")
        got: list[int] = []

        def on_fragment(buffer: Any, offset: int, length: int, header: Any) -> None:
            got.append(buffer.get_int64(offset))

        self.wait(lambda: self.health_sub.poll(on_fragment, 10) >= 0 and self.seq in got, "health message")


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    path = os.path.join(SHM, f"aeronpy-hostile-dgram-{uuid.uuid4().hex[:8]}")
    ctx = DriverContext.from_properties(
        env={}, aeron_dir=path, threading_mode="INVOKER", dir_delete_on_shutdown=True,
        # a connected send socket only accepts datagrams from its destination: unconnected, any
        # socket reaches the publications' control path (the widest attack surface)
        driver_connect=False,
        term_buffer_sparse_file=True, ipc_term_buffer_length=TERM_LENGTH, term_buffer_length=TERM_LENGTH,
    )
    driver = MediaDriver.launch(ctx)
    aeron = Aeron.connect(Context.from_properties(env={}, aeron_dir=path, use_conductor_agent_invoker=True))
    invoker = aeron.conductor_agent_invoker
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        target_channel = f"aeron:udp?endpoint=127.0.0.1:{_free_port()}"
        health_channel = f"aeron:udp?endpoint=127.0.0.1:{_free_port()}"
        other_channel = f"aeron:udp?endpoint=127.0.0.1:{_free_port()}"
        ids = {
            "target_sub": aeron.async_add_subscription(target_channel, TARGET_STREAM),
            "target_pub": aeron.async_add_publication(target_channel, TARGET_STREAM),
            "other_pub": aeron.async_add_publication(other_channel, PUB_STREAM),
            "health_sub": aeron.async_add_subscription(health_channel, HEALTH_STREAM),
            "health_pub": aeron.async_add_publication(health_channel, HEALTH_STREAM),
        }
        found: dict[str, Any] = {}

        def all_registered() -> bool:
            for name, reg in ids.items():
                if name not in found:
                    get = aeron.get_subscription if name.endswith("sub") else aeron.get_publication
                    resource = get(reg)
                    if resource is not None:
                        found[name] = resource
            return len(found) == len(ids)

        e = Env(driver, aeron, invoker, None, None, None, None, None, targets=[], sock=sock)
        e.wait(all_registered, "registrations")
        for name, resource in found.items():
            setattr(e, name, resource)
        e.wait(
            lambda: e.target_pub.is_connected and e.target_sub.image_count == 1
            and e.health_pub.is_connected and e.health_sub.image_count == 1,
            "connections",
        )
        assert driver.conductor is not None
        port = int(target_channel.rsplit(":", 1)[1])
        e.targets = [("127.0.0.1", port)] + [
            ("127.0.0.1", int(ep.transport.local_address[1]))  # bound to the wildcard address
            for ep in driver.conductor.network.send_endpoints.values()
        ]
        assert len(e.targets) == 4  # data endpoint + 3 publications' control sockets
        e.exchange()
        yield e
    finally:
        sock.close()
        aeron.close()
        driver.close()


# --------------------------------------------------------------------------------------
# strategies: random bytes and mutations of valid frames
# --------------------------------------------------------------------------------------


@st.composite
def _mutated(draw: st.DrawFn, streams: tuple[tuple[int, int, int], ...]) -> tuple[int, bytes]:
    """``(target index, frame)``: a valid-looking frame (known or unknown session/stream) with
    hostile field values, mostly sent where its type is handled (DATA/SETUP to the data endpoint,
    SM/NAK/RTTM to a control socket)."""
    # the first stream (the target image's) is the most interesting: weight it
    known = st.sampled_from((streams[0],) * 3 + streams[1:] + ((_i32(streams[0][0] + 1000), TARGET_STREAM, 0),))
    session, stream, initial_term_id = draw(st.one_of(known, known, known, st.tuples(I32, I32, I32)))
    term_id = draw(st.integers(-3, 3).map(lambda d: _i32(initial_term_id + d)) | I32)
    offset = draw(st.sampled_from([0, 32, 64, -32, -1, 1, 8, TERM_LENGTH - 32, TERM_LENGTH, 2**31 - 32]) | I32)
    kind = draw(st.sampled_from(["data", "data", "data", "pad", "heartbeat", "setup", "sm", "nak", "rttm"]))
    # mostly plain flags: a spoofed EOS (0x20) legitimately ends the image it names
    flags = draw(st.sampled_from([0xC0, 0x80, 0x40, 0x00]) | st.integers(0, 255))
    frame: bytes
    if kind == "data":
        payload = draw(st.binary(max_size=200))
        frame = DataFrame.data(0, session, stream, term_id, payload).encode_aligned()
        frame += draw(st.sampled_from([b"", DataFrame.data(0, session, stream, term_id, payload).encode_aligned()]))
    elif kind == "pad":
        frame = DataFrame.pad(0, session, stream, term_id, 64).encode_aligned()
    elif kind == "heartbeat":
        frame = DataFrame.heartbeat(0, session, stream, term_id).encode_aligned()
    elif kind == "setup":
        term_length = draw(st.sampled_from([TERM_LENGTH, 0, -TERM_LENGTH, 1000, 2**30, 2**31 - 1]) | I32)
        mtu = draw(st.sampled_from([1408, 0, 31, 33, 65536, -1408]) | I32)
        frame = SetupFrame(0, session, stream, term_id, draw(st.integers(-3, 3).map(lambda d: _i32(term_id + d)) | I32), 0, 0).encode()
        frame = frame[:28] + struct.pack("<ii", term_length, mtu) + frame[36:]
    elif kind == "sm":
        tag = draw(st.none() | st.integers(-(2**63), 2**63 - 1))
        window = draw(st.sampled_from([0, TERM_LENGTH // 2, TERM_LENGTH]) | I32)
        frame = StatusMessageFrame(session, stream, term_id, 0, window, draw(st.integers(-(2**63), 2**63 - 1)), tag).encode()
    elif kind == "nak":
        frame = NakFrame(session, stream, term_id, 0, draw(st.sampled_from([0, 32, 1408, TERM_LENGTH, -1]) | I32)).encode()
    else:
        frame = RttmFrame(session, stream, draw(st.integers(-(2**63), 2**63 - 1)), 0, draw(st.integers(-(2**63), 2**63 - 1))).encode()
    data = bytearray(frame)
    data[5] = flags
    if kind in ("data", "pad", "heartbeat", "setup", "sm", "nak"):
        # term offset lives at byte 8 in DATA/PAD/SETUP, 20 in SM, 20 in NAK
        struct.pack_into("<i", data, 8 if kind in ("data", "pad", "heartbeat", "setup") else 20, offset)
    mutation = draw(st.sampled_from(["none"] * 4 + ["frame_length", "truncate", "extend", "version"]))
    if mutation == "frame_length":
        struct.pack_into("<i", data, 0, draw(st.sampled_from([0, 1, 31, 33, 2**31 - 1, -1, -(2**31)]) | I32))
    elif mutation == "truncate":
        del data[draw(st.integers(0, len(data))) :]
    elif mutation == "extend":
        data += draw(st.binary(min_size=1, max_size=64))
    elif mutation == "version":
        data[4] = draw(st.integers(1, 255))
    handled = [0] if kind in ("data", "pad", "heartbeat", "setup") else [1, 2, 3]
    return draw(st.sampled_from(handled) | st.integers(0, 3)), bytes(data)


def _batch(streams: tuple[tuple[int, int, int], ...]) -> st.SearchStrategy[list[tuple[int, bytes]]]:
    """(target index, datagram) pairs; ``streams``: known (session id, stream id, initial term id)."""
    mutated = _mutated(streams)
    random_bytes = st.tuples(st.integers(0, 3), st.binary(max_size=256))  # 0: the data endpoint
    return st.lists(st.one_of(random_bytes, mutated, mutated, mutated), min_size=1, max_size=12)


# --------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------


def _send_batch(env: Env, batch: list[tuple[int, bytes]]) -> None:
    before = env.invalid_packets()
    errors_before = env.errors()
    expected = 0
    for target, datagram in batch:
        env.sock.sendto(datagram, env.targets[target])
        if classify_datagram(datagram) is None:
            expected += 1
    for address in env.targets:
        env.sock.sendto(SENTINEL, address)
    expected += len(env.targets)
    env.wait(lambda: env.invalid_packets() - before >= expected, f"{expected} invalid packets counted")
    assert env.errors() == errors_before
    env.exchange()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_datagrams_never_crash_the_driver(env: Env, data: st.DataObject) -> None:
    known = tuple(
        (p.session_id, p.stream_id, p.initial_term_id) for p in (env.target_pub, env.other_pub, env.health_pub)
    )
    batch = data.draw(_batch(known))
    _send_batch(env, batch)


@pytest.mark.parametrize(
    "name",
    ["negative_offset", "unaligned_offset", "huge_frame_length", "far_term_id", "bad_setup", "sm_unknown", "nak_bad"],
)
def test_specific_hostile_frames(env: Env, name: str) -> None:
    s, t = env.target_pub.session_id, TARGET_STREAM
    data = DataFrame.data(0, s, t, 0, b"x" * 32).encode_aligned()
    frames = {
        "negative_offset": data[:8] + struct.pack("<i", -64) + data[12:],
        "unaligned_offset": data[:8] + struct.pack("<i", 7) + data[12:],
        "huge_frame_length": struct.pack("<i", 2**31 - 1) + data[4:],
        "far_term_id": data[:24] + struct.pack("<i", 2**31 - 1) + data[28:],
        "bad_setup": SetupFrame(0, s + 7, t, 0, 0, 1000, 1408).encode(),
        "sm_unknown": StatusMessageFrame(12345, 999, 0, 0, 1024, 1).encode(),
        "nak_bad": NakFrame(env.other_pub.session_id, PUB_STREAM, 0, -32, 2**31 - 1).encode(),
    }
    _send_batch(env, [(i, frames[name]) for i in range(4)])


@pytest.mark.parametrize("misalign", [8, 16, -1024])
def test_misaligned_data_frames_are_not_written_into_the_image(env: Env, misalign: int) -> None:
    """A DATA frame at a term offset that is not frame aligned (or negative) within the window
    is counted as invalid and not rebuilt into the log: subscribers scan 32-byte aligned frames."""
    assert env.driver.conductor is not None
    image = next(i for i in env.driver.conductor.network.images if i.session_id == env.target_pub.session_id)
    position = image.rcv_pos.get_plain()
    term_offset = (position & image.term_mask) + 64 + misalign if misalign > 0 else misalign
    term_id = image.initial_term_id + (position >> image.bits) + (1 if misalign < 0 else 0)
    # a negative offset in the next term is a position inside the window: it must not be written
    term = image.term_buffers[(position >> image.bits) % 3]
    frame = DataFrame(64, term_offset, image.session_id, TARGET_STREAM, term_id, payload=b"\x7f" * 32).encode_aligned()
    before = env.invalid_packets()
    _send_batch(env, [(0, frame)])
    if 0 <= term_offset < image.term_length:
        assert term.get_int64_volatile(term_offset & ~7) == 0
    if misalign > 0:  # an unaligned offset is rejected as invalid (a negative one: overrun/invalid)
        assert env.invalid_packets() - before >= 1 + len(env.targets)  # the frame and the sentinels
    assert image.hwm.get_plain() <= position + image.term_length // 2


def test_heartbeat_beyond_the_window_is_an_over_run(env: Env) -> None:
    """A spoofed heartbeat far ahead of the window must not move rcv-hwm (which would make the
    loss detector NAK, or gap-fill on unreliable streams, a range never sent); counted as a flow
    control over-run, as in the C driver's insert_packet."""
    assert env.driver.conductor is not None
    image = next(i for i in env.driver.conductor.network.images if i.session_id == env.target_pub.session_id)
    hwm = image.hwm.get_plain()
    over_runs = int(env.aeron.counters_reader.get_counter_value(int(SystemCounterId.FLOW_CONTROL_OVER_RUNS)))
    term_id = _i32(image.initial_term_id + (hwm >> image.bits) + 2)
    frame = DataFrame.heartbeat(0, image.session_id, TARGET_STREAM, term_id).encode_aligned()
    _send_batch(env, [(0, frame)])
    assert image.hwm.get_plain() < hwm + image.term_length
    assert env.aeron.counters_reader.get_counter_value(int(SystemCounterId.FLOW_CONTROL_OVER_RUNS)) > over_runs

"""The receiver's DATA fast path (``dispatch_data``, C) agrees with its twin (``dispatch_data_py``)
and with the Python path alone: twin endpoints and images fed the same batches end with the same
terms, counters, connections and replies, and both kernels leave the same datagrams to Python."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from types import SimpleNamespace
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import HAVE_C_EXTENSION
from aeronpy.driver import image_rx
from aeronpy.driver.endpoints import ReceiveChannelEndpoint
from aeronpy.driver.image_rx import ImageRxPy, dispatch_data_py, image_key, new_image_rx
from aeronpy.driver.lifecycle import LifecycleState
from aeronpy.driver.publication_image import PublicationImage
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.protocol import frames
from aeronpy.testing import InMemoryNetwork
from tests.driver.network_harness import (
    INITIAL_TERM_ID, RECEIVER_ID, SESSION, STREAM, TERM, Counters, ImageRig, Peer, SetupSeen, make_receive_endpoint,
    receive_channel,
)

pytestmark = pytest.mark.skipif(not HAVE_C_EXTENSION, reason="no C extension")

HEADER = struct.Struct("<ibBhiiiiq")
SENDER = ("127.0.0.1", 41000)
OTHER = ("127.0.0.1", 41001)
CONTROL = ("127.0.0.1", 43000)
Kernel = Callable[..., tuple[int, int]]


def data_datagram(term_offset: int, term_id: int, lengths: list[int], pad_last: bool, session: int = SESSION) -> bytes:
    """Contiguous frames from ``term_offset``: DATA of ``lengths`` (a PAD header last if asked)."""
    out = bytearray()
    offset = term_offset
    for i, length in enumerate(lengths):
        is_pad = pad_last and i == len(lengths) - 1
        aligned = (length + 31) & ~31
        frame = bytearray(32 if is_pad else aligned)
        HEADER.pack_into(frame, 0, length, 0, 0xC0, 0 if is_pad else 1, offset, session, STREAM, term_id, 0)
        frame[32:] = bytes((offset + j) & 0xFF for j in range(len(frame) - 32))
        out += frame
        offset += aligned
    return bytes(out)


@st.composite
def datagrams(draw: st.DrawFn) -> tuple[bytes, bool]:
    """(datagram, from the other source): mostly DATA near the window, and everything else."""
    kind = draw(st.sampled_from(["data"] * 6 + ["heartbeat", "setup", "unknown", "garbage", "mutated", "truncated"]))
    term_id = draw(st.sampled_from([INITIAL_TERM_ID] * 6 + [INITIAL_TERM_ID + 1, INITIAL_TERM_ID - 1, -(1 << 31), 1 << 30]))
    term_offset = draw(st.integers(0, (TERM + TERM // 4) // 32)) * 32 % TERM
    lengths = draw(st.lists(st.integers(32, 1500), min_size=1, max_size=3))
    pad_last = draw(st.booleans()) and len(lengths) > 1
    data = data_datagram(term_offset, term_id, lengths, pad_last)
    if kind == "heartbeat":
        data = frames.DataFrame.heartbeat(term_offset, SESSION, STREAM, term_id, draw(st.booleans()), False).encode()
    elif kind == "setup":
        data = frames.SetupFrame(term_offset, SESSION, STREAM, INITIAL_TERM_ID, term_id, TERM, 1408).encode()
    elif kind == "unknown":
        data = data_datagram(term_offset, term_id, lengths, pad_last, session=SESSION + 1)
    elif kind == "garbage":
        data = draw(st.binary(max_size=96))
    elif kind == "mutated":
        mutable = bytearray(data)
        for _ in range(draw(st.integers(1, 3))):
            mutable[draw(st.integers(0, min(len(mutable), 64) - 1))] = draw(st.integers(0, 255))
        data = bytes(mutable)
    elif kind == "truncated":
        data = data[:draw(st.integers(0, len(data)))]
    return data, draw(st.integers(0, 9)) == 0


@dataclass
class Twin:
    rig: ImageRig
    other: Peer
    log: list[tuple[int, int]]

    def snapshot(self) -> tuple[Any, ...]:
        image = self.rig.image
        return (
            [bytes(t.get_bytes(0, TERM)) for t in image.term_buffers],
            bytes(self.rig.counters.values.get_bytes(0, self.rig.counters.values.capacity)),
            bytes(image.metadata.get_bytes(0, image.metadata.capacity)),
            image.time_of_last_packet_ns, image.last_sm_position, image.last_sm_window_limit,
            [(c.control_address, c.time_of_last_frame_ns, c.is_eos) for c in image.connections],
            self.rig.sender.raw(), self.other.raw(),
        )


def recording(kernel: Kernel, log: list[tuple[int, int]]) -> Kernel:
    def record(*args: Any) -> tuple[int, int]:
        result = kernel(*args)
        log.append(result)
        return result
    return record


def twin(root: Path, kernel: Kernel | None, native: bool, multicast: bool, endpoint_control: bool, image_control: bool) -> Twin:
    root.mkdir()
    network = InMemoryNetwork()
    counters = Counters()
    endpoint = make_receive_endpoint(network, counters, control_address=CONTROL if endpoint_control else None)
    rig = ImageRig(
        root, network, counters, endpoint=endpoint, is_multicast=multicast, native_rx=native,
        control_address=CONTROL if image_control else None, sender_address=SENDER,
    )
    log: list[tuple[int, int]] = []
    endpoint.use_rx_kernel(recording(kernel, log) if kernel is not None else None)
    return Twin(rig, Peer(network, OTHER), log)


@settings(max_examples=150, deadline=None)
@given(
    batches=st.lists(st.lists(datagrams(), max_size=32), min_size=1, max_size=4),
    multicast=st.booleans(), endpoint_control=st.booleans(), image_control=st.booleans(),
    state=st.sampled_from(["active"] * 4 + ["draining", "linger", "rejected"]),
    windows=st.lists(st.integers(0, TERM // 32) .map(lambda n: n * 32), min_size=4, max_size=4),
)
def test_the_c_dispatcher_its_twin_and_the_python_path_agree(
    batches: list[list[tuple[bytes, bool]]], multicast: bool, endpoint_control: bool, image_control: bool,
    state: str, windows: list[int],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # the fourth reads its batches through poll_ready's common path (_poll_common), the rest through poll
        twins = [
            twin(Path(tmp) / name, kernel, native, multicast, endpoint_control, image_control)
            for name, kernel, native in (
                ("c", image_rx.dispatch_data, True), ("py", dispatch_data_py, False), ("pure", None, False),
                ("c-ready", image_rx.dispatch_data, True),
            )
        ]
        assert type(twins[0].rig.image.rx) is image_rx.ImageRx and type(twins[1].rig.image.rx) is ImageRxPy
        try:
            for t in twins:
                if state == "draining" or state == "linger":
                    t.rig.image.state = LifecycleState.DRAINING
                if state == "linger":
                    t.rig.image.state = LifecycleState.LINGER
                if state == "rejected":
                    t.rig.image.reject(b"no")
            now = 1_000
            for n, batch in enumerate(batches):
                now += 1_000_000
                results = []
                for t in twins:
                    image = t.rig.image
                    if n > 0:  # a window moved on by hand: the datagrams behind it are under-runs
                        image.last_sm_position = windows[n]
                        image.last_sm_window_limit = windows[n] + TERM // 2
                    for data, from_other in batch:
                        (t.other if from_other else t.rig.sender).send(data, t.rig.endpoint.transport.local_address)
                    endpoint = t.rig.endpoint
                    results.append(endpoint.poll_ready(now, ()) if t is twins[3] else endpoint.poll(now))
                    t.rig.duty_cycle(now + 1)
                assert results == [len(batch)] * 4
                assert twins[0].log == twins[1].log == twins[3].log
                first = twins[0].snapshot()
                assert twins[1].snapshot() == first
                assert twins[2].snapshot() == first
                assert twins[3].snapshot() == first
                if batch:  # the destination heard from now (re-resolution waits on its silence)
                    assert twins[3].rig.endpoint.destinations[0].time_of_last_activity_ns == now
        finally:
            for t in twins:
                t.rig.close()


@pytest.mark.parametrize("ready", [False, True], ids=["poll", "poll_ready"])
def test_the_c_path_takes_in_window_data_and_leaves_the_rest_in_order(tmp_path: Path, ready: bool) -> None:
    t = twin(tmp_path / "c", image_rx.dispatch_data, True, False, False, False)
    try:
        rig = t.rig
        calls: list[int] = []
        insert_packet = rig.image.insert_packet
        rig.image.insert_packet = lambda *a: calls.append(a[1]) or insert_packet(*a)  # type: ignore[method-assign]
        sends = [data_datagram(0, INITIAL_TERM_ID, [100], False), data_datagram(128, INITIAL_TERM_ID, [64], False),
                 frames.DataFrame.heartbeat(192, SESSION, STREAM, INITIAL_TERM_ID).encode(),
                 data_datagram(TERM - 64, INITIAL_TERM_ID, [64], False),  # beyond the window: an over-run
                 data_datagram(192, INITIAL_TERM_ID, [32, 32], False)]
        for data in sends:
            rig.sender.send(data, rig.endpoint.transport.local_address)
        assert (rig.endpoint.poll_ready(5, ()) if ready else rig.endpoint.poll(5)) == 5
        assert t.log == [(2, 128 + 64), (3, 0), (5, 64)]  # the heartbeat and the over-run are left to Python
        assert calls == [TERM - 64]  # only the over-run reached insert_packet
        assert rig.hwm.get() == 256 and rig.image.time_of_last_packet_ns == 5
        assert rig.image.connections[0].time_of_last_frame_ns == 5
        assert rig.counters[SystemCounterId.FLOW_CONTROL_OVER_RUNS] == 1
        assert rig.counters[SystemCounterId.HEARTBEATS_RECEIVED] == 1
        assert rig.counters[SystemCounterId.BYTES_RECEIVED] == sum(len(d) for d in sends)
    finally:
        t.rig.close()


def test_poll_ready_hands_a_batch_the_c_path_takes_whole_to_no_python_dispatch(tmp_path: Path) -> None:
    t = twin(tmp_path / "c", image_rx.dispatch_data, True, False, False, False)
    try:
        rig = t.rig
        entered: list[int] = []
        dispatch = rig.endpoint._dispatch_batch
        rig.endpoint._dispatch_batch = lambda batch, i, *a: entered.append(i) or dispatch(batch, i, *a)  # type: ignore[method-assign]
        whole = [data_datagram(0, INITIAL_TERM_ID, [100], False), data_datagram(128, INITIAL_TERM_ID, [64], False)]
        for data in whole:
            rig.sender.send(data, rig.endpoint.transport.local_address)
        assert rig.endpoint.poll_ready(7, ()) == 2
        assert entered == [] and t.log == [(2, 128 + 64)]
        assert rig.counters[SystemCounterId.BYTES_RECEIVED] == 128 + 64
        assert rig.endpoint.destinations[0].time_of_last_activity_ns == 7
        rig.sender.send(frames.DataFrame.heartbeat(192, SESSION, STREAM, INITIAL_TERM_ID).encode(),
                        rig.endpoint.transport.local_address)
        assert rig.endpoint.poll_ready(8, ()) == 1
        assert entered == [0]  # declined: the Python dispatch goes on from that datagram
        assert rig.counters[SystemCounterId.HEARTBEATS_RECEIVED] == 1
        assert rig.counters[SystemCounterId.BYTES_RECEIVED] == 128 + 64 + 32
        assert rig.endpoint.poll_ready(9, ()) == 0 and rig.endpoint.destinations[0].time_of_last_activity_ns == 8
    finally:
        t.rig.close()


def test_image_state_changes_reach_the_c_state(tmp_path: Path) -> None:
    t = twin(tmp_path / "c", image_rx.dispatch_data, True, False, False, False)
    try:
        image: PublicationImage = t.rig.image
        rx = image.rx
        assert rx.accepting == 1 and rx.last_sm_window_limit == TERM // 2
        image.last_sm_position, image.last_sm_window_limit, image.time_of_last_packet_ns = 64, 96, 7
        assert (rx.last_sm_position, rx.last_sm_window_limit, rx.time_of_last_packet_ns) == (64, 96, 7)
        image.state = LifecycleState.DRAINING
        assert rx.accepting == 1
        image.state = LifecycleState.LINGER
        assert rx.accepting == 0
        image.state = LifecycleState.DRAINING
        image.reject(b"go away")
        assert rx.accepting == 0
        assert image_key(STREAM, SESSION) in t.rig.endpoint._rx_images
        t.rig.endpoint.remove_image(image)
        assert image_key(STREAM, SESSION) not in t.rig.endpoint._rx_images
    finally:
        t.rig.close()


def test_socket_endpoints_get_the_c_path_socket_free_ones_keep_the_python_path() -> None:
    counters = Counters()
    assert make_receive_endpoint(InMemoryNetwork(), counters)._rx_kernel is None  # no socket
    with_socket = ReceiveChannelEndpoint(
        receive_channel(), SimpleNamespace(recv_fd=3), None, None, counters.system, RECEIVER_ID, SetupSeen(),
    )
    assert (with_socket._rx_kernel is not None) == image_rx.NATIVE_RX


def test_non_c_buffers_get_the_python_state(tmp_path: Path) -> None:
    rig = ImageRig(tmp_path, InMemoryNetwork(), Counters())
    try:
        image = rig.image
        assert type(new_image_rx(tuple(image.term_buffers), 7, TERM, rig.hwm, False, image.connections[0], native=False)) is ImageRxPy
        assert type(new_image_rx(tuple(image.term_buffers), 7, TERM, object(), False, image.connections[0])) is ImageRxPy
    finally:
        rig.close()


def test_pure_python_mode_turns_the_c_path_off() -> None:
    env = dict(os.environ, AERONPY_PURE_PYTHON="1")
    code = "from aeronpy.driver.image_rx import NATIVE_RX; print(NATIVE_RX)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

"""An image fed by several sources answers each of them (status messages, NAKs).

The cluster's follower log subscription is a multi-destination subscription
(``control-mode=manual``) with ``group=true``: a catch-up replay arrives on one destination and
the leader's live log on another, both with the log's session id.  ``group=true`` chooses group
semantics (NAK back-off) but is not multicast addressing: SMs and NAKs must go to the source of
each destination, or, once the catch-up replay is gone, the live source never hears a NAK and a
single lost datagram stalls the follower for good.

One embedded driver in INVOKER mode, a client with its own conductor invoker and plain sockets
standing in for the publishers: every duty cycle runs on the test thread.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context
from aeronpy.driver.context import DriverContext
from aeronpy.driver.media_driver import MediaDriver
from aeronpy.protocol.frames import DataFrame, NakFrame, SetupFrame, StatusMessageFrame, decode_frame
from tests.conftest import SHM
from tests.fakes import free_udp_port

STREAM = 1101
SESSION = 77
TERM_LENGTH = 64 * 1024
PAYLOAD = bytes(range(96))  # 128-byte frames


class Env:
    def __init__(self, driver: MediaDriver, aeron: Aeron) -> None:
        self.driver = driver
        self.aeron = aeron
        self.invoker = aeron.conductor_agent_invoker

    def pump(self) -> None:
        self.driver.do_work()
        self.invoker.invoke()

    def wait(self, condition: Any, what: str, timeout_s: float = 20.0) -> None:
        """Pump until ``condition``; a deadline, not a cycle count: some answers wait on
        timers (a NAK's delay, an SM's 200 ms timeout) that a loaded machine pumps slowly."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up after {timeout_s} s waiting for {what}")
            self.pump()


@pytest.fixture
def env() -> Iterator[Env]:
    path = os.path.join(SHM, f"aeronpy-mds-src-{uuid.uuid4().hex[:8]}")
    ctx = DriverContext.from_properties(
        env={}, aeron_dir=path, threading_mode="INVOKER", dir_delete_on_shutdown=True,
        term_buffer_sparse_file=True, term_buffer_length=TERM_LENGTH, ipc_term_buffer_length=TERM_LENGTH,
        dir_mode=0o700, file_mode=0o600,
    )
    driver = MediaDriver.launch(ctx)
    aeron = Aeron.connect(Context.from_properties(env={}, aeron_dir=path, use_conductor_agent_invoker=True))
    try:
        yield Env(driver, aeron)
    finally:
        aeron.close()
        driver.close()
    assert not os.path.exists(path)


def _source() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


def _drain(sock: socket.socket) -> list[Any]:
    frames = []
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return frames
        frames.append(decode_frame(data))


def _subscribe(env: Env, channel: str, destinations: list[str]) -> Any:
    reg = env.aeron.async_add_subscription(channel, STREAM)
    holder: list[Any] = []
    env.wait(lambda: holder.append(env.aeron.get_subscription(reg)) or holder[-1] is not None, "the subscription")
    sub = holder[-1]
    for d in destinations:
        corr = sub.async_add_destination(d)
        env.wait(lambda c=corr: env.aeron.is_command_active(c) is False, f"destination {d}")
    return sub


def _setup(term_offset: int = 0) -> bytes:
    return SetupFrame(term_offset=term_offset, session_id=SESSION, stream_id=STREAM, initial_term_id=0,
                      active_term_id=0, term_length=TERM_LENGTH, mtu=1408).encode()


def _data(term_offset: int) -> bytes:
    return DataFrame.data(term_offset, SESSION, STREAM, 0, PAYLOAD).encode_aligned()


def test_group_image_answers_each_destinations_source(env: Env) -> None:
    catchup, live = free_udp_port(), free_udp_port()
    sub = _subscribe(env, f"aeron:udp?control-mode=manual|group=true|session-id={SESSION}",
                     [f"aeron:udp?endpoint=127.0.0.1:{catchup}", f"aeron:udp?endpoint=127.0.0.1:{live}"])
    replay, leader = _source(), _source()
    try:
        replay.sendto(_setup(), ("127.0.0.1", catchup))
        env.wait(lambda: sub.image_count == 1, "the image (SETUP from the catch-up source)")
        replay.sendto(_data(0), ("127.0.0.1", catchup))
        # the live source continues on the other destination, one frame lost on the way (128..256)
        leader.sendto(_data(256), ("127.0.0.1", live))
        got: list[Any] = []

        def leader_heard(kind: type) -> bool:
            got.extend(_drain(leader))
            return any(isinstance(f, kind) and f.session_id == SESSION for f in got)

        env.wait(lambda: leader_heard(StatusMessageFrame), "a status message at the live source")
        env.wait(lambda: leader_heard(NakFrame), "a NAK at the live source")
        nak = next(f for f in got if isinstance(f, NakFrame))
        assert (nak.term_id, nak.term_offset) == (0, 128)
    finally:
        replay.close()
        leader.close()


def test_end_of_stream_on_one_destination_does_not_end_the_image(env: Env) -> None:
    """A stopped catch-up replay ends with EOS (a revoke) on its destination; the live log on
    the other destination goes on, so the image must not end - as Aeron, EOS needs every
    destination's source to have ended, even one not heard from yet."""
    catchup, live = free_udp_port(), free_udp_port()
    catchup_channel = f"aeron:udp?endpoint=127.0.0.1:{catchup}"
    sub = _subscribe(env, f"aeron:udp?control-mode=manual|group=true|session-id={SESSION}",
                     [catchup_channel, f"aeron:udp?endpoint=127.0.0.1:{live}"])
    replay, leader = _source(), _source()
    try:
        replay.sendto(_setup(), ("127.0.0.1", catchup))
        env.wait(lambda: sub.image_count == 1, "the image")
        image = sub.images[0]

        def ended() -> bool:
            image.poll(lambda *args: None, 10)  # the image ends once its reader reaches the EOS position
            return bool(image.is_end_of_stream)

        replay.sendto(_data(0), ("127.0.0.1", catchup))
        replay.sendto(DataFrame.heartbeat(128, SESSION, STREAM, 0, eos=True).encode(), ("127.0.0.1", catchup))
        for _ in range(2_000):
            env.pump()
            assert not ended(), "EOS of the catch-up source alone ended the image"
        assert image.position == 128
        leader.sendto(_data(128), ("127.0.0.1", live))
        env.wait(lambda: image.poll(lambda *args: None, 10) >= 0 and image.position == 256, "the live frame")
        corr = sub.async_remove_destination(catchup_channel)
        env.wait(lambda: env.aeron.is_command_active(corr) is False, "the catch-up destination removed")
        for _ in range(2_000):
            env.pump()
            assert not ended()
        assert image.position == 256
        leader.sendto(DataFrame.heartbeat(256, SESSION, STREAM, 0, eos=True).encode(), ("127.0.0.1", live))
        env.wait(ended, "EOS once the live source ended too")
    finally:
        replay.close()
        leader.close()

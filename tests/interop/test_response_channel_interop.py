"""Response channels between aeronpy and the REAL Aeron 1.53 C driver and client (pyaeron wheel).

The same echo runs in every pairing: the responder subscribes to requests, the requester
subscribes with ``control-mode=response`` and publishes its requests with
``response-correlation-id=<that subscription>``; the responder answers each request image on a
``control-mode=response|response-correlation-id=<image correlation id>`` publication and
echoes every request back.  Pairings:

* aeronpy requester (aeronpy client + driver) -> C responder (C client + C driver) over UDP;
* C requester -> aeronpy responder over UDP;
* the C client in both roles on one aeronpy driver (UDP to itself, and IPC), plus the errors
  the C client gets from the aeronpy driver for a bad ``response-correlation-id``.
"""

from __future__ import annotations

import ctypes
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import pytest

from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context
from tests.interop import reference
from tests.interop.c_client import Client
from tests.interop.procs import ProcessGroup, free_udp_port
from tests.interop.test_udp_interop import assert_no_aeronpy_errors, start_aeronpy_driver, start_c_driver

pytestmark = pytest.mark.interop

LO = "127.0.0.1"
REQUEST_STREAM, RESPONSE_STREAM = 4101, 4102
COUNT = 100
DEADLINE_S = 30.0


class Sub(Protocol):
    registration_id: int

    def image_correlation_ids(self) -> list[int]: ...

    def poll(self, handler: Callable[[bytes], None]) -> int: ...


class Pub(Protocol):
    def offer(self, data: bytes) -> int: ...

    @property
    def is_connected(self) -> bool: ...


class Side(Protocol):
    def add_subscription(self, channel: str, stream_id: int) -> Sub: ...

    def add_publication(self, channel: str, stream_id: int, exclusive: bool = False) -> Pub: ...


# ---------------------------------------------------------------------------- aeronpy client
class PySub:
    def __init__(self, sub: Any) -> None:
        self.sub = sub
        self.registration_id = int(sub.registration_id)

    def image_correlation_ids(self) -> list[int]:
        return [int(i.correlation_id) for i in self.sub.images]

    def poll(self, handler: Callable[[bytes], None]) -> int:
        return int(self.sub.poll(lambda b, o, n, h: handler(b.get_bytes(o, n)), 10))


class PyPub:
    def __init__(self, pub: Any) -> None:
        self.pub = pub

    def offer(self, data: bytes) -> int:
        return int(self.pub.offer(data))

    @property
    def is_connected(self) -> bool:
        return bool(self.pub.is_connected)


class PySide:
    def __init__(self, aeron_dir: Path) -> None:
        self.aeron = Aeron.connect(Context.from_properties(env={}, aeron_dir=str(aeron_dir)))

    def add_subscription(self, channel: str, stream_id: int) -> Sub:
        return PySub(self.aeron.add_subscription(channel, stream_id))

    def add_publication(self, channel: str, stream_id: int, exclusive: bool = False) -> Pub:
        add = self.aeron.add_exclusive_publication if exclusive else self.aeron.add_publication
        return PyPub(add(channel, stream_id))

    def close(self) -> None:
        self.aeron.close()


# ---------------------------------------------------------------------------- C client
class SubscriptionConstants(ctypes.Structure):
    _fields_ = [
        ("channel", ctypes.c_char_p), ("on_available_image", ctypes.c_void_p),
        ("on_unavailable_image", ctypes.c_void_p), ("registration_id", ctypes.c_int64),
        ("stream_id", ctypes.c_int32), ("channel_status_indicator_id", ctypes.c_int32),
    ]


class ImageConstants(ctypes.Structure):
    _fields_ = [
        ("subscription", ctypes.c_void_p), ("source_identity", ctypes.c_char_p), ("correlation_id", ctypes.c_int64),
        ("join_position", ctypes.c_int64), ("position_bits_to_shift", ctypes.c_size_t),
        ("term_buffer_length", ctypes.c_size_t), ("mtu_length", ctypes.c_size_t), ("session_id", ctypes.c_int32),
        ("initial_term_id", ctypes.c_int32), ("subscriber_position_id", ctypes.c_int32),
    ]


def _declare_extras(lib: ctypes.CDLL) -> None:
    for name, restype, argtypes in (
        ("aeron_subscription_constants", ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(SubscriptionConstants)]),
        ("aeron_subscription_image_at_index", ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t]),
        ("aeron_subscription_image_release", ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p]),
        ("aeron_image_constants", ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ImageConstants)]),
    ):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes


class CSub:
    def __init__(self, side: CSide, handle: ctypes.c_void_p) -> None:
        self.side, self.lib, self.handle = side, side.lib, handle
        constants = SubscriptionConstants()
        assert self.lib.aeron_subscription_constants(handle, ctypes.byref(constants)) == 0
        self.registration_id = int(constants.registration_id)
        self._received: list[bytes] = []
        self._handler = reference.FRAGMENT_HANDLER(self._on_fragment)  # kept alive with the sub

    def _on_fragment(self, _clientd: int | None, buffer: int | None, length: int, _header: int | None) -> None:
        self._received.append(ctypes.string_at(buffer or 0, length) if length else b"")

    def image_correlation_ids(self) -> list[int]:
        ids: list[int] = []
        for index in range(self.lib.aeron_subscription_image_count(self.handle)):
            image = self.lib.aeron_subscription_image_at_index(self.handle, index)
            if not image:
                continue
            constants = ImageConstants()
            self.lib.aeron_image_constants(image, ctypes.byref(constants))
            ids.append(int(constants.correlation_id))
            self.lib.aeron_subscription_image_release(self.handle, image)
        return ids

    def poll(self, handler: Callable[[bytes], None]) -> int:
        fragments = int(self.lib.aeron_subscription_poll(self.handle, ctypes.cast(self._handler, ctypes.c_void_p), None, 10))
        received, self._received = self._received, []
        for data in received:
            handler(data)
        return fragments


class CPub:
    def __init__(self, side: CSide, handle: ctypes.c_void_p, exclusive: bool) -> None:
        lib = side.lib
        self.handle = handle
        self._offer = lib.aeron_exclusive_publication_offer if exclusive else lib.aeron_publication_offer
        self._connected = lib.aeron_exclusive_publication_is_connected if exclusive else lib.aeron_publication_is_connected

    def offer(self, data: bytes) -> int:
        return int(self._offer(self.handle, data, len(data), None, None))

    @property
    def is_connected(self) -> bool:
        return bool(self._connected(self.handle))


class CSide:
    def __init__(self, aeron_dir: Path) -> None:
        self.client = Client(str(aeron_dir), "aeronpy-interop-response-channels")
        self.lib = self.client.lib
        _declare_extras(self.lib)

    def add_subscription(self, channel: str, stream_id: int) -> Sub:
        async_handle = ctypes.c_void_p()
        assert self.lib.aeron_async_add_subscription(
            ctypes.byref(async_handle), self.client.aeron, channel.encode(), stream_id, None, None, None, None
        ) == 0, reference.errmsg(self.lib)
        handle = self.client.await_async(
            "add subscription", self.lib.aeron_async_add_subscription_poll, async_handle, time.monotonic() + DEADLINE_S
        )
        return CSub(self, handle)

    def add_publication(self, channel: str, stream_id: int, exclusive: bool = False) -> Pub:
        lib = self.lib
        add = lib.aeron_async_add_exclusive_publication if exclusive else lib.aeron_async_add_publication
        poll = lib.aeron_async_add_exclusive_publication_poll if exclusive else lib.aeron_async_add_publication_poll
        async_handle = ctypes.c_void_p()
        assert add(ctypes.byref(async_handle), self.client.aeron, channel.encode(), stream_id) == 0, reference.errmsg(lib)
        handle = self.client.await_async("add publication", poll, async_handle, time.monotonic() + DEADLINE_S)
        return CPub(self, handle, exclusive)

    def publication_error(self, channel: str, stream_id: int) -> str:
        """The error the driver answers an ADD_PUBLICATION with (fails if it succeeds)."""
        async_handle = ctypes.c_void_p()
        assert self.lib.aeron_async_add_publication(
            ctypes.byref(async_handle), self.client.aeron, channel.encode(), stream_id
        ) == 0
        result = ctypes.c_void_p()
        deadline = time.monotonic() + DEADLINE_S
        while True:
            rc = self.lib.aeron_async_add_publication_poll(ctypes.byref(result), async_handle)
            if rc < 0:
                return reference.errmsg(self.lib)
            assert rc == 0, f"publication {channel} was accepted"
            assert time.monotonic() < deadline, "no answer to ADD_PUBLICATION"
            time.sleep(0.001)

    def close(self) -> None:
        self.client.close()


# ---------------------------------------------------------------------------- the echo
def _wait(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def echo(requester: Side, responder: Side, request_channel: str, response_sub_channel: str,
         response_pub_channel: Callable[[int], str], exclusive: bool = False) -> None:
    request_sub = responder.add_subscription(request_channel, REQUEST_STREAM)
    response_sub = requester.add_subscription(response_sub_channel, RESPONSE_STREAM)
    sep = "|" if "?" in request_channel else "?"
    request_pub = requester.add_publication(
        f"{request_channel}{sep}response-correlation-id={response_sub.registration_id}", REQUEST_STREAM, exclusive
    )
    _wait(lambda: request_pub.is_connected and request_sub.image_correlation_ids(), "request connection")
    (image_id,) = request_sub.image_correlation_ids()
    response_pub = responder.add_publication(response_pub_channel(image_id), RESPONSE_STREAM, exclusive)
    _wait(lambda: response_pub.is_connected and response_sub.image_correlation_ids(), "response connection")

    echoed: list[bytes] = []

    def serve(request: bytes) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while response_pub.offer(b"echo:" + request) < 0:
            assert time.monotonic() < deadline, "response publication back-pressured"
            time.sleep(0.0005)

    sent = 0
    deadline = time.monotonic() + DEADLINE_S
    while len(echoed) < COUNT:
        assert time.monotonic() < deadline, f"{len(echoed)} of {COUNT} echoes came back"
        if sent < COUNT and request_pub.offer(b"req-%d" % sent) > 0:
            sent += 1
        work = request_sub.poll(serve) + response_sub.poll(echoed.append)
        if not work:
            time.sleep(0.0002)
    assert echoed == [b"echo:req-%d" % i for i in range(COUNT)]


def _udp_channels() -> tuple[str, str, Callable[[int], str]]:
    request = f"aeron:udp?endpoint={LO}:{free_udp_port()}"
    control = f"{LO}:{free_udp_port()}"
    return (
        request,
        f"aeron:udp?control-mode=response|control={control}",
        lambda image_id: f"aeron:udp?control-mode=response|control={control}|response-correlation-id={image_id}",
    )


@pytest.fixture
def sides() -> Iterator[list[Any]]:
    opened: list[Any] = []
    yield opened
    for side in reversed(opened):
        side.close()


def test_aeronpy_requester_to_c_responder(c_reference: ctypes.CDLL, procs: ProcessGroup, sides: list[Any]) -> None:
    py_dir, c_dir = procs.new_aeron_dir(), procs.new_aeron_dir()
    py_driver = start_aeronpy_driver(procs, py_dir)
    start_c_driver(procs, c_dir)
    requester, responder = PySide(py_dir), CSide(c_dir)
    sides += [requester, responder]
    echo(requester, responder, *_udp_channels())
    assert_no_aeronpy_errors(procs, py_driver, py_dir)


def test_c_requester_to_aeronpy_responder(c_reference: ctypes.CDLL, procs: ProcessGroup, sides: list[Any]) -> None:
    py_dir, c_dir = procs.new_aeron_dir(), procs.new_aeron_dir()
    py_driver = start_aeronpy_driver(procs, py_dir)
    start_c_driver(procs, c_dir)
    requester, responder = CSide(c_dir), PySide(py_dir)
    sides += [requester, responder]
    echo(requester, responder, *_udp_channels(), exclusive=True)
    assert_no_aeronpy_errors(procs, py_driver, py_dir)


def test_c_client_in_both_roles_on_the_aeronpy_driver(c_reference: ctypes.CDLL, procs: ProcessGroup, sides: list[Any]) -> None:
    py_dir = procs.new_aeron_dir()
    py_driver = start_aeronpy_driver(procs, py_dir)
    requester, responder = CSide(py_dir), CSide(py_dir)
    sides += [requester, responder]
    echo(requester, responder, *_udp_channels())
    echo(
        requester, responder, "aeron:ipc", "aeron:ipc?control-mode=response",
        lambda image_id: f"aeron:ipc?control-mode=response|response-correlation-id={image_id}",
    )
    message = responder.publication_error(
        f"aeron:udp?control-mode=response|control={LO}:{free_udp_port()}|response-correlation-id=424242", RESPONSE_STREAM
    )
    assert "image.correlationId=424242 not found" in message
    message = requester.publication_error(f"aeron:udp?endpoint={LO}:{free_udp_port()}|response-correlation-id=424243", 9)
    assert "unable to find response subscription for response-correlation-id=424243" in message
    procs.stop_driver(py_driver)


def test_aeronpy_clients_in_both_roles_on_the_c_driver(c_reference: ctypes.CDLL, procs: ProcessGroup, sides: list[Any]) -> None:
    c_dir = procs.new_aeron_dir()
    start_c_driver(procs, c_dir)
    requester, responder = PySide(c_dir), PySide(c_dir)
    sides += [requester, responder]
    echo(requester, responder, *_udp_channels())
    echo(
        requester, responder, "aeron:ipc", "aeron:ipc?control-mode=response",
        lambda image_id: f"aeron:ipc?control-mode=response|response-correlation-id={image_id}",
        exclusive=True,
    )

"""ClientCommandAdapter and ClientProxy without a driver: decode, dispatch, answer every failure."""

from __future__ import annotations

from typing import Any

import pytest

from aeronpy.concurrent.atomic_buffer import PyAtomicBuffer
from aeronpy.concurrent.broadcast import BroadcastReceiver, BroadcastTransmitter, CopyBroadcastReceiver
from aeronpy.concurrent.broadcast import TRAILER_LENGTH as BROADCAST_TRAILER
from aeronpy.concurrent.ringbuffer import TRAILER_LENGTH, ManyToOneRingBuffer
from aeronpy.driver.client_command_adapter import HANDLERS, ClientCommandAdapter, CommandError
from aeronpy.driver.client_proxy import ClientProxy
from aeronpy.driver.conductor import DriverConductor
from aeronpy.errors import InvalidChannelError
from aeronpy.protocol import control as cp


class Responses:
    """A to-clients buffer and a reader of what was sent on it."""

    def __init__(self) -> None:
        buffer = PyAtomicBuffer(bytearray(64 * 1024 + BROADCAST_TRAILER))
        self.proxy = ClientProxy(BroadcastTransmitter(buffer))
        self._receiver = CopyBroadcastReceiver(BroadcastReceiver(buffer))

    def read(self) -> list[Any]:
        out: list[Any] = []
        while self._receiver.receive(lambda t, b, o, n: out.append(cp.decode_response(t, b, o, n))):
            pass
        return out


class FakeConductor:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail_with: BaseException | None = None

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("on_"):
            raise AttributeError(name)

        def handler(msg: Any) -> None:
            self.calls.append((name, msg))
            if self.fail_with is not None:
                raise self.fail_with

        return handler


@pytest.fixture
def rig() -> tuple[ManyToOneRingBuffer, FakeConductor, Responses, list[tuple[int, str]], ClientCommandAdapter]:
    ring = ManyToOneRingBuffer(PyAtomicBuffer(bytearray(64 * 1024 + TRAILER_LENGTH)))
    conductor = FakeConductor()
    responses = Responses()
    errors: list[tuple[int, str]] = []
    adapter = ClientCommandAdapter(ring, conductor, responses.proxy, lambda code, message: errors.append((code, message)))
    return ring, conductor, responses, errors, adapter


def test_every_command_type_has_a_conductor_method_and_a_codec() -> None:
    assert set(HANDLERS) == set(cp.COMMAND_DECODERS)
    for method in HANDLERS.values():
        assert callable(getattr(DriverConductor, method)), method


def test_commands_are_decoded_and_dispatched(rig: Any) -> None:
    ring, conductor, _, errors, adapter = rig
    msg = cp.PublicationMessage(client_id=1, correlation_id=2, stream_id=3, channel="aeron:ipc")
    ring.write(cp.ADD_EXCLUSIVE_PUBLICATION, msg.encode())
    ring.write(cp.CLIENT_KEEPALIVE, cp.CorrelatedMessage(1, 9).encode())
    assert adapter.receive() == 2
    assert conductor.calls == [("on_add_exclusive_publication", msg), ("on_client_keepalive", cp.CorrelatedMessage(1, 9))]
    assert errors == []


def test_unknown_and_malformed_commands_are_logged_not_answered(rig: Any) -> None:
    ring, conductor, responses, errors, adapter = rig
    ring.write(0x7777, b"x" * 16)
    ring.write(cp.ADD_PUBLICATION, b"short")
    adapter.receive()
    assert [code for code, _ in errors] == [cp.ErrorCode.UNKNOWN_COMMAND_TYPE_ID, cp.ErrorCode.MALFORMED_COMMAND]
    assert conductor.calls == [] and responses.read() == []


@pytest.mark.parametrize(
    "failure,code",
    [
        (CommandError(cp.ErrorCode.UNKNOWN_SUBSCRIPTION, "no such"), cp.ErrorCode.UNKNOWN_SUBSCRIPTION),
        (InvalidChannelError("bad uri"), cp.ErrorCode.INVALID_CHANNEL),
        (RuntimeError("boom"), cp.ErrorCode.GENERIC_ERROR),
    ],
)
def test_a_refused_command_is_answered_with_its_correlation_id(rig: Any, failure: BaseException, code: int) -> None:
    ring, conductor, responses, errors, adapter = rig
    conductor.fail_with = failure
    ring.write(cp.REMOVE_SUBSCRIPTION, cp.RemoveMessage(client_id=1, correlation_id=42, registration_id=5).encode())
    adapter.receive()
    (answer,) = responses.read()
    assert isinstance(answer, cp.ErrorResponse)
    assert answer.offending_command_correlation_id == 42 and answer.error_code == code
    assert errors and errors[0][0] == code


def test_at_most_the_command_limit_is_handled_per_call(rig: Any) -> None:
    ring, conductor, _, _, adapter = rig
    for i in range(40):
        ring.write(cp.CLIENT_KEEPALIVE, cp.CorrelatedMessage(1, i).encode())
    assert adapter.receive() == 16
    assert len(conductor.calls) == 16


def test_client_proxy_responses_decode_back() -> None:
    responses = Responses()
    p = responses.proxy
    p.on_publication_ready(1, 2, 3, 4, 5, 6, "/dev/shm/x.logbuffer", is_exclusive=True)
    p.on_subscription_ready(7, 8)
    p.on_available_image(9, 10, 11, 12, 13, "/dev/shm/y.logbuffer", "127.0.0.1:40123")
    p.on_unavailable_image(14, 15, 16, "aeron:ipc")
    p.on_operation_succeeded(17)
    p.on_counter_ready(18, 19)
    p.on_unavailable_counter(20, 21)
    p.on_static_counter(22, 23)
    p.on_client_timeout(24)
    p.on_next_available_session_id(25, 26)
    p.on_publication_error(27, 28, 29, 30, 31, 32, ("127.0.0.1", 4000), 5, b"rejected")
    p.on_error(33, cp.ErrorCode.INVALID_CHANNEL, "nope")
    got = responses.read()
    assert [type(m).__name__ for m in got] == [
        "PublicationBuffersReady", "SubscriptionReady", "ImageBuffersReady", "ImageMessage",
        "OperationSucceeded", "CounterUpdate", "CounterUpdate", "CounterUpdate", "ClientTimeout",
        "NextAvailableSessionId", "PublicationErrorFrame", "ErrorResponse",
    ]
    assert got[0].log_file_name == "/dev/shm/x.logbuffer" and got[0].position_limit_counter_id == 5
    assert got[2].source_identity == "127.0.0.1:40123"
    assert got[10].source_port == 4000 and got[10].error_message == "rejected"
    assert got[11].error_message == "nope"

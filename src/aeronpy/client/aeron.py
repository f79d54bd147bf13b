"""``Aeron``: the client entry point (connects to a media driver through cnc.dat)."""

from __future__ import annotations

import os
import time
from types import TracebackType
from typing import Callable

from aeronpy.cnc import CncFile
from aeronpy.concurrent.agent import AgentInvoker, AgentRunner
from aeronpy.concurrent.counters import CountersReader
from aeronpy.concurrent.idle_strategy import SleepingIdleStrategy
from aeronpy.client.conductor import ClientConductor
from aeronpy.client.context import Context
from aeronpy.client.counter import Counter
from aeronpy.client.image import Image
from aeronpy.client.publication import ExclusivePublication, Publication
from aeronpy.client.subscription import Subscription
from aeronpy.errors import CncError, DriverTimeoutError

CNC_HEADER_LENGTH = 128


class Aeron:
    """A connected Aeron client.  Use :meth:`connect`; close it (or use ``with``) when done.

    ``add_*`` block until the driver answers (up to ``aeron.driver.timeout``); the poll-able
    form is ``async_add_*``, then ``get_*`` until it returns the resource.  For asyncio see
    :func:`aeronpy.aio.connect`.  ``conductor`` is the client conductor (internal).
    """

    def __init__(self, ctx: Context, cnc: CncFile) -> None:
        self.ctx = ctx
        self._cnc = cnc
        self.conductor = ClientConductor(ctx, cnc)
        self._runner: AgentRunner | None = None
        self._invoker: AgentInvoker | None = None
        if ctx.use_conductor_agent_invoker:
            self._invoker = AgentInvoker(self.conductor._report, self.conductor)
            self._invoker.start()
        else:
            idle = SleepingIdleStrategy(ctx.idle_sleep_duration_ns)
            self._runner = AgentRunner(idle, self.conductor._report, self.conductor)
            self._runner.start(thread_name="aeronpy-client-conductor")

    @classmethod
    def connect(cls, ctx: Context | None = None) -> Aeron:
        """Connect to the driver whose cnc.dat is in ``ctx.aeron_dir`` (waits up to driver.timeout)."""
        if ctx is None:
            ctx = Context.from_properties()
        ctx.validate()
        return cls(ctx, _connect_to_driver(ctx))

    # ------------------------------------------------------------------ resources
    def add_publication(self, channel: str, stream_id: int) -> Publication:
        """Add a (shared) concurrent publication; blocks until the driver answers."""
        return self.conductor.await_registration(self.async_add_publication(channel, stream_id))  # type: ignore[no-any-return]

    def add_exclusive_publication(self, channel: str, stream_id: int) -> ExclusivePublication:
        """Add an exclusive (single-writer) publication with its own log."""
        return self.conductor.await_registration(  # type: ignore[no-any-return]
            self.async_add_exclusive_publication(channel, stream_id)
        )

    def add_subscription(
        self,
        channel: str,
        stream_id: int,
        available_image_handler: Callable[[Image], None] | None = None,
        unavailable_image_handler: Callable[[Image], None] | None = None,
    ) -> Subscription:
        """Add a subscription; images arrive (and leave) through the conductor."""
        return self.conductor.await_registration(  # type: ignore[no-any-return]
            self.async_add_subscription(channel, stream_id, available_image_handler, unavailable_image_handler)
        )

    def add_counter(self, type_id: int, label: str, key: bytes = b"") -> Counter:
        """Allocate a counter in the driver, owned by this client."""
        return self.conductor.await_registration(  # type: ignore[no-any-return]
            self.conductor.async_add_counter(type_id, label, key)
        )

    def async_add_publication(self, channel: str, stream_id: int) -> int:
        """Send ADD_PUBLICATION; poll :meth:`get_publication` with the returned registration id."""
        return self.conductor.async_add_publication(channel, stream_id)

    def async_add_exclusive_publication(self, channel: str, stream_id: int) -> int:
        """Send ADD_EXCLUSIVE_PUBLICATION; poll :meth:`get_exclusive_publication` with the id."""
        return self.conductor.async_add_publication(channel, stream_id, exclusive=True)

    def async_add_subscription(
        self,
        channel: str,
        stream_id: int,
        available_image_handler: Callable[[Image], None] | None = None,
        unavailable_image_handler: Callable[[Image], None] | None = None,
    ) -> int:
        """Send ADD_SUBSCRIPTION; poll :meth:`get_subscription` with the returned registration id.

        The image handlers run on the client conductor's thread (or a thread polling)."""
        return self.conductor.async_add_subscription(
            channel, stream_id, available_image_handler, unavailable_image_handler
        )

    def get_publication(self, registration_id: int) -> Publication | None:
        """None while pending; raises RegistrationError if the driver refused."""
        return self.conductor.poll_registration(registration_id)  # type: ignore[no-any-return]

    def get_exclusive_publication(self, registration_id: int) -> ExclusivePublication | None:
        """None while pending; raises RegistrationError if the driver refused."""
        return self.conductor.poll_registration(registration_id)  # type: ignore[no-any-return]

    def get_subscription(self, registration_id: int) -> Subscription | None:
        """None while pending; raises RegistrationError if the driver refused."""
        return self.conductor.poll_registration(registration_id)  # type: ignore[no-any-return]

    def is_command_active(self, correlation_id: int) -> bool:
        """For async commands (e.g. ``publication.async_add_destination``): True until the
        driver answers; raises RegistrationError if the command failed."""
        return self.conductor.is_command_active(correlation_id)

    def next_available_session_id(self, stream_id: int) -> int:
        """Ask the driver for a session id not in use on ``stream_id`` (blocks for the answer)."""
        return self.conductor.await_registration(self.conductor.async_next_session_id(stream_id))  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ info
    @property
    def client_id(self) -> int:
        """This client's id in the driver (its first correlation id)."""
        return self.conductor.client_id

    @property
    def counters_reader(self) -> CountersReader:
        """Read access to the driver's counters (positions, system counters, ...)."""
        return self.conductor.counters_reader

    @property
    def conductor_agent_invoker(self) -> AgentInvoker | None:
        """The invoker to call from the application when ``use_conductor_agent_invoker`` is set."""
        return self._invoker

    def next_correlation_id(self) -> int:
        """A new id unique among this driver's clients (from the to-driver ring buffer)."""
        return self.conductor.to_driver.next_correlation_id()

    @property
    def is_closed(self) -> bool:
        """True once closed by the application, or after losing the driver (see
        :attr:`termination_cause`)."""
        return self.conductor.is_closed

    @property
    def termination_cause(self) -> BaseException | None:
        """Why the client closed itself (a :class:`~aeronpy.DriverTimeoutError` or
        :class:`~aeronpy.ClientTimeoutError`); None unless that happened."""
        return self.conductor.termination_cause

    def close(self) -> None:
        """Close every resource, tell the driver (CLIENT_CLOSE) and unmap cnc.dat."""
        if self._runner is not None:
            self._runner.close()
            self._runner = None
        if self._invoker is not None:
            self._invoker.close()
        self.conductor.close()
        self._cnc.close()

    def __enter__(self) -> Aeron:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _connect_to_driver(ctx: Context) -> CncFile:
    """cnc-file.md §5: wait for an initialised cnc.dat with a live driver heartbeat."""
    path = os.path.join(ctx.aeron_dir, "cnc.dat")
    timeout_ms = ctx.driver_timeout_ms
    deadline_ns = ctx.nano_clock() + timeout_ms * 1_000_000
    last_problem = f"CnC file not created: {path}"
    while True:
        try:
            if os.path.exists(path) and os.path.getsize(path) > CNC_HEADER_LENGTH:
                cnc = CncFile.map(path)
                heartbeat = cnc.to_driver_heartbeat_ms()
                if heartbeat == 0:
                    last_problem = f"no driver heartbeat yet in {path}"
                    cnc.close()
                else:
                    now_ms = ctx.epoch_clock()
                    if heartbeat != -1 and heartbeat >= now_ms - timeout_ms:
                        return cnc
                    cnc.close()
                    age = "driver has been shut down" if heartbeat == -1 else f"age={now_ms - heartbeat}ms"
                    last_problem = f"no driver heartbeat detected in {path} ({age})"
        except CncError as ex:
            if "not compatible" in str(ex):
                raise
            last_problem = str(ex)
        if ctx.nano_clock() > deadline_ns:
            raise DriverTimeoutError(
                f"could not connect to a media driver within {timeout_ms}ms: {last_problem} "
                f"(is `aeronpy driver --dir {ctx.aeron_dir}` running?)"
            )
        time.sleep(0.016)


def request_driver_termination(aeron_dir: str, token: bytes = b"") -> bool:
    """Ask the driver in ``aeron_dir`` to terminate (TERMINATE_DRIVER).

    The driver only obeys when its ``aeron.driver.termination.validator`` allows it.  Returns
    False when no driver's cnc.dat is there.
    """
    from aeronpy.concurrent.ringbuffer import ManyToOneRingBuffer
    from aeronpy.protocol import control as cp

    path = os.path.join(aeron_dir, "cnc.dat")
    if not os.path.exists(path):
        return False
    with CncFile.map(path) as cnc:
        ring = ManyToOneRingBuffer(cnc.to_driver_buffer)
        client_id = ring.next_correlation_id()
        msg = cp.TerminateDriverMessage(client_id=client_id, correlation_id=ring.next_correlation_id(), token=token)
        return bool(ring.write(cp.TERMINATE_DRIVER, msg.encode()))

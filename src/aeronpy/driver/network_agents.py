"""Sender and Receiver agents, and the command queues between them and the conductor.

As in Aeron, the conductor never touches sender/receiver state directly: it posts commands to
the agent's queue through a typed proxy (:mod:`aeronpy.driver.agent_proxies`), and the agent
runs them at the start of its duty cycle; answers travel back the same way, through the
:class:`~aeronpy.driver.agent_proxies.DriverConductorProxy`.  A command is a bound method and
its arguments, never a closure.  ``collections.deque`` append/popleft are atomic in CPython, so
a queue needs no lock.
"""

from __future__ import annotations

import select
from collections import deque
from typing import Any, Callable, Protocol, TypeVarTuple, Unpack

from aeronpy.concurrent.agent import AgentBase
from aeronpy.concurrent.clock import nano_time
from aeronpy.driver.endpoints import socket_fd

Ts = TypeVarTuple("Ts")

LIVENESS_CHECK_INTERVAL_NS = 1_000_000
"""How often the sender looks for receivers and MDC destinations that went silent (their
timeouts are seconds long): at most once a millisecond, on a duty cycle that polls control."""


class ConductorAnswers(Protocol):
    """What the sender and receiver tell the conductor (``DriverConductorProxy`` does it)."""

    def on_publication_removed(self, publication: Any) -> None: ...

    def on_endpoint_removed(self, endpoint: Any) -> None: ...

    def on_receive_destination_removed(self, destination: Any) -> None: ...

    def on_image_released(self, image: Any) -> None: ...

    def on_re_resolve_endpoint(self, name: str, endpoint: Any, existing: Any) -> None: ...

    def on_re_resolve_control(self, name: str, endpoint: Any, destination: Any, existing: Any) -> None: ...


class CommandQueue:
    """Many-producer, one-consumer queue of ``(method, arguments)`` commands."""

    def __init__(self) -> None:
        self._queue: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self.pending = self._queue
        """The deque itself: truthy while commands wait (checked without a call every duty cycle)."""
        self.drained = 0
        """Commands run so far: the idle probe's cue that what an agent watches may have changed."""

    def offer(self, method: Callable[[Unpack[Ts]], None], *args: Unpack[Ts]) -> None:
        self._queue.append((method, args))

    def drain(self, limit: int = 64) -> int:
        count = 0
        queue = self._queue
        while queue and count < limit:
            method, args = queue.popleft()
            method(*args)
            count += 1
        if count:
            self.drained += count
        return count


class ReadySockets:
    """Which of an agent's UDP sockets have datagrams waiting: one ``epoll_wait(0)`` per duty
    cycle instead of a ``recvmmsg`` per socket (each empty one costs a syscall).  Level-triggered,
    so a socket left with datagrams after a full batch stays ready.  Without ``epoll``
    (non-Linux) :meth:`ready` returns ``None``: read every socket.

    ``shared=True`` (SHARED mode: sender and receiver on one thread, one instance for both):
    the first :meth:`ready` of a duty cycle asks the kernel and the rest of the cycle reuse its
    answer, until :meth:`new_cycle`.  The sender asks after sending its data, so the receiver
    still sees what that sent to a socket of this driver; a socket both agents registered stays
    registered until both removed it."""

    def __init__(self, shared: bool = False) -> None:
        self._epoll: Any = select.epoll() if hasattr(select, "epoll") else None
        self._poll = self._epoll.poll if self._epoll is not None else None
        self._fds: dict[int, int] = {}  # descriptor -> how many add() calls registered it
        self.shared = shared
        self._answer: Any = None  # this cycle's (shared); None: not asked yet

    def add(self, transports: list[Any] | None) -> None:
        for transport in transports or ():
            fd = socket_fd(transport)
            if fd < 0 or self._epoll is None:
                continue
            if fd in self._fds:
                self._fds[fd] += 1
                continue
            try:
                self._epoll.register(fd, select.EPOLLIN)
                self._fds[fd] = 1
            except OSError:  # closed already: nothing to read there
                pass

    def remove(self, transports: list[Any] | None) -> None:
        for transport in transports or ():
            fd = socket_fd(transport)
            users = self._fds.get(fd, 0)
            if users > 1:
                self._fds[fd] = users - 1
            elif users:
                del self._fds[fd]
                try:
                    self._epoll.unregister(fd)
                except (OSError, ValueError):  # closed already (epoll dropped it)
                    pass

    def ready(self) -> Any:
        """Descriptors with datagrams waiting (a container), or ``None`` to read all sockets."""
        answer = self._answer
        if answer is not None:
            return answer
        poll = self._poll
        if poll is None:
            return None
        fds = self._fds
        if not fds:  # no sockets (no endpoints yet, or only in-memory ones): no syscall
            return ()
        events = poll(0, len(fds))  # room for every socket, not the 1023 events asked by default
        answer = dict(events) if events else ()  # descriptor -> mask; callers only test membership
        if self.shared:
            self._answer = answer
        return answer

    def new_cycle(self) -> None:
        """A new duty cycle (shared instances): the next :meth:`ready` asks the kernel again."""
        self._answer = None

    def fileno(self) -> int:
        """The epoll's descriptor (readable while any socket has datagrams), or -1 without one."""
        return self._epoll.fileno() if self._epoll is not None and self._poll is not None else -1

    def close(self) -> None:
        """Close the epoll; from now on :meth:`ready` says to read every socket."""
        if self._epoll is not None:
            self._poll = None
            self._answer = None
            self._epoll.close()


class _NetworkAgent(AgentBase):
    """Common part of the sender and receiver: socket errors are reported, not fatal."""

    error_handler: Callable[[BaseException], None] | None = None
    conductor_proxy: ConductorAnswers | None = None
    """Where answers to the conductor go; set by the network conductor."""

    ready_sockets: ReadySockets
    endpoints: list[Any]
    reresolution_check_interval_ns = 0
    """``aeron.driver.reresolution.check.interval`` (0: never); set by the network conductor."""
    _re_resolution_deadline_ns = -1
    """The next check (-1: not started); callers test ``now_ns >= deadline`` before calling
    :meth:`_re_resolution_due`, so the duty cycle pays one comparison."""

    def _re_resolution_due(self, now_ns: int) -> bool:
        """True once every check interval (the first interval counted from the first call)."""
        interval = self.reresolution_check_interval_ns
        if interval <= 0:
            self._re_resolution_deadline_ns = 1 << 63  # never
            return False
        started = self._re_resolution_deadline_ns >= 0
        self._re_resolution_deadline_ns = now_ns + interval
        return started

    def report(self, ex: BaseException) -> None:
        if self.error_handler is not None:
            self.error_handler(ex)

    _by_fd: dict[int, Any]
    """Endpoints read only when their one descriptor is ready (``ready_fd``), by descriptor."""
    _always: list[Any]
    """Endpoints asked every cycle (several sockets, or none: MDS, test doubles)."""

    @property
    def endpoints_by_fd(self) -> dict[int, Any]:
        """The endpoints read only when their one descriptor is ready, by descriptor (read-only use)."""
        return self._by_fd

    def _group_endpoints(self) -> None:
        """Rebuild :attr:`_by_fd` and :attr:`_always` from :attr:`endpoints` (after any change to
        them or their destinations), so an idle cycle costs nothing per endpoint."""
        self._by_fd, self._always = {}, []
        for endpoint in self.endpoints:
            fd = getattr(endpoint, "ready_fd", -1)  # doubles without one are asked every cycle
            if type(fd) is int and fd >= 0 and fd not in self._by_fd:
                self._by_fd[fd] = endpoint
            else:
                self._always.append(endpoint)

    def _poll_endpoints(self, now_ns: int) -> int:
        """Read the endpoints with datagrams waiting: those whose descriptor the cycle's epoll
        found ready, and those asked every cycle; every endpoint where there is no epoll."""
        ready = self.ready_sockets.ready()
        work = 0
        if ready is None:
            for endpoint in self.endpoints:
                try:
                    work += endpoint.poll(now_ns)
                except OSError as ex:
                    self.report(ex)
            return work
        if ready:
            by_fd = self._by_fd
            for fd in ready:
                endpoint = by_fd.get(fd)
                if endpoint is not None:
                    try:
                        work += endpoint.poll_ready(now_ns, ready)
                    except OSError as ex:
                        self.report(ex)
        for endpoint in self._always:
            try:
                work += endpoint.poll_ready(now_ns, ready)
            except OSError as ex:
                self.report(ex)
        return work

    # commands (run on the agent's thread)
    def on_add_endpoint(self, endpoint: Any) -> None:
        self.endpoints.append(endpoint)
        self.ready_sockets.add(endpoint.transports())
        self._group_endpoints()

    def on_remove_endpoint(self, endpoint: Any) -> None:
        if endpoint in self.endpoints:
            self.endpoints.remove(endpoint)
            self.ready_sockets.remove(endpoint.transports())
            self._group_endpoints()
        if self.conductor_proxy is not None:
            self.conductor_proxy.on_endpoint_removed(endpoint)

    def on_close(self) -> None:
        self.ready_sockets.close()


class Sender(_NetworkAgent):
    """Sends data for every network publication and polls control frames."""

    def __init__(
        self, status_poll_ratio: int, sm_timeout_ns: int, nano_clock: Callable[[], int] = nano_time,
        ready_sockets: ReadySockets | None = None,
    ) -> None:
        self.commands = CommandQueue()
        self._pending = self.commands.pending
        self.ready_sockets = ready_sockets if ready_sockets is not None else ReadySockets()
        self.publications: list[Any] = []
        self.endpoints: list[Any] = []
        self.status_poll_ratio = max(1, status_poll_ratio)
        self.control_poll_timeout_ns = sm_timeout_ns // 2
        self.nano_clock = nano_clock
        self._duty_cycle = 0
        self._time_of_last_control_poll_ns = 0
        self._next_liveness_check_ns = 0
        self._round_robin = 0
        self._group_endpoints()

    def role_name(self) -> str:
        return "sender"

    def do_work(self) -> int:
        now_ns = self.nano_clock()
        work = self.commands.drain() if self._pending else 0
        endpoints = self.endpoints
        bytes_sent = 0
        pubs = self.publications
        n = len(pubs)
        # Each publication's common case in one C call (tx_send), its full send() when that
        # declines (-1) or where there is no C path (tx_send is send).
        if n == 1:
            pub = pubs[0]
            try:
                sent = pub.tx_send(now_ns)
                bytes_sent = sent if sent >= 0 else pub.send(now_ns)
            except OSError as ex:  # e.g. EHOSTUNREACH: report it
                self.report(ex)
        elif n:
            start = self._round_robin = (self._round_robin + 1) % n
            for i in range(n):
                pub = pubs[(start + i) % n]
                try:
                    sent = pub.tx_send(now_ns)
                    bytes_sent += sent if sent >= 0 else pub.send(now_ns)
                except OSError as ex:  # e.g. EHOSTUNREACH: report it and serve the others
                    self.report(ex)
        self._duty_cycle += 1
        if (
            self._duty_cycle >= self.status_poll_ratio
            or bytes_sent == 0
            or now_ns - self._time_of_last_control_poll_ns > self.control_poll_timeout_ns
        ):
            self._duty_cycle = 0
            self._time_of_last_control_poll_ns = now_ns
            work += self._poll_endpoints(now_ns)
            if now_ns - self._next_liveness_check_ns >= 0:  # timeouts of seconds: a look a millisecond
                self._next_liveness_check_ns = now_ns + LIVENESS_CHECK_INTERVAL_NS
                for endpoint in endpoints:
                    endpoint.check_liveness(now_ns)
        if now_ns >= self._re_resolution_deadline_ns and self._re_resolution_due(now_ns) and self.conductor_proxy:
            for endpoint in endpoints:
                endpoint.check_for_re_resolution(now_ns, self.conductor_proxy)
        return work + (1 if bytes_sent else 0)

    # commands (run on the sender thread)
    def on_add_publication(self, publication: Any) -> None:
        self.publications.append(publication)
        publication.endpoint.add_publication(publication)

    def on_remove_publication(self, publication: Any) -> None:
        if publication in self.publications:
            self.publications.remove(publication)
        publication.endpoint.remove_publication(publication)
        if self.conductor_proxy is not None:
            self.conductor_proxy.on_publication_removed(publication)

    def on_add_endpoint(self, endpoint: Any) -> None:
        super().on_add_endpoint(endpoint)
        endpoint.time_of_last_sm_ns = self.nano_clock()

    def on_resolution_change(self, endpoint: Any, name: str, address: Any) -> None:
        endpoint.resolution_change(name, address)

    def on_add_destination(self, endpoint: Any, address: Any, correlation_id: int, channel: str) -> None:
        endpoint.tracker.add_destination(address, self.nano_clock(), correlation_id, channel)

    def on_remove_destination(self, endpoint: Any, address: Any) -> None:
        endpoint.tracker.remove_destination(address)

    def on_remove_destination_by_id(self, endpoint: Any, destination_registration_id: int) -> None:
        endpoint.tracker.remove_destination_by_id(destination_registration_id)


class Receiver(_NetworkAgent):
    """Reads data and SETUP frames, sends status messages and NAKs for every image."""

    def __init__(self, nano_clock: Callable[[], int] = nano_time, ready_sockets: ReadySockets | None = None) -> None:
        self.commands = CommandQueue()
        self._pending = self.commands.pending
        self.ready_sockets = ready_sockets if ready_sockets is not None else ReadySockets()
        self.endpoints: list[Any] = []
        self.images: list[Any] = []
        self._control_setups: list[Any] = []
        """Endpoints with a destination of explicit control (SEND_SETUPs to send when due)."""
        self._group_endpoints()
        self.nano_clock = nano_clock

    def role_name(self) -> str:
        return "receiver"

    def do_work(self) -> int:
        now_ns = self.nano_clock()
        work = self.commands.drain() if self._pending else 0
        work += self._poll_endpoints(now_ns)
        for endpoint in self._control_setups:
            try:
                work += endpoint.send_control_setups(now_ns)
            except OSError as ex:
                self.report(ex)
        if now_ns >= self._re_resolution_deadline_ns and self._re_resolution_due(now_ns) and self.conductor_proxy:
            for endpoint in self.endpoints:
                endpoint.check_for_re_resolution(now_ns, self.conductor_proxy)
        for image in self.images:
            try:
                # the images' own "nothing due" checks, inline: no SM change and the SM timeout
                # not expired (also what the ERR frames of a rejected image wait for), no new loss
                if image.sm_change != image.last_sm_change or now_ns - image.time_of_last_sm_ns >= image.sm_timeout_ns:
                    work += image.send_pending_status_message(now_ns)
                if image.loss_change != image.last_loss_change:
                    work += image.send_pending_loss(now_ns)
                if image.measures_rtt:
                    work += image.initiate_rttm(now_ns)
            except OSError as ex:  # one unreachable source must not silence the other images
                self.report(ex)
        return work

    def _group_endpoints(self) -> None:
        super()._group_endpoints()
        self._control_setups = [e for e in self.endpoints if getattr(e, "sends_control_setups", True) is not False]

    def has_feedback_due(self) -> bool:
        """Whether an image has a status message or NAK scheduled (by the conductor) to send."""
        for image in self.images:
            if image.sm_change != image.last_sm_change or image.loss_change != image.last_loss_change:
                return True
        return False

    # commands (run on the receiver thread)
    def on_add_endpoint(self, endpoint: Any) -> None:
        super().on_add_endpoint(endpoint)
        now_ns = self.nano_clock()
        for destination in getattr(endpoint, "destinations", ()):
            destination.time_of_last_activity_ns = now_ns

    def on_resolution_change(self, endpoint: Any, destination: Any, address: Any) -> None:
        endpoint.resolution_change(destination, address)

    def on_add_destination(self, endpoint: Any, destination: Any) -> None:
        destination.time_of_last_activity_ns = self.nano_clock()
        endpoint.add_destination(destination)
        if endpoint in self.endpoints:
            self.ready_sockets.add([getattr(destination, "transport", None)])
            self._group_endpoints()

    def on_remove_destination(self, endpoint: Any, destination: Any) -> None:
        endpoint.remove_destination(destination)
        self.ready_sockets.remove([getattr(destination, "transport", None)])
        if endpoint in self.endpoints:
            self._group_endpoints()
        if self.conductor_proxy is not None:
            self.conductor_proxy.on_receive_destination_removed(destination)

    def on_add_subscription(self, endpoint: Any, stream_id: int, session_id: int | None) -> None:
        endpoint.add_interest(stream_id, session_id)

    def on_remove_subscription(self, endpoint: Any, stream_id: int, session_id: int | None) -> None:
        endpoint.remove_interest(stream_id, session_id)

    def on_request_setup(self, endpoint: Any, stream_id: int, session_id: int) -> None:
        """A response subscription asks its responder for a SETUP again (explicit control)."""
        endpoint.elicit_setup(stream_id, session_id)

    def on_add_image(self, image: Any) -> None:
        self.images.append(image)
        image.endpoint.add_image(image)

    def on_remove_image(self, image: Any) -> None:
        """Out of dispatch (LINGER); the image's log stays until it is released."""
        if image in self.images:
            self.images.remove(image)
        image.endpoint.remove_image(image)

    def on_release_image(self, image: Any) -> None:
        """Out of dispatch for good (DONE); the conductor then frees the log and counters."""
        self.on_remove_image(image)
        if self.conductor_proxy is not None:
            self.conductor_proxy.on_image_released(image)

    def on_image_deleted(self, endpoint: Any, stream_id: int, session_id: int) -> None:
        """The session may set up a new image: no SETUP in progress, no cool-down."""
        endpoint.clear_init_in_progress(stream_id, session_id)
        endpoint.remove_cool_down(stream_id, session_id)

    def on_clear_init_in_progress(self, endpoint: Any, stream_id: int, session_id: int) -> None:
        endpoint.clear_init_in_progress(stream_id, session_id)

    def on_remove_cool_down(self, endpoint: Any, stream_id: int, session_id: int) -> None:
        endpoint.remove_cool_down(stream_id, session_id)

    def on_reject_image(self, image: Any, reason: bytes) -> None:
        image.reject(reason)

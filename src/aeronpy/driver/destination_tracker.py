"""Destinations of a multi-destination-cast (MDC) send channel endpoint (driver-behaviour §10).

Sans-IO: the tracker never reads a clock or owns a socket.  Time is a parameter and
:meth:`DestinationTracker.send` writes through the transport it is given (anything with
``send(datagram, address) -> int``).  It runs on the sender thread.

* Manual control (``control-mode=manual``): destinations are added/removed by the conductor
  (ADD_DESTINATION / REMOVE_DESTINATION / REMOVE_DESTINATION_BY_ID); they never time out.
  Status messages only refresh them (and bind the receiver id to the entry).
* Dynamic control (``control-mode=dynamic``): a status message from an unknown
  ``(receiver id, source port)`` adds a destination at the SM's source address; destinations
  silent for :data:`DESTINATION_TIMEOUT_NS` are dropped.

Matching (as in Aeron): an entry with a known receiver id matches an SM with the same receiver
id from the same port (the host may change); an entry without one (added manually, not yet
heard from) matches the same host and port.

The optional ``counter`` (``mdc-num-dest``) is set to the number of destinations on every
change.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any, Protocol

DESTINATION_TIMEOUT_NS = 5_000_000_000
"""Aeron's fixed destination timeout (not configurable in the C driver)."""

Address = tuple[str, int]


class _Transport(Protocol):
    def send(self, datagram: Any, address: Any = None) -> int: ...


class _Counter(Protocol):
    def set(self, value: int) -> None: ...


@dataclass
class Destination:
    """One destination of an MDC endpoint."""

    address: Address
    time_of_last_activity_ns: int
    receiver_id: int | None = None
    registration_id: int | None = None
    """The ADD_DESTINATION correlation id (manual), ``None`` for learnt destinations."""
    channel: str | None = None


def _packed(host: str) -> bytes:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.inet_pton(family, host.partition("%")[0])
    except (OSError, ValueError):
        return host.encode()


def same_address(a: Address, b: Address) -> bool:
    return a[1] == b[1] and _packed(a[0]) == _packed(b[0])


class DestinationTracker:
    """The destinations an MDC send endpoint fans its datagrams out to."""

    def __init__(self, is_manual_control_mode: bool, timeout_ns: int | None = None, counter: _Counter | None = None) -> None:
        self.is_manual_control_mode = is_manual_control_mode
        self.timeout_ns = DESTINATION_TIMEOUT_NS if timeout_ns is None else timeout_ns
        self.counter = counter
        self.destinations: list[Destination] = []
        self._round_robin = 0

    def __len__(self) -> int:
        return len(self.destinations)

    @property
    def is_dynamic_control_mode(self) -> bool:
        return not self.is_manual_control_mode

    def _update_counter(self) -> None:
        if self.counter is not None:
            self.counter.set(len(self.destinations))

    def _expired(self, destination: Destination, now_ns: int) -> bool:
        return not self.is_manual_control_mode and now_ns > destination.time_of_last_activity_ns + self.timeout_ns

    # ------------------------------------------------------------------ data path
    def send(self, transport: _Transport, datagram: Any, now_ns: int) -> int:
        """Send ``datagram`` to every live destination, starting one further along each call.

        Returns the datagram length (like Aeron, a send to no destination still "succeeds", so
        the sender position advances) or 0 when any send was short."""
        destinations = self.destinations
        n = len(destinations)
        length = len(datagram)
        if n == 0:
            return length
        start = self._round_robin % n
        self._round_robin = start + 1
        result = length
        expired = False
        for i in range(n):
            destination = destinations[(start + i) % n]
            if self._expired(destination, now_ns):
                expired = True
                continue
            try:
                if transport.send(datagram, destination.address) != length:
                    result = 0
            except OSError:
                result = 0
        if expired:
            self.remove_inactive(now_ns)
        return result

    def remove_inactive(self, now_ns: int) -> int:
        """Drop dynamic destinations not heard from within the timeout; returns how many."""
        if self.is_manual_control_mode:
            return 0
        before = len(self.destinations)
        self.destinations = [d for d in self.destinations if not self._expired(d, now_ns)]
        removed = before - len(self.destinations)
        if removed:
            self._update_counter()
        return removed

    # ------------------------------------------------------------------ control frames
    @staticmethod
    def _matches(destination: Destination, receiver_id: int, address: Address) -> bool:
        if destination.receiver_id is not None:
            return destination.receiver_id == receiver_id and destination.address[1] == address[1]
        return same_address(destination.address, address)

    def on_status_message(self, receiver_id: int, address: Address, now_ns: int) -> None:
        """An SM (any kind, incl. SEND_SETUP) arrived from ``address``."""
        for destination in self.destinations:
            if self._matches(destination, receiver_id, address):
                if destination.receiver_id is None:
                    destination.receiver_id = receiver_id
                destination.time_of_last_activity_ns = now_ns
                return
        if not self.is_manual_control_mode:
            self.destinations.append(Destination(address, now_ns, receiver_id=receiver_id))
            self._update_counter()

    def find_registration_id(self, receiver_id: int, address: Address) -> int | None:
        for destination in self.destinations:
            if self._matches(destination, receiver_id, address):
                return destination.registration_id
        return None

    # ------------------------------------------------------------------ manual control
    def add_destination(self, address: Address, now_ns: int, registration_id: int | None = None, channel: str | None = None) -> None:
        self.destinations.append(Destination(address, now_ns, registration_id=registration_id, channel=channel))
        self._update_counter()

    def remove_destination(self, address: Address) -> Destination | None:
        for i, destination in enumerate(self.destinations):
            if same_address(destination.address, address):
                del self.destinations[i]
                self._update_counter()
                return destination
        return None

    def remove_destination_by_id(self, registration_id: int) -> Destination | None:
        for i, destination in enumerate(self.destinations):
            if destination.registration_id == registration_id:
                del self.destinations[i]
                self._update_counter()
                return destination
        return None

"""Test support shipped with the package: a manual clock and an in-memory datagram network.

With them a whole media driver (and its clients) runs in one process with no sockets and no
sleeps: the test advances time and decides which datagrams arrive, twice, late or not at all.

    clock = ManualClock()
    network = InMemoryNetwork()
    ctx = DriverContext.from_properties(env={}, threading_mode="INVOKER", aeron_dir=...,
                                        transport_factory=network.factory(),
                                        nano_clock=clock.nano_time, epoch_clock=clock.epoch_ms)
"""

from aeronpy.testing.clock import ManualClock
from aeronpy.testing.network import Datagram, InMemoryNetwork, InMemoryTransport

__all__ = ["Datagram", "InMemoryNetwork", "InMemoryTransport", "ManualClock"]

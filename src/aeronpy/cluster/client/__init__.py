"""The cluster client (cluster.md §3): connect a session, offer ingress, poll egress.

::

    ctx = ClusterClientContext.from_properties(
        ingress_channel="aeron:udp", ingress_endpoints="0=localhost:20110,1=localhost:20111",
        egress_channel="aeron:udp?endpoint=localhost:0", egress_listener=MyListener())
    with AeronCluster.connect(ctx) as cluster:
        cluster.offer(b"hello")
        while True:
            cluster.poll_egress()      # keep polling: it also follows leader changes

:mod:`aeronpy.cluster.client.aio` has the asyncio form.
"""

from __future__ import annotations

from aeronpy.cluster.client.aeron_cluster import AeronCluster, ClientState
from aeronpy.cluster.client.async_connect import AsyncConnect, ConnectState
from aeronpy.cluster.client.context import ClusterClientContext
from aeronpy.cluster.client.credentials import CredentialsSupplier, NullCredentialsSupplier, StaticCredentialsSupplier
from aeronpy.cluster.client.egress_adapter import EgressAdapter
from aeronpy.cluster.client.egress_poller import EgressPoller
from aeronpy.cluster.client.errors import AuthenticationError, ClusterClosedError, ClusterError, ClusterTimeoutError
from aeronpy.cluster.client.listener import ControlledEgressListener, EgressListener, EgressListenerExtension

__all__ = [
    "AeronCluster",
    "ClientState",
    "AsyncConnect",
    "ConnectState",
    "ClusterClientContext",
    "CredentialsSupplier",
    "NullCredentialsSupplier",
    "StaticCredentialsSupplier",
    "EgressAdapter",
    "EgressPoller",
    "EgressListener",
    "ControlledEgressListener",
    "EgressListenerExtension",
    "ClusterError",
    "AuthenticationError",
    "ClusterTimeoutError",
    "ClusterClosedError",
]

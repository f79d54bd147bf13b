"""The cluster client for asyncio, on top of the poll-able one::

    async with await AsyncAeronCluster.connect(ctx) as cluster:
        await cluster.offer(b"hello")        # waits out back pressure and leader changes
        async for message in cluster.messages():
            print(message.data)

A task of the client polls egress while it is open (so leader changes are followed even when
the application is not reading); messages and events are queued for :meth:`AsyncAeronCluster.messages`
and :meth:`AsyncAeronCluster.events`.  Idle waits back off instead of spinning the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from dataclasses import dataclass
from types import TracebackType
from typing import Any, AsyncIterator, Union

from aeronpy.aio.backoff import Backoff
from aeronpy.client import results
from aeronpy.cluster.client.aeron_cluster import AeronCluster, ClientState
from aeronpy.cluster.client.context import ClusterClientContext
from aeronpy.cluster.client.errors import ClusterClosedError, ClusterTimeoutError
from aeronpy.cluster.client.listener import EgressListener
from aeronpy.cluster.codecs import AdminRequestType, AdminResponseCode, EventCode

__all__ = ["AsyncAeronCluster", "EgressMessage", "SessionEvent", "NewLeader", "AdminResponse"]


@dataclass(frozen=True, slots=True)
class EgressMessage:
    """A message from the cluster's services (a copy of the payload)."""

    cluster_session_id: int
    timestamp: int
    data: bytes


@dataclass(frozen=True, slots=True)
class SessionEvent:
    correlation_id: int
    cluster_session_id: int
    leadership_term_id: int
    leader_member_id: int
    code: EventCode
    detail: str


@dataclass(frozen=True, slots=True)
class NewLeader:
    cluster_session_id: int
    leadership_term_id: int
    leader_member_id: int
    ingress_endpoints: str


@dataclass(frozen=True, slots=True)
class AdminResponse:
    cluster_session_id: int
    correlation_id: int
    request_type: AdminRequestType
    response_code: AdminResponseCode
    message: str
    payload: bytes


Event = Union[SessionEvent, NewLeader, AdminResponse]
_END = object()


class _QueueListener(EgressListener):
    """Copies egress into the client's queues, after the application's own listener (if any)."""

    def __init__(self, chained: Any) -> None:
        self.chained = chained
        self.messages: asyncio.Queue[Any] = asyncio.Queue()
        self.events: asyncio.Queue[Any] = asyncio.Queue()

    def on_message(self, cluster_session_id: int, timestamp: int, buffer: Any, offset: int, length: int,
                   header: Any) -> None:
        if self.chained is not None:
            self.chained.on_message(cluster_session_id, timestamp, buffer, offset, length, header)
        self.messages.put_nowait(EgressMessage(cluster_session_id, timestamp, buffer.get_bytes(offset, length)))

    def on_session_event(self, correlation_id: int, cluster_session_id: int, leadership_term_id: int,
                         leader_member_id: int, code: EventCode, detail: str) -> None:
        if self.chained is not None:
            self.chained.on_session_event(correlation_id, cluster_session_id, leadership_term_id, leader_member_id,
                                          code, detail)
        self.events.put_nowait(SessionEvent(correlation_id, cluster_session_id, leadership_term_id,
                                            leader_member_id, code, detail))

    def on_new_leader(self, cluster_session_id: int, leadership_term_id: int, leader_member_id: int,
                      ingress_endpoints: str) -> None:
        if self.chained is not None:
            self.chained.on_new_leader(cluster_session_id, leadership_term_id, leader_member_id, ingress_endpoints)
        self.events.put_nowait(NewLeader(cluster_session_id, leadership_term_id, leader_member_id, ingress_endpoints))

    def on_admin_response(self, cluster_session_id: int, correlation_id: int, request_type: AdminRequestType,
                          response_code: AdminResponseCode, message: str, payload: bytes) -> None:
        if self.chained is not None:
            self.chained.on_admin_response(cluster_session_id, correlation_id, request_type, response_code, message,
                                           payload)
        self.events.put_nowait(AdminResponse(cluster_session_id, correlation_id, request_type, response_code,
                                             message, payload))


class AsyncAeronCluster:
    """A cluster session for asyncio; get one with ``await AsyncAeronCluster.connect(ctx)``."""

    def __init__(self, cluster: AeronCluster, listener: _QueueListener, owned_aeron: Any, max_idle_sleep: float) -> None:
        self.cluster = cluster
        """The poll-able :class:`AeronCluster` underneath (use it from the loop's thread only)."""
        self._listener = listener
        self._owned_aeron = owned_aeron
        self._max_idle_sleep = max_idle_sleep
        self.error: BaseException | None = None
        """What stopped the egress task, if it failed."""
        self._task = asyncio.get_running_loop().create_task(self._poll_egress(), name="aeron-cluster-egress")

    @classmethod
    async def connect(cls, ctx: ClusterClientContext, max_idle_sleep: float = 1e-3) -> AsyncAeronCluster:
        """Connect without blocking the loop; raises as :meth:`AeronCluster.connect` does."""
        from aeronpy.cluster.client.async_connect import AsyncConnect

        listener = _QueueListener(ctx.egress_listener)
        owned = None
        if ctx.aeron is None:
            from aeronpy.client.aeron import Aeron
            from aeronpy.client.context import Context

            owned = await asyncio.to_thread(
                Aeron.connect, Context(aeron_dir=ctx.aeron_dir, client_name=ctx.aeron_client_name)
            )
        try:
            own_ctx = dataclasses.replace(ctx, egress_listener=listener, aeron=owned if owned is not None else ctx.aeron)
            connect = AsyncConnect(own_ctx)
            backoff = Backoff(max_sleep=max_idle_sleep, min_sleep=min(50e-6, max_idle_sleep))
            step = connect.step
            while True:
                cluster = connect.poll()
                if cluster is not None:
                    return cls(cluster, listener, owned, max_idle_sleep)
                if connect.step != step:
                    step = connect.step
                    backoff.reset()
                await backoff.idle()
        except BaseException:
            if owned is not None:
                owned.close()
            raise

    # -- properties ------------------------------------------------------------------------

    @property
    def cluster_session_id(self) -> int:
        return self.cluster.cluster_session_id

    @property
    def leadership_term_id(self) -> int:
        return self.cluster.leadership_term_id

    @property
    def leader_member_id(self) -> int:
        return self.cluster.leader_member_id

    @property
    def state(self) -> ClientState:
        return self.cluster.state

    @property
    def is_closed(self) -> bool:
        return self.cluster.is_closed

    # -- ingress ---------------------------------------------------------------------------

    async def offer(self, payload: bytes | bytearray | memoryview, timeout: float | None = None) -> int:
        """Offer ``payload``, waiting out back pressure and a leader change; returns the new
        position.  Raises :class:`ClusterClosedError` if the session closes first and
        :class:`ClusterTimeoutError` after ``timeout`` seconds (None: no limit of its own)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        backoff = Backoff(max_sleep=self._max_idle_sleep, min_sleep=min(50e-6, self._max_idle_sleep))
        data = bytes(payload)
        while True:
            if self.cluster.is_closed:
                raise ClusterClosedError(self._closed_reason("offer"))
            result = self.cluster.offer(data)
            if result > 0:
                return result
            if result == results.MAX_POSITION_EXCEEDED:
                raise ClusterClosedError("offer: the ingress publication reached its maximum position")
            if deadline is not None and loop.time() > deadline:
                raise ClusterTimeoutError(f"offer not accepted within {timeout:g}s ({results.result_name(result)}, "
                                          f"session {self.cluster.state.name})")
            await backoff.idle()

    def send_keep_alive(self) -> bool:
        return self.cluster.send_keep_alive()

    def send_admin_request_to_take_a_snapshot(self, correlation_id: int) -> bool:
        return self.cluster.send_admin_request_to_take_a_snapshot(correlation_id)

    # -- egress ----------------------------------------------------------------------------

    async def _poll_egress(self) -> None:
        backoff = Backoff(max_sleep=self._max_idle_sleep, min_sleep=min(50e-6, self._max_idle_sleep))
        try:
            while not self.cluster.is_closed:
                if self.cluster.poll_egress() > 0:
                    backoff.reset()
                    await asyncio.sleep(0)
                else:
                    await backoff.idle()
        except BaseException as e:
            self.error = e
            if not isinstance(e, asyncio.CancelledError):
                self.cluster.close()
            raise
        finally:
            self._listener.messages.put_nowait(_END)
            self._listener.events.put_nowait(_END)

    def _closed_reason(self, what: str) -> str:
        if self.error is not None and not isinstance(self.error, asyncio.CancelledError):
            return f"{what}: the session closed: egress failed: {self.error}"
        return f"{what}: the session is closed"

    async def messages(self) -> AsyncIterator[EgressMessage]:
        """Messages from the services, in order, until the session closes."""
        queue = self._listener.messages
        while True:
            item = await queue.get()
            if item is _END:
                queue.put_nowait(_END)
                return
            yield item

    async def events(self) -> AsyncIterator[Event]:
        """SessionEvent / NewLeader / AdminResponse, in order, until the session closes."""
        queue = self._listener.events
        while True:
            item = await queue.get()
            if item is _END:
                queue.put_nowait(_END)
                return
            yield item

    async def close(self) -> None:
        """Close the session (SessionCloseRequest if connected) and stop the egress task."""
        self.cluster.close()
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        if self._owned_aeron is not None:
            self._owned_aeron.close()
            self._owned_aeron = None

    async def __aenter__(self) -> AsyncAeronCluster:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

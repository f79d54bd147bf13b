"""Messages from a service container to its consensus module on the control channel, stream
105 (cluster.md §2.5): ScheduleTimer, CancelTimer, CloseSession, ServiceAck and service
messages (session header whose ``clusterSessionId`` is the sending service id).

Each send returns False (or the offer result) when back-pressured so the caller can retry with
its idle strategy; NOT_CONNECTED, CLOSED and MAX_POSITION_EXCEEDED raise
:class:`~aeronpy.cluster.service.ClusterError`: the consensus module is not there."""

from __future__ import annotations

from typing import Any

from aeronpy.client import results
from aeronpy.cluster.codecs import T
from aeronpy.cluster.service.errors import ClusterError
from aeronpy.protocol import sbe

__all__ = ["ConsensusModuleProxy", "ConsensusModuleNotConnectedError", "check_result"]


class ConsensusModuleNotConnectedError(ClusterError):
    """The control publication to the consensus module has no subscriber (yet, or any more)."""


def check_result(position: int, what: str) -> None:
    """Raise for results that retrying cannot fix."""
    if position == results.NOT_CONNECTED:
        raise ConsensusModuleNotConnectedError(f"{what}: publication to the consensus module is not connected")
    if position == results.CLOSED:
        raise ClusterError(f"{what}: publication to the consensus module is closed")
    if position == results.MAX_POSITION_EXCEEDED:
        raise ClusterError(f"{what}: publication to the consensus module is at its max position")


class ConsensusModuleProxy:
    """Typed sends over a publication to the consensus module (stream 105)."""

    def __init__(self, publication: Any) -> None:
        self.publication = publication

    def _send(self, spec: sbe.MessageSpec, **values: Any) -> bool:
        position = int(self.publication.offer(sbe.encode(spec, **values)))
        if position > 0:
            return True
        check_result(position, spec.name)
        return False

    def schedule_timer(self, correlation_id: int, deadline: int) -> bool:
        return self._send(T.ScheduleTimer, correlation_id=correlation_id, deadline=deadline)

    def cancel_timer(self, correlation_id: int) -> bool:
        return self._send(T.CancelTimer, correlation_id=correlation_id)

    def close_session(self, cluster_session_id: int) -> bool:
        return self._send(T.CloseSession, cluster_session_id=cluster_session_id)

    def ack(self, log_position: int, timestamp: int, ack_id: int, relevant_id: int, service_id: int) -> bool:
        return self._send(
            T.ServiceAck, log_position=log_position, timestamp=timestamp, ack_id=ack_id, relevant_id=relevant_id,
            service_id=service_id,
        )

    def cluster_members_query(self, correlation_id: int, extended: bool = True) -> bool:
        return self._send(T.ClusterMembersQuery, correlation_id=correlation_id, extended=1 if extended else 0)

    def offer(self, message: bytes | bytearray) -> int:
        """Offer a whole service message (session header + payload); the offer result."""
        position = int(self.publication.offer(message))
        if position < 0:
            check_result(position, "service message")
        return position

    def close(self) -> None:
        self.publication.close()

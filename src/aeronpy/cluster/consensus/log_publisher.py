"""The leader's side of the replicated log (stream 100, cluster.md §2.4, §4.5): appends every
log message to the log's exclusive publication and manages the followers' MDC destinations."""

from __future__ import annotations

import struct
from typing import Any

from aeronpy.cluster.codecs import T, ClusterAction, ClusterTimeUnit, CloseReason
from aeronpy.cluster.consensus.cluster_session import ClusterSession
from aeronpy.protocol import sbe

__all__ = ["LogPublisher", "position_after"]

_SESSION_HEADER = struct.Struct("<HHHHqqq")
_DATA_HEADER_LENGTH = 32


def position_after(position: int, message_length: int) -> int:
    """Log position just after a single-frame message of ``message_length`` appended at ``position``."""
    return position + ((_DATA_HEADER_LENGTH + message_length + 31) & ~31)


class LogPublisher:
    """Appends to the log publication; every append returns the new position or <= 0 (not appended)."""

    def __init__(self, publication: Any) -> None:
        self.publication = publication

    @property
    def position(self) -> int:
        return int(self.publication.position)

    @property
    def session_id(self) -> int:
        return int(self.publication.session_id)

    def _offer(self, message: bytes | bytearray, attempts: int = 3) -> int:
        result = 0
        for _ in range(attempts):
            result = int(self.publication.offer(message))
            if result > 0:
                return result
        return result

    def append_message(self, leadership_term_id: int, cluster_session_id: int, timestamp: int,
                       message: bytearray) -> int:
        """A session message (header + payload) with the header rewritten by the leader."""
        struct.pack_into("<qqq", message, 8, leadership_term_id, cluster_session_id, timestamp)
        return self._offer(message)

    def append_session_open(self, session: ClusterSession, leadership_term_id: int, timestamp: int) -> int:
        return self._offer(sbe.encode(
            T.SessionOpenEvent, leadership_term_id=leadership_term_id, correlation_id=session.correlation_id,
            cluster_session_id=session.id, timestamp=timestamp, response_stream_id=session.response_stream_id,
            response_channel=session.response_channel, encoded_principal=session.encoded_principal))

    def append_session_close(self, session_id: int, leadership_term_id: int, timestamp: int,
                             reason: CloseReason) -> int:
        return self._offer(sbe.encode(T.SessionCloseEvent, leadership_term_id=leadership_term_id,
                                      cluster_session_id=session_id, timestamp=timestamp, close_reason=reason))

    def append_timer(self, correlation_id: int, leadership_term_id: int, timestamp: int) -> int:
        return self._offer(sbe.encode(T.TimerEvent, leadership_term_id=leadership_term_id,
                                      correlation_id=correlation_id, timestamp=timestamp), attempts=1)

    def append_cluster_action(self, leadership_term_id: int, timestamp: int, action: ClusterAction,
                              flags: int = 0) -> int:
        length = sbe.HEADER_LENGTH + T.ClusterActionRequest.block_length
        log_position = position_after(self.position, length)
        return self._offer(sbe.encode(T.ClusterActionRequest, leadership_term_id=leadership_term_id,
                                      log_position=log_position, timestamp=timestamp, action=action, flags=flags))

    def append_new_leadership_term_event(self, leadership_term_id: int, timestamp: int, term_base_log_position: int,
                                         leader_member_id: int, log_session_id: int, app_version: int) -> int:
        length = sbe.HEADER_LENGTH + T.NewLeadershipTermEvent.block_length
        log_position = position_after(self.position, length)
        return self._offer(sbe.encode(
            T.NewLeadershipTermEvent, leadership_term_id=leadership_term_id, log_position=log_position,
            timestamp=timestamp, term_base_log_position=term_base_log_position, leader_member_id=leader_member_id,
            log_session_id=log_session_id, time_unit=ClusterTimeUnit.MILLIS, app_version=app_version))

    def add_destination(self, channel: str) -> None:
        self.publication.async_add_destination(channel)

    def remove_destination(self, channel: str) -> None:
        self.publication.async_remove_destination(channel)

    def close(self) -> None:
        try:
            self.publication.close()
        except Exception:  # noqa: BLE001
            pass

"""A client session as the consensus module sees it (cluster.md §1.6, §3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from aeronpy.cluster.codecs import CloseReason

__all__ = ["SessionState", "ClusterSession"]


class SessionState(IntEnum):
    INIT = 0
    CONNECTING = 1
    CONNECTED = 2
    CHALLENGED = 3
    AUTHENTICATED = 4
    REJECTED = 5
    OPEN = 6
    CLOSING = 7
    INVALID = 8
    CLOSED = 9


@dataclass(eq=False)
class ClusterSession:
    """One session: ids, its egress (response) channel and publication, state and activity."""

    id: int
    response_stream_id: int
    response_channel: str
    correlation_id: int = -1
    state: SessionState = SessionState.INIT
    opened_log_position: int = -1
    time_of_last_activity_ns: int = 0
    close_reason: CloseReason | None = None
    encoded_principal: bytes = b""
    event_code: int = 0
    event_detail: str = ""
    has_new_leader_event_pending: bool = False
    has_open_event_pending: bool = True  # as Aeron: a session restored from the log or a snapshot also
    # gets its SessionEvent OK from the member that leads next, before the NewLeaderEvent
    ingress_image_correlation_id: int = -1
    publication: Any = field(default=None, repr=False)
    counter: Any = field(default=None, repr=False)

    def connect(self, aeron: Any) -> None:
        """Add the egress publication (a concurrent publication on the response channel)."""
        if self.publication is None:
            try:
                self.publication = aeron.add_publication(self.response_channel, self.response_stream_id)
            except Exception:  # noqa: BLE001 - a bad response channel makes the session INVALID
                self.state = SessionState.INVALID
                raise

    def disconnect(self) -> None:
        pub, self.publication = self.publication, None
        if pub is not None:
            try:
                pub.close()
            except Exception:  # noqa: BLE001
                pass

    def is_egress_connected(self) -> bool:
        return self.publication is not None and bool(self.publication.is_connected)

    def close(self) -> None:
        self.disconnect()
        counter, self.counter = self.counter, None
        if counter is not None:
            try:
                counter.close()
            except Exception:  # noqa: BLE001
                pass
        self.state = SessionState.CLOSED

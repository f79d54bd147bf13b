"""``ClusteredService``: the callbacks a replicated service implements (cluster.md §5.1).

Every callback runs on the container's agent thread.  State may change only in the log-driven
ones (session open/close/message, timer, new term, snapshot load in ``on_start``); they must be
deterministic: use ``cluster.time`` for time, never the wall clock, randomness or the
environment (§5.3).  Each method here is a no-op, so a service overrides what it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aeronpy.cluster.codecs import CloseReason, ClusterTimeUnit
from aeronpy.cluster.counters import Role

if TYPE_CHECKING:
    from aeronpy.cluster.service.client_session import ClientSession
    from aeronpy.cluster.service.cluster import Cluster

__all__ = ["ClusteredService"]


class ClusteredService:
    """Base class of a service hosted by a :class:`~aeronpy.cluster.service.ClusteredServiceContainer`."""

    def on_start(self, cluster: Cluster, snapshot_image: Any | None) -> None:
        """Once at start.  ``snapshot_image`` (an :class:`~aeronpy.client.Image`, or None when
        there is no snapshot) is positioned just after the container's own snapshot section:
        read what :meth:`on_take_snapshot` wrote, polling with ``cluster.idle_strategy``.
        Sending or scheduling here raises :class:`~aeronpy.cluster.service.ClusterError`."""

    def on_session_open(self, session: ClientSession, timestamp: int) -> None:
        """A client session opened (committed SessionOpenEvent)."""

    def on_session_close(self, session: ClientSession, timestamp: int, close_reason: CloseReason) -> None:
        """A client session closed (committed SessionCloseEvent)."""

    def on_session_message(
        self, session: ClientSession | None, timestamp: int, buffer: Any, offset: int, length: int, header: Any
    ) -> None:
        """A committed message: from a client (``session``) or from a service (``session`` None).
        ``buffer[offset:offset+length]`` is the payload after the 32-byte session header; it is
        only valid during the call."""

    def on_timer_event(self, correlation_id: int, timestamp: int) -> None:
        """A timer scheduled with ``cluster.schedule_timer`` expired (committed TimerEvent)."""

    def on_take_snapshot(self, snapshot_publication: Any) -> None:
        """Write the state to ``snapshot_publication`` (an exclusive publication recorded by the
        local archive); retry back-pressured offers with ``cluster.idle_strategy``.  The state must
        be a pure function of what was applied."""

    def on_role_change(self, new_role: Role) -> None:
        """The member's role changed (FOLLOWER, CANDIDATE, LEADER).  No sending here."""

    def on_terminate(self, cluster: Cluster) -> None:
        """The container is stopping (termination position reached, or closed).  No sending here."""

    def on_new_leadership_term_event(
        self,
        leadership_term_id: int,
        log_position: int,
        timestamp: int,
        term_base_log_position: int,
        leader_member_id: int,
        log_session_id: int,
        time_unit: ClusterTimeUnit,
        app_version: int,
    ) -> None:
        """A new leadership term started (committed NewLeadershipTermEvent)."""

    def do_background_work(self, now_ns: int) -> int:
        """Non-deterministic side work, every duty cycle and inside idle loops; returns the
        amount of work done.  No sending here."""
        return 0

"""Consensus module extensions (Aeron's ``ConsensusModuleExtension``, cluster.md §1.1, §2): code
that runs inside the consensus module itself, instead of (not beside) clustered services —
``aeron.cluster.service.count=0`` with ``aeron.cluster.consensus.module.extension=module:Class``.

The module hands an extension every ingress message whose SBE schema id is not the cluster's
(111) and every such message it reads from the log as a follower or in a replay.  As leader, the
extension appends to the log itself (``ConsensusControlState.log_publication``) and reads the
log back through ``ConsensusControlState.leader_log_subscription`` (a spy on the log from the
term's join position).  Its snapshot data follows the module's own in the CM snapshot:
:meth:`ConsensusModuleExtension.on_take_snapshot` writes it after the END marker and
:meth:`ConsensusModuleExtension.on_start` gets the snapshot image positioned there."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aeronpy.cluster.codecs import CloseReason
from aeronpy.errors import ConfigurationError

if TYPE_CHECKING:
    from aeronpy.cluster.consensus.agent import ConsensusModuleAgent

__all__ = ["ConsensusModuleExtension", "ConsensusControlState", "ConsensusModuleControl", "load_extension"]


@dataclass(frozen=True)
class ConsensusControlState:
    """The log as an extension may use it after an election (Aeron's ``ConsensusControlState``):
    ``log_publication`` (an exclusive publication; None off the leader), ``leader_log_subscription``
    (the leader's own log from the join position; None off the leader), the log recording id and
    the leadership term."""

    log_publication: Any
    leader_log_subscription: Any
    log_recording_id: int
    leadership_term_id: int

    @property
    def is_leader(self) -> bool:
        return self.log_publication is not None


class ConsensusModuleControl:
    """What the module offers its extension (Aeron's ``ConsensusModuleControl``)."""

    def __init__(self, agent: ConsensusModuleAgent) -> None:
        self._agent = agent

    @property
    def member_id(self) -> int:
        return self._agent.member_id

    @property
    def cluster_id(self) -> int:
        return self._agent.ctx.cluster_id

    @property
    def cluster_member(self) -> Any:
        """This member's :class:`~aeronpy.cluster.members.ClusterMember`."""
        return self._agent.this_member

    def time(self) -> int:
        """Cluster time (ms, the cluster's time unit)."""
        return self._agent.epoch_clock()

    @property
    def time_unit(self) -> str:
        return "MILLISECONDS"

    @property
    def idle_strategy(self) -> Any:
        from aeronpy.concurrent.idle_strategy import idle_strategy_from_name

        return idle_strategy_from_name(self._agent.ctx.idle_strategy)

    @property
    def context(self) -> Any:
        """The module's :class:`~aeronpy.cluster.consensus.context.ConsensusModuleContext`."""
        return self._agent.ctx

    @property
    def aeron(self) -> Any:
        return self._agent.aeron

    @property
    def archive(self) -> Any:
        return self._agent.archive

    @property
    def authorisation_service(self) -> Any:
        return self._agent.ctx.authorisation_service

    def get_client_session(self, cluster_session_id: int) -> Any:
        """The open session of that id (``id``, ``response_stream_id``, ``response_channel``,
        ``encoded_principal``), or None."""
        return self._agent.sessions.get(cluster_session_id)

    def close_cluster_session(self, cluster_session_id: int) -> None:
        """Close the session as a service would (leader: SessionCloseEvent, reason SERVICE_ACTION)."""
        self._agent.close_session_by_extension(cluster_session_id)

    @property
    def commit_position_counter_id(self) -> int:
        return int(self._agent.counters["commit"].id)

    def commit_position(self) -> int:
        return self._agent.commit_position()


class ConsensusModuleExtension:
    """Base class of an extension: override what you need; every method defaults to doing
    nothing.  All callbacks run on the consensus module's thread, so none may block for long.

    Message callbacks get the SBE header fields, the buffer, offset and length (ingress: the
    whole message, header included; log: the message after its 8-byte header, as Aeron) and the
    fragment header; they return a :class:`~aeronpy.client.results.ControlledPollAction`
    (``ABORT`` to have an ingress message delivered again) or None for CONTINUE."""

    def on_start(self, control: ConsensusModuleControl, snapshot_image: Any | None) -> None:
        """Once at start: after the CM snapshot was loaded (``snapshot_image`` positioned after
        the module's END marker; read your data from it) or with None when there is no snapshot."""

    def do_work(self, now_ns: int) -> int:
        """Every duty cycle; returns the work done."""
        return 0

    def slow_tick_work(self, now_ns: int) -> int:
        """Every slow tick (10 ms)."""
        return 0

    def consensus_work(self, now_ns: int) -> int:
        """Every duty cycle outside elections (ACTIVE and later states)."""
        return 0

    def on_election_complete(self, state: ConsensusControlState) -> None:
        """An election ended; ``state.is_leader`` says which side of the log this member is on."""

    def on_new_leadership_term(self, state: ConsensusControlState) -> None:
        """A NewLeadershipTermEvent was read from the log (follower or replay)."""

    def on_ingress_extension_message(self, acting_block_length: int, template_id: int, schema_id: int,
                                     acting_version: int, buffer: Any, offset: int, length: int,
                                     header: Any) -> Any:
        """An ingress message of another schema (any role; a follower usually ignores it)."""
        return None

    def on_log_extension_message(self, acting_block_length: int, template_id: int, schema_id: int,
                                 acting_version: int, buffer: Any, offset: int, length: int, header: Any) -> Any:
        """A committed log message of another schema, read as a follower or in a replay."""
        return None

    def on_session_opened(self, cluster_session_id: int) -> None:
        """A client session opened (appended as leader, or read from the log)."""

    def on_session_closed(self, cluster_session_id: int, close_reason: CloseReason) -> None:
        """A client session closed."""

    def on_prepare_for_new_leadership(self) -> None:
        """The member leaves its role for an election; the log publication/subscription go."""

    def on_take_snapshot(self, snapshot_publication: Any) -> None:
        """Write the extension's state to the CM snapshot (after the module's END marker)."""

    def close(self) -> None:
        """The module is closing."""


def load_extension(spec: str) -> ConsensusModuleExtension:
    """A new instance of the extension ``module:Class`` (or ``module.Class``); a
    :class:`~aeronpy.errors.ConfigurationError` naming the property when it cannot be had."""
    prop = "aeron.cluster.consensus.module.extension"
    target = spec.strip()
    if ":" in target:
        module_name, _, attr = target.partition(":")
    else:
        module_name, _, attr = target.rpartition(".")
    if not module_name or not attr:
        raise ConfigurationError(f"{prop}={spec!r}: expected module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigurationError(f"{prop}={spec!r}: cannot import {module_name!r}: {e}") from None
    cls = getattr(module, attr, None)
    if cls is None or not callable(cls):
        raise ConfigurationError(f"{prop}={spec!r}: {module_name!r} has no class {attr!r}")
    try:
        extension = cls()
    except Exception as e:
        raise ConfigurationError(f"{prop}={spec!r}: cannot create it: {e}") from e
    for method in ("on_start", "on_ingress_extension_message", "on_log_extension_message", "do_work"):
        if not callable(getattr(extension, method, None)):
            raise ConfigurationError(f"{prop}={spec!r}: {attr} has no {method}() (subclass ConsensusModuleExtension)")
    return extension  # type: ignore[no-any-return]

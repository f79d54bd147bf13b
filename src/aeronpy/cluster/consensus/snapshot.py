"""The consensus module's own snapshot (cluster.md §4.12): taken into a new archive recording on
the snapshot channel when every service has acknowledged the snapshot position, loaded by replay
at start-up."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

from aeronpy.cluster.codecs import CLUSTER_SCHEMA, NULL_VALUE, T, ClusterTimeUnit, SnapshotMark
from aeronpy.cluster.consensus.channels import with_params
from aeronpy.cluster.consensus.cluster_session import ClusterSession, SessionState
from aeronpy.cluster.errors import ClusterError
from aeronpy.client.results import ControlledPollAction
from aeronpy.logbuffer.fragment_assembler import ControlledFragmentAssembler
from aeronpy.protocol import sbe

__all__ = ["take_consensus_module_snapshot", "load_consensus_module_snapshot", "SNAPSHOT_TYPE_ID"]

SNAPSHOT_TYPE_ID = 1
TIMEOUT_S = 20.0


def _offer(pub: Any, message: bytes, deadline: float) -> None:
    while pub.offer(message) < 0:
        if time.monotonic() > deadline:
            raise ClusterError("timed out writing the consensus module snapshot")
        time.sleep(0.0001)


def take_consensus_module_snapshot(agent: Any, log_position: int, leadership_term_id: int) -> int:
    """Write the CM snapshot at ``log_position``; returns its recording id."""
    from aeronpy.archive.codecs import SourceLocation

    ctx = agent.ctx
    aeron, archive = agent.aeron, agent.archive
    pub = aeron.add_exclusive_publication(ctx.snapshot_channel, ctx.snapshot_stream_id)
    deadline = time.monotonic() + TIMEOUT_S
    try:
        channel = with_params(ctx.snapshot_channel, session_id=pub.session_id)
        archive.start_recording(channel, ctx.snapshot_stream_id, SourceLocation.LOCAL, True)
        counter_id = -1
        while counter_id < 0:
            counter_id = agent._find_rec_pos_by_session(pub.session_id)
            if counter_id < 0:
                if time.monotonic() > deadline:
                    raise ClusterError("snapshot recording did not start")
                time.sleep(0.0005)
        recording_id = struct.unpack_from("<q", aeron.counters_reader.get_counter_key(counter_id), 0)[0]
        marker = dict(type_id=SNAPSHOT_TYPE_ID, log_position=log_position, leadership_term_id=leadership_term_id,
                      index=0, time_unit=ClusterTimeUnit.MILLIS, app_version=ctx.app_version)
        _offer(pub, sbe.encode(T.SnapshotMarker, mark=SnapshotMark.BEGIN, **marker), deadline)
        t0 = agent.trackers[0] if agent.trackers else None
        _offer(pub, sbe.encode(
            T.ConsensusModule, next_session_id=agent.next_committed_session_id,
            next_service_session_id=t0.next_service_session_id if t0 else NULL_VALUE,
            log_service_session_id=t0.log_service_session_id if t0 else NULL_VALUE,
            pending_message_capacity=0), deadline)
        for session in sorted(agent.sessions.values(), key=lambda s: s.id):
            if session.state in (SessionState.OPEN, SessionState.CLOSING):
                _offer(pub, sbe.encode(
                    T.ClusterSession, cluster_session_id=session.id, correlation_id=session.correlation_id,
                    opened_log_position=session.opened_log_position, time_of_last_activity=-1,
                    close_reason=session.close_reason if session.close_reason is not None else 0,
                    response_stream_id=session.response_stream_id, response_channel=session.response_channel),
                    deadline)
        for correlation_id, timer_deadline in agent.timer_service.timers():
            _offer(pub, sbe.encode(T.Timer, correlation_id=correlation_id, deadline=timer_deadline), deadline)
        for tracker in agent.trackers:
            _offer(pub, sbe.encode(
                T.PendingMessageTracker, next_service_session_id=tracker.next_service_session_id,
                log_service_session_id=tracker.log_service_session_id, pending_message_capacity=0,
                service_id=tracker.service_id), deadline)
            for message in tracker.pending:
                _offer(pub, bytes(message), deadline)
        _offer(pub, sbe.encode(T.SnapshotMarker, mark=SnapshotMark.END, **marker), deadline)
        extension = getattr(agent, "extension", None)
        if extension is not None:
            extension.on_take_snapshot(pub)  # its data follows the END marker
        while aeron.counters_reader.get_counter_value(counter_id) < pub.position:
            if time.monotonic() > deadline:
                raise ClusterError("snapshot recording did not catch up")
            time.sleep(0.0005)
        return int(recording_id)
    finally:
        pub.close()


def load_consensus_module_snapshot(agent: Any, recording_id: int,
                                   on_end: Callable[[Any], None] | None = None) -> None:
    """Replay the CM snapshot ``recording_id`` and restore sessions, timers, ids and trackers;
    ``on_end(image)`` (the extension's start) gets the replay image positioned just after the
    END marker before the replay is closed."""
    ctx = agent.ctx
    sub = agent.archive.replay(recording_id, ctx.replay_channel, ctx.replay_stream_id, 0, -2)
    messages: list[bytes] = []
    done = [False]

    def on_message(buffer: Any, offset: int, length: int, header: Any) -> Any:
        data = buffer.get_bytes(offset, length)
        messages.append(data)
        d = sbe.decode(CLUSTER_SCHEMA, data)
        if d is not None and d.spec.name == "SnapshotMarker" and d.get_int("mark") == SnapshotMark.END:
            done[0] = True
            return ControlledPollAction.BREAK
        return ControlledPollAction.CONTINUE

    assembler = ControlledFragmentAssembler(on_message)
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not done[0]:
            if sub.controlled_poll(assembler.on_fragment, 50) == 0:
                if time.monotonic() > deadline:
                    raise ClusterError(f"consensus module snapshot {recording_id} could not be read")
                time.sleep(0.0005)
        if on_end is not None:
            on_end(sub.image_at_index(0))
    finally:
        sub.close()
    tracker = None
    for data in messages:
        d = sbe.decode(CLUSTER_SCHEMA, data)
        if d is None:
            continue
        name = d.spec.name
        if name == "SnapshotMarker":
            if d.get_int("type_id") != SNAPSHOT_TYPE_ID:
                raise ClusterError(f"recording {recording_id} is not a consensus module snapshot")
            unit = d.get_int("time_unit")
            if unit not in (ClusterTimeUnit.MILLIS, sbe.PRIMITIVES["int32"][1]):
                raise ClusterError(f"snapshot time unit {unit} differs from the cluster's (MILLIS)")
        elif name == "ConsensusModule":
            agent.next_session_id = agent.next_committed_session_id = d.get_int("next_session_id")
        elif name == "ClusterSession":
            sid = d.get_int("cluster_session_id")
            agent.sessions[sid] = ClusterSession(
                sid, d.get_int("response_stream_id"), d.get_str("response_channel"),
                correlation_id=d.get_int("correlation_id"), state=SessionState.OPEN,
                opened_log_position=d.get_int("opened_log_position"))
        elif name == "Timer":
            agent.timer_service.schedule(d.get_int("correlation_id"), d.get_int("deadline"))
        elif name == "PendingMessageTracker":
            service_id = d.get_int("service_id")
            tracker = agent.trackers[service_id] if 0 <= service_id < len(agent.trackers) else None
            if tracker is not None:
                tracker.load(d.get_int("next_service_session_id"), d.get_int("log_service_session_id"))
        elif name == "SessionMessageHeader" and tracker is not None:
            tracker.pending.append(bytearray(data))

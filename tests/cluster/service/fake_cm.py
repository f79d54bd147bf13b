"""A scripted consensus module for container tests: the counters a real one allocates (commit
position 203, RecoveryState 204), the control streams (104 to services, 105 from them), an IPC
log publication it appends log messages to, and the commit position it moves by hand."""

from __future__ import annotations

import time
from typing import Any

from aeronpy.cluster.codecs import CLUSTER_SCHEMA, T
from aeronpy.cluster.counters import (
    COMMIT_POSITION_TYPE_ID,
    RECOVERY_STATE_TYPE_ID,
    RecoveryState,
    Role,
    cluster_key,
    cluster_label,
)
from aeronpy.cluster.service.session_header import pack_session_header
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from aeronpy.protocol import sbe

CONTROL_CHANNEL = "aeron:ipc?term-length=128k"
LOG_CHANNEL = "aeron:ipc?term-length=64k"
LOG_STREAM_ID = 100
MAX_POSITION = (1 << 63) - 1


def align32(n: int) -> int:
    return (n + 31) & ~31


class FakeConsensusModule:
    """What a container sees of its consensus module, driven by the test."""

    def __init__(self, aeron: Any, cluster_id: int = 0, log_channel: str = LOG_CHANNEL) -> None:
        self.aeron = aeron
        self.cluster_id = cluster_id
        self.log_channel = log_channel
        self.commit_position = aeron.add_counter(
            COMMIT_POSITION_TYPE_ID, cluster_label("Cluster commit-pos:", cluster_id), cluster_key(cluster_id))
        self.recovery: Any = None
        self.to_services = aeron.add_publication(CONTROL_CHANNEL, 104)
        self.from_services = aeron.add_subscription(CONTROL_CHANNEL, 105)
        self.log = aeron.add_exclusive_publication(log_channel, LOG_STREAM_ID)
        self.received: list[tuple[sbe.Decoded, bytes]] = []
        self._assembler = FragmentAssembler(self._on_message)
        self.leadership_term_id = 0

    # -- counters ----------------------------------------------------------------------------

    def allocate_recovery_state(self, leadership_term_id: int = -1, log_position: int = 0, timestamp: int = 0,
                                snapshot_recording_ids: tuple[int, ...] = ()) -> None:
        state = RecoveryState(leadership_term_id, log_position, timestamp, self.cluster_id, snapshot_recording_ids)
        self.recovery = self.aeron.add_counter(RECOVERY_STATE_TYPE_ID, state.label(), state.key())

    def commit(self, position: int | None = None) -> int:
        position = int(self.log.position) if position is None else position
        self.commit_position.set(position)
        return position

    # -- control streams ---------------------------------------------------------------------

    def send(self, spec: sbe.MessageSpec, timeout: float = 10.0, **values: Any) -> None:
        message = sbe.encode(spec, **values)
        deadline = time.monotonic() + timeout
        while self.to_services.offer(message) < 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"could not send {spec.name} to the services")
            time.sleep(0.001)

    def join_log(self, role: Role = Role.LEADER, log_position: int = 0, max_log_position: int = MAX_POSITION,
                 is_startup: bool = False, member_id: int = 0, is_standby: bool = False) -> None:
        self.send(T.JoinLog, log_position=log_position, max_log_position=max_log_position, member_id=member_id,
                  log_session_id=self.log.session_id, log_stream_id=LOG_STREAM_ID, is_startup=int(is_startup),
                  role=int(role), is_standby=int(is_standby), log_channel=self.log_channel)

    def _on_message(self, buffer: Any, offset: int, length: int, header: Any) -> None:
        raw = buffer.get_bytes(offset, length)
        decoded = sbe.decode(CLUSTER_SCHEMA, raw)
        if decoded is not None:
            self.received.append((decoded, raw))

    def poll(self) -> int:
        return int(self.from_services.poll(self._assembler.on_fragment, 10))

    def await_message(self, name: str, timeout: float = 10.0, **match: int) -> tuple[sbe.Decoded, bytes]:
        """The first received (not yet taken) ``name`` message whose fields equal ``match``; removed."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (msg, raw) in enumerate(self.received):
                if msg.spec.name == name and all(msg.values.get(k) == v for k, v in match.items()):
                    del self.received[i]
                    return msg, raw
            if self.poll() == 0:
                if time.monotonic() > deadline:
                    seen = [m.spec.name for m, _ in self.received]
                    raise AssertionError(f"no {name} {match} from the service within {timeout}s; got {seen}")
                time.sleep(0.001)

    def await_ack(self, ack_id: int, timeout: float = 10.0) -> sbe.Decoded:
        return self.await_message("ServiceAck", timeout, ack_id=ack_id)[0]

    # -- the log -----------------------------------------------------------------------------

    def append_raw(self, message: bytes, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while True:
            result = self.log.offer(message)
            if result > 0:
                return int(result)
            if time.monotonic() > deadline:
                raise AssertionError(f"log append failed: {result}")
            time.sleep(0.001)

    def append(self, spec: sbe.MessageSpec, **values: Any) -> int:
        values.setdefault("leadership_term_id", self.leadership_term_id)
        return self.append_raw(sbe.encode(spec, **values))

    def position_after(self, spec: sbe.MessageSpec) -> int:
        """Log position just after a (var-data free) message of ``spec`` appended next."""
        return int(self.log.position) + align32(32 + 8 + spec.block_length)

    def append_session_open(self, session_id: int, response_channel: str, response_stream_id: int = 102,
                            timestamp: int = 1000, principal: bytes = b"") -> int:
        return self.append(T.SessionOpenEvent, correlation_id=session_id * 10, cluster_session_id=session_id,
                           timestamp=timestamp, response_stream_id=response_stream_id,
                           response_channel=response_channel, encoded_principal=principal)

    def append_session_message(self, session_id: int, payload: bytes, timestamp: int = 2000) -> int:
        return self.append_raw(pack_session_header(self.leadership_term_id, session_id, timestamp) + payload)

    def append_action(self, action: int, timestamp: int = 3000, flags: int | None = None) -> int:
        log_position = self.position_after(T.ClusterActionRequest)
        values: dict[str, Any] = dict(log_position=log_position, timestamp=timestamp, action=action)
        if flags is not None:
            values["flags"] = flags
        end = self.append(T.ClusterActionRequest, **values)
        assert end == log_position
        return end

    def close(self) -> None:
        for r in (self.log, self.to_services, self.from_services, self.commit_position, self.recovery):
            if r is not None and not r.is_closed:
                r.close()

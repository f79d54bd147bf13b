"""Fetching whole missing terms of the log from the leader's archive (FOLLOWER_LOG_REPLICATION,
cluster.md §4.7): an archive ``replicate`` into the member's own log recording, watched through
recording signals."""

from __future__ import annotations

from typing import Any

from aeronpy.cluster.consensus.channels import with_params
from aeronpy.cluster.errors import ClusterError
from aeronpy.cluster.members import ClusterMember

__all__ = ["ArchiveLogReplication"]

NULL_VALUE = -1


class ArchiveLogReplication:
    """One replication of the leader's log recording up to ``stop_position``."""

    def __init__(self, agent: Any, leader: ClusterMember, leader_recording_id: int, stop_position: int) -> None:
        ctx = agent.ctx
        self.agent = agent
        self.stop_position = stop_position
        self.recording_id = agent.log_recording_id
        self._ended = False
        self._stopped = False
        self._position = agent.log_recording_stop_position
        src_channel = with_params(ctx.leader_archive_control_channel, endpoint=leader.archive_endpoint)
        self.replication_id = agent.archive.replicate(
            leader_recording_id, self.recording_id, ctx.archive_control_stream_id, src_channel,
            stop_position=stop_position, replication_channel=ctx.replication_channel)

    def on_signal(self, signal: Any) -> None:
        if signal.correlation_id != self.replication_id:
            return
        name = signal.signal.name
        if signal.recording_id != NULL_VALUE:
            self.recording_id = signal.recording_id
            self.agent.log_recording_id = signal.recording_id
        if signal.position >= 0:
            self._position = max(self._position, signal.position)
        if name in ("REPLICATE_END", "SYNC"):
            self._ended = True
        elif name == "STOP":
            self._stopped = True
        elif name == "DELETE":
            raise ClusterError("log recording deleted during replication")

    def poll(self, now_ns: int) -> int:
        if self.recording_id != NULL_VALUE:
            try:
                self._position = max(self._position, int(self.agent.archive.get_max_recorded_position(
                    self.recording_id)))
            except Exception:  # noqa: BLE001 - not known yet
                pass
        return 0

    def is_done(self) -> bool:
        return (self._ended and self._stopped) or self._position >= self.stop_position and self._stopped

    def position(self) -> int:
        return int(self._position)

    def close(self) -> None:
        if not (self._ended and self._stopped):
            try:
                self.agent.archive.stop_replication(self.replication_id)
            except Exception:  # noqa: BLE001
                pass
        self.agent.log_recording_stop_position = self._position

"""Replaying the member's own log recording through the CM and its services during an election
(LEADER_REPLAY / FOLLOWER_REPLAY, cluster.md §4.2, §4.13)."""

from __future__ import annotations

from typing import Any, Protocol

from aeronpy.cluster.consensus.channels import with_params
from aeronpy.cluster.consensus.log_adapter import LogAdapter
from aeronpy.cluster.counters import ConsensusModuleState, Role
from aeronpy.cluster.errors import ClusterError

__all__ = ["ArchiveLogReplay"]


class _ReplayOwner(Protocol):
    @property
    def cm_state(self) -> ConsensusModuleState: ...
    def await_services_ready(self, channel: str, stream_id: int, log_session_id: int, log_position: int,
                             max_log_position: int, is_startup: bool, role: Role) -> None: ...
    def replay_log_poll(self, adapter: LogAdapter, stop_position: int) -> int: ...


class ArchiveLogReplay:
    """``[start, stop)`` of the log recording replayed on the replay channel."""

    def __init__(self, owner: _ReplayOwner, archive: Any, aeron: Any, adapter: LogAdapter, recording_id: int,
                 start_position: int, stop_position: int, replay_channel: str, replay_stream_id: int) -> None:
        self.owner = owner
        self.archive = archive
        self.adapter = adapter
        self.start_position = start_position
        self.stop_position = stop_position
        self.replay_session_id = archive.start_replay(recording_id, replay_channel, replay_stream_id,
                                                      start_position, stop_position - start_position)
        sid = self.replay_session_id & 0xFFFFFFFF
        self.log_session_id = sid - (1 << 32) if sid & 0x80000000 else sid
        self.channel = with_params(replay_channel, session_id=self.log_session_id)
        self.stream_id = replay_stream_id
        self.subscription = aeron.add_subscription(self.channel, replay_stream_id)

    def do_work(self) -> int:
        if self.adapter.image is None:
            image = self.subscription.image_by_session_id(self.log_session_id)
            if image is None:
                return 0
            if image.join_position != self.start_position:
                raise ClusterError(f"replay joinPosition={image.join_position} expected {self.start_position}")
            self.adapter.set_image(image)
            self.owner.await_services_ready(self.channel, self.stream_id, self.log_session_id, self.start_position,
                                            self.stop_position, True, Role.FOLLOWER)
            return 1
        return self.owner.replay_log_poll(self.adapter, self.stop_position)

    def is_done(self) -> bool:
        return self.adapter.image is not None and self.adapter.position >= self.stop_position and \
            self.owner.cm_state != ConsensusModuleState.SNAPSHOT

    def position(self) -> int:
        return self.adapter.position if self.adapter.image is not None else self.start_position

    def close(self) -> None:
        try:
            self.archive.stop_replay(self.replay_session_id)
        except Exception:  # noqa: BLE001 - the replay may already have ended
            pass
        self.adapter.disconnect()
        try:
            self.subscription.close()
        except Exception:  # noqa: BLE001
            pass

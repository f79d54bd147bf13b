"""ReplayMerge (archive.md §6.4): replay a recording into a multi-destination subscription,
then add the live destination and drop the replay once the two have merged into one image.

The subscription must be ``aeron:udp?control-mode=manual``; the replay channel template must
carry ``session-id=<live publication's session id>`` so the replayed and live streams merge.
Call :meth:`ReplayMerge.poll` (or :meth:`do_work` plus your own polling) until
:attr:`is_merged`.  Time is read from ``nano_clock`` (injectable for tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum
from typing import Any

from aeronpy.archive.client import AeronArchive
from aeronpy.errors import AeronError
from aeronpy.uri import ChannelUri

__all__ = ["ReplayMerge", "MergeState"]

LIVE_ADD_MAX_WINDOW = 32 * 1024 * 1024
MERGE_PROGRESS_TIMEOUT_NS = 5_000_000_000
POSITION_CHECK_INTERVAL_NS = 8_000_000


class MergeState(Enum):
    GET_RECORDING_POSITION = "GET_RECORDING_POSITION"
    REPLAY = "REPLAY"
    CATCHUP = "CATCHUP"
    ATTEMPT_LIVE_JOIN = "ATTEMPT_LIVE_JOIN"
    MERGED = "MERGED"
    FAILED = "FAILED"
    CLOSED = "CLOSED"


class ReplayMerge:
    """Replay-then-live on one subscription; see the module docstring."""

    def __init__(
        self,
        subscription: Any,
        archive: AeronArchive,
        replay_channel: str,
        replay_destination: str,
        live_destination: str,
        recording_id: int,
        start_position: int,
        nano_clock: Callable[[], int] = time.monotonic_ns,
        merge_progress_timeout_ns: int = MERGE_PROGRESS_TIMEOUT_NS,
    ) -> None:
        sub_uri = ChannelUri.parse(subscription.channel)
        if sub_uri.get("control-mode") != "manual":
            raise ValueError(f"subscription={subscription.channel}: must be a control-mode=manual MDS subscription")
        replay_uri = ChannelUri.parse(replay_channel)
        if replay_uri.is_ipc or ChannelUri.parse(replay_destination).is_ipc:
            raise ValueError("replay_channel/replay_destination: IPC cannot be merged (use UDP)")
        endpoint = ChannelUri.parse(replay_destination).get("endpoint")
        if endpoint is None:
            raise ValueError(f"replay_destination={replay_destination}: needs an endpoint")
        self.subscription = subscription
        self.archive = archive
        self.replay_channel = str(replay_uri.with_param("linger", "0").with_param("eos", "false")
                                  .with_param("endpoint", endpoint))
        self.replay_destination = replay_destination
        self.live_destination = live_destination
        self.recording_id = recording_id
        self.start_position = start_position
        self.nano_clock = nano_clock
        self.merge_progress_timeout_ns = merge_progress_timeout_ns
        self.state = MergeState.GET_RECORDING_POSITION
        self.replay_session_id = -1
        self.next_target_position = -1
        self.image: Any = None
        self.error: BaseException | None = None
        self._live_added = False
        self._replay_removed = False
        self._progress_deadline_ns = nano_clock() + merge_progress_timeout_ns
        self._next_check_ns = 0
        subscription.add_destination(replay_destination)

    @property
    def is_merged(self) -> bool:
        return self.state is MergeState.MERGED

    @property
    def has_failed(self) -> bool:
        return self.state is MergeState.FAILED

    def poll(self, handler: Any, fragment_limit: int) -> int:
        """Advance the merge and poll the subscription."""
        work = self.do_work()
        if self.has_failed:
            raise AeronError(f"ReplayMerge failed: {self.error}")
        return work + int(self.subscription.poll(handler, fragment_limit))

    def do_work(self) -> int:
        now = self.nano_clock()
        try:
            work = self._step(now)
        except (AeronError, TimeoutError) as e:
            self.error = e
            self.state = MergeState.FAILED
            return 1
        if work > 0:
            self._progress_deadline_ns = now + self.merge_progress_timeout_ns
        elif self.state not in (MergeState.MERGED, MergeState.FAILED, MergeState.CLOSED) and \
                now > self._progress_deadline_ns:
            self.error = TimeoutError(f"ReplayMerge no progress for {self.merge_progress_timeout_ns} ns in "
                                      f"state {self.state.value}")
            self.state = MergeState.FAILED
        return work

    def _step(self, now: int) -> int:
        s = self.state
        if s is MergeState.GET_RECORDING_POSITION:
            if now < self._next_check_ns:
                return 0
            self._next_check_ns = now + POSITION_CHECK_INTERVAL_NS
            position = self.archive.get_max_recorded_position(self.recording_id)
            if position == -1:
                return 0
            self.next_target_position = position
            self.state = MergeState.REPLAY
            return 1
        if s is MergeState.REPLAY:
            self.replay_session_id = self.archive.start_replay(
                self.recording_id, self.replay_channel, self.subscription.stream_id, self.start_position,
                (1 << 63) - 1,
            )
            self.state = MergeState.CATCHUP
            return 1
        if s is MergeState.CATCHUP:
            if self.image is None:
                sid = self.replay_session_id & 0xFFFFFFFF
                sid = sid - (1 << 32) if sid & 0x80000000 else sid
                self.image = self.subscription.image_by_session_id(sid)
                return 1 if self.image is not None else 0
            if self.image.is_closed:
                raise AeronError("ReplayMerge image closed unexpectedly")
            if self.image.position >= self.next_target_position:
                self.state = MergeState.ATTEMPT_LIVE_JOIN
                return 1
            return 0
        if s is MergeState.ATTEMPT_LIVE_JOIN:
            if now < self._next_check_ns:
                return 0
            self._next_check_ns = now + POSITION_CHECK_INTERVAL_NS
            if self.image.is_closed:
                raise AeronError("ReplayMerge image closed unexpectedly")
            target = self.archive.get_max_recorded_position(self.recording_id)
            if target != -1:
                self.next_target_position = target
            position = self.image.position
            window = min(self.image.term_buffer_length >> 2, LIVE_ADD_MAX_WINDOW)
            if not self._live_added and self.next_target_position - position <= window:
                self.subscription.add_destination(self.live_destination)
                self._live_added = True
                return 1
            if self._live_added and self.next_target_position - position <= 0 and \
                    self.image.active_transport_count >= 2:
                self.subscription.remove_destination(self.replay_destination)
                self._replay_removed = True
                self._stop_replay()
                self.state = MergeState.MERGED
                return 1
            if self.next_target_position > position:
                self.state = MergeState.CATCHUP
            return 0
        return 0

    def _stop_replay(self) -> None:
        if self.replay_session_id != -1:
            try:
                self.archive.stop_replay(self.replay_session_id)
            except AeronError:
                pass
            self.replay_session_id = -1

    def close(self) -> None:
        if self.state is MergeState.CLOSED:
            return
        if self.state is not MergeState.MERGED:
            self._stop_replay()
            if not self._replay_removed:
                try:
                    self.subscription.remove_destination(self.replay_destination)
                except AeronError:
                    pass
        self.state = MergeState.CLOSED

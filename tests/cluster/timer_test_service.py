"""A clustered service for the timer tests (``--service tests.cluster.timer_test_service:TimerTestService``).

Requests (text): ``schedule <id> <delay_ms>`` schedules timer <id> at cluster time + delay and
answers ``scheduled <id>``; ``fired?`` answers ``fired <id>,<id>,...`` — every expiry seen,
in order (so a timer that fired twice shows twice).  State is not snapshotted (tests of
timers across a member restart replay the log)."""

from __future__ import annotations

from typing import Any

from aeronpy.cluster.service import ClusteredService


class TimerTestService(ClusteredService):
    def __init__(self) -> None:
        self.cluster: Any = None
        self.fired: list[int] = []

    def on_start(self, cluster: Any, snapshot_image: Any) -> None:
        self.cluster = cluster

    def on_session_message(self, session: Any, timestamp: int, buffer: Any, offset: int, length: int,
                           header: Any) -> None:
        words = buffer.get_bytes(offset, length).decode().split()
        if words[0] == "schedule":
            self.cluster.schedule_timer_reliably(int(words[1]), timestamp + int(words[2]))
            reply = f"scheduled {words[1]}"
        else:
            reply = "fired " + ",".join(str(i) for i in self.fired)
        if session is not None:
            for _ in range(1000):
                if session.offer(reply.encode()) > 0:
                    break
                self.cluster.idle_strategy.idle(0)

    def on_timer_event(self, correlation_id: int, timestamp: int) -> None:
        self.fired.append(correlation_id)

"""Timers through the log with three ``cluster-node`` processes (cluster.md §4.10): timers
scheduled while a follower was down fire once — also after that follower caught up and became
the leader (its replay cancels what the log shows already fired)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aeronpy.testing.jepsen import MemberSet
from tests.cluster.cluster_processes import (
    Client,
    client_aeron_dir,
    recorded_position,
    running_members,
)

SERVICE = "tests.cluster.timer_test_service:TimerTestService"


pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[MemberSet]:
    yield from running_members(str(tmp_path), service=SERVICE)


def ask(client: Client, request: bytes, prefix: bytes, timeout: float = 30.0) -> bytes:
    start = len(client.echoed)
    deadline = time.monotonic() + timeout
    sent = False
    seen = client.new_leaders_seen
    while True:
        for reply in client.echoed[start:]:
            if reply.startswith(prefix):
                return reply
        client.cluster.poll_egress()
        if client.reconnect_if_closed():
            sent = False
        if len(client.collector.new_leaders) > seen:
            seen = client.new_leaders_seen = len(client.collector.new_leaders)
            client.cluster.send_keep_alive()
            sent = False
        if not sent and client.cluster.offer(request) > 0:
            sent = True
        time.sleep(0.001)
        assert time.monotonic() < deadline, f"no reply to {request!r}: client {client.cluster.state}, new leaders {client.collector.new_leaders}"


def fired(client: Client) -> list[int]:
    text = ask(client, b"fired?", b"fired").decode()[len("fired "):]
    return [int(x) for x in text.split(",") if x]


def test_timers_scheduled_while_a_follower_was_down_fire_once(cluster: MemberSet, tmp_path: Path) -> None:
    leader = cluster.leader(timeout=30)
    follower = (leader + 1) % 3
    client = Client(cluster, client_aeron_dir(str(tmp_path)))
    try:
        cluster.kill(follower)
        for timer_id in (1, 2, 3):
            ask(client, f"schedule {timer_id} 200".encode(), f"scheduled {timer_id}".encode())
        deadline = time.monotonic() + 20
        while fired(client) != [1, 2, 3]:
            assert time.monotonic() < deadline, fired(client)
            time.sleep(0.2)
        ask(client, b"schedule 4 3000", b"scheduled 4")
        cluster.start(follower)
        position = recorded_position(cluster, leader)
        deadline = time.monotonic() + 60
        while recorded_position(cluster, follower) < position:
            assert time.monotonic() < deadline, "the restarted follower did not catch up"
            time.sleep(0.2)
        cluster.kill(leader)
        new_leader = cluster.leader(timeout=40, exclude=(leader,))
        deadline = time.monotonic() + 30
        while len(fired(client)) < 4:
            assert time.monotonic() < deadline, fired(client)
            time.sleep(0.2)
        time.sleep(0.5)
        assert fired(client) == [1, 2, 3, 4], f"leader now {new_leader}"
    finally:
        client.close()

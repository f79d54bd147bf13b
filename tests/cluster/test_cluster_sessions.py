"""Client sessions across three ``aeronpy cluster-node`` processes (cluster.md §3.3, §3.4, §1.6):
a client that closes is gone at once (SessionCloseEvent CLIENT_ACTION); a client that goes silent
longer than ``aeron.cluster.session.timeout`` is closed by the leader (its "timed out client
count" counter), told with a SessionEvent CLOSED, and ends CLOSED; the cluster serves new
sessions meanwhile."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aeronpy.cluster import counters as cc
from aeronpy.concurrent.counters import CountersReader
from aeronpy.testing.jepsen import MemberSet
from aeronpy.tools.cnc_access import open_cnc
from tests.cluster.cluster_processes import (
    Client,
    client_aeron_dir,
    member_logs,
    running_members,
)
from tests.conftest import wait_for

pytestmark = pytest.mark.slow

SESSION_TIMEOUT_S = 3


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[MemberSet]:
    yield from running_members(str(tmp_path), **{"aeron.cluster.session.timeout": f"{SESSION_TIMEOUT_S}s"})


def _leader_counter(cluster: MemberSet, leader: int, type_id: int) -> int:
    cnc = open_cnc(cluster.aeron_dir(leader))
    try:
        reader = CountersReader(cnc.counters_metadata_buffer, cnc.counters_values_buffer)
        counter_id = cc.find_counter(reader, type_id, 0)
        return -1 if counter_id < 0 else int(reader.get_counter_value(counter_id))
    finally:
        cnc.close()


def test_silent_client_times_out_and_a_closed_one_is_gone(cluster: MemberSet, tmp_path: Path) -> None:
    leader = cluster.leader(timeout=60)
    client = Client(cluster, client_aeron_dir(str(tmp_path)))
    try:
        client.send_and_await([b"hello"], timeout=60)
        assert _leader_counter(cluster, leader, cc.CLIENT_TIMEOUT_COUNT_TYPE_ID) == 0
        # silence: no keepalive, no message, for longer than the session timeout
        time.sleep(SESSION_TIMEOUT_S * 2.5)
        wait_for(lambda: _leader_counter(cluster, leader, cc.CLIENT_TIMEOUT_COUNT_TYPE_ID) == 1, 30,
                 f"the leader to time the session out\n{member_logs(cluster)}")

        def closed() -> bool:
            client.cluster.poll_egress()
            return bool(client.cluster.is_closed)

        wait_for(closed, 30, "the client to learn it was closed (SessionEvent CLOSED)")
        # a new session is served as before
        assert client.reconnect_if_closed()
        client.send_and_await([b"again"], timeout=60)
        session = client.cluster.cluster_session_id
    finally:
        client.close()
    # closing it is immediate for the cluster: no timeout is counted for it
    time.sleep(SESSION_TIMEOUT_S * 1.5)
    assert _leader_counter(cluster, leader, cc.CLIENT_TIMEOUT_COUNT_TYPE_ID) == 1, (session, member_logs(cluster))

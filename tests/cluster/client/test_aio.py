"""The asyncio cluster client against the fake cluster: connect, offer, messages(), events()."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from aeronpy.cluster.client import ClusterClientContext, ClusterClosedError, ClusterError
from aeronpy.cluster.client.aio import AdminResponse, AsyncAeronCluster, EgressMessage, NewLeader, SessionEvent
from aeronpy.cluster.codecs import AdminResponseCode, EventCode
from tests.cluster.client.fake_cluster import FakeCluster
from tests.cluster.client.test_aeron_cluster import Recorder
from tests.conftest import wait_for


def run(coro: Any, timeout: float = 30) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def test_echo_round_trips(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    async def main() -> list[EgressMessage]:
        async with await AsyncAeronCluster.connect(context_for(fake)) as cluster:
            assert cluster.cluster_session_id == 1 and cluster.leader_member_id == 0
            for i in range(20):
                await cluster.offer(i.to_bytes(4, "little"))
            got = []
            async for message in cluster.messages():
                got.append(message)
                if len(got) == 20:
                    break
            return got

    got = run(main())
    assert [int.from_bytes(m.data, "little") for m in got] == list(range(20))
    assert got[0] == EgressMessage(1, 1234, (0).to_bytes(4, "little"))
    wait_for(lambda: fake.of("SessionCloseRequest"), 10, "the close request")  # sent on leaving the block


def test_events_and_chained_listener(
    fake_factory: Callable[..., FakeCluster], context_for: Callable[..., ClusterClientContext]
) -> None:
    fake = fake_factory(members=2)
    recorder = Recorder()

    async def main() -> list[Any]:
        cluster = await AsyncAeronCluster.connect(context_for(fake, egress_listener=recorder))
        events: list[Any] = []
        cluster.send_admin_request_to_take_a_snapshot(77)
        async for event in cluster.events():
            events.append(event)
            break
        await asyncio.to_thread(fake.elect, 1)
        async for event in cluster.events():
            events.append(event)
            break
        assert cluster.send_keep_alive() or True
        await cluster.offer(b"after", timeout=10)
        await asyncio.to_thread(fake.send_session_event, 1, EventCode.CLOSED, "SERVICE_ACTION")
        async for event in cluster.events():
            events.append(event)
        async for _ in cluster.messages():
            pass  # ends once the session closed
        assert cluster.is_closed
        with pytest.raises(ClusterClosedError):
            await cluster.offer(b"too late")
        await cluster.close()
        return events

    events = run(main())
    assert [type(e).__name__ for e in events[:2]] == ["AdminResponse", "NewLeader"]
    admin = next(e for e in events if isinstance(e, AdminResponse))
    assert admin.correlation_id == 77 and admin.response_code is AdminResponseCode.UNAUTHORISED_ACCESS
    assert next(e for e in events if isinstance(e, NewLeader)).leader_member_id == 1
    assert events[-1] == SessionEvent(0, 1, 6, 1, EventCode.CLOSED, "SERVICE_ACTION")
    assert recorder.new_leaders and recorder.admin and recorder.events


def test_connect_errors_propagate(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    fake.connect_mode = "error"
    with pytest.raises(ClusterError, match="concurrent session limit"):
        run(AsyncAeronCluster.connect(context_for(fake)))


def test_owned_aeron_client(fake: FakeCluster, context_for: Callable[..., ClusterClientContext]) -> None:
    async def main() -> Any:
        cluster = await AsyncAeronCluster.connect(context_for(fake, aeron=None))
        aeron = cluster.cluster.aeron
        await cluster.close()
        return aeron

    assert run(main()).is_closed

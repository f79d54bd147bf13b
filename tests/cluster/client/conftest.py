"""Fixtures: an embedded driver, a client-side Aeron and a scripted fake cluster per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aeronpy.cluster.client import ClusterClientContext
from tests.cluster.client.fake_cluster import FakeCluster
from tests.fakes import free_udp_port


@pytest.fixture
def fake_factory(driver: Any, client_factory: Callable[..., Any]) -> Iterator[Callable[..., FakeCluster]]:
    fakes: list[FakeCluster] = []

    def make(members: int = 1, leader_id: int = 0, **settings: Any) -> FakeCluster:
        endpoints = {i: f"127.0.0.1:{free_udp_port()}" for i in range(members)}
        fake = FakeCluster(client_factory(), endpoints, leader_id)
        for k, v in settings.items():
            setattr(fake, k, v)
        fakes.append(fake.start())
        return fake

    yield make
    for f in fakes:
        f.close()


@pytest.fixture
def fake(fake_factory: Callable[..., FakeCluster]) -> FakeCluster:
    return fake_factory()


@pytest.fixture
def context_for(aeron_dir: str, client_factory: Callable[..., Any]) -> Callable[..., ClusterClientContext]:
    def make(fake: FakeCluster, **overrides: Any) -> ClusterClientContext:
        settings: dict[str, Any] = dict(
            aeron_dir=aeron_dir, ingress_channel="aeron:udp?term-length=64k", ingress_endpoints=fake.ingress_endpoints(),
            egress_channel="aeron:udp?endpoint=127.0.0.1:0|term-length=64k", message_timeout_ns=5_000_000_000,
            aeron=client_factory(),
        )
        settings.update(overrides)
        return ClusterClientContext.from_properties(env={}, **settings)

    return make

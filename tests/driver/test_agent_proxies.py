"""Typed proxies between conductor, sender and receiver: commands are bound methods, answers
come back through the conductor proxy, nothing runs until the target agent drains its queue."""

from __future__ import annotations

import inspect
from typing import Any

from aeronpy.driver.agent_proxies import DriverConductorProxy, ReceiverProxy, SenderProxy
from aeronpy.driver.network_agents import CommandQueue, Receiver, Sender


class FakeEndpoint:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args: self.calls.append((name, args))


class FakeEntity:
    def __init__(self, endpoint: FakeEndpoint) -> None:
        self.endpoint = endpoint
        self.rejected: list[bytes] = []

    def reject(self, reason: bytes) -> None:
        self.rejected.append(reason)


class FakeNetwork:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("on_"):
            raise AttributeError(name)
        return lambda *args: self.calls.append((name, args))


def rig() -> tuple[Sender, Receiver, SenderProxy, ReceiverProxy, FakeNetwork, CommandQueue]:
    sender, receiver = Sender(4, 200_000_000, lambda: 0), Receiver(lambda: 0)
    network = FakeNetwork()
    queue = CommandQueue()
    proxy = DriverConductorProxy(network, queue)  # type: ignore[arg-type]
    sender.conductor_proxy = proxy
    receiver.conductor_proxy = proxy
    return sender, receiver, SenderProxy(sender), ReceiverProxy(receiver), network, queue


def test_commands_wait_for_the_agent_and_are_bound_methods_not_closures() -> None:
    sender, _, sender_proxy, _, _, _ = rig()
    endpoint = FakeEndpoint()
    publication = FakeEntity(endpoint)
    sender_proxy.add_publication(publication)
    assert sender.publications == []  # nothing happens on the conductor's thread
    (method, args), = list(sender.commands._queue)
    assert inspect.ismethod(method) and method.__self__ is sender and args == (publication,)
    assert sender.commands.drain() == 1
    assert sender.publications == [publication] and endpoint.calls == [("add_publication", (publication,))]


def test_removals_are_answered_through_the_conductor_proxy() -> None:
    sender, receiver, sender_proxy, receiver_proxy, network, queue = rig()
    endpoint = FakeEndpoint()
    publication, image = FakeEntity(endpoint), FakeEntity(endpoint)
    sender_proxy.add_publication(publication)
    sender_proxy.remove_publication(publication)
    sender_proxy.add_endpoint(endpoint)
    sender_proxy.remove_endpoint(endpoint)
    receiver_proxy.add_image(image)
    receiver_proxy.remove_image(image)  # LINGER: no answer
    receiver_proxy.release_image(image)  # DONE: answered
    receiver_proxy.remove_destination(endpoint, "dest")
    sender.commands.drain()
    receiver.commands.drain()
    assert network.calls == []  # answers wait on the conductor's queue
    queue.drain()
    assert network.calls == [
        ("on_publication_removed", (publication,)),
        ("on_endpoint_removed", (endpoint,)),
        ("on_image_released", (image,)),
        ("on_receive_destination_removed", ("dest",)),
    ]
    assert sender.publications == [] and receiver.images == []


def test_receiver_commands_reach_the_endpoint() -> None:
    _, receiver, _, receiver_proxy, _, _ = rig()
    endpoint = FakeEndpoint()
    image = FakeEntity(endpoint)
    receiver_proxy.add_subscription(endpoint, 10, None)
    receiver_proxy.clear_init_in_progress(endpoint, 10, 3)
    receiver_proxy.image_deleted(endpoint, 10, 3)
    receiver_proxy.reject_image(image, b"no")
    receiver.commands.drain()
    assert endpoint.calls == [
        ("add_interest", (10, None)),
        ("clear_init_in_progress", (10, 3)),
        ("clear_init_in_progress", (10, 3)),
        ("remove_cool_down", (10, 3)),
    ]
    assert image.rejected == [b"no"]


def test_setup_and_publication_error_reach_the_network_conductor() -> None:
    _, _, _, _, network, queue = rig()
    proxy = DriverConductorProxy(network, queue)  # type: ignore[arg-type]
    endpoint = FakeEndpoint()
    proxy.on_setup(endpoint, 1, 2, 3, 4, 0, 65536, 1408, 0, ("127.0.0.1", 1), ("127.0.0.1", 2))
    proxy.on_publication_error(7, 8)
    queue.drain()
    assert [name for name, _ in network.calls] == ["on_create_image", "on_publication_error"]
    assert network.calls[0][1][0] is endpoint and network.calls[1][1] == (7, 8)


def test_drain_honours_its_limit() -> None:
    queue = CommandQueue()
    seen: list[int] = []
    for i in range(10):
        queue.offer(seen.append, i)
    assert queue.drain(limit=4) == 4 and seen == [0, 1, 2, 3]
    assert queue.drain() == 6 and seen == list(range(10))

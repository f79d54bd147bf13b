"""Typed proxies over the command queues between the conductor, sender and receiver.

Each proxy method names one command and posts the target agent's handler with its arguments to
that agent's queue; the handler runs later on the agent's own thread.  So the conductor says
``sender_proxy.add_publication(p)`` and never touches the sender's state, as Aeron's
``SenderProxy``/``ReceiverProxy``/``DriverConductorProxy`` do.
"""

from __future__ import annotations

from typing import Any, Protocol

from aeronpy.driver.network_agents import CommandQueue, Receiver, Sender


class NetworkConductorCommands(Protocol):
    """The network conductor's handlers for what the sender and receiver report."""

    def on_publication_removed(self, publication: Any) -> None: ...

    def on_endpoint_removed(self, endpoint: Any) -> None: ...

    def on_receive_destination_removed(self, destination: Any) -> None: ...

    def on_image_released(self, image: Any) -> None: ...

    def on_create_image(
        self, endpoint: Any, session_id: int, stream_id: int, initial_term_id: int, active_term_id: int,
        term_offset: int, term_length: int, mtu: int, flags: int, control_address: Any, source_address: Any,
    ) -> None: ...

    def on_publication_error(self, *args: Any) -> None: ...

    def on_response_setup(self, response_correlation_id: int, response_session_id: int) -> None: ...

    def on_response_connected(self, response_correlation_id: int) -> None: ...

    def on_re_resolve_endpoint(self, name: str, endpoint: Any, existing: Any) -> None: ...

    def on_re_resolve_control(self, name: str, endpoint: Any, destination: Any, existing: Any) -> None: ...


class SenderProxy:
    """Conductor -> sender."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender
        self._queue = sender.commands

    def add_publication(self, publication: Any) -> None:
        self._queue.offer(self._sender.on_add_publication, publication)

    def remove_publication(self, publication: Any) -> None:
        """Answered by :meth:`DriverConductorProxy.on_publication_removed`."""
        self._queue.offer(self._sender.on_remove_publication, publication)

    def add_endpoint(self, endpoint: Any) -> None:
        self._queue.offer(self._sender.on_add_endpoint, endpoint)

    def remove_endpoint(self, endpoint: Any) -> None:
        """Answered by :meth:`DriverConductorProxy.on_endpoint_removed`."""
        self._queue.offer(self._sender.on_remove_endpoint, endpoint)

    def add_destination(self, endpoint: Any, address: Any, correlation_id: int, channel: str) -> None:
        self._queue.offer(self._sender.on_add_destination, endpoint, address, correlation_id, channel)

    def remove_destination(self, endpoint: Any, address: Any) -> None:
        self._queue.offer(self._sender.on_remove_destination, endpoint, address)

    def remove_destination_by_id(self, endpoint: Any, destination_registration_id: int) -> None:
        self._queue.offer(self._sender.on_remove_destination_by_id, endpoint, destination_registration_id)

    def resolution_change(self, endpoint: Any, name: str, address: Any) -> None:
        """``name`` (an endpoint's or MDC destination's ``endpoint``) now resolves to ``address``."""
        self._queue.offer(self._sender.on_resolution_change, endpoint, name, address)


class ReceiverProxy:
    """Conductor -> receiver."""

    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver
        self._queue = receiver.commands

    def add_endpoint(self, endpoint: Any) -> None:
        self._queue.offer(self._receiver.on_add_endpoint, endpoint)

    def remove_endpoint(self, endpoint: Any) -> None:
        """Answered by :meth:`DriverConductorProxy.on_endpoint_removed`."""
        self._queue.offer(self._receiver.on_remove_endpoint, endpoint)

    def add_destination(self, endpoint: Any, destination: Any) -> None:
        self._queue.offer(self._receiver.on_add_destination, endpoint, destination)

    def remove_destination(self, endpoint: Any, destination: Any) -> None:
        """Answered by :meth:`DriverConductorProxy.on_receive_destination_removed`."""
        self._queue.offer(self._receiver.on_remove_destination, endpoint, destination)

    def add_subscription(self, endpoint: Any, stream_id: int, session_id: int | None) -> None:
        self._queue.offer(self._receiver.on_add_subscription, endpoint, stream_id, session_id)

    def remove_subscription(self, endpoint: Any, stream_id: int, session_id: int | None) -> None:
        self._queue.offer(self._receiver.on_remove_subscription, endpoint, stream_id, session_id)

    def request_setup(self, endpoint: Any, stream_id: int, session_id: int) -> None:
        self._queue.offer(self._receiver.on_request_setup, endpoint, stream_id, session_id)

    def add_image(self, image: Any) -> None:
        self._queue.offer(self._receiver.on_add_image, image)

    def remove_image(self, image: Any) -> None:
        self._queue.offer(self._receiver.on_remove_image, image)

    def release_image(self, image: Any) -> None:
        """Answered by :meth:`DriverConductorProxy.on_image_released`."""
        self._queue.offer(self._receiver.on_release_image, image)

    def image_deleted(self, endpoint: Any, stream_id: int, session_id: int) -> None:
        self._queue.offer(self._receiver.on_image_deleted, endpoint, stream_id, session_id)

    def clear_init_in_progress(self, endpoint: Any, stream_id: int, session_id: int) -> None:
        self._queue.offer(self._receiver.on_clear_init_in_progress, endpoint, stream_id, session_id)

    def remove_cool_down(self, endpoint: Any, stream_id: int, session_id: int) -> None:
        self._queue.offer(self._receiver.on_remove_cool_down, endpoint, stream_id, session_id)

    def reject_image(self, image: Any, reason: bytes) -> None:
        self._queue.offer(self._receiver.on_reject_image, image, reason)

    def resolution_change(self, endpoint: Any, destination: Any, address: Any) -> None:
        """The destination's ``control`` host now resolves to ``address``."""
        self._queue.offer(self._receiver.on_resolution_change, endpoint, destination, address)


class DriverConductorProxy:
    """Sender/receiver -> conductor (its network part)."""

    def __init__(self, network: NetworkConductorCommands, queue: CommandQueue) -> None:
        self._network = network
        self._queue = queue

    def on_publication_removed(self, publication: Any) -> None:
        self._queue.offer(self._network.on_publication_removed, publication)

    def on_endpoint_removed(self, endpoint: Any) -> None:
        self._queue.offer(self._network.on_endpoint_removed, endpoint)

    def on_receive_destination_removed(self, destination: Any) -> None:
        self._queue.offer(self._network.on_receive_destination_removed, destination)

    def on_image_released(self, image: Any) -> None:
        self._queue.offer(self._network.on_image_released, image)

    def on_setup(
        self, endpoint: Any, session_id: int, stream_id: int, initial_term_id: int, active_term_id: int,
        term_offset: int, term_length: int, mtu: int, flags: int, control_address: Any, source_address: Any,
    ) -> None:
        """A SETUP for a stream the endpoint has interest in: the conductor creates the image."""
        self._queue.offer(
            self._network.on_create_image, endpoint, session_id, stream_id, initial_term_id, active_term_id,
            term_offset, term_length, mtu, flags, control_address, source_address,
        )

    def on_publication_error(self, *args: Any) -> None:
        """An ERR frame from a receiver of a publication: the clients are told."""
        self._queue.offer(self._network.on_publication_error, *args)

    def on_response_setup(self, response_correlation_id: int, response_session_id: int) -> None:
        """An RSP_SETUP reached a request publication: narrow its response subscription."""
        self._queue.offer(self._network.on_response_setup, response_correlation_id, response_session_id)

    def on_response_connected(self, response_correlation_id: int) -> None:
        """A response publication has its first live receiver: its image stops the RSP_SETUPs."""
        self._queue.offer(self._network.on_response_connected, response_correlation_id)

    def on_re_resolve_endpoint(self, name: str, endpoint: Any, existing: Any) -> None:
        """No SM from ``name`` for a while: the conductor resolves it again."""
        self._queue.offer(self._network.on_re_resolve_endpoint, name, endpoint, existing)

    def on_re_resolve_control(self, name: str, endpoint: Any, destination: Any, existing: Any) -> None:
        """Nothing from a destination's control address for a while: resolve it again."""
        self._queue.offer(self._network.on_re_resolve_control, name, endpoint, destination, existing)


__all__ = ["DriverConductorProxy", "ReceiverProxy", "SenderProxy"]

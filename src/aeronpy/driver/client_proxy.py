"""ClientProxy: every response the driver sends to its clients, one method per response.

Responses go out on the to-clients broadcast buffer (control-protocol.md §3).  The conductor and
its IPC/network parts call these methods instead of encoding records themselves, so the list of
what a client can hear from the driver stands in one place, as in Aeron's ``ClientProxy``.
"""

from __future__ import annotations

import socket
from typing import Any, Protocol

from aeronpy.protocol import control as cp


class Transmitter(Protocol):
    def transmit(self, msg_type_id: int, src: Any, src_offset: int = 0, length: int = -1) -> None: ...


class ClientProxy:
    """Encodes and broadcasts driver-to-client responses."""

    def __init__(self, transmitter: Transmitter) -> None:
        self._transmitter = transmitter

    def _send(self, msg_type_id: int, payload: bytes) -> None:
        self._transmitter.transmit(msg_type_id, payload)

    def on_error(self, correlation_id: int, code: int, message: str) -> None:
        self._send(cp.ON_ERROR, cp.ErrorResponse(correlation_id, int(code), message).encode())

    def on_publication_ready(
        self, correlation_id: int, registration_id: int, session_id: int, stream_id: int,
        position_limit_counter_id: int, channel_status_indicator_id: int, log_file_name: str,
        is_exclusive: bool,
    ) -> None:
        ready = cp.PublicationBuffersReady(
            correlation_id=correlation_id,
            registration_id=registration_id,
            session_id=session_id,
            stream_id=stream_id,
            position_limit_counter_id=position_limit_counter_id,
            channel_status_indicator_id=channel_status_indicator_id,
            log_file_name=log_file_name,
        )
        kind = cp.ON_EXCLUSIVE_PUBLICATION_READY if is_exclusive else cp.ON_PUBLICATION_READY
        self._send(kind, ready.encode())

    def on_subscription_ready(self, correlation_id: int, channel_status_id: int) -> None:
        self._send(cp.ON_SUBSCRIPTION_READY, cp.SubscriptionReady(correlation_id, channel_status_id).encode())

    def on_available_image(
        self, correlation_id: int, session_id: int, stream_id: int, subscription_registration_id: int,
        subscriber_position_id: int, log_file_name: str, source_identity: str,
    ) -> None:
        msg = cp.ImageBuffersReady(
            correlation_id=correlation_id,
            session_id=session_id,
            stream_id=stream_id,
            subscription_registration_id=subscription_registration_id,
            subscriber_position_id=subscriber_position_id,
            log_file_name=log_file_name,
            source_identity=source_identity,
        )
        self._send(cp.ON_AVAILABLE_IMAGE, msg.encode())

    def on_unavailable_image(
        self, correlation_id: int, subscription_registration_id: int, stream_id: int, channel: str
    ) -> None:
        msg = cp.ImageMessage(
            correlation_id=correlation_id,
            subscription_registration_id=subscription_registration_id,
            stream_id=stream_id,
            channel=channel,
        )
        self._send(cp.ON_UNAVAILABLE_IMAGE, msg.encode())

    def on_operation_succeeded(self, correlation_id: int) -> None:
        self._send(cp.ON_OPERATION_SUCCESS, cp.OperationSucceeded(correlation_id).encode())

    def on_counter_ready(self, correlation_id: int, counter_id: int) -> None:
        self._send(cp.ON_COUNTER_READY, cp.CounterUpdate(correlation_id, counter_id).encode())

    def on_unavailable_counter(self, registration_id: int, counter_id: int) -> None:
        self._send(cp.ON_UNAVAILABLE_COUNTER, cp.CounterUpdate(registration_id, counter_id).encode())

    def on_static_counter(self, correlation_id: int, counter_id: int) -> None:
        self._send(cp.ON_STATIC_COUNTER, cp.CounterUpdate(correlation_id, counter_id).encode())

    def on_client_timeout(self, client_id: int) -> None:
        self._send(cp.ON_CLIENT_TIMEOUT, cp.ClientTimeout(client_id).encode())

    def on_next_available_session_id(self, correlation_id: int, session_id: int) -> None:
        self._send(cp.ON_NEXT_AVAILABLE_SESSION_ID, cp.NextAvailableSessionId(correlation_id, session_id).encode())

    def on_publication_error(
        self, registration_id: int, destination_registration_id: int, session_id: int, stream_id: int,
        receiver_id: int, group_tag: int, source_address: Any, error_code: int, error_text: bytes,
    ) -> None:
        """An ERR frame from a receiver, or a rejected IPC image, reported to the publishers."""
        address_type, port, address = publication_error_address(source_address)
        msg = cp.PublicationErrorFrame(
            registration_id=registration_id,
            destination_registration_id=destination_registration_id,
            session_id=session_id,
            stream_id=stream_id,
            receiver_id=receiver_id,
            group_tag=group_tag,
            address_type=address_type,
            source_port=port,
            source_address=address,
            error_code=int(error_code),
            error_message=error_text[: cp.MAX_REJECT_REASON_LENGTH].decode("utf-8", errors="replace"),
        )
        self._send(cp.ON_PUBLICATION_ERROR, msg.encode())


def publication_error_address(address: Any) -> tuple[int, int, bytes]:
    """(address type 1 = IPv4 / 2 = IPv6 / 0 = unknown, port, packed address) of a socket address."""
    try:
        host, port = address[0], int(address[1])
    except (TypeError, IndexError, ValueError):
        return 0, 0, b""
    for family, address_type in ((socket.AF_INET, 1), (socket.AF_INET6, 2)):
        try:
            return address_type, port, socket.inet_pton(family, str(host).split("%")[0])
        except OSError:
            continue
    return 0, port, b""


__all__ = ["ClientProxy", "publication_error_address"]

"""Egress decoding: session messages, SessionEvent, NewLeaderEvent, AdminResponse (cluster.md §3.2).

:class:`EgressDispatcher` reads one reassembled egress message and calls its ``on_*`` hooks
for the messages of its own ``cluster_session_id`` (others are dropped: sessions sharing a
response channel share the driver's publication).  Session messages are read in place (no
decoding beyond the header) so the hot path stays a few buffer reads; the rare control
messages go through the SBE tables.  :class:`EgressAdapter` is the stand-alone form (Aeron's
``EgressAdapter``) that hands everything to an :class:`~aeronpy.cluster.client.listener.EgressListener`.
"""

from __future__ import annotations

from typing import Any

from aeronpy.cluster.client.errors import ClusterError
from aeronpy.cluster.client.listener import complete_listener
from aeronpy.cluster.codecs import (
    CLUSTER_SCHEMA,
    SCHEMA_ID,
    SESSION_HEADER_LENGTH,
    AdminRequestType,
    AdminResponseCode,
    EventCode,
)
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from aeronpy.protocol import sbe

__all__ = ["EgressDispatcher", "EgressAdapter", "SESSION_MESSAGE_TEMPLATE_ID", "decode_control"]

SESSION_MESSAGE_TEMPLATE_ID = 1
SESSION_EVENT_TEMPLATE_ID = 2
NEW_LEADER_EVENT_TEMPLATE_ID = 6
CHALLENGE_TEMPLATE_ID = 7
ADMIN_RESPONSE_TEMPLATE_ID = 27
_HEADER = sbe.HEADER_LENGTH


def decode_control(buffer: Any, offset: int, length: int) -> sbe.Decoded | None:
    """Decode a (non session-message) cluster message; None if unknown or malformed."""
    try:
        return sbe.decode(CLUSTER_SCHEMA, buffer.get_bytes(offset, length))
    except sbe.CodecError:
        return None


class EgressDispatcher:
    """Decodes egress for one session; subclasses override the ``on_*`` hooks."""

    def __init__(self, cluster_session_id: int, extension: Any = None) -> None:
        self.cluster_session_id = cluster_session_id
        self.extension = extension

    def dispatch(self, buffer: Any, offset: int, length: int, header: Any) -> Any:
        """Handle one whole egress message (the fragment assembler's delegate); returns what
        the hook called returned (a controlled listener's action), None if none was called."""
        if length < _HEADER:
            return None
        template_id = buffer.get_uint16(offset + 2)
        schema_id = buffer.get_uint16(offset + 4)
        if schema_id != SCHEMA_ID:
            if self.extension is None:
                raise ClusterError(f"expected cluster egress schemaId={SCHEMA_ID} actual={schema_id}")
            return self.extension.on_extension_message(
                buffer.get_uint16(offset), template_id, schema_id, buffer.get_uint16(offset + 6), buffer,
                offset + _HEADER, length - _HEADER,
            )
        if template_id == SESSION_MESSAGE_TEMPLATE_ID:
            if length < SESSION_HEADER_LENGTH:
                return None
            session_id = buffer.get_int64(offset + 16)
            if session_id == self.cluster_session_id:
                return self.on_message(
                    session_id, buffer.get_int64(offset + 24), buffer, offset + SESSION_HEADER_LENGTH,
                    length - SESSION_HEADER_LENGTH, header,
                )
            return None
        if template_id not in (SESSION_EVENT_TEMPLATE_ID, NEW_LEADER_EVENT_TEMPLATE_ID, ADMIN_RESPONSE_TEMPLATE_ID):
            return None
        msg = decode_control(buffer, offset, length)
        if msg is None or msg.get_int("cluster_session_id") != self.cluster_session_id:
            return None
        if template_id == SESSION_EVENT_TEMPLATE_ID:
            code = msg.get_int("code")
            if code not in EventCode._value2member_map_:
                return None
            return self.on_session_event(
                msg.get_int("correlation_id"), self.cluster_session_id, msg.get_int("leadership_term_id"),
                msg.get_int("leader_member_id"), EventCode(code), msg.get_str("detail"),
            )
        if template_id == NEW_LEADER_EVENT_TEMPLATE_ID:
            return self.on_new_leader(
                self.cluster_session_id, msg.get_int("leadership_term_id"), msg.get_int("leader_member_id"),
                msg.get_str("ingress_endpoints"), header,
            )
        request_type = msg.get_int("request_type")
        response_code = msg.get_int("response_code")
        if request_type not in AdminRequestType._value2member_map_ or \
                response_code not in AdminResponseCode._value2member_map_:
            return None
        return self.on_admin_response(
            self.cluster_session_id, msg.get_int("correlation_id"), AdminRequestType(request_type),
            AdminResponseCode(response_code), msg.get_str("message"), msg.get_bytes("payload"),
        )

    # -- hooks -----------------------------------------------------------------------------

    def on_message(
        self, cluster_session_id: int, timestamp: int, buffer: Any, offset: int, length: int, header: Any
    ) -> Any:
        return None

    def on_session_event(
        self, correlation_id: int, cluster_session_id: int, leadership_term_id: int, leader_member_id: int,
        code: EventCode, detail: str,
    ) -> Any:
        return None

    def on_new_leader(
        self, cluster_session_id: int, leadership_term_id: int, leader_member_id: int, ingress_endpoints: str,
        header: Any,
    ) -> Any:
        return None

    def on_admin_response(
        self, cluster_session_id: int, correlation_id: int, request_type: AdminRequestType,
        response_code: AdminResponseCode, message: str, payload: bytes,
    ) -> Any:
        return None


class EgressAdapter(EgressDispatcher):
    """Polls an egress subscription and hands one session's egress to ``listener``
    (Aeron's ``EgressAdapter``: no session state, just decoding and filtering)."""

    def __init__(
        self,
        listener: Any,
        cluster_session_id: int,
        subscription: Any,
        fragment_limit: int = 10,
        extension: Any = None,
    ) -> None:
        super().__init__(cluster_session_id, extension)
        listener = complete_listener(listener)
        self.listener = listener
        self.subscription = subscription
        self.fragment_limit = fragment_limit
        self.assembler = FragmentAssembler(self.dispatch)
        self.on_message = listener.on_message  # type: ignore[method-assign]

    def poll(self) -> int:
        """Poll up to ``fragment_limit`` fragments; returns how many were read."""
        return int(self.subscription.poll(self.assembler.on_fragment, self.fragment_limit))

    def on_session_event(
        self, correlation_id: int, cluster_session_id: int, leadership_term_id: int, leader_member_id: int,
        code: EventCode, detail: str,
    ) -> None:
        self.listener.on_session_event(
            correlation_id, cluster_session_id, leadership_term_id, leader_member_id, code, detail
        )

    def on_new_leader(
        self, cluster_session_id: int, leadership_term_id: int, leader_member_id: int, ingress_endpoints: str,
        header: Any,
    ) -> None:
        self.listener.on_new_leader(cluster_session_id, leadership_term_id, leader_member_id, ingress_endpoints)

    def on_admin_response(
        self, cluster_session_id: int, correlation_id: int, request_type: AdminRequestType,
        response_code: AdminResponseCode, message: str, payload: bytes,
    ) -> None:
        self.listener.on_admin_response(
            cluster_session_id, correlation_id, request_type, response_code, message, payload
        )

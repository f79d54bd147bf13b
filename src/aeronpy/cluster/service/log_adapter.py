"""The container's reader of the cluster log (cluster.md §5.4 step 2): polls the log image
bounded by the commit position, reassembles fragmented messages and dispatches by template —
session message (1), TimerEvent (20), SessionOpenEvent (21), SessionCloseEvent (22),
ClusterActionRequest (23), NewLeadershipTermEvent (24); MembershipChangeEvent (25) and unknown
templates are skipped; another schema id is an error (the log is corrupt or not a cluster's)."""

from __future__ import annotations

import struct
from typing import Any, Protocol

from aeronpy.cluster.codecs import CLUSTER_SCHEMA, SCHEMA_ID, SESSION_HEADER_LENGTH, CloseReason, ClusterAction, ClusterTimeUnit
from aeronpy.cluster.service.errors import ClusterError
from aeronpy.cluster.service.session_header import SESSION_HEADER, SESSION_MESSAGE_TEMPLATE_ID, frame_position
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from aeronpy.protocol import sbe

__all__ = ["BoundedLogAdapter", "LogListener", "CLUSTER_ACTION_FLAGS_DEFAULT", "CLUSTER_ACTION_FLAGS_STANDBY_SNAPSHOT"]

CLUSTER_ACTION_FLAGS_DEFAULT = 0
CLUSTER_ACTION_FLAGS_STANDBY_SNAPSHOT = 1
_HEADER = sbe.HEADER
_NULL_I32 = sbe.PRIMITIVES["int32"][1]


class LogListener(Protocol):
    """What the log adapter calls (the service agent)."""

    def on_session_message(self, log_position: int, cluster_session_id: int, timestamp: int,
                           buffer: Any, offset: int, length: int, header: Any) -> None: ...

    def on_timer_event(self, log_position: int, correlation_id: int, timestamp: int) -> None: ...

    def on_session_open(self, leadership_term_id: int, log_position: int, cluster_session_id: int, timestamp: int,
                        response_stream_id: int, response_channel: str, encoded_principal: bytes) -> None: ...

    def on_session_close(self, leadership_term_id: int, log_position: int, cluster_session_id: int,
                         timestamp: int, close_reason: CloseReason) -> None: ...

    def on_service_action(self, leadership_term_id: int, log_position: int, timestamp: int,
                          action: ClusterAction, flags: int) -> None: ...

    def on_new_leadership_term_event(self, leadership_term_id: int, log_position: int, timestamp: int,
                                     term_base_log_position: int, leader_member_id: int, log_session_id: int,
                                     time_unit: ClusterTimeUnit, app_version: int) -> None: ...


class BoundedLogAdapter:
    """Reads one log image up to a limit (the commit position) and up to ``max_log_position``."""

    def __init__(self, listener: LogListener, fragment_limit: int) -> None:
        self.listener = listener
        self.fragment_limit = fragment_limit
        self.max_log_position = 0
        self.image: Any = None
        self._assembler = FragmentAssembler(self._on_message)
        self._on_fragment = self._assembler.on_fragment

    def poll(self, limit: int) -> int:
        return int(self.image.bounded_poll(self._on_fragment, limit, self.fragment_limit))

    def is_done(self) -> bool:
        image = self.image
        return bool(image.position >= self.max_log_position or image.is_end_of_stream or image.is_closed)

    def close(self) -> None:
        image, self.image = self.image, None
        self._assembler = FragmentAssembler(self._on_message)
        self._on_fragment = self._assembler.on_fragment
        if image is not None and image.subscription is not None:
            image.subscription.close()

    def _on_message(self, buffer: Any, offset: int, length: int, header: Any) -> None:
        if length >= SESSION_HEADER_LENGTH:
            raw = buffer.get_bytes(offset, SESSION_HEADER_LENGTH)
            _, template_id, schema_id, _, _, session_id, timestamp = SESSION_HEADER.unpack(raw)
            if schema_id == SCHEMA_ID and template_id == SESSION_MESSAGE_TEMPLATE_ID:
                self.listener.on_session_message(
                    frame_position(header), session_id, timestamp, buffer, offset + SESSION_HEADER_LENGTH,
                    length - SESSION_HEADER_LENGTH, header)
                return
        data = buffer.get_bytes(offset, length)
        try:
            _, template_id, schema_id, _ = _HEADER.unpack_from(data, 0)
        except struct.error:
            raise ClusterError(f"log message of {length} bytes is shorter than its header") from None
        if schema_id != SCHEMA_ID:
            raise ClusterError(f"expected schemaId={SCHEMA_ID}, actual={schema_id}")
        msg = sbe.decode(CLUSTER_SCHEMA, data)
        if msg is None:
            return
        name = msg.spec.name
        v = msg.get_int
        listener = self.listener
        if name == "TimerEvent":
            listener.on_timer_event(header.position, v("correlation_id"), v("timestamp"))
        elif name == "SessionOpenEvent":
            listener.on_session_open(
                v("leadership_term_id"), header.position, v("cluster_session_id"), v("timestamp"),
                v("response_stream_id"), msg.get_str("response_channel"), msg.get_bytes("encoded_principal"))
        elif name == "SessionCloseEvent":
            listener.on_session_close(
                v("leadership_term_id"), header.position, v("cluster_session_id"), v("timestamp"),
                CloseReason(v("close_reason")) if v("close_reason") != _NULL_I32 else CloseReason.CLIENT_ACTION)
        elif name == "ClusterActionRequest":
            flags = v("flags")
            if flags == _NULL_I32:
                flags = CLUSTER_ACTION_FLAGS_DEFAULT
            listener.on_service_action(
                v("leadership_term_id"), v("log_position"), v("timestamp"), ClusterAction(v("action")), flags)
        elif name == "NewLeadershipTermEvent":
            unit = v("time_unit")
            listener.on_new_leadership_term_event(
                v("leadership_term_id"), v("log_position"), v("timestamp"), v("term_base_log_position"),
                v("leader_member_id"), v("log_session_id"),
                ClusterTimeUnit.MILLIS if unit == _NULL_I32 else ClusterTimeUnit(unit),
                v("app_version"))

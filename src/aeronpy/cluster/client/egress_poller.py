"""``EgressPoller``: one egress control message at a time, for the connect handshake.

Each :meth:`EgressPoller.poll` reads until it has one SessionEvent, NewLeaderEvent, Challenge
or session message (any session: the caller matches ``correlation_id``), then stops with
``is_poll_complete`` set and that message's fields kept; the next poll starts afresh.  Other
schemas and templates are skipped.
"""

from __future__ import annotations

from typing import Any

from aeronpy.client.results import ControlledPollAction
from aeronpy.cluster.client.egress_adapter import (
    CHALLENGE_TEMPLATE_ID,
    NEW_LEADER_EVENT_TEMPLATE_ID,
    SESSION_EVENT_TEMPLATE_ID,
    SESSION_MESSAGE_TEMPLATE_ID,
    decode_control,
)
from aeronpy.cluster.codecs import NULL_VALUE, SCHEMA_ID, EventCode
from aeronpy.logbuffer.fragment_assembler import ControlledFragmentAssembler

__all__ = ["EgressPoller"]

_SBE_NULL_I64 = -(1 << 63)


class EgressPoller:
    """Aeron's ``EgressPoller`` (used by :class:`~aeronpy.cluster.client.AsyncConnect`)."""

    def __init__(self, subscription: Any, fragment_limit: int = 10) -> None:
        self.subscription = subscription
        self.fragment_limit = fragment_limit
        self._assembler = ControlledFragmentAssembler(self.on_fragment)
        self.egress_image: Any = None
        self._reset()

    def _reset(self) -> None:
        self.is_poll_complete = False
        self.template_id = NULL_VALUE
        self.cluster_session_id = NULL_VALUE
        self.correlation_id = NULL_VALUE
        self.leadership_term_id = NULL_VALUE
        self.leader_member_id = NULL_VALUE
        self.event_code: EventCode | None = None
        self.version = 0
        self.leader_heartbeat_timeout_ns = NULL_VALUE
        self.detail = ""
        self.encoded_challenge: bytes | None = None

    @property
    def is_challenged(self) -> bool:
        return self.template_id == CHALLENGE_TEMPLATE_ID

    def poll(self) -> int:
        """Read fragments until one control message is complete; returns fragments read."""
        if self.is_poll_complete:
            self._reset()
        return int(self.subscription.controlled_poll(self._assembler.on_fragment, self.fragment_limit))

    def on_fragment(self, buffer: Any, offset: int, length: int, header: Any) -> int:
        if self.is_poll_complete:
            return ControlledPollAction.ABORT
        if length < 8 or buffer.get_uint16(offset + 4) != SCHEMA_ID:
            return ControlledPollAction.CONTINUE
        template_id = buffer.get_uint16(offset + 2)
        if template_id == SESSION_MESSAGE_TEMPLATE_ID:
            if length < 32:
                return ControlledPollAction.CONTINUE
            self.template_id = template_id
            self.leadership_term_id = buffer.get_int64(offset + 8)
            self.cluster_session_id = buffer.get_int64(offset + 16)
            self.is_poll_complete = True
            return ControlledPollAction.BREAK
        if template_id not in (SESSION_EVENT_TEMPLATE_ID, NEW_LEADER_EVENT_TEMPLATE_ID, CHALLENGE_TEMPLATE_ID):
            return ControlledPollAction.CONTINUE
        msg = decode_control(buffer, offset, length)
        if msg is None:
            return ControlledPollAction.CONTINUE
        self.template_id = template_id
        self.cluster_session_id = msg.get_int("cluster_session_id")
        if template_id == SESSION_EVENT_TEMPLATE_ID:
            self.correlation_id = msg.get_int("correlation_id")
            self.leadership_term_id = msg.get_int("leadership_term_id")
            self.leader_member_id = msg.get_int("leader_member_id")
            code = msg.get_int("code")
            self.event_code = EventCode(code) if code in EventCode._value2member_map_ else None
            self.version = msg.get_int("version")
            timeout = msg.get_int("leader_heartbeat_timeout_ns")
            self.leader_heartbeat_timeout_ns = NULL_VALUE if timeout == _SBE_NULL_I64 else timeout
            self.detail = msg.get_str("detail")
            self.egress_image = header.context
        elif template_id == NEW_LEADER_EVENT_TEMPLATE_ID:
            self.leadership_term_id = msg.get_int("leadership_term_id")
            self.leader_member_id = msg.get_int("leader_member_id")
            self.detail = msg.get_str("ingress_endpoints")
            self.egress_image = header.context
        else:
            self.correlation_id = msg.get_int("correlation_id")
            self.encoded_challenge = msg.get_bytes("encoded_challenge")
        self.is_poll_complete = True
        return ControlledPollAction.BREAK

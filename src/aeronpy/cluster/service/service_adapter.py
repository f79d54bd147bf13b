"""What a consensus module tells its service containers on the control channel, stream 104
(cluster.md §2.5): JoinLog, ServiceTerminationPosition and RequestServiceAck.  Other
templates on the stream (responses to tools) are ignored; another schema is an error."""

from __future__ import annotations

from typing import Any, Protocol

from aeronpy.cluster.codecs import CLUSTER_SCHEMA, SCHEMA_ID, BooleanType
from aeronpy.cluster.counters import Role
from aeronpy.cluster.service.errors import ClusterError
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from aeronpy.protocol import sbe

__all__ = ["ServiceAdapter", "ServiceAdapterListener", "JoinLog"]

FRAGMENT_LIMIT = 1


class JoinLog:
    """A JoinLog request: which log image to follow, from where, and in which role."""

    __slots__ = ("log_position", "max_log_position", "member_id", "log_session_id", "log_stream_id",
                 "is_startup", "role", "is_standby", "log_channel")

    def __init__(self, log_position: int, max_log_position: int, member_id: int, log_session_id: int,
                 log_stream_id: int, is_startup: bool, role: Role, is_standby: bool, log_channel: str) -> None:
        self.log_position = log_position
        self.max_log_position = max_log_position
        self.member_id = member_id
        self.log_session_id = log_session_id
        self.log_stream_id = log_stream_id
        self.is_startup = is_startup
        self.role = role
        self.is_standby = is_standby
        self.log_channel = log_channel

    def __repr__(self) -> str:
        return "JoinLog(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"


class ServiceAdapterListener(Protocol):
    def on_join_log(self, join_log: JoinLog) -> None: ...

    def on_service_termination_position(self, log_position: int, ack_required: bool) -> None: ...

    def on_request_service_ack(self, log_position: int) -> None: ...


class ServiceAdapter:
    """Polls the service stream (one message per poll, as Aeron) and calls the listener."""

    def __init__(self, subscription: Any, listener: ServiceAdapterListener) -> None:
        self.subscription = subscription
        self.listener = listener
        self._assembler = FragmentAssembler(self._on_message)

    def poll(self) -> int:
        return int(self.subscription.poll(self._assembler.on_fragment, FRAGMENT_LIMIT))

    def _on_message(self, buffer: Any, offset: int, length: int, header: Any) -> None:
        data = buffer.get_bytes(offset, length)
        _, _, schema_id, _ = sbe.decode_header(data)
        if schema_id != SCHEMA_ID:
            raise ClusterError(f"expected schemaId={SCHEMA_ID}, actual={schema_id}")
        msg = sbe.decode(CLUSTER_SCHEMA, data)
        if msg is None:
            return
        name = msg.spec.name
        if name == "JoinLog":
            role_code = msg.get_int("role")
            try:
                role = Role(role_code)
            except ValueError:
                raise ClusterError(f"JoinLog with invalid role code {role_code}") from None
            self.listener.on_join_log(JoinLog(
                msg.get_int("log_position"), msg.get_int("max_log_position"), msg.get_int("member_id"),
                msg.get_int("log_session_id"), msg.get_int("log_stream_id"),
                msg.get_int("is_startup") == BooleanType.TRUE, role,
                msg.get_int("is_standby") == BooleanType.TRUE, msg.get_str("log_channel"),
            ))
        elif name == "ServiceTerminationPosition":
            self.listener.on_service_termination_position(
                msg.get_int("log_position"), msg.get_int("ack_required") == BooleanType.TRUE)
        elif name == "RequestServiceAck":
            self.listener.on_request_service_ack(msg.get_int("log_position"))

    def close(self) -> None:
        self.subscription.close()

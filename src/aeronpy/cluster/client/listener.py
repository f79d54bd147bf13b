"""What a cluster client is told about egress: Aeron's ``EgressListener`` with Python names.

Subclass :class:`EgressListener` and override what you need (every callback does nothing by
default), or pass any object with these methods.  ``buffer``/``offset``/``length`` of
:meth:`~EgressListener.on_message` are the payload after the 32-byte session header, valid only
during the call (copy with ``buffer.get_bytes(offset, length)``)."""

from __future__ import annotations

from typing import Any

from aeronpy.client.results import ControlledPollAction
from aeronpy.cluster.codecs import AdminRequestType, AdminResponseCode, EventCode
from aeronpy.errors import ConfigurationError

__all__ = [
    "EgressListener",
    "ControlledEgressListener",
    "EgressListenerExtension",
    "MissingEgressListener",
    "MissingControlledEgressListener",
    "complete_listener",
]

_OPTIONAL = ("on_session_event", "on_new_leader", "on_admin_response")


class EgressListener:
    """Callbacks for one session's egress (messages of other sessions are filtered out)."""

    def on_message(
        self, cluster_session_id: int, timestamp: int, buffer: Any, offset: int, length: int, header: Any
    ) -> None:
        """A message from a clustered service (``timestamp`` in cluster time units)."""

    def on_session_event(
        self,
        correlation_id: int,
        cluster_session_id: int,
        leadership_term_id: int,
        leader_member_id: int,
        code: EventCode,
        detail: str,
    ) -> None:
        """A SessionEvent after connect: an ERROR, or CLOSED (the session then closes)."""

    def on_new_leader(
        self, cluster_session_id: int, leadership_term_id: int, leader_member_id: int, ingress_endpoints: str
    ) -> None:
        """A new leader was elected; ingress now goes to it (resend what was not answered)."""

    def on_admin_response(
        self,
        cluster_session_id: int,
        correlation_id: int,
        request_type: AdminRequestType,
        response_code: AdminResponseCode,
        message: str,
        payload: bytes,
    ) -> None:
        """The answer to an admin request (e.g. :meth:`AeronCluster.send_admin_request_to_take_a_snapshot`)."""


class ControlledEgressListener(EgressListener):
    """For :meth:`AeronCluster.controlled_poll_egress`: ``on_message`` returns a
    :class:`~aeronpy.client.results.ControlledPollAction` (ABORT: deliver it again next poll,
    BREAK: stop this poll, COMMIT/CONTINUE: go on)."""

    def on_message(  # type: ignore[override]
        self, cluster_session_id: int, timestamp: int, buffer: Any, offset: int, length: int, header: Any
    ) -> ControlledPollAction:
        return ControlledPollAction.CONTINUE


class EgressListenerExtension:
    """Receives egress messages of schemas other than the cluster's (111)."""

    def on_extension_message(
        self, block_length: int, template_id: int, schema_id: int, version: int, buffer: Any, offset: int,
        length: int,
    ) -> None:
        """``offset``/``length`` cover the message after its 8-byte SBE header."""


class MissingEgressListener(EgressListener):
    """Stands in when no listener was configured: a session message is a ConfigurationError
    (as in Aeron: an application that receives egress must say where it goes)."""

    def on_message(
        self, cluster_session_id: int, timestamp: int, buffer: Any, offset: int, length: int, header: Any
    ) -> None:
        raise ConfigurationError("egress_listener must be set on ClusterClientContext to receive egress messages")


class MissingControlledEgressListener(ControlledEgressListener):
    """Stands in when no controlled listener was configured (as :class:`MissingEgressListener`)."""

    def on_message(  # type: ignore[override]
        self, cluster_session_id: int, timestamp: int, buffer: Any, offset: int, length: int, header: Any
    ) -> ControlledPollAction:
        raise ConfigurationError(
            "controlled_egress_listener must be set on ClusterClientContext to receive egress messages"
        )


class _Completed:
    """A listener object lacking some optional callbacks, with no-ops in their place."""

    def __init__(self, listener: Any) -> None:
        self.wrapped = listener
        self.on_message = listener.on_message
        for name in _OPTIONAL:
            setattr(self, name, getattr(listener, name, None) or _ignore)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def _ignore(*args: Any) -> None:
    return None


def complete_listener(listener: Any) -> Any:
    """``listener`` itself if it has every callback, else a stand-in that forwards what it has
    (``on_message`` is required; the others default to doing nothing)."""
    if all(callable(getattr(listener, name, None)) for name in _OPTIONAL):
        return listener
    return _Completed(listener)

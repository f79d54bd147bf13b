"""The shared shape of the CM's adapters: poll, reassemble, decode with the cluster schema and
dispatch by template name to ``on_<TemplateName>(decoded, buffer, offset, length, header)``.

Anything that does not decode (other schema, truncated, unknown enum value) or names a template
the adapter does not accept is counted as an invalid request and reported, never raised —
unless ``on_other_schema`` is given: messages of another SBE schema then go to it (the
consensus module's extension, cluster.md §2)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from aeronpy.client.results import ControlledPollAction
from aeronpy.cluster.codecs import CLUSTER_SCHEMA, SCHEMA_ID
from aeronpy.logbuffer.fragment_assembler import ControlledFragmentAssembler, FragmentAssembler
from aeronpy.protocol import sbe

__all__ = ["MessageAdapter"]


class MessageAdapter:
    """Polls ``subscription`` (or an image) and dispatches accepted templates to ``handler``.

    ``controlled=True``: a handler returning ``ControlledPollAction.ABORT`` leaves the message
    to be delivered again on the next poll (ingress back-pressured by the log)."""

    def __init__(self, subscription: Any, handler: Any, accepted: Collection[str],
                 on_invalid: Callable[[str], None], max_message_length: int = 16 * 1024 * 1024,
                 controlled: bool = False, on_other_schema: Callable[..., Any] | None = None) -> None:
        self.subscription = subscription
        #: ``on_other_schema(block_length, template_id, schema_id, version, buffer, offset, length,
        #: header)`` for a message whose schema id is not the cluster's; returns a poll action.
        self.on_other_schema = on_other_schema
        self.handler = handler
        self.accepted = frozenset(accepted)
        self.on_invalid = on_invalid
        self.max_message_length = max_message_length
        self._methods: dict[str, Callable[..., Any]] = {
            name: getattr(handler, f"on_{name}") for name in self.accepted
        }
        self.controlled = controlled
        self.assembler = FragmentAssembler(self._on_message)
        self.controlled_assembler = ControlledFragmentAssembler(self._on_controlled_message)

    def poll(self, fragment_limit: int) -> int:
        if self.subscription is None:
            return 0
        if self.controlled:
            return int(self.subscription.controlled_poll(self.controlled_assembler.on_fragment, fragment_limit))
        return int(self.subscription.poll(self.assembler.on_fragment, fragment_limit))

    def _on_controlled_message(self, buffer: Any, offset: int, length: int, header: Any) -> Any:
        action = self._on_message(buffer, offset, length, header)
        return ControlledPollAction.CONTINUE if action is None else action

    def _on_message(self, buffer: Any, offset: int, length: int, header: Any) -> Any:
        if length > self.max_message_length:
            self.on_invalid(f"message of {length} bytes exceeds {self.max_message_length}")
            return None
        if self.on_other_schema is not None and length >= sbe.HEADER_LENGTH:
            block_length, template_id, schema_id, version = sbe.decode_header(buffer.get_bytes(offset, sbe.HEADER_LENGTH))
            if schema_id != SCHEMA_ID:
                return self.on_other_schema(block_length, template_id, schema_id, version, buffer, offset, length,
                                            header)
        try:
            data = buffer.get_bytes(offset, length)
            decoded = sbe.decode(CLUSTER_SCHEMA, data, 0, length)
        except (sbe.CodecError, ValueError, IndexError) as e:
            self.on_invalid(f"undecodable message: {e}")
            return None
        if decoded is None:
            _, template_id, _, _ = sbe.decode_header(data)
            self.on_invalid(f"unknown template id {template_id}")
            return None
        method = self._methods.get(decoded.spec.name)
        if method is None:
            self.on_invalid(f"unexpected {decoded.spec.name} here")
            return None
        return method(decoded, data, header)

    def close(self) -> None:
        sub, self.subscription = self.subscription, None
        if sub is not None:
            try:
                sub.close()
            except Exception:  # noqa: BLE001
                pass

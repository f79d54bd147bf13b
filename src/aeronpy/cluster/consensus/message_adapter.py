"""The shared shape of the CM's adapters: poll, reassemble, decode with the cluster schema and
dispatch by template name to ``on_<TemplateName>(decoded, buffer, offset, length, header)``.

Anything that does not decode (other schema, truncated, unknown enum value) or names a template
the adapter does not accept is counted as an invalid request and reported, never raised."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from aeronpy.cluster.codecs import CLUSTER_SCHEMA
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from aeronpy.protocol import sbe

__all__ = ["MessageAdapter"]


class MessageAdapter:
    """Polls ``subscription`` (or an image) and dispatches accepted templates to ``handler``."""

    def __init__(self, subscription: Any, handler: Any, accepted: Collection[str],
                 on_invalid: Callable[[str], None], max_message_length: int = 16 * 1024 * 1024) -> None:
        self.subscription = subscription
        self.handler = handler
        self.accepted = frozenset(accepted)
        self.on_invalid = on_invalid
        self.max_message_length = max_message_length
        self._methods: dict[str, Callable[..., Any]] = {
            name: getattr(handler, f"on_{name}") for name in self.accepted
        }
        self.assembler = FragmentAssembler(self._on_message)

    def poll(self, fragment_limit: int) -> int:
        if self.subscription is None:
            return 0
        return int(self.subscription.poll(self.assembler.on_fragment, fragment_limit))

    def _on_message(self, buffer: Any, offset: int, length: int, header: Any) -> None:
        if length > self.max_message_length:
            self.on_invalid(f"message of {length} bytes exceeds {self.max_message_length}")
            return
        try:
            data = buffer.get_bytes(offset, length)
            decoded = sbe.decode(CLUSTER_SCHEMA, data, 0, length)
        except (sbe.CodecError, ValueError, IndexError) as e:
            self.on_invalid(f"undecodable message: {e}")
            return
        if decoded is None:
            _, template_id, _, _ = sbe.decode_header(data)
            self.on_invalid(f"unknown template id {template_id}")
            return
        method = self._methods.get(decoded.spec.name)
        if method is None:
            self.on_invalid(f"unexpected {decoded.spec.name} here")
            return
        method(decoded, data, header)

    def close(self) -> None:
        sub, self.subscription = self.subscription, None
        if sub is not None:
            try:
                sub.close()
            except Exception:  # noqa: BLE001
                pass

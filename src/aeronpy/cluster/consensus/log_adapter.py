"""Reading the log as a follower, or in a replay (cluster.md §4.1, §4.13): fragments of the log
image are reassembled, decoded and handed to the consensus module, one message at a time so it
can stop right after a cluster action."""

from __future__ import annotations

from typing import Any, Protocol

from aeronpy.cluster.codecs import CLUSTER_SCHEMA, SCHEMA_ID
from aeronpy.cluster.errors import ClusterError
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from aeronpy.protocol import sbe

__all__ = ["LogAdapter", "LogHandler"]


class LogHandler(Protocol):
    """What the consensus module does with each committed log message."""

    def on_log_message(self, decoded: sbe.Decoded, data: bytes, position: int) -> bool:
        """Handle one message ending at ``position``; False: stop polling after it."""
        ...

    def on_log_extension_message(self, acting_block_length: int, template_id: int, schema_id: int,
                                 acting_version: int, buffer: Any, offset: int, length: int, header: Any) -> Any:
        """A message of another schema (the extension's; fatal without one)."""
        ...


class LogAdapter:
    """One log image (live, catch-up or replay) and the position consumed so far."""

    def __init__(self, handler: LogHandler, fragment_limit: int = 50) -> None:
        self.handler = handler
        self.fragment_limit = fragment_limit
        self.image: Any = None
        self._assembler = FragmentAssembler(self._on_message)
        self._stop = False

    def set_image(self, image: Any) -> None:
        self.image = image

    @property
    def position(self) -> int:
        return int(self.image.position) if self.image is not None else 0

    def is_image_closed(self) -> bool:
        return self.image is None or bool(self.image.is_closed)

    def is_end_of_stream(self) -> bool:
        return self.image is not None and bool(self.image.is_end_of_stream)

    def poll(self, limit_position: int) -> int:
        """Consume messages up to ``limit_position``; returns the fragment count."""
        image = self.image
        if image is None:
            return 0
        self._stop = False
        count = 0
        while count < self.fragment_limit and not self._stop:
            n = image.bounded_poll(self._assembler.on_fragment, limit_position, 1)
            if n == 0:
                break
            count += n
        return count

    def _on_message(self, buffer: Any, offset: int, length: int, header: Any) -> None:
        data = buffer.get_bytes(offset, length)
        block_length, template_id, schema_id, version = sbe.decode_header(data)
        if schema_id != SCHEMA_ID:
            on_extension = getattr(self.handler, "on_log_extension_message", None)
            if on_extension is None:
                raise ClusterError(f"log message of unknown schema id {schema_id} at position {header.position}")
            on_extension(block_length, template_id, schema_id, version, buffer, offset, length, header)
            return
        decoded = sbe.decode(CLUSTER_SCHEMA, data, 0, length)
        if decoded is None:
            raise ClusterError(f"log message of unknown template at position {header.position}")
        if not self.handler.on_log_message(decoded, data, int(header.position)):
            self._stop = True

    def disconnect(self) -> None:
        self.image = None

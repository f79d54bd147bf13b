"""ClientCommandAdapter: reads client commands from the to-driver ring buffer and dispatches them.

Which command type is handled by which conductor method is declared once, as data
(:data:`HANDLERS`); the codecs are the protocol's own table.  Every failure is answered, never
raised: an unknown type or a malformed record goes to the distinct error log; a command the
conductor refuses is answered with ON_ERROR carrying the command's correlation id
(control-protocol.md §4).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from aeronpy.concurrent.ringbuffer import ManyToOneRingBuffer
from aeronpy.driver.client_proxy import ClientProxy
from aeronpy.errors import AeronError, InvalidChannelError, NotSupportedError, StorageSpaceError
from aeronpy.protocol import control as cp

HANDLERS: dict[int, str] = {
    cp.ADD_PUBLICATION: "on_add_publication",
    cp.ADD_EXCLUSIVE_PUBLICATION: "on_add_exclusive_publication",
    cp.REMOVE_PUBLICATION: "on_remove_publication",
    cp.ADD_SUBSCRIPTION: "on_add_subscription",
    cp.REMOVE_SUBSCRIPTION: "on_remove_subscription",
    cp.CLIENT_KEEPALIVE: "on_client_keepalive",
    cp.CLIENT_CLOSE: "on_client_close",
    cp.ADD_COUNTER: "on_add_counter",
    cp.REMOVE_COUNTER: "on_remove_counter",
    cp.ADD_STATIC_COUNTER: "on_add_static_counter",
    cp.TERMINATE_DRIVER: "on_terminate_driver",
    cp.GET_NEXT_AVAILABLE_SESSION_ID: "on_next_available_session_id",
    cp.ADD_DESTINATION: "on_add_send_destination",
    cp.REMOVE_DESTINATION: "on_remove_send_destination",
    cp.REMOVE_DESTINATION_BY_ID: "on_remove_send_destination_by_id",
    cp.ADD_RCV_DESTINATION: "on_add_receive_destination",
    cp.REMOVE_RCV_DESTINATION: "on_remove_receive_destination",
    cp.REJECT_IMAGE: "on_reject_image",
}
"""Command type id -> the conductor method that handles it; the codec is the protocol's
(:data:`aeronpy.protocol.control.COMMAND_DECODERS`)."""

COMMAND_LIMIT = 16
"""Commands handled per duty cycle, so timers and the data path keep their turn."""


class CommandError(AeronError):
    """A command failed; ``code`` is the ErrorCode sent back in ON_ERROR."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class ErrorRecorder(Protocol):
    def __call__(self, code: int, message: str) -> None: ...


class ClientCommandAdapter:
    """Decodes to-driver records and calls the conductor method named in :data:`HANDLERS`."""

    def __init__(
        self, to_driver: ManyToOneRingBuffer, conductor: object, client_proxy: ClientProxy,
        record_error: ErrorRecorder,
    ) -> None:
        self.to_driver = to_driver
        self.client_proxy = client_proxy
        self.record_error = record_error
        self._dispatch: dict[int, tuple[Any, Callable[[Any], None]]] = {
            type_id: (cp.COMMAND_DECODERS[type_id], getattr(conductor, method))
            for type_id, method in HANDLERS.items()
        }

    def receive(self) -> int:
        """Handle up to :data:`COMMAND_LIMIT` commands; the number handled."""
        try:
            return self.to_driver.read(self.on_message, COMMAND_LIMIT)
        except Exception as ex:  # nothing read from shared memory may stop the duty cycle
            self.record_error(cp.ErrorCode.GENERIC_ERROR, f"reading commands failed: {ex!r}")
            return 0

    def on_message(self, msg_type_id: int, buffer: Any, offset: int, length: int) -> None:
        entry = self._dispatch.get(msg_type_id)
        if entry is None:
            self.record_error(cp.ErrorCode.UNKNOWN_COMMAND_TYPE_ID, f"command={msg_type_id:#x} unknown")
            return
        codec, handler = entry
        correlation_id = int(buffer.get_int64(offset + 8)) if length >= 16 else 0
        try:
            handler(codec.decode(buffer, offset, length))
        except cp.MalformedCommandError as ex:
            self.record_error(cp.ErrorCode.MALFORMED_COMMAND, f"command={msg_type_id:#x} {ex}")
        except Exception as ex:  # every failure is answered, never crashes the conductor
            code, message = error_code_of(ex)
            self.client_proxy.on_error(correlation_id, code, message)
            if code != cp.ErrorCode.RESOURCE_TEMPORARILY_UNAVAILABLE:
                self.record_error(code, message)


def error_code_of(ex: BaseException) -> tuple[int, str]:
    """The ErrorCode and message a failed command is answered with."""
    if isinstance(ex, CommandError):
        return ex.code, str(ex)
    if isinstance(ex, InvalidChannelError):
        return cp.ErrorCode.INVALID_CHANNEL, str(ex)
    if isinstance(ex, NotSupportedError):
        return cp.ErrorCode.NOT_SUPPORTED, str(ex)
    if isinstance(ex, StorageSpaceError):
        return cp.ErrorCode.STORAGE_SPACE, str(ex)
    if isinstance(ex, OSError) and ex.errno == 28:
        return cp.ErrorCode.STORAGE_SPACE, str(ex)
    return cp.ErrorCode.GENERIC_ERROR, f"{type(ex).__name__}: {ex}"


__all__ = ["HANDLERS", "ClientCommandAdapter", "CommandError", "error_code_of"]

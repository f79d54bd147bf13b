"""Client <-> driver control protocol codecs (``control-protocol.md``).

Commands (client -> driver) are records in the to-driver ring buffer; responses
(driver -> clients) are records in the to-clients broadcast buffer.  The record type id
selects the message; the payload layouts below are little-endian and packed to 4 bytes.

Every message is a frozen dataclass with ``encode() -> bytes`` (the record payload) and
``decode(buffer, offset, length)``, which raises :class:`MalformedCommandError` when the
record is shorter than its fixed part or than the fixed part plus its declared variable
lengths (negative declared lengths are malformed too).  Strings are an int32 length then
UTF-8 (in practice ASCII) bytes without terminator.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, Self

from aeronpy.concurrent.atomic_buffer import view_of
from aeronpy.errors import AeronError

CONTROL_PROTOCOL_VERSION = 0x010000

# Command type ids (client -> driver).
ADD_PUBLICATION = 0x01
REMOVE_PUBLICATION = 0x02
ADD_EXCLUSIVE_PUBLICATION = 0x03
ADD_SUBSCRIPTION = 0x04
REMOVE_SUBSCRIPTION = 0x05
CLIENT_KEEPALIVE = 0x06
ADD_DESTINATION = 0x07
REMOVE_DESTINATION = 0x08
ADD_COUNTER = 0x09
REMOVE_COUNTER = 0x0A
CLIENT_CLOSE = 0x0B
ADD_RCV_DESTINATION = 0x0C
REMOVE_RCV_DESTINATION = 0x0D
TERMINATE_DRIVER = 0x0E
ADD_STATIC_COUNTER = 0x0F
REJECT_IMAGE = 0x10
REMOVE_DESTINATION_BY_ID = 0x11
GET_NEXT_AVAILABLE_SESSION_ID = 0x12

# Response / notification type ids (driver -> clients).
ON_ERROR = 0x0F01
ON_AVAILABLE_IMAGE = 0x0F02
ON_PUBLICATION_READY = 0x0F03
ON_OPERATION_SUCCESS = 0x0F04
ON_UNAVAILABLE_IMAGE = 0x0F05
ON_EXCLUSIVE_PUBLICATION_READY = 0x0F06
ON_SUBSCRIPTION_READY = 0x0F07
ON_COUNTER_READY = 0x0F08
ON_UNAVAILABLE_COUNTER = 0x0F09
ON_CLIENT_TIMEOUT = 0x0F0A
ON_STATIC_COUNTER = 0x0F0B
ON_PUBLICATION_ERROR = 0x0F0C
ON_NEXT_AVAILABLE_SESSION_ID = 0x0F0D

REMOVE_PUBLICATION_FLAG_REVOKE = 0x1
MAX_CHANNEL_LENGTH = 4095
MAX_REJECT_REASON_LENGTH = 1023

COMMAND_NAMES: dict[int, str] = {
    ADD_PUBLICATION: "ADD_PUBLICATION",
    REMOVE_PUBLICATION: "REMOVE_PUBLICATION",
    ADD_EXCLUSIVE_PUBLICATION: "ADD_EXCLUSIVE_PUBLICATION",
    ADD_SUBSCRIPTION: "ADD_SUBSCRIPTION",
    REMOVE_SUBSCRIPTION: "REMOVE_SUBSCRIPTION",
    CLIENT_KEEPALIVE: "CLIENT_KEEPALIVE",
    ADD_DESTINATION: "ADD_DESTINATION",
    REMOVE_DESTINATION: "REMOVE_DESTINATION",
    ADD_COUNTER: "ADD_COUNTER",
    REMOVE_COUNTER: "REMOVE_COUNTER",
    CLIENT_CLOSE: "CLIENT_CLOSE",
    ADD_RCV_DESTINATION: "ADD_RCV_DESTINATION",
    REMOVE_RCV_DESTINATION: "REMOVE_RCV_DESTINATION",
    TERMINATE_DRIVER: "TERMINATE_DRIVER",
    ADD_STATIC_COUNTER: "ADD_STATIC_COUNTER",
    REJECT_IMAGE: "REJECT_IMAGE",
    REMOVE_DESTINATION_BY_ID: "REMOVE_DESTINATION_BY_ID",
    GET_NEXT_AVAILABLE_SESSION_ID: "GET_NEXT_AVAILABLE_SESSION_ID",
}

RESPONSE_NAMES: dict[int, str] = {
    ON_ERROR: "ON_ERROR",
    ON_AVAILABLE_IMAGE: "ON_AVAILABLE_IMAGE",
    ON_PUBLICATION_READY: "ON_PUBLICATION_READY",
    ON_OPERATION_SUCCESS: "ON_OPERATION_SUCCESS",
    ON_UNAVAILABLE_IMAGE: "ON_UNAVAILABLE_IMAGE",
    ON_EXCLUSIVE_PUBLICATION_READY: "ON_EXCLUSIVE_PUBLICATION_READY",
    ON_SUBSCRIPTION_READY: "ON_SUBSCRIPTION_READY",
    ON_COUNTER_READY: "ON_COUNTER_READY",
    ON_UNAVAILABLE_COUNTER: "ON_UNAVAILABLE_COUNTER",
    ON_CLIENT_TIMEOUT: "ON_CLIENT_TIMEOUT",
    ON_STATIC_COUNTER: "ON_STATIC_COUNTER",
    ON_PUBLICATION_ERROR: "ON_PUBLICATION_ERROR",
    ON_NEXT_AVAILABLE_SESSION_ID: "ON_NEXT_AVAILABLE_SESSION_ID",
}


class ErrorCode(IntEnum):
    """Error codes carried by ON_ERROR (and ERR frames)."""

    UNKNOWN_CODE_VALUE = -1
    UNUSED = 0
    INVALID_CHANNEL = 1
    UNKNOWN_SUBSCRIPTION = 2
    UNKNOWN_PUBLICATION = 3
    CHANNEL_ENDPOINT_ERROR = 4
    UNKNOWN_COUNTER = 5
    UNKNOWN_COMMAND_TYPE_ID = 6
    MALFORMED_COMMAND = 7
    NOT_SUPPORTED = 8
    UNKNOWN_HOST = 9
    RESOURCE_TEMPORARILY_UNAVAILABLE = 10
    GENERIC_ERROR = 11
    STORAGE_SPACE = 12
    IMAGE_REJECTED = 13
    PUBLICATION_REVOKED = 14

    @classmethod
    def from_code(cls, code: int) -> ErrorCode:
        """The enum member for ``code``, or UNKNOWN_CODE_VALUE."""
        try:
            return cls(code)
        except ValueError:
            return cls.UNKNOWN_CODE_VALUE


class MalformedCommandError(AeronError):
    """A control record is too short for its fixed part or its declared lengths."""


_I32 = struct.Struct("<i")
_CORRELATED = struct.Struct("<qq")
_PUBLICATION = struct.Struct("<qqii")
_REMOVE_PUBLICATION = struct.Struct("<qqqQ")
_REMOVE_PUBLICATION_OLD = struct.Struct("<qqq")
_SUBSCRIPTION = struct.Struct("<qqqii")
_REMOVE = struct.Struct("<qqq")
_DESTINATION = struct.Struct("<qqqi")
_DESTINATION_BY_ID = struct.Struct("<qqqq")
_COUNTER = struct.Struct("<qqi")
_STATIC_COUNTER = struct.Struct("<qqqi")
_TERMINATE = struct.Struct("<qqi")
_REJECT_IMAGE = struct.Struct("<qqqqi")
_REJECT_IMAGE_MIN_LENGTH = 40  # sizeof the C struct incl. one reason byte and padding
_SESSION_ID_REQ = struct.Struct("<qqi")

_ERROR = struct.Struct("<qii")
_IMAGE_READY = struct.Struct("<qiiqii")  # through log_file_length
_PUBLICATION_READY = struct.Struct("<qqiiiii")
_LONG = struct.Struct("<q")
_IMAGE_MESSAGE = struct.Struct("<qqii")
_LONG_INT = struct.Struct("<qi")
_PUBLICATION_ERROR = struct.Struct("<qqiiqqhH16sii")


def _view(buffer: Any) -> memoryview:
    if isinstance(buffer, (bytes, bytearray, memoryview)):
        return memoryview(buffer)
    return view_of(buffer)


def _malformed(name: str, length: int, needed: int) -> MalformedCommandError:
    return MalformedCommandError(f"{name} too short: length={length} needed={needed}")


def _check(name: str, mv: memoryview, offset: int, length: int, needed: int) -> None:
    if length < needed:
        raise _malformed(name, length, needed)
    if offset < 0 or offset + length > len(mv):
        raise MalformedCommandError(
            f"{name}: record {offset}+{length} outside buffer of {len(mv)} bytes"
        )


def _var_length(name: str, value: int) -> int:
    if value < 0:
        raise MalformedCommandError(f"{name}: negative declared length {value}")
    return value


def _text(mv: memoryview, start: int, n: int) -> str:
    return str(mv[start : start + n], "utf-8", "replace")


def _align4(n: int) -> int:
    return (n + 3) & ~3


def _key_label(
    name: str, mv: memoryview, offset: int, length: int, at: int
) -> tuple[bytes, str]:
    """Decode ``int32 K; key; pad to 4; int32 N; label`` starting at record offset ``at``."""
    _check(name, mv, offset, length, at + 4)
    key_length = _var_length(name, _I32.unpack_from(mv, offset + at)[0])
    label_at = at + 4 + _align4(key_length)
    _check(name, mv, offset, length, label_at + 4)
    label_length = _var_length(name, _I32.unpack_from(mv, offset + label_at)[0])
    _check(name, mv, offset, length, label_at + 4 + label_length)
    key = bytes(mv[offset + at + 4 : offset + at + 4 + key_length])
    return key, _text(mv, offset + label_at + 4, label_length)


def _encode_key_label(key: bytes, label: str) -> bytes:
    label_bytes = label.encode()
    pad = _align4(len(key)) - len(key)
    return b"".join(
        (_I32.pack(len(key)), key, b"\0" * pad, _I32.pack(len(label_bytes)), label_bytes)
    )


# --------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CorrelatedMessage:
    """CLIENT_KEEPALIVE / CLIENT_CLOSE: the 16-byte correlated header alone."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (CLIENT_KEEPALIVE, CLIENT_CLOSE)
    LENGTH: ClassVar[int] = 16

    client_id: int
    correlation_id: int

    def encode(self) -> bytes:
        """Record payload."""
        return _CORRELATED.pack(self.client_id, self.correlation_id)

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode a record; MalformedCommandError if shorter than 16 bytes."""
        mv = _view(buffer)
        _check("correlated command", mv, offset, length, 16)
        return cls(*_CORRELATED.unpack_from(mv, offset))


@dataclass(frozen=True, slots=True)
class PublicationMessage:
    """ADD_PUBLICATION / ADD_EXCLUSIVE_PUBLICATION: stream id and channel at 24."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ADD_PUBLICATION, ADD_EXCLUSIVE_PUBLICATION)
    CHANNEL_OFFSET: ClassVar[int] = 24

    client_id: int
    correlation_id: int
    stream_id: int
    channel: str

    def encode(self) -> bytes:
        """Record payload."""
        channel = self.channel.encode()
        return (
            _PUBLICATION.pack(self.client_id, self.correlation_id, self.stream_id, len(channel))
            + channel
        )

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 24 + channel_length bytes."""
        mv = _view(buffer)
        _check("publication command", mv, offset, length, 24)
        client_id, correlation_id, stream_id, n = _PUBLICATION.unpack_from(mv, offset)
        _check("publication command", mv, offset, length, 24 + _var_length("channel", n))
        return cls(client_id, correlation_id, stream_id, _text(mv, offset + 24, n))


@dataclass(frozen=True, slots=True)
class RemovePublicationMessage:
    """REMOVE_PUBLICATION: 32 bytes; the older 24-byte form decodes with flags = 0."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (REMOVE_PUBLICATION,)
    LENGTH: ClassVar[int] = 32

    client_id: int
    correlation_id: int
    registration_id: int
    flags: int = 0

    @property
    def revoke(self) -> bool:
        """True if the REVOKE flag is set."""
        return bool(self.flags & REMOVE_PUBLICATION_FLAG_REVOKE)

    def encode(self) -> bytes:
        """Record payload (always the 32-byte form)."""
        return _REMOVE_PUBLICATION.pack(
            self.client_id, self.correlation_id, self.registration_id, self.flags
        )

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; 32 bytes, or exactly 24 bytes (flags = 0)."""
        mv = _view(buffer)
        if length == 24:
            _check("remove publication command", mv, offset, length, 24)
            client_id, correlation_id, registration_id = _REMOVE_PUBLICATION_OLD.unpack_from(
                mv, offset
            )
            return cls(client_id, correlation_id, registration_id, 0)
        _check("remove publication command", mv, offset, length, 32)
        return cls(*_REMOVE_PUBLICATION.unpack_from(mv, offset))


@dataclass(frozen=True, slots=True)
class SubscriptionMessage:
    """ADD_SUBSCRIPTION: registration_correlation_id at 16, stream id 24, channel at 32."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ADD_SUBSCRIPTION,)
    CHANNEL_OFFSET: ClassVar[int] = 32

    client_id: int
    correlation_id: int
    registration_correlation_id: int
    stream_id: int
    channel: str

    def encode(self) -> bytes:
        """Record payload."""
        channel = self.channel.encode()
        return (
            _SUBSCRIPTION.pack(
                self.client_id,
                self.correlation_id,
                self.registration_correlation_id,
                self.stream_id,
                len(channel),
            )
            + channel
        )

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 32 + channel_length bytes."""
        mv = _view(buffer)
        _check("subscription command", mv, offset, length, 32)
        client_id, correlation_id, reg_id, stream_id, n = _SUBSCRIPTION.unpack_from(mv, offset)
        _check("subscription command", mv, offset, length, 32 + _var_length("channel", n))
        return cls(client_id, correlation_id, reg_id, stream_id, _text(mv, offset + 32, n))


@dataclass(frozen=True, slots=True)
class RemoveMessage:
    """REMOVE_SUBSCRIPTION / REMOVE_COUNTER: registration id at 16 (24 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (REMOVE_SUBSCRIPTION, REMOVE_COUNTER)
    LENGTH: ClassVar[int] = 24

    client_id: int
    correlation_id: int
    registration_id: int

    def encode(self) -> bytes:
        """Record payload."""
        return _REMOVE.pack(self.client_id, self.correlation_id, self.registration_id)

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 24 bytes."""
        mv = _view(buffer)
        _check("remove command", mv, offset, length, 24)
        return cls(*_REMOVE.unpack_from(mv, offset))


@dataclass(frozen=True, slots=True)
class DestinationMessage:
    """ADD/REMOVE_DESTINATION and ADD/REMOVE_RCV_DESTINATION: channel at 28."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (
        ADD_DESTINATION,
        REMOVE_DESTINATION,
        ADD_RCV_DESTINATION,
        REMOVE_RCV_DESTINATION,
    )
    CHANNEL_OFFSET: ClassVar[int] = 28

    client_id: int
    correlation_id: int
    registration_id: int
    channel: str

    def encode(self) -> bytes:
        """Record payload."""
        channel = self.channel.encode()
        return (
            _DESTINATION.pack(
                self.client_id, self.correlation_id, self.registration_id, len(channel)
            )
            + channel
        )

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 28 + channel_length bytes."""
        mv = _view(buffer)
        _check("destination command", mv, offset, length, 28)
        client_id, correlation_id, registration_id, n = _DESTINATION.unpack_from(mv, offset)
        _check("destination command", mv, offset, length, 28 + _var_length("channel", n))
        return cls(client_id, correlation_id, registration_id, _text(mv, offset + 28, n))


@dataclass(frozen=True, slots=True)
class DestinationByIdMessage:
    """REMOVE_DESTINATION_BY_ID (32 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (REMOVE_DESTINATION_BY_ID,)
    LENGTH: ClassVar[int] = 32

    client_id: int
    correlation_id: int
    resource_registration_id: int
    destination_registration_id: int

    def encode(self) -> bytes:
        """Record payload."""
        return _DESTINATION_BY_ID.pack(
            self.client_id,
            self.correlation_id,
            self.resource_registration_id,
            self.destination_registration_id,
        )

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 32 bytes."""
        mv = _view(buffer)
        _check("destination by id command", mv, offset, length, 32)
        return cls(*_DESTINATION_BY_ID.unpack_from(mv, offset))


@dataclass(frozen=True, slots=True)
class CounterMessage:
    """ADD_COUNTER: type id at 16, key length 20, key 24, label at 24 + align(K, 4)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ADD_COUNTER,)

    client_id: int
    correlation_id: int
    type_id: int
    key: bytes
    label: str

    def encode(self) -> bytes:
        """Record payload."""
        return _COUNTER.pack(
            self.client_id, self.correlation_id, self.type_id
        ) + _encode_key_label(self.key, self.label)

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 28 + align(K, 4) + N bytes."""
        mv = _view(buffer)
        _check("counter command", mv, offset, length, 20)
        client_id, correlation_id, type_id = _COUNTER.unpack_from(mv, offset)
        key, label = _key_label("counter command", mv, offset, length, 20)
        return cls(client_id, correlation_id, type_id, key, label)


@dataclass(frozen=True, slots=True)
class StaticCounterMessage:
    """ADD_STATIC_COUNTER: registration id 16, type id 24, key length 28, key 32, label."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ADD_STATIC_COUNTER,)

    client_id: int
    correlation_id: int
    registration_id: int
    type_id: int
    key: bytes
    label: str

    def encode(self) -> bytes:
        """Record payload."""
        return _STATIC_COUNTER.pack(
            self.client_id, self.correlation_id, self.registration_id, self.type_id
        ) + _encode_key_label(self.key, self.label)

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 36 + align(K, 4) + N bytes."""
        mv = _view(buffer)
        _check("static counter command", mv, offset, length, 28)
        client_id, correlation_id, registration_id, type_id = _STATIC_COUNTER.unpack_from(
            mv, offset
        )
        key, label = _key_label("static counter command", mv, offset, length, 28)
        return cls(client_id, correlation_id, registration_id, type_id, key, label)


@dataclass(frozen=True, slots=True)
class TerminateDriverMessage:
    """TERMINATE_DRIVER: token length at 16, token bytes at 20."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (TERMINATE_DRIVER,)

    client_id: int
    correlation_id: int
    token: bytes = b""

    def encode(self) -> bytes:
        """Record payload."""
        return _TERMINATE.pack(self.client_id, self.correlation_id, len(self.token)) + self.token

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 20 + token_length bytes."""
        mv = _view(buffer)
        _check("terminate driver command", mv, offset, length, 20)
        client_id, correlation_id, n = _TERMINATE.unpack_from(mv, offset)
        _check("terminate driver command", mv, offset, length, 20 + _var_length("token", n))
        return cls(client_id, correlation_id, bytes(mv[offset + 20 : offset + 20 + n]))


@dataclass(frozen=True, slots=True)
class RejectImageMessage:
    """REJECT_IMAGE: image correlation id 16, position 24, reason length 32, reason 36.

    The record must be at least 40 bytes (the C struct size) and at least 36 + R; encoding
    appends a NUL (as the C client does) and pads to 40 bytes.
    """

    TYPE_IDS: ClassVar[tuple[int, ...]] = (REJECT_IMAGE,)
    MIN_LENGTH: ClassVar[int] = _REJECT_IMAGE_MIN_LENGTH

    client_id: int
    correlation_id: int
    image_correlation_id: int
    position: int
    reason: str

    def encode(self) -> bytes:
        """Record payload."""
        reason = self.reason.encode()
        body = (
            _REJECT_IMAGE.pack(
                self.client_id,
                self.correlation_id,
                self.image_correlation_id,
                self.position,
                len(reason),
            )
            + reason
            + b"\0"
        )
        return body.ljust(_REJECT_IMAGE_MIN_LENGTH, b"\0")

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs max(40, 36 + reason_length) bytes."""
        mv = _view(buffer)
        _check("reject image command", mv, offset, length, _REJECT_IMAGE_MIN_LENGTH)
        client_id, correlation_id, image_id, position, n = _REJECT_IMAGE.unpack_from(mv, offset)
        _check("reject image command", mv, offset, length, 36 + _var_length("reason", n))
        return cls(client_id, correlation_id, image_id, position, _text(mv, offset + 36, n))


@dataclass(frozen=True, slots=True)
class GetNextAvailableSessionIdMessage:
    """GET_NEXT_AVAILABLE_SESSION_ID: stream id at 16 (20 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (GET_NEXT_AVAILABLE_SESSION_ID,)
    LENGTH: ClassVar[int] = 20

    client_id: int
    correlation_id: int
    stream_id: int

    def encode(self) -> bytes:
        """Record payload."""
        return _SESSION_ID_REQ.pack(self.client_id, self.correlation_id, self.stream_id)

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 20 bytes."""
        mv = _view(buffer)
        _check("next session id command", mv, offset, length, 20)
        return cls(*_SESSION_ID_REQ.unpack_from(mv, offset))


# --------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """ON_ERROR: offending correlation id 0, error code 8, message length 12, message 16."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_ERROR,)

    offending_command_correlation_id: int
    error_code: int
    error_message: str

    def encode(self) -> bytes:
        """Record payload."""
        message = self.error_message.encode()
        return (
            _ERROR.pack(self.offending_command_correlation_id, self.error_code, len(message))
            + message
        )

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 16 + message_length bytes."""
        mv = _view(buffer)
        _check("error response", mv, offset, length, 16)
        correlation_id, code, n = _ERROR.unpack_from(mv, offset)
        _check("error response", mv, offset, length, 16 + _var_length("error message", n))
        return cls(correlation_id, code, _text(mv, offset + 16, n))


@dataclass(frozen=True, slots=True)
class ImageBuffersReady:
    """ON_AVAILABLE_IMAGE: log file name at 32, source identity at 32 + align(F, 4)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_AVAILABLE_IMAGE,)

    correlation_id: int
    session_id: int
    stream_id: int
    subscription_registration_id: int
    subscriber_position_id: int
    log_file_name: str
    source_identity: str

    def encode(self) -> bytes:
        """Record payload."""
        log_file = self.log_file_name.encode()
        source = self.source_identity.encode()
        pad = _align4(len(log_file)) - len(log_file)
        return b"".join(
            (
                _IMAGE_READY.pack(
                    self.correlation_id,
                    self.session_id,
                    self.stream_id,
                    self.subscription_registration_id,
                    self.subscriber_position_id,
                    len(log_file),
                ),
                log_file,
                b"\0" * pad,
                _I32.pack(len(source)),
                source,
            )
        )

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 36 + align(F, 4) + S bytes."""
        name = "available image response"
        mv = _view(buffer)
        _check(name, mv, offset, length, 36)
        corr, session_id, stream_id, sub_reg_id, sub_pos_id, f = _IMAGE_READY.unpack_from(
            mv, offset
        )
        source_at = 32 + _align4(_var_length("log file name", f))
        _check(name, mv, offset, length, source_at + 4)
        s = _var_length("source identity", _I32.unpack_from(mv, offset + source_at)[0])
        _check(name, mv, offset, length, source_at + 4 + s)
        return cls(
            corr,
            session_id,
            stream_id,
            sub_reg_id,
            sub_pos_id,
            _text(mv, offset + 32, f),
            _text(mv, offset + source_at + 4, s),
        )


@dataclass(frozen=True, slots=True)
class PublicationBuffersReady:
    """ON_PUBLICATION_READY / ON_EXCLUSIVE_PUBLICATION_READY: log file name at 36."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_PUBLICATION_READY, ON_EXCLUSIVE_PUBLICATION_READY)

    correlation_id: int
    registration_id: int
    session_id: int
    stream_id: int
    position_limit_counter_id: int
    channel_status_indicator_id: int
    log_file_name: str

    def encode(self) -> bytes:
        """Record payload."""
        log_file = self.log_file_name.encode()
        return (
            _PUBLICATION_READY.pack(
                self.correlation_id,
                self.registration_id,
                self.session_id,
                self.stream_id,
                self.position_limit_counter_id,
                self.channel_status_indicator_id,
                len(log_file),
            )
            + log_file
        )

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 36 + log_file_length bytes."""
        mv = _view(buffer)
        _check("publication ready response", mv, offset, length, 36)
        corr, reg_id, session_id, stream_id, limit_id, status_id, f = (
            _PUBLICATION_READY.unpack_from(mv, offset)
        )
        _check(
            "publication ready response",
            mv,
            offset,
            length,
            36 + _var_length("log file name", f),
        )
        return cls(
            corr, reg_id, session_id, stream_id, limit_id, status_id, _text(mv, offset + 36, f)
        )


@dataclass(frozen=True, slots=True)
class OperationSucceeded:
    """ON_OPERATION_SUCCESS (8 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_OPERATION_SUCCESS,)
    LENGTH: ClassVar[int] = 8

    correlation_id: int

    def encode(self) -> bytes:
        """Record payload."""
        return _LONG.pack(self.correlation_id)

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 8 bytes."""
        mv = _view(buffer)
        _check("operation success response", mv, offset, length, 8)
        return cls(_LONG.unpack_from(mv, offset)[0])


@dataclass(frozen=True, slots=True)
class ImageMessage:
    """ON_UNAVAILABLE_IMAGE: stream id 16, channel length 20, channel 24."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_UNAVAILABLE_IMAGE,)

    correlation_id: int
    subscription_registration_id: int
    stream_id: int
    channel: str

    def encode(self) -> bytes:
        """Record payload."""
        channel = self.channel.encode()
        return (
            _IMAGE_MESSAGE.pack(
                self.correlation_id, self.subscription_registration_id, self.stream_id, len(channel)
            )
            + channel
        )

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 24 + channel_length bytes."""
        mv = _view(buffer)
        _check("unavailable image response", mv, offset, length, 24)
        corr, sub_reg_id, stream_id, n = _IMAGE_MESSAGE.unpack_from(mv, offset)
        _check("unavailable image response", mv, offset, length, 24 + _var_length("channel", n))
        return cls(corr, sub_reg_id, stream_id, _text(mv, offset + 24, n))


@dataclass(frozen=True, slots=True)
class SubscriptionReady:
    """ON_SUBSCRIPTION_READY (12 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_SUBSCRIPTION_READY,)
    LENGTH: ClassVar[int] = 12

    correlation_id: int
    channel_status_indicator_id: int

    def encode(self) -> bytes:
        """Record payload."""
        return _LONG_INT.pack(self.correlation_id, self.channel_status_indicator_id)

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 12 bytes."""
        mv = _view(buffer)
        _check("subscription ready response", mv, offset, length, 12)
        return cls(*_LONG_INT.unpack_from(mv, offset))


@dataclass(frozen=True, slots=True)
class CounterUpdate:
    """ON_COUNTER_READY / ON_UNAVAILABLE_COUNTER / ON_STATIC_COUNTER (12 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (
        ON_COUNTER_READY,
        ON_UNAVAILABLE_COUNTER,
        ON_STATIC_COUNTER,
    )
    LENGTH: ClassVar[int] = 12

    correlation_id: int
    counter_id: int

    def encode(self) -> bytes:
        """Record payload."""
        return _LONG_INT.pack(self.correlation_id, self.counter_id)

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 12 bytes."""
        mv = _view(buffer)
        _check("counter update response", mv, offset, length, 12)
        return cls(*_LONG_INT.unpack_from(mv, offset))


@dataclass(frozen=True, slots=True)
class ClientTimeout:
    """ON_CLIENT_TIMEOUT (8 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_CLIENT_TIMEOUT,)
    LENGTH: ClassVar[int] = 8

    client_id: int

    def encode(self) -> bytes:
        """Record payload."""
        return _LONG.pack(self.client_id)

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 8 bytes."""
        mv = _view(buffer)
        _check("client timeout response", mv, offset, length, 8)
        return cls(_LONG.unpack_from(mv, offset)[0])


@dataclass(frozen=True, slots=True)
class PublicationErrorFrame:
    """ON_PUBLICATION_ERROR: fixed 68 bytes then the error message.

    ``source_address`` is the 16-byte address field (IPv4 in the first 4 bytes; shorter values
    are zero-padded to 16 on construction).  Encoded
    length is 68 + M like the C driver; note the C client drops records shorter than 72.
    """

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_PUBLICATION_ERROR,)
    MESSAGE_OFFSET: ClassVar[int] = 68

    registration_id: int
    destination_registration_id: int
    session_id: int
    stream_id: int
    receiver_id: int
    group_tag: int
    address_type: int
    source_port: int
    source_address: bytes
    error_code: int
    error_message: str

    def __post_init__(self) -> None:
        address = bytes(self.source_address)
        if len(address) > 16:
            raise ValueError(f"source_address longer than 16 bytes: {len(address)}")
        object.__setattr__(self, "source_address", address.ljust(16, b"\0"))

    def encode(self) -> bytes:
        """Record payload."""
        message = self.error_message.encode()
        return (
            _PUBLICATION_ERROR.pack(
                self.registration_id,
                self.destination_registration_id,
                self.session_id,
                self.stream_id,
                self.receiver_id,
                self.group_tag,
                self.address_type,
                self.source_port,
                self.source_address,
                self.error_code,
                len(message),
            )
            + message
        )

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 68 + message_length bytes."""
        mv = _view(buffer)
        _check("publication error response", mv, offset, length, 68)
        (
            reg_id,
            dest_id,
            session_id,
            stream_id,
            receiver_id,
            group_tag,
            address_type,
            port,
            address,
            code,
            n,
        ) = _PUBLICATION_ERROR.unpack_from(mv, offset)
        _check(
            "publication error response", mv, offset, length, 68 + _var_length("error message", n)
        )
        return cls(
            reg_id,
            dest_id,
            session_id,
            stream_id,
            receiver_id,
            group_tag,
            address_type,
            port,
            address,
            code,
            _text(mv, offset + 68, n),
        )


@dataclass(frozen=True, slots=True)
class NextAvailableSessionId:
    """ON_NEXT_AVAILABLE_SESSION_ID (12 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_NEXT_AVAILABLE_SESSION_ID,)
    LENGTH: ClassVar[int] = 12

    correlation_id: int
    next_session_id: int

    def encode(self) -> bytes:
        """Record payload."""
        return _LONG_INT.pack(self.correlation_id, self.next_session_id)

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; needs 12 bytes."""
        mv = _view(buffer)
        _check("next session id response", mv, offset, length, 12)
        return cls(*_LONG_INT.unpack_from(mv, offset))


COMMAND_TYPES: tuple[type[Any], ...] = (
    CorrelatedMessage,
    PublicationMessage,
    RemovePublicationMessage,
    SubscriptionMessage,
    RemoveMessage,
    DestinationMessage,
    DestinationByIdMessage,
    CounterMessage,
    StaticCounterMessage,
    TerminateDriverMessage,
    RejectImageMessage,
    GetNextAvailableSessionIdMessage,
)

RESPONSE_TYPES: tuple[type[Any], ...] = (
    ErrorResponse,
    ImageBuffersReady,
    PublicationBuffersReady,
    OperationSucceeded,
    ImageMessage,
    SubscriptionReady,
    CounterUpdate,
    ClientTimeout,
    PublicationErrorFrame,
    NextAvailableSessionId,
)

#: Message class by command type id.
COMMAND_DECODERS: dict[int, type[Any]] = {t: c for c in COMMAND_TYPES for t in c.TYPE_IDS}
#: Message class by response type id.
RESPONSE_DECODERS: dict[int, type[Any]] = {t: c for c in RESPONSE_TYPES for t in c.TYPE_IDS}


def decode_command(msg_type_id: int, buffer: Any, offset: int, length: int) -> Any:
    """Decode a to-driver record by type id; ``KeyError`` for an unknown type id."""
    return COMMAND_DECODERS[msg_type_id].decode(buffer, offset, length)


def decode_response(msg_type_id: int, buffer: Any, offset: int, length: int) -> Any:
    """Decode a to-clients record by type id; ``KeyError`` for an unknown type id."""
    return RESPONSE_DECODERS[msg_type_id].decode(buffer, offset, length)

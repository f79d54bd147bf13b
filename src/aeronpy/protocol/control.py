"""Client <-> driver control protocol codecs (``control-protocol.md``).

Commands (client -> driver) are records in the to-driver ring buffer; responses
(driver -> clients) are records in the to-clients broadcast buffer.  The record type id
selects the message; the payload layouts below are little-endian and packed to 4 bytes.

Every message is a frozen dataclass whose payload layout is declared once, as data (its
``LAYOUT``: a :class:`RecordLayout` of fixed fields and variable-length fields); one generic
``encode() -> bytes`` (the record payload) and ``decode(buffer, offset, length)`` serve them
all.  ``decode`` raises :class:`MalformedCommandError` when the record is shorter than its
fixed part or than the fixed part plus its declared variable lengths (negative declared
lengths are malformed too).  Strings are an int32 length then UTF-8 (in practice ASCII)
bytes without terminator.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from operator import attrgetter
from enum import IntEnum
from typing import Any, Callable, ClassVar, Self

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


def _view(buffer: Any) -> memoryview:
    if isinstance(buffer, (bytes, bytearray, memoryview)):
        return memoryview(buffer)
    return view_of(buffer)


def _check(name: str, mv: memoryview, offset: int, length: int, needed: int) -> None:
    if length < needed:
        raise MalformedCommandError(f"{name} too short: length={length} needed={needed}")
    if offset < 0 or offset + length > len(mv):
        raise MalformedCommandError(
            f"{name}: record {offset}+{length} outside buffer of {len(mv)} bytes"
        )


def _align4(n: int) -> int:
    return (n + 3) & ~3


# --------------------------------------------------------------------------------------
# Layouts as data: one generic encoder and decoder
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VarField:
    """A variable-length field: int32 length, then the bytes (UTF-8 text for ``str``),
    zero-padded to 4 when ``aligned`` (another variable field follows)."""

    name: str
    kind: type[str] | type[bytes] = str
    aligned: bool = False


@dataclass(frozen=True, slots=True)
class RecordLayout:
    """A record payload: little-endian fixed fields packed to 4 (``(name, struct code)``
    pairs) from offset 0, then the variable fields in order.

    :meth:`decode` raises :class:`MalformedCommandError` when the record is shorter than its
    fixed part (plus the first length field), than ``min_length`` or than the lengths it
    declares (negative ones are malformed), or when it lies outside the buffer."""

    what: str
    fixed: tuple[tuple[str, str], ...]
    var: tuple[VarField, ...] = ()
    min_length: int = 0
    fixed_struct: struct.Struct = field(init=False, repr=False, compare=False)
    field_names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    values_of: Callable[[Any], tuple[Any, ...]] = field(init=False, repr=False, compare=False)
    """The field values of a message, in layout order."""
    _head: struct.Struct = field(init=False, repr=False, compare=False)
    _first_needed: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        codes = "".join(code for _, code in self.fixed)
        fixed_struct = struct.Struct("<" + codes)
        # the fixed part and the first length field in one struct (the common one-string case)
        head = struct.Struct("<" + codes + ("i" if self.var else ""))
        names = tuple(name for name, _ in self.fixed) + tuple(v.name for v in self.var)
        getter = attrgetter(*names)
        values_of = getter if len(names) > 1 else (lambda message: (getter(message),))
        needed = max(head.size, self.min_length)
        for name, value in (("fixed_struct", fixed_struct), ("field_names", names), ("values_of", values_of),
                            ("_head", head), ("_first_needed", needed)):
            object.__setattr__(self, name, value)

    @property
    def fixed_length(self) -> int:
        return self.fixed_struct.size

    def var_offset(self, index: int = 0) -> int:
        """Where variable field ``index`` starts when the ones before it are empty."""
        return self.fixed_length + 4 * (index + 1)

    def encode(self, values: tuple[Any, ...]) -> bytes:
        if not self.var:
            return self.fixed_struct.pack(*values)
        n = len(self.fixed)
        raws = [v.encode() if f.kind is str else bytes(v) for f, v in zip(self.var, values[n:])]
        first = raws[0]
        parts = [self._head.pack(*values[:n], len(first)), first]
        for i, field_ in enumerate(self.var):
            if i:
                parts += (_I32.pack(len(raws[i])), raws[i])
            if field_.aligned:
                parts.append(b"\0" * (-len(raws[i]) & 3))
        return b"".join(parts)

    def decode(self, mv: memoryview, offset: int, length: int) -> list[Any]:
        what = self.what
        if length < self._first_needed or offset < 0 or offset + length > len(mv):
            _check(what, mv, offset, length, self._first_needed)
        if not self.var:
            return list(self.fixed_struct.unpack_from(mv, offset))
        values: list[Any] = list(self._head.unpack_from(mv, offset))
        n = values.pop()
        at = self.fixed_struct.size
        for i, field_ in enumerate(self.var):
            if i:
                _check(what, mv, offset, length, at + 4)
                n = _I32.unpack_from(mv, offset + at)[0]
            if n < 0:
                raise MalformedCommandError(f"{what}: negative declared length {n} of {field_.name}")
            start = at + 4
            if start + n > length:
                _check(what, mv, offset, length, start + n)
            raw = mv[offset + start : offset + start + n]
            values.append(str(raw, "utf-8", "replace") if field_.kind is str else bytes(raw))
            at = start + (_align4(n) if field_.aligned else n)
        return values


def _layout(what: str, *fields: tuple[str, str] | VarField, min_length: int = 0) -> RecordLayout:
    fixed = tuple(f for f in fields if isinstance(f, tuple))
    var = tuple(f for f in fields if isinstance(f, VarField))
    return RecordLayout(what, fixed, var, min_length)


_CLIENT = (("client_id", "q"), ("correlation_id", "q"))
_KEY_LABEL = (VarField("key", bytes, aligned=True), VarField("label"))


class _Record:
    """A control message whose payload is its class's :data:`LAYOUT` over its fields."""

    __slots__ = ()
    LAYOUT: ClassVar[RecordLayout]

    def encode(self) -> bytes:
        """The record payload."""
        layout = self.LAYOUT
        return layout.encode(layout.values_of(self))

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode the record at ``offset``, ``length`` bytes; MalformedCommandError if short."""
        make: Callable[..., Self] = cls
        return make(*cls.LAYOUT.decode(_view(buffer), offset, length))


# --------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CorrelatedMessage(_Record):
    """CLIENT_KEEPALIVE / CLIENT_CLOSE: the 16-byte correlated header alone."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (CLIENT_KEEPALIVE, CLIENT_CLOSE)
    LAYOUT: ClassVar[RecordLayout] = _layout("correlated command", *_CLIENT)
    LENGTH: ClassVar[int] = 16

    client_id: int
    correlation_id: int


@dataclass(frozen=True, slots=True)
class PublicationMessage(_Record):
    """ADD_PUBLICATION / ADD_EXCLUSIVE_PUBLICATION: stream id 16, channel at 24."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ADD_PUBLICATION, ADD_EXCLUSIVE_PUBLICATION)
    LAYOUT: ClassVar[RecordLayout] = _layout("publication command", *_CLIENT, ("stream_id", "i"), VarField("channel"))
    CHANNEL_OFFSET: ClassVar[int] = 24

    client_id: int
    correlation_id: int
    stream_id: int
    channel: str


_REMOVE_PUBLICATION_LEGACY = _layout("remove publication command", *_CLIENT, ("registration_id", "q"))


@dataclass(frozen=True, slots=True)
class RemovePublicationMessage(_Record):
    """REMOVE_PUBLICATION: 32 bytes; the older 24-byte form decodes with flags = 0."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (REMOVE_PUBLICATION,)
    LAYOUT: ClassVar[RecordLayout] = _layout(
        "remove publication command", *_CLIENT, ("registration_id", "q"), ("flags", "Q")
    )
    LENGTH: ClassVar[int] = 32

    client_id: int
    correlation_id: int
    registration_id: int
    flags: int = 0

    @property
    def revoke(self) -> bool:
        """True if the REVOKE flag is set."""
        return bool(self.flags & REMOVE_PUBLICATION_FLAG_REVOKE)

    @classmethod
    def decode(cls, buffer: Any, offset: int, length: int) -> Self:
        """Decode; 32 bytes, or exactly 24 bytes (flags = 0)."""
        layout = _REMOVE_PUBLICATION_LEGACY if length == 24 else cls.LAYOUT
        values = layout.decode(_view(buffer), offset, length)
        return cls(*values) if len(values) == 4 else cls(values[0], values[1], values[2], 0)


@dataclass(frozen=True, slots=True)
class SubscriptionMessage(_Record):
    """ADD_SUBSCRIPTION: registration_correlation_id at 16, stream id 24, channel at 32."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ADD_SUBSCRIPTION,)
    LAYOUT: ClassVar[RecordLayout] = _layout(
        "subscription command", *_CLIENT, ("registration_correlation_id", "q"), ("stream_id", "i"),
        VarField("channel"),
    )
    CHANNEL_OFFSET: ClassVar[int] = 32

    client_id: int
    correlation_id: int
    registration_correlation_id: int
    stream_id: int
    channel: str


@dataclass(frozen=True, slots=True)
class RemoveMessage(_Record):
    """REMOVE_SUBSCRIPTION / REMOVE_COUNTER: registration id at 16 (24 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (REMOVE_SUBSCRIPTION, REMOVE_COUNTER)
    LAYOUT: ClassVar[RecordLayout] = _layout("remove command", *_CLIENT, ("registration_id", "q"))
    LENGTH: ClassVar[int] = 24

    client_id: int
    correlation_id: int
    registration_id: int


@dataclass(frozen=True, slots=True)
class DestinationMessage(_Record):
    """ADD/REMOVE_DESTINATION and ADD/REMOVE_RCV_DESTINATION: registration id 16, channel at 28."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (
        ADD_DESTINATION,
        REMOVE_DESTINATION,
        ADD_RCV_DESTINATION,
        REMOVE_RCV_DESTINATION,
    )
    LAYOUT: ClassVar[RecordLayout] = _layout("destination command", *_CLIENT, ("registration_id", "q"), VarField("channel"))
    CHANNEL_OFFSET: ClassVar[int] = 28

    client_id: int
    correlation_id: int
    registration_id: int
    channel: str


@dataclass(frozen=True, slots=True)
class DestinationByIdMessage(_Record):
    """REMOVE_DESTINATION_BY_ID (32 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (REMOVE_DESTINATION_BY_ID,)
    LAYOUT: ClassVar[RecordLayout] = _layout(
        "destination by id command", *_CLIENT, ("resource_registration_id", "q"), ("destination_registration_id", "q")
    )
    LENGTH: ClassVar[int] = 32

    client_id: int
    correlation_id: int
    resource_registration_id: int
    destination_registration_id: int


@dataclass(frozen=True, slots=True)
class CounterMessage(_Record):
    """ADD_COUNTER: type id at 16, key length 20, key 24, label at 24 + align(K, 4)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ADD_COUNTER,)
    LAYOUT: ClassVar[RecordLayout] = _layout("counter command", *_CLIENT, ("type_id", "i"), *_KEY_LABEL)

    client_id: int
    correlation_id: int
    type_id: int
    key: bytes
    label: str


@dataclass(frozen=True, slots=True)
class StaticCounterMessage(_Record):
    """ADD_STATIC_COUNTER: registration id 16, type id 24, key length 28, key 32, label."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ADD_STATIC_COUNTER,)
    LAYOUT: ClassVar[RecordLayout] = _layout(
        "static counter command", *_CLIENT, ("registration_id", "q"), ("type_id", "i"), *_KEY_LABEL
    )

    client_id: int
    correlation_id: int
    registration_id: int
    type_id: int
    key: bytes
    label: str


@dataclass(frozen=True, slots=True)
class TerminateDriverMessage(_Record):
    """TERMINATE_DRIVER: token length at 16, token bytes at 20."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (TERMINATE_DRIVER,)
    LAYOUT: ClassVar[RecordLayout] = _layout("terminate driver command", *_CLIENT, VarField("token", bytes))

    client_id: int
    correlation_id: int
    token: bytes = b""


@dataclass(frozen=True, slots=True)
class RejectImageMessage(_Record):
    """REJECT_IMAGE: image correlation id 16, position 24, reason length 32, reason 36.

    The record must be at least 40 bytes (the C struct size) and at least 36 + R; encoding
    appends a NUL (as the C client does) and pads to 40 bytes.
    """

    TYPE_IDS: ClassVar[tuple[int, ...]] = (REJECT_IMAGE,)
    MIN_LENGTH: ClassVar[int] = 40  # sizeof the C struct incl. one reason byte and padding
    LAYOUT: ClassVar[RecordLayout] = _layout(
        "reject image command", *_CLIENT, ("image_correlation_id", "q"), ("position", "q"), VarField("reason"),
        min_length=MIN_LENGTH,
    )

    client_id: int
    correlation_id: int
    image_correlation_id: int
    position: int
    reason: str

    def encode(self) -> bytes:
        """Record payload: the layout, a NUL, padded to :data:`MIN_LENGTH`."""
        return (_Record.encode(self) + b"\0").ljust(self.MIN_LENGTH, b"\0")


@dataclass(frozen=True, slots=True)
class GetNextAvailableSessionIdMessage(_Record):
    """GET_NEXT_AVAILABLE_SESSION_ID: stream id at 16 (20 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (GET_NEXT_AVAILABLE_SESSION_ID,)
    LAYOUT: ClassVar[RecordLayout] = _layout("next session id command", *_CLIENT, ("stream_id", "i"))
    LENGTH: ClassVar[int] = 20

    client_id: int
    correlation_id: int
    stream_id: int


# --------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorResponse(_Record):
    """ON_ERROR: offending correlation id 0, error code 8, message length 12, message 16."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_ERROR,)
    LAYOUT: ClassVar[RecordLayout] = _layout(
        "error response", ("offending_command_correlation_id", "q"), ("error_code", "i"), VarField("error_message")
    )

    offending_command_correlation_id: int
    error_code: int
    error_message: str


@dataclass(frozen=True, slots=True)
class ImageBuffersReady(_Record):
    """ON_AVAILABLE_IMAGE: log file name at 32, source identity at 32 + align(F, 4)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_AVAILABLE_IMAGE,)
    LAYOUT: ClassVar[RecordLayout] = _layout(
        "available image response", ("correlation_id", "q"), ("session_id", "i"), ("stream_id", "i"),
        ("subscription_registration_id", "q"), ("subscriber_position_id", "i"),
        VarField("log_file_name", aligned=True), VarField("source_identity"),
    )

    correlation_id: int
    session_id: int
    stream_id: int
    subscription_registration_id: int
    subscriber_position_id: int
    log_file_name: str
    source_identity: str


@dataclass(frozen=True, slots=True)
class PublicationBuffersReady(_Record):
    """ON_PUBLICATION_READY / ON_EXCLUSIVE_PUBLICATION_READY: log file name at 36."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_PUBLICATION_READY, ON_EXCLUSIVE_PUBLICATION_READY)
    LAYOUT: ClassVar[RecordLayout] = _layout(
        "publication ready response", ("correlation_id", "q"), ("registration_id", "q"), ("session_id", "i"),
        ("stream_id", "i"), ("position_limit_counter_id", "i"), ("channel_status_indicator_id", "i"),
        VarField("log_file_name"),
    )

    correlation_id: int
    registration_id: int
    session_id: int
    stream_id: int
    position_limit_counter_id: int
    channel_status_indicator_id: int
    log_file_name: str


@dataclass(frozen=True, slots=True)
class OperationSucceeded(_Record):
    """ON_OPERATION_SUCCESS (8 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_OPERATION_SUCCESS,)
    LAYOUT: ClassVar[RecordLayout] = _layout("operation success response", ("correlation_id", "q"))
    LENGTH: ClassVar[int] = 8

    correlation_id: int


@dataclass(frozen=True, slots=True)
class ImageMessage(_Record):
    """ON_UNAVAILABLE_IMAGE: stream id 16, channel length 20, channel 24."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_UNAVAILABLE_IMAGE,)
    LAYOUT: ClassVar[RecordLayout] = _layout(
        "unavailable image response", ("correlation_id", "q"), ("subscription_registration_id", "q"),
        ("stream_id", "i"), VarField("channel"),
    )

    correlation_id: int
    subscription_registration_id: int
    stream_id: int
    channel: str


@dataclass(frozen=True, slots=True)
class SubscriptionReady(_Record):
    """ON_SUBSCRIPTION_READY (12 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_SUBSCRIPTION_READY,)
    LAYOUT: ClassVar[RecordLayout] = _layout(
        "subscription ready response", ("correlation_id", "q"), ("channel_status_indicator_id", "i")
    )
    LENGTH: ClassVar[int] = 12

    correlation_id: int
    channel_status_indicator_id: int


@dataclass(frozen=True, slots=True)
class CounterUpdate(_Record):
    """ON_COUNTER_READY / ON_UNAVAILABLE_COUNTER / ON_STATIC_COUNTER (12 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (
        ON_COUNTER_READY,
        ON_UNAVAILABLE_COUNTER,
        ON_STATIC_COUNTER,
    )
    LAYOUT: ClassVar[RecordLayout] = _layout("counter update response", ("correlation_id", "q"), ("counter_id", "i"))
    LENGTH: ClassVar[int] = 12

    correlation_id: int
    counter_id: int


@dataclass(frozen=True, slots=True)
class ClientTimeout(_Record):
    """ON_CLIENT_TIMEOUT (8 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_CLIENT_TIMEOUT,)
    LAYOUT: ClassVar[RecordLayout] = _layout("client timeout response", ("client_id", "q"))
    LENGTH: ClassVar[int] = 8

    client_id: int


@dataclass(frozen=True, slots=True)
class PublicationErrorFrame(_Record):
    """ON_PUBLICATION_ERROR: fixed 68 bytes then the error message.

    ``source_address`` is the 16-byte address field (IPv4 in the first 4 bytes; shorter values
    are zero-padded to 16 on construction).  Encoded
    length is 68 + M like the C driver; note the C client drops records shorter than 72.
    """

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_PUBLICATION_ERROR,)
    LAYOUT: ClassVar[RecordLayout] = _layout(
        "publication error response", ("registration_id", "q"), ("destination_registration_id", "q"),
        ("session_id", "i"), ("stream_id", "i"), ("receiver_id", "q"), ("group_tag", "q"),
        ("address_type", "h"), ("source_port", "H"), ("source_address", "16s"), ("error_code", "i"),
        VarField("error_message"),
    )
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


@dataclass(frozen=True, slots=True)
class NextAvailableSessionId(_Record):
    """ON_NEXT_AVAILABLE_SESSION_ID (12 bytes)."""

    TYPE_IDS: ClassVar[tuple[int, ...]] = (ON_NEXT_AVAILABLE_SESSION_ID,)
    LAYOUT: ClassVar[RecordLayout] = _layout("next session id response", ("correlation_id", "q"), ("next_session_id", "i"))
    LENGTH: ClassVar[int] = 12

    correlation_id: int
    next_session_id: int


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

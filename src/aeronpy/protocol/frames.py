"""UDP frame codecs (``wire-protocol.md``): DATA/PAD, SETUP, SM, NAK, ERR, RTTM, RSP_SETUP, RES.

Every frame is a frozen dataclass with ``encode() -> bytes`` and
``decode(data, offset=0)``.  Fields are the raw wire values (flags included), so
``decode(x.encode()) == x`` for every encodable ``x``.  Everything is little-endian.

Decoders accept any bytes-like object and raise only :class:`MalformedFrameError`:
for too few bytes, a non-zero version, the wrong frame type, or declared lengths that are
inconsistent with the bytes present.  They do not apply the semantic checks of the driver
(term length ranges, MTU, ...), which belong to the sender/receiver.  Encoders raise
``ValueError`` for values that do not fit their wire fields.

:func:`classify_datagram` is the datagram-level validity check both driver sides apply to
the first header of every datagram; :func:`iter_data_frames` walks the DATA/PAD frames
packed in one data datagram.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Self, TypeAlias

from aeronpy.errors import AeronError
from aeronpy.protocol.data_header import (
    BEGIN_AND_END_FLAGS,
    BEGIN_FLAG,
    CURRENT_VERSION,
    END_FLAG,
    EOS_FLAG,
    FRAME_ALIGNMENT,
    HDR_TYPE_DATA,
    HDR_TYPE_ERR,
    HDR_TYPE_NAK,
    HDR_TYPE_PAD,
    HDR_TYPE_RES,
    HDR_TYPE_RSP_SETUP,
    HDR_TYPE_RTTM,
    HDR_TYPE_SETUP,
    HDR_TYPE_SM,
    HEADER_LENGTH,
    REVOKED_FLAG,
)

__all__ = [
    "MalformedFrameError",
    "DataFrame",
    "SetupFrame",
    "StatusMessageFrame",
    "NakFrame",
    "ErrorFrame",
    "RttmFrame",
    "ResponseSetupFrame",
    "ResolutionEntry",
    "ResolutionFrame",
    "Frame",
    "classify_datagram",
    "decode_frame",
    "iter_data_frames",
    "encode_datagram",
    "frame_type_of",
]
# Re-exported from data_header so users need only this module.
__all__ += [
    "FRAME_HEADER_LAYOUT", "DATA_LAYOUT", "SETUP_LAYOUT", "SM_LAYOUT", "SM_WITH_GROUP_TAG_LAYOUT",
    "FRAME_PREFIX_LAYOUT", "INT64_LAYOUT", "NAK_LAYOUT", "ERR_LAYOUT", "RTTM_LAYOUT", "RSP_SETUP_LAYOUT",
    "BEGIN_AND_END_FLAGS", "BEGIN_FLAG", "CURRENT_VERSION", "END_FLAG", "EOS_FLAG",
    "FRAME_ALIGNMENT", "HDR_TYPE_DATA", "HDR_TYPE_ERR", "HDR_TYPE_NAK", "HDR_TYPE_PAD",
    "HDR_TYPE_RES", "HDR_TYPE_RSP_SETUP", "HDR_TYPE_RTTM", "HDR_TYPE_SETUP", "HDR_TYPE_SM",
    "HEADER_LENGTH", "REVOKED_FLAG",
]

# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------

FRAME_HEADER_LENGTH = 8
DATA_HEADER_LENGTH = HEADER_LENGTH  # 32

HDR_TYPE_ATS_DATA = 0x08
HDR_TYPE_EXT = -1  # 0xFFFF as int16

# DATA / PAD flags (re-exported from data_header).
DATA_BEGIN_FLAG = BEGIN_FLAG
DATA_END_FLAG = END_FLAG
DATA_UNFRAGMENTED = BEGIN_AND_END_FLAGS
DATA_EOS_FLAG = EOS_FLAG
DATA_REVOKED_FLAG = REVOKED_FLAG
DEFAULT_RESERVED_VALUE = 0

# SETUP
SETUP_HEADER_LENGTH = 40
SETUP_SEND_RESPONSE_FLAG = 0x80
SETUP_GROUP_FLAG = 0x40

# STATUS MESSAGE
SM_HEADER_LENGTH = 36
SM_HEADER_LENGTH_WITH_GROUP_TAG = 44
SM_GROUP_TAG_OFFSET = 36
SM_SEND_SETUP_FLAG = 0x80
SM_EOS_FLAG = 0x40

# NAK
NAK_HEADER_LENGTH = 28

# ERR
ERR_HEADER_LENGTH = 40
ERR_HAS_GROUP_TAG_FLAG = 0x08
ERR_MAX_TEXT_LENGTH = 1023
ERR_MAX_FRAME_LENGTH = ERR_HEADER_LENGTH + ERR_MAX_TEXT_LENGTH

# RTTM
RTTM_HEADER_LENGTH = 40
RTTM_REPLY_FLAG = 0x80

# RSP_SETUP
RSP_SETUP_HEADER_LENGTH = 20

# RES
RES_TYPE_NAME_TO_IP4_MD = 0x01
RES_TYPE_NAME_TO_IP6_MD = 0x02
RES_SELF_FLAG = 0x80
RES_ENTRY_BASE_LENGTH = 8
RES_ADDRESS_LENGTH_IP4 = 4
RES_ADDRESS_LENGTH_IP6 = 16
RES_ENTRY_IP4_HEADER_LENGTH = 14
RES_ENTRY_IP6_HEADER_LENGTH = 26
RES_ENTRY_ALIGNMENT = 8
RES_MAX_NAME_LENGTH = 512
RES_MIN_DATAGRAM_LENGTH = FRAME_HEADER_LENGTH + RES_ENTRY_IP4_HEADER_LENGTH  # 22

# Minimum datagram length per frame type in the datagram-level validity check.
MIN_DATAGRAM_LENGTH: dict[int, int] = {
    HDR_TYPE_PAD: DATA_HEADER_LENGTH,
    HDR_TYPE_DATA: DATA_HEADER_LENGTH,
    HDR_TYPE_NAK: NAK_HEADER_LENGTH,
    HDR_TYPE_SM: SM_HEADER_LENGTH,
    HDR_TYPE_ERR: ERR_HEADER_LENGTH,
    HDR_TYPE_SETUP: SETUP_HEADER_LENGTH,
    HDR_TYPE_RTTM: RTTM_HEADER_LENGTH,
    HDR_TYPE_RES: RES_MIN_DATAGRAM_LENGTH,
    HDR_TYPE_RSP_SETUP: RSP_SETUP_HEADER_LENGTH,
}

# --------------------------------------------------------------------------------------
# Layouts: the one definition of every frame's fixed part (little-endian). The driver's hot
# paths pack and unpack with these directly; the frame classes below are built on them too.
# --------------------------------------------------------------------------------------

# frame_length, version, flags, type
FRAME_HEADER_LAYOUT = struct.Struct("<ibBh")
# + term_offset, session_id, stream_id, term_id, reserved_value
DATA_LAYOUT = struct.Struct("<ibBhiiiiq")
# + term_offset, session_id, stream_id, initial_term_id, active_term_id, term_length, mtu, ttl
SETUP_LAYOUT = struct.Struct("<ibBhiiiiiiii")
# + session_id, stream_id, consumption_term_id, consumption_term_offset, receiver_window,
#   receiver_id (unaligned at 28)
SM_LAYOUT = struct.Struct("<ibBhiiiiiq")
INT64_LAYOUT = struct.Struct("<q")
# SM followed by its group tag (44 bytes)
SM_WITH_GROUP_TAG_LAYOUT = struct.Struct("<ibBhiiiiiqq")
# the first words of DATA/PAD: frame_length, version, flags, type, term_offset
FRAME_PREFIX_LAYOUT = struct.Struct("<ibBhi")
# + session_id, stream_id, term_id, term_offset, length
NAK_LAYOUT = struct.Struct("<ibBhiiiii")
# + session_id, stream_id, receiver_id, group_tag, error_code, error_length
ERR_LAYOUT = struct.Struct("<ibBhiiqqii")
# + session_id, stream_id, echo_timestamp, reception_delta, receiver_id
RTTM_LAYOUT = struct.Struct("<ibBhiiqqq")
# + session_id, stream_id, response_session_id
RSP_SETUP_LAYOUT = struct.Struct("<ibBhiii")
# res_type, res_flags, udp_port, age_in_ms
_RES_BASE = struct.Struct("<bBHi")
_I16 = struct.Struct("<h")

assert DATA_LAYOUT.size == DATA_HEADER_LENGTH
assert SETUP_LAYOUT.size == SETUP_HEADER_LENGTH
assert SM_LAYOUT.size == SM_HEADER_LENGTH
assert NAK_LAYOUT.size == NAK_HEADER_LENGTH
assert ERR_LAYOUT.size == ERR_HEADER_LENGTH
assert RTTM_LAYOUT.size == RTTM_HEADER_LENGTH
assert RSP_SETUP_LAYOUT.size == RSP_SETUP_HEADER_LENGTH


class MalformedFrameError(AeronError):
    """Bytes that do not hold a well-formed frame of the expected type."""


Buffer: TypeAlias = bytes | bytearray | memoryview


def _view(data: object) -> memoryview:
    """A flat unsigned-byte view of ``data``; MalformedFrameError if it is not bytes-like."""
    try:
        mv = memoryview(data)  # type: ignore[arg-type]
        if mv.format != "B" or mv.ndim != 1:
            mv = mv.cast("B")
        return mv
    except (TypeError, ValueError) as ex:
        raise MalformedFrameError(f"not a contiguous bytes-like object: {type(data).__name__}") from ex


def _check_offset(mv: memoryview, offset: object, need: int, what: str) -> int:
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise MalformedFrameError(f"{what}: invalid offset {offset!r}")
    available = len(mv) - offset
    if available < need:
        raise MalformedFrameError(f"{what}: need {need} bytes at offset {offset}, have {max(available, 0)}")
    return available


def _check_header(version: int, frame_type: int, expected: int, what: str) -> None:
    if version != CURRENT_VERSION:
        raise MalformedFrameError(f"{what}: unsupported version {version}")
    if frame_type != expected:
        raise MalformedFrameError(f"{what}: wrong frame type {frame_type}, expected {expected}")


def _pack(st: struct.Struct, what: str, *values: int) -> bytes:
    try:
        return st.pack(*values)
    except struct.error as ex:
        raise ValueError(f"{what}: field out of range: {ex}") from ex


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) & ~(alignment - 1)


# --------------------------------------------------------------------------------------
# DATA / PAD
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataFrame:
    """A DATA or PAD frame (32-byte header + payload); a heartbeat is DATA with frame_length 0.

    ``frame_length`` is the raw header value: ``32 + len(payload)`` for DATA, ``0`` for a
    heartbeat, the padded region length for PAD (whose payload is never on the wire).
    """

    frame_length: int
    term_offset: int
    session_id: int
    stream_id: int
    term_id: int
    flags: int = BEGIN_AND_END_FLAGS
    frame_type: int = HDR_TYPE_DATA
    reserved_value: int = DEFAULT_RESERVED_VALUE
    payload: bytes = b""

    @classmethod
    def data(
        cls,
        term_offset: int,
        session_id: int,
        stream_id: int,
        term_id: int,
        payload: bytes = b"",
        flags: int = BEGIN_AND_END_FLAGS,
        reserved_value: int = DEFAULT_RESERVED_VALUE,
    ) -> Self:
        return cls(
            DATA_HEADER_LENGTH + len(payload), term_offset, session_id, stream_id, term_id,
            flags, HDR_TYPE_DATA, reserved_value, bytes(payload),
        )

    @classmethod
    def heartbeat(
        cls,
        term_offset: int,
        session_id: int,
        stream_id: int,
        term_id: int,
        eos: bool = False,
        revoked: bool = False,
    ) -> Self:
        flags = BEGIN_AND_END_FLAGS
        if eos or revoked:
            flags |= EOS_FLAG
        if revoked:
            flags |= REVOKED_FLAG
        return cls(0, term_offset, session_id, stream_id, term_id, flags, HDR_TYPE_DATA)

    @classmethod
    def pad(
        cls, term_offset: int, session_id: int, stream_id: int, term_id: int, length: int
    ) -> Self:
        return cls(length, term_offset, session_id, stream_id, term_id, BEGIN_AND_END_FLAGS, HDR_TYPE_PAD)

    @property
    def is_heartbeat(self) -> bool:
        return self.frame_type == HDR_TYPE_DATA and self.frame_length == 0

    @property
    def is_pad(self) -> bool:
        return self.frame_type == HDR_TYPE_PAD

    @property
    def is_eos(self) -> bool:
        return bool(self.flags & EOS_FLAG)

    @property
    def is_revoked(self) -> bool:
        return bool(self.flags & REVOKED_FLAG)

    @property
    def aligned_length(self) -> int:
        """Space the frame occupies in a term (``align(frame_length, 32)``)."""
        return _align(self.frame_length, FRAME_ALIGNMENT)

    def encode(self) -> bytes:
        """Header + payload, unaligned (PAD and heartbeat: the 32-byte header only)."""
        if self.frame_type == HDR_TYPE_DATA:
            if self.frame_length == 0:
                if self.payload:
                    raise ValueError("heartbeat (frame_length 0) cannot carry a payload")
            elif self.frame_length != DATA_HEADER_LENGTH + len(self.payload):
                raise ValueError(
                    f"DATA frame_length {self.frame_length} != 32 + payload {len(self.payload)}"
                )
        elif self.frame_type == HDR_TYPE_PAD:
            if self.payload:
                raise ValueError("PAD frame cannot carry a payload")
            if self.frame_length < DATA_HEADER_LENGTH:
                raise ValueError(f"PAD frame_length {self.frame_length} < 32")
        else:
            raise ValueError(f"not a DATA/PAD frame type: {self.frame_type}")
        header = _pack(
            DATA_LAYOUT, "DATA", self.frame_length, CURRENT_VERSION, self.flags, self.frame_type,
            self.term_offset, self.session_id, self.stream_id, self.term_id, self.reserved_value,
        )
        return header + self.payload

    def encode_aligned(self) -> bytes:
        """``encode()`` zero-filled to the next 32-byte boundary (PAD: header only)."""
        raw = self.encode()
        return raw + bytes(_align(len(raw), FRAME_ALIGNMENT) - len(raw))

    @classmethod
    def decode(cls, data: Buffer, offset: int = 0) -> Self:
        mv = _view(data)
        available = _check_offset(mv, offset, DATA_HEADER_LENGTH, "DATA")
        (frame_length, version, flags, frame_type, term_offset, session_id, stream_id, term_id,
         reserved_value) = DATA_LAYOUT.unpack_from(mv, offset)
        if version != CURRENT_VERSION:
            raise MalformedFrameError(f"DATA: unsupported version {version}")
        payload = b""
        if frame_type == HDR_TYPE_DATA:
            if frame_length != 0:
                if frame_length < DATA_HEADER_LENGTH:
                    raise MalformedFrameError(f"DATA: frame_length {frame_length} < 32")
                if frame_length > available:
                    raise MalformedFrameError(
                        f"DATA: frame_length {frame_length} exceeds {available} available bytes"
                    )
                payload = bytes(mv[offset + DATA_HEADER_LENGTH: offset + frame_length])
        elif frame_type == HDR_TYPE_PAD:
            if frame_length < DATA_HEADER_LENGTH:
                raise MalformedFrameError(f"PAD: frame_length {frame_length} < 32")
        else:
            raise MalformedFrameError(f"DATA: wrong frame type {frame_type}")
        return cls(
            frame_length, term_offset, session_id, stream_id, term_id, flags, frame_type,
            reserved_value, payload,
        )


# --------------------------------------------------------------------------------------
# SETUP
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetupFrame:
    """SETUP (40 bytes), sender -> receiver."""

    term_offset: int
    session_id: int
    stream_id: int
    initial_term_id: int
    active_term_id: int
    term_length: int
    mtu: int
    ttl: int = 0
    flags: int = 0

    @property
    def send_response_setup(self) -> bool:
        return bool(self.flags & SETUP_SEND_RESPONSE_FLAG)

    @property
    def group(self) -> bool:
        return bool(self.flags & SETUP_GROUP_FLAG)

    @property
    def frame_length(self) -> int:
        return SETUP_HEADER_LENGTH

    def encode(self) -> bytes:
        return _pack(
            SETUP_LAYOUT, "SETUP", SETUP_HEADER_LENGTH, CURRENT_VERSION, self.flags, HDR_TYPE_SETUP,
            self.term_offset, self.session_id, self.stream_id, self.initial_term_id,
            self.active_term_id, self.term_length, self.mtu, self.ttl,
        )

    @classmethod
    def decode(cls, data: Buffer, offset: int = 0) -> Self:
        mv = _view(data)
        _check_offset(mv, offset, SETUP_HEADER_LENGTH, "SETUP")
        (_fl, version, flags, frame_type, term_offset, session_id, stream_id, initial_term_id,
         active_term_id, term_length, mtu, ttl) = SETUP_LAYOUT.unpack_from(mv, offset)
        _check_header(version, frame_type, HDR_TYPE_SETUP, "SETUP")
        return cls(
            term_offset, session_id, stream_id, initial_term_id, active_term_id, term_length,
            mtu, ttl, flags,
        )


# --------------------------------------------------------------------------------------
# STATUS MESSAGE
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusMessageFrame:
    """SM (36 bytes, 44 with the optional group tag), receiver -> sender.

    On decode ``group_tag`` is set iff ``frame_length == 44``; any other frame length
    >= 36 decodes with ``group_tag = None`` (Aeron treats odd trailing lengths as "no tag").
    """

    session_id: int
    stream_id: int
    consumption_term_id: int
    consumption_term_offset: int
    receiver_window: int
    receiver_id: int
    group_tag: int | None = None
    flags: int = 0

    @property
    def send_setup(self) -> bool:
        return bool(self.flags & SM_SEND_SETUP_FLAG)

    @property
    def eos(self) -> bool:
        return bool(self.flags & SM_EOS_FLAG)

    @property
    def frame_length(self) -> int:
        return SM_HEADER_LENGTH if self.group_tag is None else SM_HEADER_LENGTH_WITH_GROUP_TAG

    def encode(self) -> bytes:
        raw = _pack(
            SM_LAYOUT, "SM", self.frame_length, CURRENT_VERSION, self.flags, HDR_TYPE_SM,
            self.session_id, self.stream_id, self.consumption_term_id,
            self.consumption_term_offset, self.receiver_window, self.receiver_id,
        )
        if self.group_tag is not None:
            raw += _pack(INT64_LAYOUT, "SM group_tag", self.group_tag)
        return raw

    @classmethod
    def decode(cls, data: Buffer, offset: int = 0) -> Self:
        mv = _view(data)
        available = _check_offset(mv, offset, SM_HEADER_LENGTH, "SM")
        (frame_length, version, flags, frame_type, session_id, stream_id, term_id, term_offset,
         window, receiver_id) = SM_LAYOUT.unpack_from(mv, offset)
        _check_header(version, frame_type, HDR_TYPE_SM, "SM")
        if frame_length < SM_HEADER_LENGTH or frame_length > available:
            raise MalformedFrameError(
                f"SM: frame_length {frame_length} outside [36, {available}]"
            )
        group_tag: int | None = None
        if frame_length == SM_HEADER_LENGTH_WITH_GROUP_TAG:
            (group_tag,) = INT64_LAYOUT.unpack_from(mv, offset + SM_GROUP_TAG_OFFSET)
        return cls(session_id, stream_id, term_id, term_offset, window, receiver_id, group_tag, flags)


# --------------------------------------------------------------------------------------
# NAK
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NakFrame:
    """NAK (28 bytes), receiver -> sender."""

    session_id: int
    stream_id: int
    term_id: int
    term_offset: int
    length: int
    flags: int = 0

    @property
    def frame_length(self) -> int:
        return NAK_HEADER_LENGTH

    def encode(self) -> bytes:
        return _pack(
            NAK_LAYOUT, "NAK", NAK_HEADER_LENGTH, CURRENT_VERSION, self.flags, HDR_TYPE_NAK,
            self.session_id, self.stream_id, self.term_id, self.term_offset, self.length,
        )

    @classmethod
    def decode(cls, data: Buffer, offset: int = 0) -> Self:
        mv = _view(data)
        _check_offset(mv, offset, NAK_HEADER_LENGTH, "NAK")
        (_fl, version, flags, frame_type, session_id, stream_id, term_id, term_offset,
         length) = NAK_LAYOUT.unpack_from(mv, offset)
        _check_header(version, frame_type, HDR_TYPE_NAK, "NAK")
        return cls(session_id, stream_id, term_id, term_offset, length, flags)


# --------------------------------------------------------------------------------------
# ERR
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    """ERR (40-byte header + up to 1023 bytes of text), receiver -> sender.

    ``group_tag`` is the raw wire field; it is meaningful only with ERR_HAS_GROUP_TAG_FLAG
    (see :attr:`effective_group_tag`).  ``error_text`` is the raw (ASCII) text bytes.
    """

    session_id: int
    stream_id: int
    receiver_id: int
    error_code: int
    error_text: bytes = b""
    group_tag: int = 0
    flags: int = 0

    @classmethod
    def create(
        cls,
        session_id: int,
        stream_id: int,
        receiver_id: int,
        error_code: int,
        message: str,
        group_tag: int | None = None,
    ) -> Self:
        """Build an ERR frame, truncating the UTF-8 text to 1023 bytes."""
        text = message.encode("utf-8")[:ERR_MAX_TEXT_LENGTH]
        flags = 0 if group_tag is None else ERR_HAS_GROUP_TAG_FLAG
        return cls(session_id, stream_id, receiver_id, error_code, text, group_tag or 0, flags)

    @property
    def has_group_tag(self) -> bool:
        return bool(self.flags & ERR_HAS_GROUP_TAG_FLAG)

    @property
    def effective_group_tag(self) -> int | None:
        return self.group_tag if self.has_group_tag else None

    @property
    def message(self) -> str:
        return self.error_text.decode("utf-8", errors="replace")

    @property
    def frame_length(self) -> int:
        return ERR_HEADER_LENGTH + len(self.error_text)

    def encode(self) -> bytes:
        if len(self.error_text) > ERR_MAX_TEXT_LENGTH:
            raise ValueError(f"ERR text {len(self.error_text)} bytes > {ERR_MAX_TEXT_LENGTH}")
        return _pack(
            ERR_LAYOUT, "ERR", self.frame_length, CURRENT_VERSION, self.flags, HDR_TYPE_ERR,
            self.session_id, self.stream_id, self.receiver_id, self.group_tag, self.error_code,
            len(self.error_text),
        ) + bytes(self.error_text)

    @classmethod
    def decode(cls, data: Buffer, offset: int = 0) -> Self:
        mv = _view(data)
        available = _check_offset(mv, offset, ERR_HEADER_LENGTH, "ERR")
        (frame_length, version, flags, frame_type, session_id, stream_id, receiver_id, group_tag,
         error_code, error_length) = ERR_LAYOUT.unpack_from(mv, offset)
        _check_header(version, frame_type, HDR_TYPE_ERR, "ERR")
        if not 0 <= error_length <= ERR_MAX_TEXT_LENGTH:
            raise MalformedFrameError(f"ERR: error_length {error_length} outside [0, 1023]")
        if ERR_HEADER_LENGTH + error_length > frame_length:
            raise MalformedFrameError(
                f"ERR: 40 + error_length {error_length} > frame_length {frame_length}"
            )
        if frame_length > available:
            raise MalformedFrameError(
                f"ERR: frame_length {frame_length} exceeds {available} available bytes"
            )
        start = offset + ERR_HEADER_LENGTH
        text = bytes(mv[start: start + error_length])
        return cls(session_id, stream_id, receiver_id, error_code, text, group_tag, flags)


# --------------------------------------------------------------------------------------
# RTTM
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RttmFrame:
    """RTTM (40 bytes), both directions."""

    session_id: int
    stream_id: int
    echo_timestamp: int
    reception_delta: int
    receiver_id: int
    flags: int = 0

    @property
    def is_reply_requested(self) -> bool:
        return bool(self.flags & RTTM_REPLY_FLAG)

    @property
    def frame_length(self) -> int:
        return RTTM_HEADER_LENGTH

    def encode(self) -> bytes:
        return _pack(
            RTTM_LAYOUT, "RTTM", RTTM_HEADER_LENGTH, CURRENT_VERSION, self.flags, HDR_TYPE_RTTM,
            self.session_id, self.stream_id, self.echo_timestamp, self.reception_delta,
            self.receiver_id,
        )

    @classmethod
    def decode(cls, data: Buffer, offset: int = 0) -> Self:
        mv = _view(data)
        _check_offset(mv, offset, RTTM_HEADER_LENGTH, "RTTM")
        (_fl, version, flags, frame_type, session_id, stream_id, echo, delta,
         receiver_id) = RTTM_LAYOUT.unpack_from(mv, offset)
        _check_header(version, frame_type, HDR_TYPE_RTTM, "RTTM")
        return cls(session_id, stream_id, echo, delta, receiver_id, flags)


# --------------------------------------------------------------------------------------
# RSP_SETUP
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseSetupFrame:
    """RSP_SETUP (20 bytes), receiver -> sender."""

    session_id: int
    stream_id: int
    response_session_id: int
    flags: int = 0

    @property
    def frame_length(self) -> int:
        return RSP_SETUP_HEADER_LENGTH

    def encode(self) -> bytes:
        return _pack(
            RSP_SETUP_LAYOUT, "RSP_SETUP", RSP_SETUP_HEADER_LENGTH, CURRENT_VERSION, self.flags,
            HDR_TYPE_RSP_SETUP, self.session_id, self.stream_id, self.response_session_id,
        )

    @classmethod
    def decode(cls, data: Buffer, offset: int = 0) -> Self:
        mv = _view(data)
        _check_offset(mv, offset, RSP_SETUP_HEADER_LENGTH, "RSP_SETUP")
        (_fl, version, flags, frame_type, session_id, stream_id,
         response_session_id) = RSP_SETUP_LAYOUT.unpack_from(mv, offset)
        _check_header(version, frame_type, HDR_TYPE_RSP_SETUP, "RSP_SETUP")
        return cls(session_id, stream_id, response_session_id, flags)


# --------------------------------------------------------------------------------------
# RES (name resolution)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResolutionEntry:
    """One resolution entry: ``align(14 + name, 8)`` (IPv4) or ``align(26 + name, 8)`` (IPv6)."""

    res_type: int
    udp_port: int
    age_in_ms: int
    address: bytes
    name: bytes
    flags: int = 0

    @property
    def is_self(self) -> bool:
        return bool(self.flags & RES_SELF_FLAG)

    @property
    def encoded_length(self) -> int:
        return _align(_res_header_length(self.res_type) + len(self.name), RES_ENTRY_ALIGNMENT)

    def encode(self) -> bytes:
        if self.res_type not in (RES_TYPE_NAME_TO_IP4_MD, RES_TYPE_NAME_TO_IP6_MD):
            raise ValueError(f"RES entry: unknown res_type {self.res_type}")
        address_length = _res_address_length(self.res_type)
        if len(self.address) != address_length:
            raise ValueError(f"RES entry: address must be {address_length} bytes")
        if len(self.name) > RES_MAX_NAME_LENGTH:
            raise ValueError(f"RES entry: name longer than {RES_MAX_NAME_LENGTH}")
        raw = (
            _pack(_RES_BASE, "RES entry", self.res_type, self.flags, self.udp_port, self.age_in_ms)
            + bytes(self.address)
            + _I16.pack(len(self.name))
            + bytes(self.name)
        )
        return raw + bytes(self.encoded_length - len(raw))

    @classmethod
    def decode(cls, data: Buffer, offset: int = 0) -> Self:
        """Decode one entry; the entry (aligned) must fit in ``data``."""
        mv = _view(data)
        available = _check_offset(mv, offset, RES_ENTRY_BASE_LENGTH, "RES entry")
        res_type, flags, port, age = _RES_BASE.unpack_from(mv, offset)
        if res_type not in (RES_TYPE_NAME_TO_IP4_MD, RES_TYPE_NAME_TO_IP6_MD):
            raise MalformedFrameError(f"RES entry: unknown res_type {res_type}")
        header_length = _res_header_length(res_type)
        if available < header_length:
            raise MalformedFrameError(f"RES entry: truncated header ({available} bytes)")
        address_length = _res_address_length(res_type)
        address_start = offset + RES_ENTRY_BASE_LENGTH
        address = bytes(mv[address_start: address_start + address_length])
        (name_length,) = _I16.unpack_from(mv, address_start + address_length)
        if name_length < 0:
            raise MalformedFrameError(f"RES entry: negative name_length {name_length}")
        entry_length = _align(header_length + name_length, RES_ENTRY_ALIGNMENT)
        if entry_length > available:
            raise MalformedFrameError(
                f"RES entry: length {entry_length} exceeds {available} available bytes"
            )
        name = bytes(mv[offset + header_length: offset + header_length + name_length])
        return cls(res_type, port, age, address, name, flags)


def _res_address_length(res_type: int) -> int:
    return RES_ADDRESS_LENGTH_IP6 if res_type == RES_TYPE_NAME_TO_IP6_MD else RES_ADDRESS_LENGTH_IP4


def _res_header_length(res_type: int) -> int:
    return RES_ENTRY_IP6_HEADER_LENGTH if res_type == RES_TYPE_NAME_TO_IP6_MD else RES_ENTRY_IP4_HEADER_LENGTH


@dataclass(frozen=True, slots=True)
class ResolutionFrame:
    """RES: 8-byte header then entries up to ``frame_length`` (driver <-> driver)."""

    entries: tuple[ResolutionEntry, ...] = ()
    flags: int = 0

    @property
    def frame_length(self) -> int:
        return FRAME_HEADER_LENGTH + sum(e.encoded_length for e in self.entries)

    def encode(self) -> bytes:
        body = b"".join(e.encode() for e in self.entries)
        return _pack(
            FRAME_HEADER_LAYOUT, "RES", FRAME_HEADER_LENGTH + len(body), CURRENT_VERSION, self.flags,
            HDR_TYPE_RES,
        ) + body

    @classmethod
    def decode(cls, data: Buffer, offset: int = 0) -> Self:
        mv = _view(data)
        available = _check_offset(mv, offset, FRAME_HEADER_LENGTH, "RES")
        frame_length, version, flags, frame_type = FRAME_HEADER_LAYOUT.unpack_from(mv, offset)
        _check_header(version, frame_type, HDR_TYPE_RES, "RES")
        if frame_length < FRAME_HEADER_LENGTH or frame_length > available:
            raise MalformedFrameError(f"RES: frame_length {frame_length} outside [8, {available}]")
        end = offset + frame_length
        frame_mv = mv[:end]
        entries: list[ResolutionEntry] = []
        position = offset + FRAME_HEADER_LENGTH
        while position < end:
            entry = ResolutionEntry.decode(frame_mv, position)
            entries.append(entry)
            position += entry.encoded_length  # always >= 16, so the walk terminates
        return cls(tuple(entries), flags)


# --------------------------------------------------------------------------------------
# Datagram level
# --------------------------------------------------------------------------------------

Frame: TypeAlias = (
    DataFrame | SetupFrame | StatusMessageFrame | NakFrame | ErrorFrame | RttmFrame
    | ResponseSetupFrame | ResolutionFrame
)

_DECODERS: dict[
    int,
    type[DataFrame] | type[SetupFrame] | type[StatusMessageFrame] | type[NakFrame]
    | type[ErrorFrame] | type[RttmFrame] | type[ResponseSetupFrame] | type[ResolutionFrame],
] = {
    HDR_TYPE_PAD: DataFrame,
    HDR_TYPE_DATA: DataFrame,
    HDR_TYPE_NAK: NakFrame,
    HDR_TYPE_SM: StatusMessageFrame,
    HDR_TYPE_ERR: ErrorFrame,
    HDR_TYPE_SETUP: SetupFrame,
    HDR_TYPE_RTTM: RttmFrame,
    HDR_TYPE_RES: ResolutionFrame,
    HDR_TYPE_RSP_SETUP: ResponseSetupFrame,
}


def frame_type_of(data: Buffer, offset: int = 0) -> int:
    """The (signed int16) type field of the frame header at ``offset``."""
    mv = _view(data)
    _check_offset(mv, offset, FRAME_HEADER_LENGTH, "frame header")
    frame_type: int = FRAME_HEADER_LAYOUT.unpack_from(mv, offset)[3]
    return frame_type


def classify_datagram(data: Buffer) -> int | None:
    """Datagram-level validity check on the first header (``wire-protocol.md`` §1).

    Returns the frame type when the datagram is acceptable, ``None`` when it must be dropped
    and counted in "Invalid packets".  Never raises.
    """
    try:
        mv = _view(data)
    except MalformedFrameError:
        return None
    length = len(mv)
    if length < FRAME_HEADER_LENGTH:
        return None
    frame_length, version, _flags, frame_type = FRAME_HEADER_LAYOUT.unpack_from(mv, 0)
    if frame_length < 0 or version != CURRENT_VERSION:
        return None
    if frame_type == HDR_TYPE_DATA or frame_type == HDR_TYPE_PAD:
        if length >= DATA_HEADER_LENGTH and length % FRAME_ALIGNMENT == 0:
            return int(frame_type)
        return None
    min_length = MIN_DATAGRAM_LENGTH.get(frame_type)
    if min_length is None:
        return None
    if length >= min_length and frame_length <= length:
        return int(frame_type)
    return None


def decode_frame(datagram: Buffer) -> Frame:
    """Classify a datagram and decode its first frame; MalformedFrameError if invalid."""
    frame_type = classify_datagram(datagram)
    if frame_type is None:
        raise MalformedFrameError("datagram fails the validity check")
    return _DECODERS[frame_type].decode(datagram, 0)


def iter_data_frames(datagram: Buffer, *, strict: bool = False) -> Iterator[tuple[int, DataFrame]]:
    """Yield ``(offset, frame)`` for the DATA/PAD frames packed in a data datagram.

    Frames start at 32-byte aligned offsets; each occupies ``align(frame_length, 32)``.
    A heartbeat (frame_length 0) ends the walk, and so does a PAD whose aligned length
    reaches or passes the end of the datagram.  On a malformed frame (bad version or type,
    frame_length in 1..31, a DATA frame running past the datagram, trailing bytes) the
    walk stops silently, or raises MalformedFrameError if ``strict``; in strict mode a
    heartbeat must also be the whole datagram.  Always terminates (each step >= 32 bytes).
    """
    mv = _view(datagram)
    length = len(mv)
    offset = 0
    while offset + DATA_HEADER_LENGTH <= length:
        try:
            frame = DataFrame.decode(mv, offset)
        except MalformedFrameError:
            if strict:
                raise
            return
        if frame.is_heartbeat:
            if strict and (offset != 0 or length != DATA_HEADER_LENGTH):
                raise MalformedFrameError("heartbeat must be a whole 32-byte datagram")
            yield offset, frame
            return
        yield offset, frame
        step = frame.aligned_length
        if frame.is_pad and offset + step >= length:
            return
        offset += step
    if strict and offset != length:
        raise MalformedFrameError(f"data datagram has trailing bytes at {offset} of {length}")


def encode_datagram(frames: list[DataFrame] | tuple[DataFrame, ...]) -> bytes:
    """Concatenate DATA/PAD frames, each zero-filled to the 32-byte frame alignment."""
    return b"".join(f.encode_aligned() for f in frames)

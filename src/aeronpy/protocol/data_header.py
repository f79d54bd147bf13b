"""DATA/PAD frame header layout (wire-protocol.md §1-2); also the log-buffer frame format."""

from __future__ import annotations

import struct

HEADER_LENGTH = 32
DATA_OFFSET = HEADER_LENGTH
FRAME_ALIGNMENT = 32

FRAME_LENGTH_OFFSET = 0
VERSION_OFFSET = 4
FLAGS_OFFSET = 5
TYPE_OFFSET = 6
TERM_OFFSET_OFFSET = 8
SESSION_ID_OFFSET = 12
STREAM_ID_OFFSET = 16
TERM_ID_OFFSET = 20
RESERVED_VALUE_OFFSET = 24

CURRENT_VERSION = 0

HDR_TYPE_PAD = 0x00
HDR_TYPE_DATA = 0x01
HDR_TYPE_NAK = 0x02
HDR_TYPE_SM = 0x03
HDR_TYPE_ERR = 0x04
HDR_TYPE_SETUP = 0x05
HDR_TYPE_RTTM = 0x06
HDR_TYPE_RES = 0x07
HDR_TYPE_RSP_SETUP = 0x0B

BEGIN_FLAG = 0x80
END_FLAG = 0x40
BEGIN_AND_END_FLAGS = 0xC0
EOS_FLAG = 0x20
REVOKED_FLAG = 0x10

# frame_length, version, flags, type, term_offset, session_id, stream_id, term_id, reserved
HEADER_STRUCT = struct.Struct("<iBBhiiiiq")
assert HEADER_STRUCT.size == HEADER_LENGTH

"""The archive's SBE messages (schema 101 version 14) and the mark-file schema (100 v2),
declared once as data (archive.md §2).  Field names are the schema's, in snake_case."""

from __future__ import annotations

from enum import IntEnum

from aeronpy.protocol import sbe
from aeronpy.protocol.sbe import Field, MessageSpec, Schema, VarField

__all__ = [
    "SCHEMA_ID",
    "SCHEMA_VERSION",
    "MARK_FILE_SCHEMA_ID",
    "MARK_FILE_SCHEMA_VERSION",
    "ControlResponseCode",
    "SourceLocation",
    "BooleanType",
    "RecordingSignal",
    "RecordingState",
    "ARCHIVE_SCHEMA",
    "MARK_FILE_SCHEMA",
    "T",
]

SCHEMA_ID = 101
SCHEMA_VERSION = 14
MARK_FILE_SCHEMA_ID = 100
MARK_FILE_SCHEMA_VERSION = 2


class ControlResponseCode(IntEnum):
    OK = 0
    ERROR = 1
    RECORDING_UNKNOWN = 2
    SUBSCRIPTION_UNKNOWN = 3


class SourceLocation(IntEnum):
    LOCAL = 0
    REMOTE = 1


BooleanType = sbe.BooleanType


class RecordingSignal(IntEnum):
    START = 0
    STOP = 1
    EXTEND = 2
    REPLICATE = 3
    MERGE = 4
    SYNC = 5
    DELETE = 6
    REPLICATE_END = 7


class RecordingState(IntEnum):
    INVALID = 0
    VALID = 1
    DELETED = 2


_i64, _i32, _i8, _enum, _version, _ascii, _data = (
    sbe.i64, sbe.i32, sbe.i8, sbe.enum_field, sbe.version_field, sbe.ascii, sbe.data,
)


_CS = _i64("control_session_id", 0)
_CORR = _i64("correlation_id", 8)
_REC16 = _i64("recording_id", 16)


def _m(
    tid: int,
    name: str,
    bl: int,
    fields: tuple[Field, ...] = (),
    var: tuple[VarField, ...] = (),
    since: int = 0,
) -> MessageSpec:
    return MessageSpec(tid, name, bl, fields, var, SCHEMA_ID, SCHEMA_VERSION, since)


def _by_recording(tid: int, name: str, since: int = 0) -> MessageSpec:
    return _m(tid, name, 24, (_CS, _CORR, _REC16), since=since)


_MESSAGES = (
    _m(1, "ControlResponse", 32, (
        _CS, _CORR, _i64("relevant_id", 16), _enum("code", 24, ControlResponseCode), _version("version", 28, 4),
    ), (_ascii("error_message"),)),
    _m(3, "CloseSessionRequest", 8, (_CS,)),
    _m(4, "StartRecordingRequest", 24, (
        _CS, _CORR, _i32("stream_id", 16), _enum("source_location", 20, SourceLocation),
    ), (_ascii("channel"),)),
    _m(5, "StopRecordingRequest", 20, (_CS, _CORR, _i32("stream_id", 16)), (_ascii("channel"),)),
    _m(6, "ReplayRequest", 56, (
        _CS, _CORR, _REC16, _i64("position", 24), _i64("length", 32), _i32("replay_stream_id", 40),
        _i32("file_io_max_length", 44, 7), _i64("replay_token", 48, 10),
    ), (_ascii("replay_channel"),)),
    _m(7, "StopReplayRequest", 24, (_CS, _CORR, _i64("replay_session_id", 16))),
    _m(8, "ListRecordingsRequest", 28, (_CS, _CORR, _i64("from_recording_id", 16), _i32("record_count", 24))),
    _m(9, "ListRecordingsForUriRequest", 32, (
        _CS, _CORR, _i64("from_recording_id", 16), _i32("record_count", 24), _i32("stream_id", 28),
    ), (_ascii("channel"),)),
    _by_recording(10, "ListRecordingRequest"),
    _m(11, "ExtendRecordingRequest", 32, (
        _CS, _CORR, _REC16, _i32("stream_id", 24), _enum("source_location", 28, SourceLocation),
    ), (_ascii("channel"),)),
    _by_recording(12, "RecordingPositionRequest"),
    _m(13, "TruncateRecordingRequest", 32, (_CS, _CORR, _REC16, _i64("position", 24))),
    _m(14, "StopRecordingSubscriptionRequest", 24, (_CS, _CORR, _i64("subscription_id", 16))),
    _by_recording(15, "StopPositionRequest"),
    _m(16, "FindLastMatchingRecordingRequest", 32, (
        _CS, _CORR, _i64("min_recording_id", 16), _i32("session_id", 24), _i32("stream_id", 28),
    ), (_ascii("channel"),)),
    _m(17, "ListRecordingSubscriptionsRequest", 32, (
        _CS, _CORR, _i32("pseudo_index", 16), _i32("subscription_count", 20),
        _enum("apply_stream_id", 24, BooleanType), _i32("stream_id", 28),
    ), (_ascii("channel"),)),
    _m(18, "BoundedReplayRequest", 60, (
        _CS, _CORR, _REC16, _i64("position", 24), _i64("length", 32), _i32("limit_counter_id", 40),
        _i32("replay_stream_id", 44), _i32("file_io_max_length", 48, 7), _i64("replay_token", 52, 10),
    ), (_ascii("replay_channel"),)),
    _by_recording(19, "StopAllReplaysRequest"),
    _m(20, "CatalogHeader", 32, (
        _i32("version", 0), _i32("length", 4), _i64("next_recording_id", 8), _i32("alignment", 16),
        _i8("reserved", 31),
    )),
    _m(21, "RecordingDescriptorHeader", 32, (
        _i32("length", 0), _enum("state", 4, RecordingState), _i32("checksum", 8), _i8("reserved", 31),
    )),
    _m(22, "RecordingDescriptor", 80, (
        _CS, _CORR, _REC16, _i64("start_timestamp", 24), _i64("stop_timestamp", 32),
        _i64("start_position", 40), _i64("stop_position", 48), _i32("initial_term_id", 56),
        _i32("segment_file_length", 60), _i32("term_buffer_length", 64), _i32("mtu_length", 68),
        _i32("session_id", 72), _i32("stream_id", 76),
    ), (_ascii("stripped_channel"), _ascii("original_channel"), _ascii("source_identity"))),
    _m(23, "RecordingSubscriptionDescriptor", 28, (
        _CS, _CORR, _i64("subscription_id", 16), _i32("stream_id", 24),
    ), (_ascii("stripped_channel"),)),
    _m(24, "RecordingSignalEvent", 44, (
        _CS, _CORR, _REC16, _i64("subscription_id", 24), _i64("position", 32),
        _enum("signal", 40, RecordingSignal),
    )),
    _m(50, "ReplicateRequest", 36, (
        _CS, _CORR, _i64("src_recording_id", 16), _i64("dst_recording_id", 24), _i32("src_control_stream_id", 32),
    ), (_ascii("src_control_channel"), _ascii("live_destination"))),
    _m(51, "StopReplicationRequest", 24, (_CS, _CORR, _i64("replication_id", 16))),
    _by_recording(52, "StartPositionRequest"),
    _m(53, "DetachSegmentsRequest", 32, (_CS, _CORR, _REC16, _i64("new_start_position", 24))),
    _by_recording(54, "DeleteDetachedSegmentsRequest"),
    _m(55, "PurgeSegmentsRequest", 32, (_CS, _CORR, _REC16, _i64("new_start_position", 24))),
    _by_recording(56, "AttachSegmentsRequest"),
    _m(57, "MigrateSegmentsRequest", 32, (
        _CS, _CORR, _i64("src_recording_id", 16), _i64("dst_recording_id", 24),
    )),
    _m(58, "AuthConnectRequest", 16, (
        _i64("correlation_id", 0), _i32("response_stream_id", 8), _version("version", 12),
    ), (_ascii("response_channel"), _data("encoded_credentials"), _ascii("client_info", 12))),
    _m(59, "Challenge", 20, (_CS, _CORR, _version("version", 16)), (_data("encoded_challenge"),)),
    _m(60, "ChallengeResponse", 16, (_CS, _CORR), (_data("encoded_credentials"),)),
    _m(61, "KeepAliveRequest", 16, (_CS, _CORR)),
    _m(62, "TaggedReplicateRequest", 52, (
        _CS, _CORR, _i64("src_recording_id", 16), _i64("dst_recording_id", 24), _i64("channel_tag_id", 32),
        _i64("subscription_tag_id", 40), _i32("src_control_stream_id", 48),
    ), (_ascii("src_control_channel"), _ascii("live_destination"))),
    _m(63, "StartRecordingRequest2", 28, (
        _CS, _CORR, _i32("stream_id", 16), _enum("source_location", 20, SourceLocation),
        _enum("auto_stop", 24, BooleanType),
    ), (_ascii("channel"),)),
    _m(64, "ExtendRecordingRequest2", 36, (
        _CS, _CORR, _REC16, _i32("stream_id", 24), _enum("source_location", 28, SourceLocation),
        _enum("auto_stop", 32, BooleanType),
    ), (_ascii("channel"),)),
    _by_recording(65, "StopRecordingByIdentityRequest"),
    _m(66, "ReplicateRequest2", 68, (
        _CS, _CORR, _i64("src_recording_id", 16), _i64("dst_recording_id", 24), _i64("stop_position", 32),
        _i64("channel_tag_id", 40), _i64("subscription_tag_id", 48), _i32("src_control_stream_id", 56),
        _i32("file_io_max_length", 60, 7), _i32("replication_session_id", 64, 8),
    ), (
        _ascii("src_control_channel"), _ascii("live_destination"), _ascii("replication_channel"),
        _data("encoded_credentials", 8), _ascii("src_response_channel", 10),
    ), since=6),
    _by_recording(67, "MaxRecordedPositionRequest", since=9),
    _m(68, "ArchiveIdRequest", 16, (_CS, _CORR), since=9),
    _m(101, "RecordingStarted", 24, (
        _i64("recording_id", 0), _i64("start_position", 8), _i32("session_id", 16), _i32("stream_id", 20),
    ), (_ascii("channel"), _ascii("source_identity"))),
    _m(102, "RecordingProgress", 24, (
        _i64("recording_id", 0), _i64("start_position", 8), _i64("position", 16),
    )),
    _m(103, "RecordingStopped", 24, (
        _i64("recording_id", 0), _i64("start_position", 8), _i64("stop_position", 16),
    )),
    _by_recording(104, "PurgeRecordingRequest", since=5),
    _by_recording(105, "ReplayTokenRequest", since=10),
    _m(106, "Ping", 8, (_CS,), since=11),
    _m(107, "UpdateChannelRequest", 24, (_CS, _CORR, _REC16), (_ascii("channel"),), since=13),
)

ARCHIVE_SCHEMA = Schema(SCHEMA_ID, SCHEMA_VERSION, _MESSAGES)

MARK_FILE_HEADER = MessageSpec(
    200,
    "MarkFileHeader",
    128,
    (
        _i32("version", 0), Field("activity_timestamp", "int64", 8), Field("start_timestamp", "int64", 16),
        _i64("pid", 24), _i32("control_stream_id", 32), _i32("local_control_stream_id", 36),
        _i32("events_stream_id", 40), Field("header_length", "int32", 44, 1, null_value=0),
        Field("error_buffer_length", "int32", 48, 1, null_value=0), Field("archive_id", "int64", 56, 2, null_value=-1),
    ),
    (_ascii("control_channel"), _ascii("local_control_channel"), _ascii("events_channel"), _ascii("aeron_directory")),
    MARK_FILE_SCHEMA_ID,
    MARK_FILE_SCHEMA_VERSION,
)
MARK_FILE_SCHEMA = Schema(MARK_FILE_SCHEMA_ID, MARK_FILE_SCHEMA_VERSION, (MARK_FILE_HEADER,))


class _Templates:
    """Attribute access to the archive templates by name: ``T.ControlResponse``."""

    def __getattr__(self, name: str) -> MessageSpec:
        try:
            return ARCHIVE_SCHEMA.by_name[name]
        except KeyError:
            raise AttributeError(name) from None


T = _Templates()

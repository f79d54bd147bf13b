"""Aeron Cluster's SBE messages, declared once as data (cluster.md §2).

Three schemas: the main one (id 111 version 17: client, log, service, consensus and snapshot
messages), the mark file (110 v2) and the node-state file (112 v10, whose own 16-byte message
header is handled by :mod:`aeronpy.cluster.node_state`).  Field names are the schema's in
snake_case; enums are ``IntEnum`` classes; cluster "null" ids are ``NULL_VALUE`` (-1).
"""

from __future__ import annotations

from enum import IntEnum

from aeronpy.protocol import sbe
from aeronpy.protocol.sbe import Field, Group, MessageSpec, Schema, VarField

__all__ = [
    "SCHEMA_ID",
    "SCHEMA_VERSION",
    "MARK_FILE_SCHEMA_ID",
    "MARK_FILE_SCHEMA_VERSION",
    "NODE_STATE_SCHEMA_ID",
    "NODE_STATE_SCHEMA_VERSION",
    "NULL_VALUE",
    "NULL_POSITION",
    "SESSION_HEADER_LENGTH",
    "BooleanType",
    "EventCode",
    "CloseReason",
    "ClusterAction",
    "SnapshotMark",
    "ChangeType",
    "ClusterTimeUnit",
    "AdminRequestType",
    "AdminResponseCode",
    "ClusterComponentType",
    "CLUSTER_SCHEMA",
    "MARK_FILE_SCHEMA",
    "NODE_STATE_SCHEMA",
    "MARK_FILE_HEADER",
    "T",
    "semantic_version",
    "major_version",
]

SCHEMA_ID = 111
SCHEMA_VERSION = 17
MARK_FILE_SCHEMA_ID = 110
MARK_FILE_SCHEMA_VERSION = 2
NODE_STATE_SCHEMA_ID = 112
NODE_STATE_SCHEMA_VERSION = 10

#: The cluster's own "no value" for ids, terms, positions (not SBE's null).
NULL_VALUE = -1
NULL_POSITION = -1
#: messageHeader + SessionMessageHeader in front of every session message's payload.
SESSION_HEADER_LENGTH = 32


def semantic_version(major: int, minor: int, patch: int) -> int:
    """``version_t`` as Aeron packs it: ``major << 16 | minor << 8 | patch``."""
    return (major << 16) | (minor << 8) | patch


def major_version(version: int) -> int:
    return (version >> 16) & 0xFF


BooleanType = sbe.BooleanType


class EventCode(IntEnum):
    OK = 0
    ERROR = 1
    REDIRECT = 2
    AUTHENTICATION_REJECTED = 3
    CLOSED = 4


class CloseReason(IntEnum):
    CLIENT_ACTION = 0
    SERVICE_ACTION = 1
    TIMEOUT = 2


class ClusterAction(IntEnum):
    SUSPEND = 0
    RESUME = 1
    SNAPSHOT = 2


class SnapshotMark(IntEnum):
    BEGIN = 0
    SECTION = 1
    END = 2


class ChangeType(IntEnum):
    JOIN = 0
    QUIT = 1


class ClusterTimeUnit(IntEnum):
    MILLIS = 0
    MICROS = 1
    NANOS = 2


class AdminRequestType(IntEnum):
    SNAPSHOT = 0


class AdminResponseCode(IntEnum):
    OK = 0
    ERROR = 1
    UNAUTHORISED_ACCESS = 2


class ClusterComponentType(IntEnum):
    UNKNOWN = 0
    CONSENSUS_MODULE = 1
    CONTAINER = 2
    BACKUP = 3
    STANDBY = 4


_i64, _i32, _u8, _enum, _version, _ascii, _data = (
    sbe.i64, sbe.i32, sbe.u8, sbe.enum_field, sbe.version_field, sbe.ascii, sbe.data,
)


def _bool(name: str, offset: int, since: int = 0) -> Field:
    return _enum(name, offset, BooleanType, since)


def _m(
    tid: int,
    name: str,
    bl: int,
    fields: tuple[Field, ...] = (),
    var: tuple[VarField, ...] = (),
    groups: tuple[Group, ...] = (),
) -> MessageSpec:
    return MessageSpec(tid, name, bl, fields, var, SCHEMA_ID, SCHEMA_VERSION, groups=groups)


_TERM0 = _i64("leadership_term_id", 0)
_SESSION8 = _i64("cluster_session_id", 8)
_CORR0 = _i64("correlation_id", 0)


def _member_group(name: str) -> Group:
    return Group(name, 28, (
        _i64("leadership_term_id", 0), _i64("log_position", 8), _i64("time_of_last_append_ns", 16),
        _i32("member_id", 24),
    ), (
        _ascii("ingress_endpoint"), _ascii("consensus_endpoint"), _ascii("log_endpoint"),
        _ascii("catchup_endpoint"), _ascii("archive_endpoint"),
    ))


def _snapshot_group(with_endpoint: bool = False) -> Group:
    return Group("snapshots", 44, (
        _i64("recording_id", 0), _i64("leadership_term_id", 8), _i64("term_base_log_position", 16),
        _i64("log_position", 24), _i64("timestamp", 32), _i32("service_id", 40),
    ), (_ascii("archive_endpoint"),) if with_endpoint else ())


_MESSAGES = (
    # Client-facing (§2.3)
    _m(1, "SessionMessageHeader", 24, (_TERM0, _SESSION8, _i64("timestamp", 16))),
    _m(2, "SessionEvent", 44, (
        _i64("cluster_session_id", 0), _i64("correlation_id", 8), _i64("leadership_term_id", 16),
        _i32("leader_member_id", 24), _enum("code", 28, EventCode), _version("version", 32, 6),
        _i64("leader_heartbeat_timeout_ns", 36, 13),
    ), (_ascii("detail"),)),
    _m(3, "SessionConnectRequest", 16, (
        _CORR0, _i32("response_stream_id", 8), _version("version", 12, 2),
    ), (_ascii("response_channel"), _data("encoded_credentials"), _ascii("client_info", 14))),
    _m(4, "SessionCloseRequest", 16, (_TERM0, _SESSION8)),
    _m(5, "SessionKeepAlive", 16, (_TERM0, _SESSION8)),
    _m(6, "NewLeaderEvent", 20, (_TERM0, _SESSION8, _i32("leader_member_id", 16)), (_ascii("ingress_endpoints"),)),
    _m(7, "Challenge", 16, (_CORR0, _SESSION8), (_data("encoded_challenge"),)),
    _m(8, "ChallengeResponse", 16, (_CORR0, _SESSION8), (_data("encoded_credentials"),)),
    _m(26, "AdminRequest", 28, (
        _TERM0, _SESSION8, _i64("correlation_id", 16), _enum("request_type", 24, AdminRequestType),
    ), (_data("payload"),)),
    _m(27, "AdminResponse", 24, (
        _i64("cluster_session_id", 0), _i64("correlation_id", 8), _enum("request_type", 16, AdminRequestType),
        _enum("response_code", 20, AdminResponseCode),
    ), (_ascii("message"), _data("payload"))),
    # Log (§2.4)
    _m(20, "TimerEvent", 24, (_TERM0, _i64("correlation_id", 8), _i64("timestamp", 16))),
    _m(21, "SessionOpenEvent", 36, (
        _TERM0, _i64("correlation_id", 8), _i64("cluster_session_id", 16), _i64("timestamp", 24),
        _i32("response_stream_id", 32),
    ), (_ascii("response_channel"), _data("encoded_principal"))),
    _m(22, "SessionCloseEvent", 28, (
        _TERM0, _SESSION8, _i64("timestamp", 16), _enum("close_reason", 24, CloseReason),
    )),
    _m(23, "ClusterActionRequest", 32, (
        _TERM0, _i64("log_position", 8), _i64("timestamp", 16), _enum("action", 24, ClusterAction),
        _i32("flags", 28, 11),
    )),
    _m(24, "NewLeadershipTermEvent", 48, (
        _TERM0, _i64("log_position", 8), _i64("timestamp", 16), _i64("term_base_log_position", 24),
        _i32("leader_member_id", 32), _i32("log_session_id", 36), _enum("time_unit", 40, ClusterTimeUnit, 4),
        _version("app_version", 44, 4),
    )),
    _m(25, "MembershipChangeEvent", 40, (
        _TERM0, _i64("log_position", 8), _i64("timestamp", 16), _i32("leader_member_id", 24),
        _i32("cluster_size", 28), _enum("change_type", 32, ChangeType), _i32("member_id", 36),
    ), (_ascii("cluster_members"),)),
    # CM <-> services and tools (§2.5)
    _m(30, "CloseSession", 8, (_i64("cluster_session_id", 0),)),
    _m(31, "ScheduleTimer", 16, (_CORR0, _i64("deadline", 8))),
    _m(32, "CancelTimer", 8, (_CORR0,)),
    _m(33, "ServiceAck", 36, (
        _i64("log_position", 0), _i64("timestamp", 8), _i64("ack_id", 16), _i64("relevant_id", 24),
        _i32("service_id", 32),
    )),
    _m(34, "ClusterMembersQuery", 12, (_CORR0, _bool("extended", 8, 5))),
    _m(35, "RemoveMember", 8, (_i32("member_id", 0), _bool("is_passive", 4))),
    _m(40, "JoinLog", 40, (
        _i64("log_position", 0), _i64("max_log_position", 8), _i32("member_id", 16), _i32("log_session_id", 20),
        _i32("log_stream_id", 24), _bool("is_startup", 28), _i32("role", 32), _bool("is_standby", 36, 16),
    ), (_ascii("log_channel"),)),
    _m(41, "ClusterMembersResponse", 12, (_CORR0, _i32("leader_member_id", 8)), (
        _ascii("active_members"), _ascii("passive_followers"),
    )),
    _m(42, "ServiceTerminationPosition", 12, (_i64("log_position", 0), _bool("ack_required", 8, 17))),
    _m(43, "ClusterMembersExtendedResponse", 24, (
        _CORR0, _i64("current_time_ns", 8), _i32("leader_member_id", 16), _i32("member_id", 20),
    ), groups=(_member_group("active_members"), _member_group("passive_members"))),
    _m(108, "RequestServiceAck", 8, (_i64("log_position", 0),)),
    # Consensus (§2.6)
    _m(50, "CanvassPosition", 32, (
        _i64("log_leadership_term_id", 0), _i64("log_position", 8), _i64("leadership_term_id", 16),
        _i32("follower_member_id", 24), _version("protocol_version", 28, 9),
    )),
    _m(51, "RequestVote", 32, (
        _i64("log_leadership_term_id", 0), _i64("log_position", 8), _i64("candidate_term_id", 16),
        _i32("candidate_member_id", 24), _version("protocol_version", 28, 9),
    )),
    _m(52, "Vote", 36, (
        _i64("candidate_term_id", 0), _i64("log_leadership_term_id", 8), _i64("log_position", 16),
        _i32("candidate_member_id", 24), _i32("follower_member_id", 28), _bool("vote", 32),
    )),
    _m(53, "NewLeadershipTerm", 96, (
        _i64("log_leadership_term_id", 0), _i64("next_leadership_term_id", 8),
        _i64("next_term_base_log_position", 16), _i64("next_log_position", 24), _i64("leadership_term_id", 32),
        _i64("term_base_log_position", 40), _i64("log_position", 48), _i64("leader_recording_id", 56),
        _i64("timestamp", 64), _i32("leader_member_id", 72), _i32("log_session_id", 76),
        _version("app_version", 80), _bool("is_startup", 84), _i64("commit_position", 88, 15),
    )),
    _m(54, "AppendPosition", 21, (
        _TERM0, _i64("log_position", 8), _i32("follower_member_id", 16), _u8("flags", 20, 8),
    )),
    _m(55, "CommitPosition", 20, (_TERM0, _i64("log_position", 8), _i32("leader_member_id", 16))),
    _m(56, "CatchupPosition", 20, (
        _TERM0, _i64("log_position", 8), _i32("follower_member_id", 16),
    ), (_ascii("catchup_endpoint"),)),
    _m(57, "StopCatchup", 12, (_TERM0, _i32("follower_member_id", 8))),
    _m(70, "AddPassiveMember", 8, (_CORR0,), (_ascii("member_endpoints"),)),
    _m(71, "ClusterMembersChange", 12, (_CORR0, _i32("leader_member_id", 8)), (
        _ascii("active_members"), _ascii("passive_members"),
    )),
    _m(72, "SnapshotRecordingQuery", 12, (_CORR0, _i32("request_member_id", 8))),
    _m(73, "SnapshotRecordings", 8, (_CORR0,), (_ascii("member_endpoints"),), groups=(_snapshot_group(),)),
    _m(74, "JoinCluster", 12, (_TERM0, _i32("member_id", 8))),
    _m(75, "TerminationPosition", 16, (_TERM0, _i64("log_position", 8))),
    _m(76, "TerminationAck", 20, (_TERM0, _i64("log_position", 8), _i32("member_id", 16))),
    _m(77, "BackupQuery", 24, (
        _CORR0, _i32("response_stream_id", 8), _version("version", 12, 2), _i64("log_position", 16, 16),
    ), (_ascii("response_channel"), _data("encoded_credentials"))),
    _m(78, "BackupResponse", 60, (
        _CORR0, _i64("log_recording_id", 8), _i64("log_leadership_term_id", 16),
        _i64("log_term_base_log_position", 24), _i64("last_leadership_term_id", 32),
        _i64("last_term_base_log_position", 40), _i32("commit_position_counter_id", 48),
        _i32("leader_member_id", 52), _i32("member_id", 56, 10),
    ), (_ascii("cluster_members"),), groups=(_snapshot_group(),)),
    _m(79, "HeartbeatRequest", 12, (_CORR0, _i32("response_stream_id", 8)), (
        _ascii("response_channel"), _data("encoded_credentials"),
    )),
    _m(80, "HeartbeatResponse", 8, (_CORR0,)),
    _m(81, "StandbySnapshot", 16, (
        _CORR0, _i32("version", 8), _i32("response_stream_id", 12),
    ), (_ascii("response_channel"), _data("encoded_credentials")), groups=(_snapshot_group(True),)),
    # Snapshot records (§2.7)
    _m(100, "SnapshotMarker", 40, (
        _i64("type_id", 0), _i64("log_position", 8), _i64("leadership_term_id", 16), _i32("index", 24),
        _enum("mark", 28, SnapshotMark), _enum("time_unit", 32, ClusterTimeUnit, 4),
        _version("app_version", 36, 4),
    )),
    _m(102, "ClientSession", 12, (_i64("cluster_session_id", 0), _i32("response_stream_id", 8)), (
        _ascii("response_channel"), _data("encoded_principal"),
    )),
    _m(103, "ClusterSession", 40, (
        _i64("cluster_session_id", 0), _i64("correlation_id", 8), _i64("opened_log_position", 16),
        _i64("time_of_last_activity", 24), _enum("close_reason", 32, CloseReason), _i32("response_stream_id", 36),
    ), (_ascii("response_channel"),)),
    _m(104, "Timer", 16, (_CORR0, _i64("deadline", 8))),
    _m(105, "ConsensusModule", 28, (
        _i64("next_session_id", 0), _i64("next_service_session_id", 8, 3), _i64("log_service_session_id", 16, 3),
        _version("pending_message_capacity", 24, 3),
    )),
    _m(106, "ClusterMembers", 8, (_i32("member_id", 0), _i32("high_member_id", 4)), (_ascii("cluster_members"),)),
    _m(107, "PendingMessageTracker", 24, (
        _i64("next_service_session_id", 0), _i64("log_service_session_id", 8),
        _version("pending_message_capacity", 16), _i32("service_id", 20),
    )),
)

CLUSTER_SCHEMA = Schema(SCHEMA_ID, SCHEMA_VERSION, _MESSAGES)

MARK_FILE_HEADER = MessageSpec(
    200,
    "MarkFileHeader",
    128,
    (
        _i32("version", 0), _enum("component_type", 4, ClusterComponentType), _i64("activity_timestamp", 8),
        _i64("start_timestamp", 16), _i64("pid", 24), _i64("candidate_term_id", 32),
        _i32("archive_stream_id", 40), _i32("service_stream_id", 44), _i32("consensus_module_stream_id", 48),
        _i32("ingress_stream_id", 52), _i32("member_id", 56), _i32("service_id", 60), _i32("header_length", 64),
        _i32("error_buffer_length", 68), _i32("cluster_id", 72),
    ),
    (
        _ascii("aeron_directory"), _ascii("control_channel"), _ascii("ingress_channel"), _ascii("service_name"),
        _ascii("authenticator"), _ascii("services_cluster_dir", 1),
    ),
    MARK_FILE_SCHEMA_ID,
    MARK_FILE_SCHEMA_VERSION,
)
MARK_FILE_SCHEMA = Schema(MARK_FILE_SCHEMA_ID, MARK_FILE_SCHEMA_VERSION, (MARK_FILE_HEADER,))


def _n(tid: int, name: str, bl: int, fields: tuple[Field, ...], var: tuple[VarField, ...] = ()) -> MessageSpec:
    return MessageSpec(tid, name, bl, fields, var, NODE_STATE_SCHEMA_ID, NODE_STATE_SCHEMA_VERSION)


NODE_STATE_SCHEMA = Schema(NODE_STATE_SCHEMA_ID, NODE_STATE_SCHEMA_VERSION, (
    _n(300, "NodeStateHeader", 8, (_i32("version", 0), _i32("padding", 4))),
    _n(301, "CandidateTerm", 24, (_i64("candidate_term_id", 0), _i64("timestamp", 8), _i64("log_position", 16))),
    _n(303, "ClusterMembers", 16, (
        _i64("leadership_term_id", 0), _i32("member_id", 8), _i32("high_member_id", 12),
    ), (_ascii("cluster_members"),)),
    _n(304, "NodeStateFooter", 0, ()),
))


class _Templates:
    """Attribute access to the main schema's templates by name: ``T.SessionEvent``."""

    def __getattr__(self, name: str) -> MessageSpec:
        try:
            return CLUSTER_SCHEMA.by_name[name]
        except KeyError:
            raise AttributeError(name) from None


T = _Templates()

"""The consensus module's BackupResponse to a ClusterBackup's BackupQuery (cluster.md §2.6)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from aeronpy.cluster.client.context import PROTOCOL_SEMANTIC_VERSION
from aeronpy.cluster.codecs import CLUSTER_SCHEMA, T
from aeronpy.cluster.consensus.backup_response import backup_response
from aeronpy.cluster.members import members_string, parse_members
from aeronpy.cluster.recording_log import RecordingLog
from aeronpy.protocol import sbe

MEMBERS = "0,h:1,h:2,h:3,h:0,h:5|1,h:11,h:12,h:13,h:0,h:15|2,h:21,h:22,h:23,h:0,h:25"
INT64_MAX = (1 << 63) - 1


def _agent(tmp_path: Path) -> SimpleNamespace:
    members = parse_members(MEMBERS)
    return SimpleNamespace(
        recording_log=RecordingLog(str(tmp_path), create=True),
        ctx=SimpleNamespace(service_count=1, authorisation_service=None), leadership_term_id=1,
        counters={"commit": SimpleNamespace(id=17)}, leader_member=members[2], member_id=1, members=members)


def _query(log_position: int | None = None, version: int = PROTOCOL_SEMANTIC_VERSION) -> sbe.Decoded:
    data = sbe.encode(T.BackupQuery, correlation_id=99, response_stream_id=108, version=version,
                      log_position=log_position, response_channel="aeron:udp?endpoint=b:1", encoded_credentials=b"")
    d = sbe.decode(CLUSTER_SCHEMA, data)
    assert d is not None
    return d


def _snapshots(log: RecordingLog, position: int, cm_id: int) -> None:
    log.append_snapshot(cm_id + 1, 0, 0, position, 1000 + position, 0)
    log.append_snapshot(cm_id, 0, 0, position, 1000 + position, -1)


def test_answers_with_last_term_commit_counter_ids_snapshots_and_members(tmp_path: Path) -> None:
    agent = _agent(tmp_path)
    agent.recording_log.append_term(5, 0, 0, 1)
    _snapshots(agent.recording_log, 640, 10)
    _snapshots(agent.recording_log, 1280, 20)
    agent.recording_log.append_term(5, 1, 2048, 2)
    raw = backup_response(agent, _query())
    assert raw is not None
    d = sbe.decode(CLUSTER_SCHEMA, raw)
    assert d is not None and d.spec.name == "BackupResponse"
    assert d.get_int("correlation_id") == 99
    assert (d.get_int("log_recording_id"), d.get_int("log_leadership_term_id"),
            d.get_int("log_term_base_log_position")) == (5, 1, 2048)
    assert (d.get_int("last_leadership_term_id"), d.get_int("last_term_base_log_position")) == (1, 2048)
    assert (d.get_int("commit_position_counter_id"), d.get_int("leader_member_id"), d.get_int("member_id")) == \
        (17, 2, 1)
    assert d.get_str("cluster_members") == members_string(parse_members(MEMBERS))
    snaps = d.get_group("snapshots")
    assert sorted((s["service_id"], s["recording_id"], s["log_position"]) for s in snaps) == \
        [(-1, 20, 1280), (0, 21, 1280)]


def test_snapshot_at_or_before_the_queried_position_else_the_lowest(tmp_path: Path) -> None:
    agent = _agent(tmp_path)
    agent.recording_log.append_term(5, 0, 0, 1)
    _snapshots(agent.recording_log, 640, 10)
    _snapshots(agent.recording_log, 1280, 20)

    def positions(query: sbe.Decoded) -> set[int]:
        raw = backup_response(agent, query)
        assert raw is not None
        d = sbe.decode(CLUSTER_SCHEMA, raw)
        assert d is not None
        return {s["log_position"] for s in d.get_group("snapshots")}

    assert positions(_query(1000)) == {640}
    assert positions(_query(100)) == {640}  # none at or before: the lowest
    assert positions(_query(INT64_MAX)) == {1280}
    assert positions(_query(None)) == {1280}  # null = latest


def test_no_log_yet_is_no_answer_and_another_major_version_is_refused(tmp_path: Path) -> None:
    agent = _agent(tmp_path)
    assert backup_response(agent, _query()) is None
    agent.recording_log.append_term(5, 0, 0, 1)
    with pytest.raises(ValueError, match="protocol version"):
        backup_response(agent, _query(version=PROTOCOL_SEMANTIC_VERSION + (1 << 16)))
    agent.leader_member = None
    raw = backup_response(agent, _query())
    assert raw is not None
    d = sbe.decode(CLUSTER_SCHEMA, raw)
    assert d is not None and d.get_int("leader_member_id") == -1 and d.get_group("snapshots") == []


def test_an_authorisation_service_may_refuse_backups(tmp_path: Path) -> None:
    agent = _agent(tmp_path)
    agent.recording_log.append_term(5, 0, 0, 1)
    asked: list[tuple[int, int]] = []

    def deny(schema_id: int, template_id: int, kind: int, principal: bytes) -> bool:
        asked.append((schema_id, template_id))
        return False

    agent.ctx.authorisation_service = deny
    raw = backup_response(agent, _query())
    assert raw is not None and asked == [(111, 77)]
    d = sbe.decode(CLUSTER_SCHEMA, raw)
    assert d is not None and d.spec.name == "SessionEvent"
    assert d.get_int("correlation_id") == 99 and d.get_str("detail") == "Not authorised for BackupQuery"
    agent.ctx.authorisation_service = lambda *a: True
    raw = backup_response(agent, _query())
    assert raw is not None
    d = sbe.decode(CLUSTER_SCHEMA, raw)
    assert d is not None and d.spec.name == "BackupResponse"

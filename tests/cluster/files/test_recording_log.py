"""recording.log: byte layout, in-memory order, in-place updates, invalidation, coherence,
recovery plan, corrupt files, and random operation sequences against a model."""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aeronpy.cluster.errors import ClusterError, ClusterFileError
from aeronpy.cluster.recording_log import (
    FILE_NAME,
    Entry,
    EntryType,
    RecordingLog,
)

ROW = struct.Struct("<qqqqqii")


def _row(rec: int, term: int, base: int, pos: int, ts: int, sid: int, typ: int) -> bytes:
    return ROW.pack(rec, term, base, pos, ts, sid, typ).ljust(64, b"\0")


def test_term_entry_bytes_and_commit_in_place(tmp_path: Path) -> None:
    log = RecordingLog(str(tmp_path))
    log.append_term(7, 0, 0, 1000)
    raw = (tmp_path / FILE_NAME).read_bytes()
    assert raw == _row(7, 0, 0, -1, 1000, -1, 0)
    log.append_term(7, 1, 4096, 2000)  # commits term 0 at 4096 in place (offset 24)
    raw = (tmp_path / FILE_NAME).read_bytes()
    assert raw == _row(7, 0, 0, 4096, 1000, -1, 0) + _row(7, 1, 4096, -1, 2000, -1, 0)
    log.commit_log_position(1, 8192)
    assert struct.unpack_from("<q", (tmp_path / FILE_NAME).read_bytes(), 64 + 24)[0] == 8192
    assert log.find_last_term() == log.entries[1] and log.entries[1].log_position == 8192
    log.close()


def test_snapshot_standby_and_invalid_bit_bytes(tmp_path: Path) -> None:
    log = RecordingLog(str(tmp_path))
    log.append_term(1, 0, 0, 10)
    log.append_snapshot(2, 0, 0, 640, 20, -1)
    log.append_standby_snapshot(3, 0, 0, 1280, 30, -1, "host:8010")
    raw = (tmp_path / FILE_NAME).read_bytes()
    assert raw[64:128] == _row(2, 0, 0, 640, 20, -1, 1)
    standby = ROW.pack(3, 0, 0, 1280, 30, -1, 2) + struct.pack("<i", 9) + b"host:8010"
    assert raw[128:] == standby.ljust(64, b"\0")
    assert log.invalidate_latest_snapshot()
    raw = (tmp_path / FILE_NAME).read_bytes()
    assert struct.unpack_from("<I", raw, 128 + 44)[0] == 0x80000002  # bit 31 = invalid
    assert struct.unpack_from("<I", raw, 64 + 44)[0] == 1  # lower position: untouched
    log.close()
    again = RecordingLog(str(tmp_path))
    assert [e.entry_type for e in again.entries] == [EntryType.TERM, EntryType.STANDBY_SNAPSHOT, EntryType.SNAPSHOT]
    standby_entry = again.entries[1]
    assert standby_entry.entry_type == EntryType.STANDBY_SNAPSHOT and not standby_entry.is_valid
    assert standby_entry.archive_endpoint == "host:8010"
    again.close()


def test_in_memory_order_snapshot_set_is_services_descending_then_cm(tmp_path: Path) -> None:
    log = RecordingLog(str(tmp_path))
    log.append_term(1, 0, 0, 0)
    for sid in (-1, 0, 1, 2):  # written in any order
        log.append_snapshot(10 + sid, 0, 0, 640, 5, sid)
    log.append_term(1, 1, 1024, 9)
    log.close()
    log = RecordingLog(str(tmp_path))
    kinds = [(e.entry_type.name, e.service_id) for e in log.entries]
    assert kinds == [("TERM", -1), ("SNAPSHOT", 2), ("SNAPSHOT", 1), ("SNAPSHOT", 0), ("SNAPSHOT", -1), ("TERM", -1)]
    assert log.latest_snapshot(-1) is not None and log.latest_snapshot(-1).recording_id == 9  # type: ignore[union-attr]
    assert log.latest_snapshot(1).recording_id == 11  # type: ignore[union-attr]
    assert log.latest_snapshot(3) is None
    log.close()


def test_term_rules(tmp_path: Path) -> None:
    log = RecordingLog(str(tmp_path))
    with pytest.raises(ClusterError, match="invalid recordingId=-1"):
        log.append_term(-1, 0, 0, 0)
    log.append_term(3, 0, 0, 0)
    with pytest.raises(ClusterError, match="duplicate TERM"):
        log.append_term(3, 0, 0, 0)
    with pytest.raises(ClusterError, match="expected recordingId=3"):
        log.append_term(4, 1, 0, 0)
    with pytest.raises(ClusterError, match="unknown leadershipTermId=5"):
        log.commit_log_position(5, 100)
    # a term appended before a later one that already exists takes its end from it
    log.append_term(3, 2, 500, 0)
    log.append_term(3, 1, 200, 0)
    assert log.get_term_entry(1).log_position == 500
    assert log.get_term_entry(0).log_position == 200
    assert [e.leadership_term_id for e in log.entries] == [0, 1, 2]
    assert log.get_term_timestamp(9) == -1 and log.is_unknown(9)
    log.close()


def test_revalidate_on_reappend_uses_old_slot(tmp_path: Path) -> None:
    log = RecordingLog(str(tmp_path))
    log.append_term(1, 0, 0, 0)
    log.append_snapshot(2, 0, 0, 100, 1, 0)
    log.append_snapshot(3, 0, 0, 100, 1, -1)
    log.append_snapshot(4, 0, 0, 200, 2, 0)
    log.append_snapshot(5, 0, 0, 200, 2, -1)
    assert log.invalidate_latest_snapshot()
    assert log.latest_snapshot(-1).recording_id == 3  # type: ignore[union-attr]
    assert log.invalidate_latest_snapshot()
    assert log.latest_snapshot(-1) is None
    assert not log.invalidate_latest_snapshot()
    size = (tmp_path / FILE_NAME).stat().st_size
    log.append_snapshot(44, 0, 0, 200, 7, 0)
    log.append_snapshot(55, 0, 0, 200, 7, -1)
    assert (tmp_path / FILE_NAME).stat().st_size == size  # no new slot
    cm = log.latest_snapshot(-1)
    assert cm is not None and (cm.recording_id, cm.timestamp, cm.entry_index) == (55, 7, 4)
    log.close()
    log = RecordingLog(str(tmp_path))
    assert log.latest_snapshot(0).recording_id == 44  # type: ignore[union-attr]
    log.close()


def test_invalidate_without_term_is_an_error(tmp_path: Path) -> None:
    log = RecordingLog(str(tmp_path))
    log.append_snapshot(3, 4, 0, 100, 1, -1)
    with pytest.raises(ClusterError, match="no matching term"):
        log.invalidate_latest_snapshot()
    log.close()


def test_removed_slot_is_skipped_but_counted(tmp_path: Path) -> None:
    log = RecordingLog(str(tmp_path))
    log.append_term(1, 0, 0, 0)
    log.append_snapshot(2, 0, 0, 100, 1, -1)
    log.append_term(1, 1, 100, 0)
    log.remove_entry(0, 1)
    assert [e.entry_index for e in log.entries] == [0, 2]
    assert struct.unpack_from("<i", (tmp_path / FILE_NAME).read_bytes(), 64 + 44)[0] == -1
    log.append_snapshot(3, 1, 100, 200, 1, -1)
    assert log.entries[-1].entry_index == 3
    with pytest.raises(ClusterError, match="unknown entry index"):
        log.remove_entry(0, 9)
    log.close()


def test_ensure_coherent_fills_missing_terms(tmp_path: Path) -> None:
    log = RecordingLog(str(tmp_path))
    log.ensure_coherent(8, 0, 0, 2, 0, 300, 0, 5)
    assert [(e.leadership_term_id, e.term_base_log_position, e.log_position) for e in log.entries] == [
        (0, 0, 0), (1, 0, 0), (2, 0, 300)]
    with pytest.raises(ClusterError, match="prior term was not committed"):
        log2 = RecordingLog(str(tmp_path / "b"))
        log2.append_term(8, 0, 0, 0)
        log2.ensure_coherent(8, 0, 0, 3, -1, -1, 0, 5)
    log2.close()
    log.ensure_coherent(8, 0, 0, 4, 300, -1, 0, 6)  # last term already committed at 300
    assert [(e.leadership_term_id, e.term_base_log_position, e.log_position) for e in log.entries][2:] == [
        (2, 0, 300), (3, 300, 300), (4, 300, -1)]
    log.ensure_coherent(8, 0, 0, 4, 300, 900, 0, 6)  # same term: just commits
    assert log.find_last_term().log_position == 900  # type: ignore[union-attr]
    log.close()


@dataclass(frozen=True)
class Extent:
    start_position: int
    stop_position: int
    initial_term_id: int = 0
    term_buffer_length: int = 65536
    mtu_length: int = 1408
    session_id: int = 77


def test_recovery_plan(tmp_path: Path) -> None:
    log = RecordingLog(str(tmp_path))
    extents = {5: Extent(0, 5000)}
    plan = log.create_recovery_plan(extents.get, 2)
    assert plan.log is None and plan.snapshots == () and plan.last_leadership_term_id == -1
    plan = log.create_recovery_plan(extents.get, 2, replicated_recording_id=5)
    assert plan.log is not None and plan.log.stop_position == 5000 and plan.log.leadership_term_id == -1
    log.append_term(5, 0, 0, 0)
    log.append_snapshot(21, 0, 0, 1024, 1, 1)
    log.append_snapshot(20, 0, 0, 1024, 1, 0)
    log.append_snapshot(19, 0, 0, 1024, 1, -1)
    log.append_term(5, 1, 2048, 2)
    plan = log.create_recovery_plan(extents.get, 2)
    assert [s.service_id for s in plan.snapshots] == [-1, 0, 1]
    assert [s.recording_id for s in plan.snapshots] == [19, 20, 21]
    assert plan.log is not None and plan.log.start_position == 1024 and plan.log.session_id == 77
    assert (plan.last_leadership_term_id, plan.last_term_base_log_position) == (1, 2048)
    assert plan.appended_log_position == 5000 and plan.committed_log_position == 1024  # term 1 still open
    log.commit_log_position(1, 4800)
    assert log.create_recovery_plan(extents.get, 2).committed_log_position == 4800
    with pytest.raises(ClusterError, match="unknown recording id: 5"):
        log.create_recovery_plan(lambda _: None, 2)
    assert log.invalidate_latest_snapshot()
    plan = log.create_recovery_plan(extents.get, 2)
    assert plan.snapshots == () and plan.log is not None and plan.log.start_position == 0
    log.close()


def test_snapshot_at_or_before_and_standby_sets(tmp_path: Path) -> None:
    log = RecordingLog(str(tmp_path))
    log.append_term(1, 0, 0, 0)
    for pos in (100, 200):
        log.append_snapshot(pos + 1, 0, 0, pos, 1, 0)
        log.append_snapshot(pos + 2, 0, 0, pos, 1, -1)
    at = log.find_snapshot_at_or_before_or_lowest(150, 1)
    assert at is not None and [s.recording_id for s in at] == [101, 102]
    at = log.find_snapshot_at_or_before_or_lowest(50, 1)
    assert at is not None and at[0].log_position == 100
    log.append_standby_snapshot(9, 0, 0, 300, 1, 0, "a:1")
    log.append_standby_snapshot(8, 0, 0, 300, 1, -1, "a:1")
    log.append_standby_snapshot(7, 0, 0, 400, 1, -1, "a:1")  # incomplete set
    sets = log.latest_standby_snapshots(1)
    assert list(sets) == ["a:1"] and {e.log_position for e in sets["a:1"]} == {300}
    with pytest.raises(ClusterError, match="archive endpoint"):
        log.append_standby_snapshot(7, 0, 0, 400, 1, -1, "")
    log.close()


def test_missing_file_and_read_only(tmp_path: Path) -> None:
    with pytest.raises(ClusterFileError, match="does not exist"):
        RecordingLog(str(tmp_path / "none"), create=False)
    RecordingLog(str(tmp_path)).close()
    ro = RecordingLog(str(tmp_path), read_only=True)
    with pytest.raises(ClusterError, match="read-only"):
        ro.append_term(1, 0, 0, 0)
    ro.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_row(1, 0, 0, -1, 0, -1, 9), r"offset 0: unknown entry type 9"),
        (_row(1, 0, 0, -1, 0, -1, 0) + _row(2, 1, 0, -1, 0, -1, 0), r"offset 64: TERM recordingId=2 differs"),
        (_row(1, 0, 0, -1, 0, -1, 0) * 2, r"offset 64: second valid TERM entry for leadershipTermId=0"),
        (b"\0" * 256, r"second valid TERM entry"),  # a zero-filled file
        (_row(1, -5, 0, -1, 0, -1, 0), r"leadershipTermId=-5 is negative"),
        (_row(1, 0, 0, -1, 0, -7, 1), r"serviceId=-7"),
        (ROW.pack(1, 0, 0, 0, 0, -1, 2) + struct.pack("<i", 99999), r"archive endpoint length 99999"),
        (b"this is a text file, not a recording log at all\n" * 4, r"unknown entry type"),
    ],
    ids=["type", "recording-id", "duplicate-term", "zeros", "negative-term", "service-id", "endpoint", "text"],
)
def test_corrupt_file_is_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / FILE_NAME).write_bytes(content)
    with pytest.raises(ClusterFileError, match=message) as info:
        RecordingLog(str(tmp_path))
    assert str(tmp_path / FILE_NAME) in str(info.value)


def test_truncated_tail_is_ignored(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_bytes(_row(1, 0, 0, -1, 0, -1, 0) + _row(1, 1, 0, -1, 0, -1, 0)[:40])
    log = RecordingLog(str(tmp_path))
    assert len(log.entries) == 1
    log.append_term(1, 1, 64, 0)  # written at the aligned end
    assert (tmp_path / FILE_NAME).stat().st_size == 192
    log.close()


def test_rewrite_sorts_file(tmp_path: Path) -> None:
    log = RecordingLog(str(tmp_path))
    log.append_term(1, 1, 100, 0)
    log.append_term(1, 0, 0, 0)
    log.rewrite(log.entries)
    raw = (tmp_path / FILE_NAME).read_bytes()
    assert struct.unpack_from("<q", raw, 8)[0] == 0 and struct.unpack_from("<q", raw, 64 + 8)[0] == 1
    assert [e.entry_index for e in log.entries] == [0, 1]
    log.close()


# -- model-based property test --------------------------------------------------------------


def _java_compare(a: Entry, b: Entry) -> int:
    """Aeron's comparator, stated as written (not as a key)."""
    def cmp(x: int, y: int) -> int:
        return (x > y) - (x < y)

    r = cmp(a.leadership_term_id, b.leadership_term_id) or cmp(a.term_base_log_position, b.term_base_log_position)
    if r:
        return r
    r = cmp(int(a.entry_type), int(b.entry_type))
    if r:
        if a.entry_type == EntryType.SNAPSHOT:
            return 1
        if b.entry_type == EntryType.SNAPSHOT:
            return -1
        return r
    if a.entry_type == EntryType.TERM:
        return cmp(a.entry_index, b.entry_index)
    return cmp(a.log_position, b.log_position) or cmp(b.service_id, a.service_id)


_op = st.one_of(
    st.tuples(st.just("term"), st.integers(0, 5), st.integers(0, 4)),
    st.tuples(st.just("snap"), st.integers(0, 5), st.integers(0, 3), st.integers(-1, 2)),
    st.tuples(st.just("standby"), st.integers(0, 5), st.integers(0, 3), st.integers(-1, 1)),
    st.tuples(st.just("commit"), st.integers(0, 5), st.integers(0, 9)),
    st.tuples(st.just("invalidate")),
    st.tuples(st.just("reopen")),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_op, max_size=25))
@example(ops=[("term", 0, 0), ("term", 1, 0), ("snap", 0, 1, -1), ("snap", 1, 0, -1), ("invalidate",)])
def test_random_operations_match_model(tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[object, ...]]) -> None:
    d = tmp_path_factory.mktemp("rl")
    log = RecordingLog(str(d))
    # model: file slots in write order (index = entry_index), each an Entry with its current state
    slots: list[Entry] = []
    ts = 0
    try:
        for op in ops:
            ts += 1
            kind = op[0]
            valid_terms = {e.leadership_term_id: i for i, e in enumerate(slots)
                           if e.entry_type == EntryType.TERM and e.is_valid}
            if kind == "term":
                term, base = int(op[1]), int(op[2]) * 100  # type: ignore[call-overload]
                if term in valid_terms:
                    with pytest.raises(ClusterError):
                        log.append_term(1, term, base, ts)
                    continue
                log.append_term(1, term, base, ts)
                pos = -1
                if slots and term - 1 in valid_terms:
                    i = valid_terms[term - 1]
                    slots[i] = Entry(**{**slots[i].__dict__, "log_position": base})
                if slots and term + 1 in valid_terms:
                    pos = slots[valid_terms[term + 1]].term_base_log_position
                slots.append(Entry(1, term, base, pos, ts, -1, EntryType.TERM, True, len(slots)))
            elif kind in ("snap", "standby"):
                term, p, sid = int(op[1]), int(op[2]) * 100, int(op[3])  # type: ignore[call-overload]
                etype = EntryType.SNAPSHOT if kind == "snap" else EntryType.STANDBY_SNAPSHOT
                if kind == "snap":
                    log.append_snapshot(50, term, 0, p, ts, sid)
                else:
                    log.append_standby_snapshot(50, term, 0, p, ts, sid, "h:1")
                # revalidation candidates: invalid slots matching; the implementation picks the
                # most recently invalidated, the model accepts any matching one but checks count
                match = [i for i, e in enumerate(slots) if not e.is_valid and e.entry_type == etype
                         and (e.leadership_term_id, e.term_base_log_position, e.log_position, e.service_id)
                         == (term, 0, p, sid)]
                if match:
                    restored = [e for e in log.entries if e.entry_type == etype and e.is_valid
                                and e.timestamp == ts]
                    assert len(restored) == 1
                    i = restored[0].entry_index
                    assert i in match
                    slots[i] = Entry(**{**slots[i].__dict__, "is_valid": True, "timestamp": ts})
                else:
                    slots.append(Entry(50, term, 0, p, ts, sid, etype, True, len(slots),
                                       "h:1" if kind == "standby" else None))
            elif kind == "commit":
                term, pos = int(op[1]), int(op[2]) * 100  # type: ignore[call-overload]
                if term not in valid_terms:
                    with pytest.raises(ClusterError):
                        log.commit_log_position(term, pos)
                    continue
                log.commit_log_position(term, pos)
                i = valid_terms[term]
                slots[i] = Entry(**{**slots[i].__dict__, "log_position": pos})
            elif kind == "invalidate":
                ordered = sorted(slots, key=functools.cmp_to_key(_java_compare))
                try:
                    found = log.invalidate_latest_snapshot()
                except ClusterError:
                    found = None
                if found is None:
                    continue  # a snapshot without a TERM for its term: refused, nothing changed
                for e in log.entries:
                    if not e.is_valid and slots[e.entry_index].is_valid:
                        slots[e.entry_index] = Entry(**{**slots[e.entry_index].__dict__, "is_valid": False})
                cms = [e for e in ordered if e.is_valid and e.service_id == -1 and e.entry_type != EntryType.TERM]
                assert found == bool(cms)
                if cms:
                    # as Aeron: scanning back from the end, the CM snapshots at the highest log position
                    # before the first lower one are invalid now (the last in order need not be the
                    # highest when a later term's snapshot sits at a lower position)
                    high = -1
                    chosen: list[Entry] = []
                    for e in reversed(cms):
                        if e.log_position < high:
                            break
                        if e.log_position > high:
                            chosen, high = [], e.log_position
                        chosen.append(e)
                    for e in chosen:
                        assert not slots[e.entry_index].is_valid
            else:
                log.close()
                log = RecordingLog(str(d))
            expected = sorted(slots, key=functools.cmp_to_key(_java_compare))
            got = [(e.entry_index, e.recording_id, e.leadership_term_id, e.term_base_log_position, e.log_position,
                    e.timestamp, e.service_id, e.entry_type, e.is_valid) for e in log.entries]
            want = [(e.entry_index, e.recording_id, e.leadership_term_id, e.term_base_log_position, e.log_position,
                     e.timestamp, e.service_id, e.entry_type, e.is_valid) for e in expected]
            assert got == want
        log.close()
        reloaded = RecordingLog(str(d))
        assert [str(e) for e in reloaded.entries] == [str(e) for e in log.entries]
        reloaded.close()
    finally:
        log.close()


@pytest.mark.parametrize(("level", "expected"), [(0, []), (1, ["fdatasync"]), (2, ["fsync"])])
def test_file_sync_level(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, level: int, expected: list[str]) -> None:
    import os

    log = RecordingLog(str(tmp_path), file_sync_level=level)
    calls: list[str] = []
    monkeypatch.setattr(os, "fdatasync", lambda fd: calls.append("fdatasync"))
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append("fsync"))
    log.append_term(1, 0, 0, 0)
    assert calls == expected
    calls.clear()
    log.commit_log_position(0, 64)
    log.append_snapshot(2, 0, 0, 64, 0, -1)
    log.invalidate_latest_snapshot()
    assert calls == expected * 3
    log.close()

"""node-state.dat: the layout on creation, propose-max, reopen, sync level, corrupt files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.cluster.errors import ClusterFileError
from aeronpy.cluster.node_state import FILE_LENGTH, FILE_NAME, NodeStateFile


def test_layout_on_creation(tmp_path: Path) -> None:
    f = NodeStateFile(str(tmp_path))
    raw = (tmp_path / FILE_NAME).read_bytes()
    assert len(raw) == FILE_LENGTH == 1 << 20
    assert struct.unpack_from("<ii", raw, 0) == (0x000300, 0)  # version 0.3.0, padding
    assert struct.unpack_from("<HHHHii", raw, 8) == (24, 301, 112, 10, 40, 0)
    assert struct.unpack_from("<qqq", raw, 24) == (-1, -1, -1)  # candidateTermId, timestamp, logPosition
    assert struct.unpack_from("<HHHHii", raw, 48) == (0, 304, 112, 10, 16, 0)
    assert f.candidate_term_id == -1
    f.close()


def test_propose_max_persists_only_higher_terms(tmp_path: Path) -> None:
    f = NodeStateFile(str(tmp_path), file_sync_level=1)
    assert f.propose_max_candidate_term_id(4, 1024, 99) == 4
    assert f.propose_max_candidate_term_id(2, 2048, 100) == 4
    assert (f.candidate_term_id, f.log_position, f.timestamp) == (4, 1024, 99)
    f.close()
    raw = (tmp_path / FILE_NAME).read_bytes()
    assert struct.unpack_from("<qqq", raw, 24) == (4, 99, 1024)
    again = NodeStateFile(str(tmp_path), create=False)
    assert again.candidate_term_id == 4
    again.update_candidate_term_id(1, 0, 5)  # unconditional
    assert again.candidate_term_id == 1
    again.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(terms=st.lists(st.integers(-1, 1 << 40), max_size=20))
def test_stored_term_is_the_running_max(tmp_path_factory: pytest.TempPathFactory, terms: list[int]) -> None:
    d = tmp_path_factory.mktemp("ns")
    f = NodeStateFile(str(d))
    best = -1
    for t in terms:
        best = max(best, t)
        assert f.propose_max_candidate_term_id(t, 0, 0) == best
    f.close()
    g = NodeStateFile(str(d), create=False)
    assert g.candidate_term_id == best
    g.close()


def test_records_are_found_by_scanning(tmp_path: Path) -> None:
    """A reader follows the chain of records: an unknown record before the CandidateTerm is skipped."""
    raw = bytearray(FILE_LENGTH)
    struct.pack_into("<ii", raw, 0, 0x000300, 0)
    struct.pack_into("<HHHHii", raw, 8, 16, 303, 112, 10, 36, 0)  # a ClusterMembers record (36 -> 40)
    struct.pack_into("<HHHHii", raw, 48, 24, 301, 112, 10, 40, 0)
    struct.pack_into("<qqq", raw, 64, 9, 1, 2)
    struct.pack_into("<HHHHii", raw, 88, 0, 304, 112, 10, 16, 0)
    (tmp_path / FILE_NAME).write_bytes(bytes(raw))
    f = NodeStateFile(str(tmp_path), create=False)
    assert (f.candidate_term_id, f.timestamp, f.log_position) == (9, 1, 2)
    f.propose_max_candidate_term_id(10, 0, 0)
    f.close()
    assert struct.unpack_from("<q", (tmp_path / FILE_NAME).read_bytes(), 64)[0] == 10


def _corrupt(kind: str) -> bytes:
    raw = bytearray(FILE_LENGTH)
    struct.pack_into("<ii", raw, 0, 0x000300, 0)
    struct.pack_into("<HHHHii", raw, 8, 24, 301, 112, 10, 40, 0)
    struct.pack_into("<HHHHii", raw, 48, 0, 304, 112, 10, 16, 0)
    if kind == "version":
        struct.pack_into("<i", raw, 0, 0x010000)
    elif kind == "no-footer":
        struct.pack_into("<HHHHii", raw, 48, 0, 0, 0, 0, 0, 0)
    elif kind == "no-candidate":
        struct.pack_into("<HHHHii", raw, 8, 0, 304, 112, 10, 16, 0)
    elif kind == "negative-length":
        struct.pack_into("<HHHHii", raw, 8, 24, 302, 112, 10, -8, 0)
    elif kind == "zeros":
        raw = bytearray(FILE_LENGTH)
    elif kind == "short":
        return bytes(raw[:20])
    return bytes(raw)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("version", "major version 0"),
        ("no-footer", "no footer"),
        ("no-candidate", "no CandidateTerm"),
        ("negative-length", "negative frame length -8 at offset 8"),
        ("zeros", "version 0.0.0"),
        ("short", "too short"),
    ],
)
def test_corrupt_or_foreign_file_is_a_clear_error(tmp_path: Path, kind: str, message: str) -> None:
    (tmp_path / FILE_NAME).write_bytes(_corrupt(kind))
    with pytest.raises(ClusterFileError, match=message) as info:
        NodeStateFile(str(tmp_path))
    assert str(tmp_path / FILE_NAME) in str(info.value)


def test_missing_file_without_create(tmp_path: Path) -> None:
    with pytest.raises(ClusterFileError, match="does not exist"):
        NodeStateFile(str(tmp_path), create=False)

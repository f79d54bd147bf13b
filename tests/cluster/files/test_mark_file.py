"""Cluster mark files: header bytes, ready/failed/terminated, liveness, link file, errors kept
from an old file, legacy layout, foreign and corrupt files."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.cluster.codecs import ClusterComponentType
from aeronpy.cluster.errors import ClusterFileError
from aeronpy.cluster.mark_file import (
    FILE_NAME,
    HEADER_LENGTH,
    LINK_FILE_NAME,
    ClusterMarkFile,
    link_file_name_for,
    resolve_mark_file_dir,
    service_link_file_name,
    service_mark_file_name,
)
from aeronpy.errors import InvalidArgumentError
from tests.fakes import FakeClock

NOW = 1_700_000_000_000


def _create(directory: Path, clock: FakeClock, **kw: object) -> ClusterMarkFile:
    args: dict[str, object] = dict(
        aeron_directory="/dev/shm/aeron-x", control_channel="aeron:ipc?term-length=128k",
        ingress_channel="aeron:udp?endpoint=localhost:9010", service_name="", authenticator="Default",
        services_cluster_dir=str(directory), epoch_clock=clock,
    )
    args.update(kw)
    return ClusterMarkFile.create(str(directory), FILE_NAME, ClusterComponentType.CONSENSUS_MODULE, 3, 1, -1,
                                  **args)  # type: ignore[arg-type]


def test_header_bytes(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    m = _create(tmp_path, clock)
    raw = (tmp_path / FILE_NAME).read_bytes()
    assert len(raw) == HEADER_LENGTH + (1 << 20)
    assert struct.unpack_from("<HHHH", raw, 0) == (128, 200, 110, 2)
    version, ctype, activity, start, pid, cand = struct.unpack_from("<iiqqqq", raw, 8)
    assert (version, ctype, activity, start, pid, cand) == (0, 1, 0, NOW, os.getpid(), -1)
    assert struct.unpack_from("<iiiiiiiii", raw, 48) == (10, 104, 105, 101, 1, -1, 8192, 1 << 20, 3)
    at = 136
    texts = []
    for _ in range(6):
        (n,) = struct.unpack_from("<I", raw, at)
        texts.append(raw[at + 4 : at + 4 + n].decode())
        at += 4 + n
    assert texts == ["/dev/shm/aeron-x", "aeron:ipc?term-length=128k", "aeron:udp?endpoint=localhost:9010", "",
                     "Default", str(tmp_path)]
    clock.now += 5
    m.signal_ready()
    raw = (tmp_path / FILE_NAME).read_bytes()
    assert struct.unpack_from("<iiq", raw, 8) == (0x000300, 1, NOW + 5)
    m.set_int("member_id", 7)
    assert m.get_int("member_id") == 7 and ClusterMarkFile.read(m.path)["member_id"] == 7
    m.close()


def test_page_alignment_and_argument_checks(tmp_path: Path) -> None:
    m = _create(tmp_path, FakeClock(NOW), error_buffer_length=(1 << 20) + 1, file_page_size=1 << 16)
    assert (tmp_path / FILE_NAME).stat().st_size % (1 << 16) == 0
    m.close()
    with pytest.raises(InvalidArgumentError, match="error_buffer_length=1000"):
        _create(tmp_path / "b", FakeClock(NOW), error_buffer_length=1000)
    with pytest.raises(InvalidArgumentError, match="file_page_size=1000"):
        _create(tmp_path / "b", FakeClock(NOW), file_page_size=1000)
    with pytest.raises(ClusterFileError, match="exceeds 8192"):
        _create(tmp_path / "c", FakeClock(NOW), ingress_channel="x" * 9000)


def test_liveness_and_takeover(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    m = _create(tmp_path, clock)
    m.signal_ready()
    clock.now += 9_999
    with pytest.raises(ClusterFileError, match="active mark file detected"):
        _create(tmp_path, clock)
    assert ClusterMarkFile.read(m.path).is_active(clock.now)
    clock.now += 1
    assert not ClusterMarkFile.read(m.path).is_active(clock.now)
    m2 = _create(tmp_path, clock)  # stale: taken over
    m2.signal_ready()
    m2.signal_terminated()
    assert ClusterMarkFile.read(m2.path)["activity_timestamp"] == -1
    m3 = _create(tmp_path, clock)  # terminated: taken over at once
    m3.signal_failed()
    assert ClusterMarkFile.read(m3.path)["version"] == -1
    m4 = _create(tmp_path, clock)  # failed start: taken over
    for f in (m, m2, m3, m4):
        f.close()


def test_file_of_a_dead_process_is_not_active(tmp_path: Path) -> None:
    """A member killed with kill -9 leaves a fresh activity timestamp; its pid is gone."""
    clock = FakeClock(NOW)
    code = (
        "import sys; from aeronpy.cluster.mark_file import ClusterMarkFile, FILE_NAME;"
        f"m = ClusterMarkFile.create(sys.argv[1], FILE_NAME, 1, 0, 0, -1, epoch_clock=lambda: {NOW}); m.signal_ready()"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=60)
    assert ClusterMarkFile.read(str(tmp_path / FILE_NAME)).is_active(NOW + 1)
    _create(tmp_path, clock).close()


def test_component_type_and_major_version_checks(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    ClusterMarkFile.create(str(tmp_path), FILE_NAME, ClusterComponentType.CONTAINER, 0, 0, 0, epoch_clock=clock).close()
    with pytest.raises(ClusterFileError, match="of type CONTAINER, not CONSENSUS_MODULE"):
        _create(tmp_path, clock)
    ClusterMarkFile.create(str(tmp_path / "b"), FILE_NAME, ClusterComponentType.BACKUP, 0, 0, 0,
                           epoch_clock=clock).close()
    _create(tmp_path / "b", clock).close()  # a backup's mark file may become a consensus module's
    raw = bytearray((tmp_path / FILE_NAME).read_bytes())
    struct.pack_into("<i", raw, 8, 0x010000)
    (tmp_path / FILE_NAME).write_bytes(bytes(raw))
    with pytest.raises(ClusterFileError, match="major version 1"):
        ClusterMarkFile.create(str(tmp_path), FILE_NAME, ClusterComponentType.CONTAINER, 0, 0, 0, epoch_clock=clock)


def test_errors_are_readable_and_saved_on_takeover(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    m = _create(tmp_path, clock)
    m.error_log.record_text(0, "first failure\n")
    m.error_log.record_text(0, "first failure\n")
    m.error_log.record_text(0, "second failure\n")
    m.signal_terminated()
    m.close()
    errors = ClusterMarkFile.read(str(tmp_path / FILE_NAME)).errors()
    assert [(c, t) for c, _, _, t in errors] == [(2, "first failure\n"), (1, "second failure\n")]
    m2 = _create(tmp_path, clock)
    assert ClusterMarkFile.read(m2.path).errors() == []  # cleared after being saved
    saved = [p for p in os.listdir(tmp_path) if p.endswith("-error.log")]
    assert len(saved) == 1 and "first failure" in (tmp_path / saved[0]).read_text()
    m2.close()


def test_link_file_for_a_separate_mark_file_dir(tmp_path: Path) -> None:
    cluster, marks = tmp_path / "cluster", tmp_path / "marks"
    m = _create(marks, FakeClock(NOW), link_dir=str(cluster))
    assert (cluster / LINK_FILE_NAME).read_text() == os.path.realpath(marks)
    assert resolve_mark_file_dir(str(cluster)) == os.path.realpath(marks)
    m.close()
    _create(cluster, FakeClock(NOW), link_dir=str(cluster)).close()  # same dir: link removed
    assert not (cluster / LINK_FILE_NAME).exists()
    assert resolve_mark_file_dir(str(cluster)) == str(cluster)
    assert service_mark_file_name(2) == "cluster-mark-service-2.dat"
    assert service_link_file_name(2) == link_file_name_for(service_mark_file_name(2)) == "cluster-mark-service-2.lnk"


def test_legacy_file_without_message_header_is_read(tmp_path: Path) -> None:
    block = bytearray(128)
    struct.pack_into("<iiqqqq", block, 0, 0x000300, 2, NOW, NOW, 4242, -1)
    struct.pack_into("<iiiiiiiii", block, 40, 10, 104, 105, 101, 2, 0, 8192, 1 << 20, 5)
    data = bytes(block) + struct.pack("<I", 4) + b"/dev" + struct.pack("<I", 0) * 5
    path = tmp_path / "cluster-mark-service-0.dat"
    path.write_bytes(data.ljust(8192, b"\0") + bytes(1 << 20))
    c = ClusterMarkFile.read(str(path))
    assert c.header_offset == 0 and c.component_type == "CONTAINER" and c["pid"] == 4242 and c["cluster_id"] == 5
    assert c["aeron_directory"] == "/dev"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "truncated"),
        (b"\0" * 100, "truncated"),
        (struct.pack("<HHHH", 128, 200, 101, 2).ljust(9000, b"\0"), "not a cluster mark file"),
        (b"\0" * 9000, "not a cluster mark file"),
        (struct.pack("<HHHH", 128, 200, 110, 2).ljust(8 + 128, b"\0") + struct.pack("<I", 10**6), "corrupt"),
    ],
    ids=["empty", "short", "archive-schema", "zeros", "bad-var"],
)
def test_foreign_or_corrupt_file_is_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(content)
    with pytest.raises(ClusterFileError, match=message) as info:
        ClusterMarkFile.read(str(path))
    assert str(path) in str(info.value)
    with pytest.raises(ClusterFileError):
        _create(tmp_path, FakeClock(NOW))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ClusterFileError, match="cannot read mark file"):
        ClusterMarkFile.read(str(tmp_path / FILE_NAME))


_i32 = st.integers(-(1 << 31), (1 << 31) - 1)
_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cluster_id=_i32, member_id=_i32, service_id=_i32, streams=st.tuples(_i32, _i32, _i32, _i32),
       texts=st.tuples(_text, _text, _text, _text, _text, _text))
def test_header_round_trip(tmp_path_factory: pytest.TempPathFactory, cluster_id: int, member_id: int, service_id: int,
                           streams: tuple[int, int, int, int], texts: tuple[str, ...]) -> None:
    d = tmp_path_factory.mktemp("mf")
    m = ClusterMarkFile.create(
        str(d), FILE_NAME, ClusterComponentType.CONTAINER, cluster_id, member_id, service_id,
        epoch_clock=FakeClock(NOW), archive_stream_id=streams[0], service_stream_id=streams[1],
        consensus_module_stream_id=streams[2], ingress_stream_id=streams[3], aeron_directory=texts[0],
        control_channel=texts[1], ingress_channel=texts[2], service_name=texts[3], authenticator=texts[4],
        services_cluster_dir=texts[5])
    m.close()
    c = ClusterMarkFile.read(str(d / FILE_NAME))
    assert (c["cluster_id"], c["member_id"], c["service_id"]) == (cluster_id, member_id, service_id)
    assert (c["archive_stream_id"], c["service_stream_id"], c["consensus_module_stream_id"],
            c["ingress_stream_id"]) == streams
    assert tuple(c[k] for k in ("aeron_directory", "control_channel", "ingress_channel", "service_name",
                                "authenticator", "services_cluster_dir")) == texts

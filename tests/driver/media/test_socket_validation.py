"""Start-up socket buffer probe and checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from aeronpy.driver.context import DriverContext
from aeronpy.driver.media.socket_validation import (
    SocketBufferInfo,
    probe_socket_buffers,
    read_os_limit,
    validate_socket_buffers,
)
from aeronpy.errors import ConfigurationError


def info(**kw: int) -> SocketBufferInfo:
    base = dict(
        os_default_sndbuf=212992,
        os_default_rcvbuf=212992,
        os_max_sndbuf=4194304,
        os_max_rcvbuf=4194304,
        effective_sndbuf=212992,
        effective_rcvbuf=212992,
    )
    base.update(kw)
    return SocketBufferInfo(**base)


def test_defaults_pass_without_warnings() -> None:
    ctx = DriverContext()
    assert validate_socket_buffers(ctx, info(requested_rcvbuf=ctx.socket_rcvbuf, effective_rcvbuf=262144)) == []


def test_mtu_larger_than_sndbuf_fails() -> None:
    ctx = DriverContext(mtu_length=8192)
    with pytest.raises(ConfigurationError) as e:
        validate_socket_buffers(ctx, info(effective_sndbuf=4096))
    msg = str(e.value)
    assert "aeron.mtu.length=8192" in msg and "aeron.socket.so_sndbuf" in msg and "SO_SNDBUF=4096" in msg


def test_window_larger_than_rcvbuf_fails() -> None:
    ctx = DriverContext(initial_window_length=1024 * 1024, socket_rcvbuf=0)
    with pytest.raises(ConfigurationError) as e:
        validate_socket_buffers(ctx, info(effective_rcvbuf=212992))
    msg = str(e.value)
    assert "aeron.rcv.initial.window.length=1048576" in msg and "aeron.socket.so_rcvbuf" in msg


def test_boundaries_are_inclusive() -> None:
    ctx = DriverContext(mtu_length=4096, initial_window_length=65536, socket_rcvbuf=0)
    assert validate_socket_buffers(ctx, info(effective_sndbuf=4096, effective_rcvbuf=65536)) == []


def test_read_back_smaller_than_requested_warns() -> None:
    ctx = DriverContext(socket_sndbuf=1 << 20, socket_rcvbuf=1 << 20)
    warnings = validate_socket_buffers(
        ctx, info(requested_sndbuf=1 << 20, requested_rcvbuf=1 << 20, effective_sndbuf=65536, effective_rcvbuf=1 << 19)
    )
    assert len(warnings) == 2
    assert "aeron.socket.so_sndbuf" in warnings[0] and "attempted=1048576, actual=65536" in warnings[0]
    assert "aeron.socket.so_rcvbuf" in warnings[1]


def test_rmem_max_cap_warns_even_when_read_back_looks_big_enough() -> None:
    # requested 8 MiB, rmem_max 4 MiB: Linux stores min(req, max) * 2 = 8 MiB -> read-back == requested
    ctx = DriverContext(socket_rcvbuf=8 << 20)
    warnings = validate_socket_buffers(
        ctx, info(requested_rcvbuf=8 << 20, effective_rcvbuf=8 << 20, os_max_rcvbuf=4 << 20)
    )
    assert len(warnings) == 1 and "net.core.rmem_max=4194304" in warnings[0]


def test_read_os_limit_with_fake_proc(tmp_path: Path) -> None:
    (tmp_path / "rmem_max").write_text("12345\n")
    (tmp_path / "wmem_max").write_text("garbage")
    assert read_os_limit("rmem_max", str(tmp_path)) == 12345
    assert read_os_limit("wmem_max", str(tmp_path)) == 0
    assert read_os_limit("missing", str(tmp_path)) == 0


def test_probe_real_socket(tmp_path: Path) -> None:
    (tmp_path / "rmem_max").write_text("65536\n")
    (tmp_path / "wmem_max").write_text("32768\n")
    p = probe_socket_buffers(0, 0, proc_root=str(tmp_path))
    assert p.os_max_rcvbuf == 65536 and p.os_max_sndbuf == 32768
    assert p.effective_sndbuf == p.os_default_sndbuf > 0
    assert p.effective_rcvbuf == p.os_default_rcvbuf > 0
    q = probe_socket_buffers(16384, 16384)
    assert q.requested_sndbuf == 16384 and q.effective_sndbuf >= 16384
    assert q.effective_rcvbuf >= 16384


def test_probe_rejects_negative() -> None:
    with pytest.raises(ConfigurationError):
        probe_socket_buffers(-1, 0)


def test_end_to_end_default_context() -> None:
    ctx = DriverContext()
    p = probe_socket_buffers(ctx.socket_sndbuf, ctx.socket_rcvbuf)
    validate_socket_buffers(ctx, p)

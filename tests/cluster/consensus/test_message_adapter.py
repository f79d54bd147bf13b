"""The CM's adapters never raise on hostile input: random bytes, truncated or foreign
messages and templates not accepted on a channel are counted as invalid and dropped."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.cluster.codecs import T
from aeronpy.cluster.consensus.message_adapter import MessageAdapter
from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.protocol import sbe


class Handler:
    def __init__(self) -> None:
        self.got: list[str] = []

    def on_SessionKeepAlive(self, d: sbe.Decoded, data: bytes, header: Any) -> None:  # noqa: N802
        self.got.append(d.spec.name)


def adapter() -> tuple[MessageAdapter, Handler, list[str]]:
    handler = Handler()
    invalid: list[str] = []
    return MessageAdapter(None, handler, ("SessionKeepAlive",), invalid.append, max_message_length=4096), handler, invalid


def deliver(a: MessageAdapter, data: bytes) -> None:
    buf = AtomicBuffer(bytearray(data) or bytearray(1))
    a._on_message(buf, 0, len(data), None)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_are_counted_never_raised(data: bytes) -> None:
    a, handler, invalid = adapter()
    deliver(a, data)
    assert len(handler.got) + len(invalid) == 1


@settings(deadline=None)
@given(st.integers(0, 15))
def test_truncated_messages_are_invalid(cut: int) -> None:
    a, handler, invalid = adapter()
    deliver(a, sbe.encode(T.SessionKeepAlive, leadership_term_id=1, cluster_session_id=2)[:cut])
    assert invalid and not handler.got


def test_accepted_template_is_dispatched_and_others_refused() -> None:
    a, handler, invalid = adapter()
    deliver(a, sbe.encode(T.SessionKeepAlive, leadership_term_id=1, cluster_session_id=2))
    deliver(a, sbe.encode(T.SessionCloseRequest, leadership_term_id=1, cluster_session_id=2))
    deliver(a, b"\x10\x00\x05\x00\x65\x00\x01\x00" + b"\x00" * 16)  # schema 101
    deliver(a, b"\x00" * 5000)
    assert handler.got == ["SessionKeepAlive"]
    assert len(invalid) == 3
    assert "unexpected SessionCloseRequest" in invalid[0] and "exceeds" in invalid[2]

"""The echo example: its state hash is a deterministic function of what it applied."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.cluster.examples.echo import INITIAL_HASH, EchoService, chain_hash
from aeronpy.concurrent.atomic_buffer import AtomicBuffer

messages = st.lists(st.tuples(st.integers(-5, 5), st.binary(max_size=40)), max_size=20)


def feed(service: EchoService, items: list[tuple[int, bytes]]) -> None:
    for _, payload in items:
        buf = AtomicBuffer(bytearray(payload or b"\x00"))
        service.on_session_message(None, 0, buf, 0, len(payload), None)


@settings(deadline=None)
@given(messages)
def test_same_messages_same_hash(items: list[tuple[int, bytes]]) -> None:
    a, b = EchoService(), EchoService()
    feed(a, items)
    feed(b, items)
    assert (a.message_count, a.state_hash) == (b.message_count, b.state_hash) == (len(items), a.state_hash)


def test_hash_depends_on_order_and_session() -> None:
    h1 = chain_hash(chain_hash(INITIAL_HASH, 1, b"a"), 1, b"b")
    h2 = chain_hash(chain_hash(INITIAL_HASH, 1, b"b"), 1, b"a")
    assert h1 != h2
    assert chain_hash(INITIAL_HASH, 1, b"a") != chain_hash(INITIAL_HASH, 2, b"a")

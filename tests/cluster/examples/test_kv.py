"""The key-value example: payload codec (property tests), the state machine's determinism and
its snapshot encoding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.cluster.examples.kv import (
    KeyValueService,
    KvCodecError,
    Op,
    Request,
    Response,
    Status,
    apply,
    decode_request,
    decode_response,
    decode_state,
    encode_cas,
    encode_read,
    encode_response,
    encode_state,
    encode_write,
)
from aeronpy.concurrent.atomic_buffer import AtomicBuffer

small = st.binary(max_size=64)
corr = st.integers(-(1 << 63), (1 << 63) - 1)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    op = draw(st.sampled_from(list(Op)))
    key = draw(st.binary(max_size=8))
    if op == Op.READ:
        return Request(op, draw(corr), key)
    if op == Op.WRITE:
        return Request(op, draw(corr), key, draw(small))
    return Request(op, draw(corr), key, draw(small), draw(st.none() | small))


def encode(r: Request) -> bytes:
    if r.op == Op.READ:
        return encode_read(r.correlation_id, r.key)
    if r.op == Op.WRITE:
        return encode_write(r.correlation_id, r.key, r.value)
    return encode_cas(r.correlation_id, r.key, r.expected, r.value)


@settings(deadline=None)
@given(requests())
def test_request_round_trip(r: Request) -> None:
    assert decode_request(encode(r)) == r


@settings(deadline=None)
@given(corr, st.sampled_from(list(Status)), st.none() | small)
def test_response_round_trip(c: int, status: Status, value: bytes | None) -> None:
    assert decode_response(encode_response(c, status, value)) == Response(c, status, value)


@settings(deadline=None)
@given(st.binary(max_size=80))
def test_garbage_is_a_codec_error_or_a_request(data: bytes) -> None:
    try:
        decoded = decode_request(data)
    except KvCodecError:
        return
    assert encode(decoded) == data


@settings(deadline=None)
@given(requests(), st.integers(0, 40))
def test_truncated_request_is_refused(r: Request, cut: int) -> None:
    data = encode(r)
    if cut >= len(data):
        return
    with pytest.raises(KvCodecError):
        decode_request(data[:cut])


def test_cas_semantics() -> None:
    store: dict[bytes, bytes] = {}
    assert apply(store, Request(Op.CAS, 1, b"k", b"v1", None)).status == Status.OK
    assert apply(store, Request(Op.CAS, 2, b"k", b"v2", None)) == Response(2, Status.CAS_FAILED, b"v1")
    assert apply(store, Request(Op.CAS, 3, b"k", b"v2", b"v1")).status == Status.OK
    assert apply(store, Request(Op.READ, 4, b"k")) == Response(4, Status.OK, b"v2")
    assert apply(store, Request(Op.READ, 5, b"nope")) == Response(5, Status.NOT_FOUND)
    assert apply(store, Request(Op.CAS, 6, b"nope", b"x", b"y")) == Response(6, Status.CAS_FAILED, None)


@settings(deadline=None, max_examples=50)
@given(st.lists(requests(), max_size=30))
def test_same_requests_give_same_state_and_responses(rs: list[Request]) -> None:
    a: dict[bytes, bytes] = {}
    b: dict[bytes, bytes] = {}
    assert [apply(a, r) for r in rs] == [apply(b, r) for r in rs]
    assert a == b


@settings(deadline=None)
@given(st.dictionaries(st.binary(max_size=16), small, max_size=20), st.integers(0, 1 << 40))
def test_state_encoding_round_trip(store: dict[bytes, bytes], applied: int) -> None:
    data = encode_state(store, applied)
    assert decode_state(data) == (store, applied)
    assert data == encode_state(dict(reversed(list(store.items()))), applied), "independent of insertion order"


def test_service_applies_service_messages_and_counts_bad_requests() -> None:
    service = KeyValueService()
    for payload in (encode_write(1, b"a", b"1"), b"\x09garbage", encode_cas(2, b"a", b"1", b"2")):
        buf = AtomicBuffer(bytearray(payload))
        service.on_session_message(None, 0, buf, 0, len(payload), None)
    assert service.store == {b"a": b"2"}
    assert (service.applied, service.bad_requests) == (2, 1)

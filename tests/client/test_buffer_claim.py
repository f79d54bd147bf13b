"""BufferClaim (C base ClaimBase) against its Python twin PyBufferClaim: same bytes, same errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.client.buffer_claim import BufferClaim, PyBufferClaim
from aeronpy.concurrent.atomic_buffer import AtomicBuffer, PyAtomicBuffer

TERM = 1024


def _outcome(fn: Any) -> Any:
    try:
        return fn()
    except (ValueError, IndexError) as e:
        return type(e)


@settings(max_examples=200, deadline=None)
@given(
    offset=st.integers(-64, TERM + 64),
    length=st.integers(0, 600),
    abort=st.booleans(),
    reserved=st.one_of(st.none(), st.integers(-(1 << 63), (1 << 63) - 1)),
    payload=st.binary(max_size=64),
    make=st.sampled_from([AtomicBuffer, PyAtomicBuffer]),
)
def test_claim_matches_its_twin(offset: int, length: int, abort: bool, reserved: int | None, payload: bytes, make: Any) -> None:
    results = []
    for cls in (BufferClaim, PyBufferClaim):
        raw = bytearray(b"\xee" * TERM)
        buffer = make(raw)
        claim = cls()
        claim.wrap(buffer, offset, length)
        assert (claim.buffer, claim.offset, claim.length) == (buffer, offset, length)
        steps = [_outcome(lambda: claim.put_bytes(payload[:length]))]
        if reserved is not None:
            steps.append(_outcome(lambda: claim.reserved_value(reserved)))
        steps.append(_outcome(claim.abort if abort else claim.commit))
        steps.append(claim.buffer is None)
        steps.append(_outcome(claim.commit))  # a finished (or failed) claim
        results.append((steps, bytes(raw)))
    assert results[0] == results[1]


@pytest.mark.parametrize("cls", [BufferClaim, PyBufferClaim])
def test_commit_and_abort_write_the_frame_header(cls: Any) -> None:
    raw = bytearray(256)
    buffer = AtomicBuffer(raw)
    claim = cls()
    claim.wrap(buffer, 64, 40)
    claim.commit()
    assert int.from_bytes(raw[32:36], "little", signed=True) == 72
    assert claim.buffer is None
    with pytest.raises(ValueError, match="not holding a claim"):
        claim.abort()
    raw[128 + 6:128 + 8] = (1).to_bytes(2, "little")  # a DATA frame header
    claim.wrap(buffer, 160, 8)
    claim.abort()
    assert int.from_bytes(raw[128:132], "little", signed=True) == 40
    assert raw[134:136] == b"\x00\x00"  # HDR_TYPE_PAD


@pytest.mark.parametrize("cls", [BufferClaim, PyBufferClaim])
def test_a_released_buffer_is_refused(cls: Any) -> None:
    buffer = AtomicBuffer(bytearray(128))
    claim = cls()
    claim.wrap(buffer, 32, 8)
    buffer.release()
    with pytest.raises(ValueError):
        claim.commit()


def test_a_fresh_claim_holds_nothing() -> None:
    for claim in (BufferClaim(), PyBufferClaim()):
        assert claim.buffer is None
        with pytest.raises(ValueError, match="not holding a claim"):
            claim.commit()
        with pytest.raises(ValueError, match="not holding a claim"):
            claim.put_bytes(b"x")

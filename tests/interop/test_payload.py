"""The interop payload codec must agree with the format definition (and aeronpy.samples)."""

from __future__ import annotations

import pytest

from tests.interop.payload import PayloadCodec, check_payload, make_payload


@pytest.mark.parametrize("size", [8, 9, 32, 255, 256, 257, 5000])
@pytest.mark.parametrize("seq", [0, 1, 7, 255, 256, 1_000_003])
def test_format_definition(seq: int, size: int) -> None:
    data = make_payload(seq, size)
    assert len(data) == size
    assert int.from_bytes(data[:8], "little", signed=True) == seq
    assert all(data[i] == (seq + i) & 0xFF for i in range(8, size))
    assert check_payload(data, seq, size) is None


def test_check_reports_problems() -> None:
    codec = PayloadCodec()
    good = codec.make(5, 100)
    assert codec.check(good, 6) is not None and "out of order" in str(codec.check(good, 6))
    assert "gap" in str(codec.check(good, 4))
    bad = bytearray(good)
    bad[50] ^= 0xFF
    assert "corruption" in str(codec.check(bytes(bad), 5))
    assert "corruption" in str(codec.check(good, 5, 99))
    assert "corruption" in str(codec.check(good[:7], 5))


def test_matches_aeronpy_samples() -> None:
    samples = pytest.importorskip("aeronpy.samples")
    for size in (8, 32, 300, 5000):
        factory = samples.PayloadFactory(size)
        for seq in (0, 1, 200, 300, 70_000):
            assert bytes(factory.make(seq)) == make_payload(seq, size)
            assert samples.check_payload(make_payload(seq, size), seq) is None

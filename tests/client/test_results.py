"""OfferResult: Aeron's codes as an IntEnum, equal to what the hot-path ``offer`` returns."""

from __future__ import annotations

from typing import Any, Callable

import pytest

import aeronpy
from aeronpy.client import results
from aeronpy.client.results import OfferResult


def test_values_are_aerons_codes() -> None:
    assert {r.name: int(r) for r in OfferResult} == {
        "NOT_CONNECTED": -1, "BACK_PRESSURED": -2, "ADMIN_ACTION": -3, "CLOSED": -4,
        "MAX_POSITION_EXCEEDED": -5, "ERROR": -6,
    }
    for member in OfferResult:
        assert member == getattr(results, member.name)
        assert results.result_name(member) == member.name


def test_of_and_is_retryable() -> None:
    assert OfferResult.of(-2) is OfferResult.BACK_PRESSURED
    assert OfferResult.of(0) is None and OfferResult.of(4096) is None
    with pytest.raises(ValueError):
        OfferResult.of(-99)
    assert {r for r in OfferResult if r.is_retryable} == {
        OfferResult.NOT_CONNECTED, OfferResult.BACK_PRESSURED, OfferResult.ADMIN_ACTION,
    }


def test_offer_still_returns_a_plain_int_equal_to_the_enum(
    driver: Any, client_factory: Callable[..., Any]
) -> None:
    aeron = client_factory()
    pub = aeron.add_publication("aeron:ipc", 1001)
    result = pub.offer(b"nobody listens")
    assert type(result) is int
    assert result == OfferResult.NOT_CONNECTED and OfferResult(result) is OfferResult.NOT_CONNECTED
    pub.close()
    assert pub.offer(b"x") == aeronpy.OfferResult.CLOSED

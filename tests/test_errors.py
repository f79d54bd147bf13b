"""One exception hierarchy under AeronError, all of it exported from aeronpy."""

from __future__ import annotations

import inspect

import pytest

import aeronpy
from aeronpy import errors


def test_every_error_derives_from_aeron_error_and_is_exported() -> None:
    classes = {name: cls for name, cls in vars(errors).items() if inspect.isclass(cls) and issubclass(cls, Exception)}
    assert set(classes) == set(errors.__all__)
    for name, cls in classes.items():
        assert issubclass(cls, aeronpy.AeronError), name
        assert getattr(aeronpy, name) is cls


@pytest.mark.parametrize(
    "cls, builtin",
    [
        (errors.ConfigurationError, ValueError),
        (errors.InvalidChannelError, ValueError),
        (errors.InvalidArgumentError, ValueError),
        (errors.DriverTimeoutError, TimeoutError),
        (errors.ClientTimeoutError, TimeoutError),
        (errors.BackPressuredError, TimeoutError),
        (errors.StorageSpaceError, OSError),
    ],
)
def test_errors_are_also_their_builtin_kind(cls: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(cls, builtin)


def test_publication_errors_carry_the_offer_result() -> None:
    expected = {
        errors.NotConnectedError: aeronpy.OfferResult.NOT_CONNECTED,
        errors.BackPressuredError: aeronpy.OfferResult.BACK_PRESSURED,
        errors.PublicationClosedError: aeronpy.OfferResult.CLOSED,
        errors.MaxPositionExceededError: aeronpy.OfferResult.MAX_POSITION_EXCEEDED,
    }
    for cls, result in expected.items():
        assert issubclass(cls, errors.PublicationError)
        assert cls("x").result == result
    assert errors.PublicationError("x", -6).result == aeronpy.OfferResult.ERROR

"""Exceptions raised by aeronpy.  Each names what went wrong and, where known, which setting.

Every exception derives from :class:`AeronError`; those that are also a kind of built-in error
(``ValueError``, ``TimeoutError``, ``OSError``) derive from it too, so either can be caught::

    AeronError
    ├── ConfigurationError (ValueError)      ├── DriverTimeoutError (TimeoutError)
    ├── InvalidChannelError (ValueError)     ├── ClientTimeoutError (TimeoutError)
    ├── InvalidArgumentError (ValueError)    ├── ClientClosedError
    ├── NotSupportedError                    ├── PublicationError
    ├── RegistrationError                    │   ├── NotConnectedError
    ├── DriverError                          │   ├── BackPressuredError (TimeoutError)
    ├── CncError                             │   ├── PublicationClosedError
    ├── ActiveDriverError                    │   └── MaxPositionExceededError
    └── StorageSpaceError (OSError)

The blocking client reports offer outcomes as result codes (:class:`~aeronpy.OfferResult`); the
:mod:`aeronpy.aio` API raises the :class:`PublicationError` subclasses instead.
"""

from __future__ import annotations

__all__ = [
    "AeronError",
    "ConfigurationError",
    "InvalidChannelError",
    "InvalidArgumentError",
    "NotSupportedError",
    "DriverTimeoutError",
    "ClientTimeoutError",
    "ClientClosedError",
    "RegistrationError",
    "DriverError",
    "CncError",
    "ActiveDriverError",
    "StorageSpaceError",
    "PublicationError",
    "NotConnectedError",
    "BackPressuredError",
    "PublicationClosedError",
    "MaxPositionExceededError",
]


class AeronError(Exception):
    """Base class of every aeronpy error."""


class ConfigurationError(AeronError, ValueError):
    """An invalid configuration value; the message names the property."""


class InvalidChannelError(AeronError, ValueError):
    """A malformed or invalid channel URI."""


class InvalidArgumentError(AeronError, ValueError):
    """An API argument of the wrong type or out of range; the message names the argument."""


class NotSupportedError(AeronError):
    """A valid request for a feature that is not built (yet)."""


class DriverTimeoutError(AeronError, TimeoutError):
    """The media driver is not running or stopped heart-beating."""


class ClientTimeoutError(AeronError, TimeoutError):
    """The driver timed this client out."""


class ClientClosedError(AeronError):
    """The client was closed (by the application, or because it lost the driver: then
    ``__cause__`` is the :class:`DriverTimeoutError` or :class:`ClientTimeoutError`)."""


class RegistrationError(AeronError):
    """The driver answered a command with ON_ERROR."""

    def __init__(self, correlation_id: int, error_code: int, message: str) -> None:
        super().__init__(f"error code {error_code}: {message}")
        self.correlation_id = correlation_id
        self.error_code = error_code
        self.error_message = message


class DriverError(AeronError):
    """An error the media driver recorded in its distinct error log, as given to
    ``DriverContext.error_handler``: ``error_code`` is the log's code (0 or a negated Aeron
    error code, or a positive errno), ``error_message`` the text."""

    def __init__(self, error_code: int, message: str) -> None:
        super().__init__(f"({error_code}) {message}")
        self.error_code = error_code
        self.error_message = message


class CncError(AeronError):
    """cnc.dat is missing, stale, foreign or incompatible."""


class ActiveDriverError(AeronError):
    """Another media driver is active in the Aeron directory."""


class StorageSpaceError(AeronError, OSError):
    """Not enough space to create a file (e.g. /dev/shm full)."""


class PublicationError(AeronError):
    """An offer that did not succeed (:mod:`aeronpy.aio`); ``result`` is Aeron's code."""

    result: int = 0

    def __init__(self, message: str, result: int | None = None) -> None:
        super().__init__(message)
        if result is not None:
            self.result = result


class NotConnectedError(PublicationError):
    """No subscriber connected to the publication within the timeout (``NOT_CONNECTED``)."""

    result = -1


class BackPressuredError(PublicationError, TimeoutError):
    """The publication stayed back-pressured for the whole timeout (``BACK_PRESSURED``)."""

    result = -2


class PublicationClosedError(PublicationError):
    """The publication is closed (``CLOSED``)."""

    result = -4


class MaxPositionExceededError(PublicationError):
    """The stream reached its maximum position (``MAX_POSITION_EXCEEDED``)."""

    result = -5

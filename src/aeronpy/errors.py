"""Exceptions raised by aeronpy.  Each names what went wrong and, where known, which setting."""

from __future__ import annotations


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

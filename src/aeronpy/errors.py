"""Exceptions raised by aeronpy.  Each names what went wrong and, where known, which setting."""

from __future__ import annotations


class AeronError(Exception):
    """Base class of every aeronpy error."""


class ConfigurationError(AeronError, ValueError):
    """An invalid configuration value; the message names the property."""


class InvalidChannelError(AeronError, ValueError):
    """A malformed or invalid channel URI."""


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


class CncError(AeronError):
    """cnc.dat is missing, stale, foreign or incompatible."""


class ActiveDriverError(AeronError):
    """Another media driver is active in the Aeron directory."""


class StorageSpaceError(AeronError, OSError):
    """Not enough space to create a file (e.g. /dev/shm full)."""

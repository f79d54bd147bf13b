"""Archive exceptions and Aeron's ``ArchiveException`` error codes (archive.md §3.1)."""

from __future__ import annotations

from enum import IntEnum

from aeronpy.errors import AeronError

__all__ = ["ErrorCode", "ArchiveError", "CatalogError", "MarkFileError", "IncompleteFragmentError"]


class ErrorCode(IntEnum):
    GENERIC = 0
    ACTIVE_LISTING = 1
    ACTIVE_RECORDING = 2
    ACTIVE_SUBSCRIPTION = 3
    UNKNOWN_SUBSCRIPTION = 4
    UNKNOWN_RECORDING = 5
    UNKNOWN_REPLAY = 6
    MAX_REPLAYS = 7
    MAX_RECORDINGS = 8
    INVALID_EXTENSION = 9
    AUTHENTICATION_REJECTED = 10
    STORAGE_SPACE = 11
    UNKNOWN_REPLICATION = 12
    UNAUTHORISED_ACTION = 13
    REPLICATION_CONNECTION_FAILURE = 14
    EMPTY_RECORDING = 15
    INVALID_POSITION = 16


def error_code_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"UNKNOWN({code})"


class ArchiveError(AeronError):
    """An archive request failed; ``error_code`` is Aeron's (``ErrorCode``), ``correlation_id``
    the request's."""

    def __init__(self, message: str, error_code: int = ErrorCode.GENERIC, correlation_id: int = -1) -> None:
        super().__init__(f"{message} (errorCode={error_code_name(error_code)}, correlationId={correlation_id})")
        self.error_message = message
        self.error_code = int(error_code)
        self.correlation_id = correlation_id


class CatalogError(AeronError):
    """``archive.catalog`` is missing, truncated, corrupt or of an incompatible version."""


class MarkFileError(AeronError):
    """``archive-mark.dat`` is active (another archive runs) or incompatible."""


class IncompleteFragmentError(AeronError):
    """Crash recovery found a last fragment straddling a page boundary that may be torn."""

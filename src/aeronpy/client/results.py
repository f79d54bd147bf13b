"""Publication result codes and controlled-poll actions (log-buffer.md §6)."""

from __future__ import annotations

from enum import IntEnum

NOT_CONNECTED = -1
BACK_PRESSURED = -2
ADMIN_ACTION = -3
CLOSED = -4
MAX_POSITION_EXCEEDED = -5
ERROR = -6

_NAMES = {
    NOT_CONNECTED: "NOT_CONNECTED",
    BACK_PRESSURED: "BACK_PRESSURED",
    ADMIN_ACTION: "ADMIN_ACTION",
    CLOSED: "CLOSED",
    MAX_POSITION_EXCEEDED: "MAX_POSITION_EXCEEDED",
    ERROR: "ERROR",
}


def result_name(code: int) -> str:
    """Name of an offer/try_claim result code; positive values are positions."""
    if code >= 0:
        return f"POSITION({code})"
    return _NAMES.get(code, f"UNKNOWN({code})")


class ControlledPollAction(IntEnum):
    """What a controlled fragment handler asks the reader to do next."""

    ABORT = 1
    """Do not consume this fragment; stop; it is delivered again on the next poll."""
    BREAK = 2
    """Consume this fragment and stop the poll."""
    COMMIT = 3
    """Consume this fragment and commit the position so far; continue."""
    CONTINUE = 4
    """Consume this fragment and continue."""

"""Publication result codes and controlled-poll actions (log-buffer.md §6).

``offer``/``try_claim`` return plain ints on the hot path: a new stream position (> 0) or one of
the negative codes below.  :class:`OfferResult` names the codes; being an ``IntEnum`` its members
compare equal to the ints (``pub.offer(b) == OfferResult.BACK_PRESSURED``).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "NOT_CONNECTED",
    "BACK_PRESSURED",
    "ADMIN_ACTION",
    "CLOSED",
    "MAX_POSITION_EXCEEDED",
    "ERROR",
    "OfferResult",
    "ControlledPollAction",
    "result_name",
]

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


class OfferResult(IntEnum):
    """The negative results of ``offer``, ``offerv`` and ``try_claim`` (Aeron's codes)."""

    NOT_CONNECTED = NOT_CONNECTED
    """No subscriber is connected; the message was not sent."""
    BACK_PRESSURED = BACK_PRESSURED
    """The publication limit was reached (the slowest subscriber, or the sender's window); retry."""
    ADMIN_ACTION = ADMIN_ACTION
    """The log rotated to the next term (or padding was written); retry at once."""
    CLOSED = CLOSED
    """The publication (or its client) is closed."""
    MAX_POSITION_EXCEEDED = MAX_POSITION_EXCEEDED
    """The stream reached its maximum position (term length x 2^31); use a new publication."""
    ERROR = ERROR
    """An unexpected error (Aeron's ``PUBLICATION_ERROR``)."""

    @classmethod
    def of(cls, code: int) -> OfferResult | None:
        """The member for a negative ``code``; None for a position (``code >= 0``).

        Raises ValueError for a negative value that is not one of Aeron's codes."""
        if code >= 0:
            return None
        return cls(code)

    @property
    def is_retryable(self) -> bool:
        """True for results worth retrying (BACK_PRESSURED, ADMIN_ACTION, NOT_CONNECTED)."""
        return self in (OfferResult.BACK_PRESSURED, OfferResult.ADMIN_ACTION, OfferResult.NOT_CONNECTED)


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

"""Why a resource stopped working: the application closed it, or the client lost the driver."""

from __future__ import annotations

from aeronpy.client.aeron import Aeron
from aeronpy.errors import AeronError, ClientClosedError


def client_closed_error(aeron: Aeron, what: str) -> AeronError | None:
    """A :class:`ClientClosedError` (its ``__cause__`` the termination cause) if ``aeron`` is
    closed, else None."""
    # the cause is set before the conductor closes the resources, is_closed only after
    cause = aeron.termination_cause
    if cause is None:
        if not aeron.is_closed:
            return None
        return ClientClosedError(f"{what}: the client is closed")
    error = ClientClosedError(f"{what}: the client is closed: {cause}")
    error.__cause__ = cause
    return error

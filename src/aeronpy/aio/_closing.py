"""Why a resource stopped working: the application closed it, or the client lost the driver."""

from __future__ import annotations

from aeronpy.client.aeron import Aeron
from aeronpy.errors import AeronError, ClientClosedError


def client_closed_error(aeron: Aeron, what: str) -> AeronError | None:
    """A :class:`ClientClosedError` (its ``__cause__`` the termination cause) if ``aeron`` is
    closed, else None."""
    if not aeron.is_closed:
        return None
    cause = aeron.conductor.termination_cause
    if cause is None:
        return ClientClosedError(f"{what}: the client is closed")
    error = ClientClosedError(f"{what}: the client is closed: {cause}")
    error.__cause__ = cause
    return error

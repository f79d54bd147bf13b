"""The lifecycle every driver-side stream resource goes through, and the one way to change it.

IPC publications, network publications and publication images share Aeron's states: a new
image may start in INIT, then ACTIVE while in use, DRAINING once its last user is gone (or
its sender stopped) while consumers catch up, LINGER while the log stays mapped for readers
that may still look, DONE when it can be freed.  A revoked publication jumps from ACTIVE to
LINGER.  :func:`change_state` refuses any other transition and stamps the time of change.
"""

from __future__ import annotations

import enum
from typing import Protocol


class LifecycleState(enum.Enum):
    INIT = "INIT"
    ACTIVE = "ACTIVE"
    DRAINING = "DRAINING"
    LINGER = "LINGER"
    DONE = "DONE"


TRANSITIONS: dict[LifecycleState, frozenset[LifecycleState]] = {
    LifecycleState.INIT: frozenset({LifecycleState.ACTIVE}),
    LifecycleState.ACTIVE: frozenset({LifecycleState.DRAINING, LifecycleState.LINGER}),
    LifecycleState.DRAINING: frozenset({LifecycleState.LINGER}),
    LifecycleState.LINGER: frozenset({LifecycleState.DONE}),
    LifecycleState.DONE: frozenset(),
}
"""State -> the states it may change to."""


class IllegalStateChange(ValueError):
    """A resource was asked to change to a state its current state does not lead to."""


class HasLifecycle(Protocol):
    state: LifecycleState
    time_of_last_state_change_ns: int


def change_state(resource: HasLifecycle, new_state: LifecycleState, now_ns: int | None = None) -> None:
    """Move ``resource`` to ``new_state``; with ``now_ns``, record when (timers count from it)."""
    if new_state not in TRANSITIONS[resource.state]:
        raise IllegalStateChange(f"{type(resource).__name__}: {resource.state.name} -> {new_state.name} is not a lifecycle step")
    resource.state = new_state
    if now_ns is not None:
        resource.time_of_last_state_change_ns = now_ns


__all__ = ["IllegalStateChange", "LifecycleState", "TRANSITIONS", "change_state"]

"""Bound accessors for the counters the duty cycles read and write every cycle.

``partial(buffer.get_int64, offset)`` calls the C buffer directly, one call and no Python frame
where ``counter.get_plain()`` costs two; anything that is not a plain
:class:`~aeronpy.concurrent.counters.AtomicCounter` (test doubles) gets its own methods.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from aeronpy.concurrent.counters import AtomicCounter


def _bound(counter: Any, buffer_method: str, counter_method: str) -> Callable[..., Any]:
    if type(counter) is AtomicCounter:
        return partial(getattr(counter.values_buffer, buffer_method), counter.offset)
    return getattr(counter, counter_method)  # type: ignore[no-any-return]


def plain_getter(counter: Any) -> Callable[[], int]:
    """``counter.get_plain`` (no ordering), bound."""
    return _bound(counter, "get_int64", "get_plain")


def acquire_getter(counter: Any) -> Callable[[], int]:
    """``counter.get`` (acquire), bound."""
    return _bound(counter, "get_int64_volatile", "get")


def release_setter(counter: Any) -> Callable[[int], None]:
    """``counter.set`` (release), bound."""
    return _bound(counter, "put_int64_ordered", "set")


__all__ = ["acquire_getter", "plain_getter", "release_setter"]

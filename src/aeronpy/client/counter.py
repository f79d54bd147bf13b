"""A counter allocated by this client through the driver (ADD_COUNTER)."""

from __future__ import annotations

from typing import Any

from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.concurrent.counters import AtomicCounter


class Counter(AtomicCounter):
    """An :class:`AtomicCounter` whose lifetime the driver manages; ``close()`` removes it."""

    def __init__(self, conductor: Any, values_buffer: AtomicBuffer, registration_id: int, counter_id: int) -> None:
        super().__init__(values_buffer, counter_id)
        self._conductor = conductor
        self.registration_id = registration_id
        self._counter_closed = False

    @property
    def is_closed(self) -> bool:
        return self._counter_closed

    def close(self) -> None:
        if not self._counter_closed and self._conductor is not None:
            self._conductor.release_counter(self)
        self._counter_closed = True

    def _internal_close(self) -> None:
        self._counter_closed = True

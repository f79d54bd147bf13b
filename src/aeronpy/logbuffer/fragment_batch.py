"""FragmentBatch twin: what ``Image.poll_batch`` hands out when the C reader is not used.

Same API and validity rules as :class:`aeronpy._logbuffer.FragmentBatch` (see
``Image.poll_batch``): offsets/lengths of payloads in one term, valid until released; after
release every method raises :class:`StaleBatchError` and the memoryviews handed out are
released.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Callable, Protocol

from aeronpy._logbuffer import StaleBatchError
from aeronpy.concurrent.atomic_buffer import view_of

_STALE = (
    "FragmentBatch was released (by release() or the next poll of its image): "
    "its fragments may have been overwritten"
)


class FragmentBatchLike(Protocol):
    """The interface shared by the C batch and its Python twin."""

    @property
    def valid(self) -> bool: ...
    @property
    def position(self) -> int: ...
    def __len__(self) -> int: ...
    def offset(self, index: int) -> int: ...
    def length(self, index: int) -> int: ...
    def get_bytes(self, index: int) -> bytes: ...
    def copies(self) -> list[bytes]: ...
    def views(self) -> list[memoryview]: ...
    def view(self) -> memoryview: ...
    def offsets(self) -> list[int]: ...
    def lengths(self) -> list[int]: ...
    def release(self) -> None: ...


class PyFragmentBatch:
    """Payloads ``(offset, length)`` in ``term_buffer``; ``position`` is where the image moves on release."""

    __slots__ = ("_term", "_frames", "position", "_on_release", "valid", "_views")

    def __init__(
        self, term_buffer: Any, frames: list[tuple[int, int]], position: int,
        on_release: Callable[[PyFragmentBatch], None],
    ) -> None:
        self._term = term_buffer
        self._frames = frames
        self.position = position
        self._on_release = on_release
        self.valid = True
        self._views: list[memoryview] = []

    @classmethod
    def empty(cls, on_release: Callable[[PyFragmentBatch], None]) -> PyFragmentBatch:
        batch = cls(None, [], 0, on_release)
        batch.valid = False
        return batch

    def _check(self) -> list[tuple[int, int]]:
        if not self.valid:
            raise StaleBatchError(_STALE)
        return self._frames

    def _frame(self, index: int) -> tuple[int, int]:
        frames = self._check()
        try:
            return frames[index]
        except IndexError:
            raise IndexError(f"fragment index out of range for a batch of {len(frames)}") from None

    def __len__(self) -> int:
        return len(self._frames)

    def offset(self, index: int) -> int:
        return self._frame(index)[0]

    def length(self, index: int) -> int:
        return self._frame(index)[1]

    def get_bytes(self, index: int) -> bytes:
        off, n = self._frame(index)
        return bytes(self._term.get_bytes(off, n))

    def copies(self) -> list[bytes]:
        get = self._term.get_bytes
        return [bytes(get(off, n)) for off, n in self._check()]

    def view(self) -> memoryview:
        self._check()
        mv = memoryview(view_of(self._term))
        self._views.append(mv)
        return mv

    def views(self) -> list[memoryview]:
        frames = self._check()
        base = memoryview(view_of(self._term))
        out = [base[off : off + n] for off, n in frames]
        self._views.extend(out)
        base.release()
        return out

    def offsets(self) -> list[int]:
        return [off for off, _ in self._check()]

    def lengths(self) -> list[int]:
        return [n for _, n in self._check()]

    def release(self) -> None:
        """Consume the fragments (the image's position moves past them) and invalidate."""
        if not self.valid:
            return
        self.valid = False
        failed = False
        for mv in self._views:
            try:
                mv.release()
            except BufferError:
                failed = True
        self._views = []
        self._on_release(self)
        if failed:
            raise BufferError("a memoryview of the batch is still exported elsewhere")

    def __enter__(self) -> PyFragmentBatch:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __del__(self) -> None:
        if self.valid:
            try:
                self.release()
            except Exception:  # pragma: no cover - nothing to report to in a finaliser
                pass

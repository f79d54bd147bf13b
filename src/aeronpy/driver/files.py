"""Small file helpers for the driver: quiet removal, the start lock, permission modes."""

from __future__ import annotations

import fcntl
import os
import stat
import time
from types import TracebackType
from typing import Callable

from aeronpy.errors import ActiveDriverError


def remove_quietly(path: str) -> None:
    """Delete ``path``; a missing file (or a failed delete) is not an error."""
    try:
        os.remove(path)
    except OSError:
        pass


class StartLock:
    """An exclusive ``flock`` on the parent directory of an Aeron dir, held while a driver
    checks, deletes and recreates the dir up to the moment its cnc.dat is ready.

    The parent survives the Aeron dir being deleted and recreated, so two aeronpy drivers
    starting at the same moment on one directory are serialised: the second one then finds
    the first one's initialised cnc.dat and its heartbeat.  Waits up to ``timeout_ms`` (the
    driver timeout), then raises :class:`ActiveDriverError`.
    """

    def __init__(
        self,
        aeron_dir: str,
        timeout_ms: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.aeron_dir = aeron_dir
        self.parent = os.path.dirname(os.path.abspath(aeron_dir)) or "/"
        self.timeout_ms = timeout_ms
        self._clock = clock
        self._sleep = sleep
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock (creating the parent directory if needed)."""
        try:
            os.makedirs(self.parent, exist_ok=True)
            fd = os.open(self.parent, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as ex:
            from aeronpy.errors import StorageSpaceError

            raise StorageSpaceError(f"cannot open the parent of the Aeron directory {self.aeron_dir}: {ex}") from ex
        deadline = self._clock() + self.timeout_ms / 1000.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return
            except BlockingIOError:
                if self._clock() >= deadline:
                    os.close(fd)
                    raise ActiveDriverError(
                        f"another media driver has been starting in {self.parent} for longer than "
                        f"aeron.driver.timeout={self.timeout_ms}ms: not starting on {self.aeron_dir}"
                    ) from None
                self._sleep(0.005)

    def release(self) -> None:
        """Let go of the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __enter__(self) -> StartLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def set_mode(path: str, mode: int | None) -> None:
    """``chmod`` ``path`` to ``mode`` unless ``mode`` is None (then the umask decides)."""
    if mode is not None:
        os.chmod(path, mode)


def world_accessible(path: str) -> bool:
    """True if other users may read or enter ``path`` (its ``o+r`` or ``o+x`` bit is set)."""
    try:
        return bool(os.stat(path).st_mode & (stat.S_IROTH | stat.S_IXOTH))
    except OSError:
        return False
